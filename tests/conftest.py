import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import pytest


@pytest.fixture(autouse=True)
def _stop_leftover_servers():
    """Stops, by PID, any warpdns a test started and did not stop (a test
    that failed before its own cleanup). Servers of wider-scoped fixtures,
    started before this fixture, are left to their own teardown."""
    import harness
    first = len(harness.STARTED)
    yield
    while len(harness.STARTED) > first:
        server = harness.STARTED.pop()
        if server.proc.poll() is None:
            server.stop()
