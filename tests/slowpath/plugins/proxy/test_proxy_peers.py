"""The seed Corefile's `proxy . /etc/resolv.conf` against a real upstream.

resolv.conf has no port, so the upstream (Unbound) listens on port 53 of a
loopback address of its own (127.53.x.y); the resolv.conf is the test's, never
the machine's (that one points off the machine).
"""
import os
import pathlib
import random
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3]))

from harness import Warpdns  # noqa: E402
from peers import Unbound  # noqa: E402


def txt(reply):
    for rrset in reply.answer:
        for rr in rrset:
            return b"".join(rr.strings).decode()
    return None


@pytest.mark.skipif(os.geteuid() != 0, reason="an upstream on port 53 needs root")
def test_seed_proxy_line_with_a_resolv_conf(tmp_path):
    ip = "127.53.%d.%d" % (random.randint(0, 255), random.randint(1, 254))
    up = Unbound(tmp_path, text="seed-upstream", label="seed", ip=ip, port=53)
    try:
        corefile = ".:@PORT@ {\n  bind 127.0.0.1\n  proxy . @DIR@/resolv.conf\n}\n"
        files = {"resolv.conf": "# the test's own\nsearch example.org\nnameserver %s\n" % ip}
        try:
            srv = Warpdns(tmp_path / "w", corefile, files=files)
        except RuntimeError as e:
            if "Unknown directive 'proxy'" in str(e):
                pytest.skip("config/ does not accept the proxy directive yet")
            raise
        with srv:
            assert txt(srv.query("www.example.", "TXT")) == "seed-upstream"
            assert txt(srv.query("www.example.", "TXT", tcp=True)) == "seed-upstream"
    finally:
        up.stop()
