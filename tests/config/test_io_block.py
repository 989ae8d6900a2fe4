"""The global options block's `io` settings through the real binary: bad
ones stop start-up with file and line, socket-mode settings take effect,
and a reload that changes them is refused while the running configuration
keeps serving (they are read at start-up only)."""
import signal

import dns.rcode
import pytest

from harness import Warpdns

SERVE = """
whoami.test:@PORT@ {
    bind 127.0.0.1
    whoami
}
"""


@pytest.mark.parametrize("block,line,fragment", [
    ("{\n    io dpdk {\n        workers 1\n    }\n}\n", 2, "eal"),
    ("{\n    io socket {\n        workers 0\n    }\n}\n", 3, "workers"),
    ("{\n    io dpdk {\n        eal --no-huge --in-memory\n        port net_ring0 address 10.0.0.1\n"
     "    }\n}\n", 3, "--in-memory"),
    ("{\n    io dpdk {\n        eal -l 0-1\n        port net_ring0 address 10.0.0.300/24\n"
     "    }\n}\n", 4, "10.0.0.300"),
    ("{\n    cores 2-3\n}\n", 2, "cores"),
])
def test_bad_io_block_is_rejected_with_file_and_line(tmp_path, block, line, fragment):
    s = Warpdns(tmp_path, block + SERVE, expect_fail=True)
    assert s.wait_exit() != 0
    out = "\n".join(s.output())
    assert "%s:%d - Error during parsing" % (s.corefile, line) in out, out
    assert fragment in out, out


def test_dpdk_start_failure_is_reported(tmp_path):
    """EAL refuses an lcore list with no worker: a clear error, exit 1."""
    corefile = ("{\n    io dpdk {\n        eal --no-huge -m 128 --no-pci --no-shconf --file-prefix "
                "wdns-bad-%s -l 0 --no-telemetry\n        port net_ring0 address 10.0.0.1/24\n"
                "    }\n}\n" % tmp_path.name) + SERVE
    s = Warpdns(tmp_path, corefile, expect_fail=True)
    assert s.wait_exit(timeout=30) == 1
    out = "\n".join(s.output())
    assert "io dpdk: 1 worker(s) need as many EAL lcores besides the main one" in out, out


def test_reload_cannot_change_io_settings(tmp_path):
    corefile = "{\n    io socket {\n        workers 1\n    }\n}\n" + SERVE
    with Warpdns(tmp_path, corefile) as s:
        assert s.query("whoami.test.", "A").rcode() == dns.rcode.NOERROR
        text = s.corefile.read_text().replace("workers 1", "workers 2")
        s.corefile.write_text(text + "\nother.test:%d {\n    bind 127.0.0.1\n    whoami\n}\n" % s.port)
        start = len(s.output())
        s.proc.send_signal(signal.SIGUSR1)
        line = s.wait_for_line(lambda l: "reload failed" in l, start=start)
        assert "%s:2 - Error during parsing: the io settings cannot change while running" % (
            s.corefile) in line, line
        # Still the first configuration: other.test was not added.
        assert s.query("whoami.test.", "A").rcode() == dns.rcode.NOERROR
        assert s.query("other.test.", "A").rcode() == dns.rcode.REFUSED
