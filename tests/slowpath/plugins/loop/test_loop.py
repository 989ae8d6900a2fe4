"""loop against the real binary: a block forwarding to itself is detected
and the process exits; a normal upstream is not a loop."""
import dns.rcode

from harness import Warpdns


def test_forward_to_itself_is_a_fatal_loop(tmp_path):
    corefile = ".:@PORT@ {\n    bind 127.0.0.1\n    loop\n    forward . 127.0.0.1:@PORT@\n}\n"
    # The probe may find the loop before the banner is printed: the exit is the signal.
    s = Warpdns(tmp_path, corefile, expect_fail=True)
    assert s.wait_exit(20) == 1
    fatal = [l for l in s.output() if l.startswith("[FATAL] plugin/loop: Loop (")]
    assert fatal, s.output()
    assert ':@PORT@) detected for zone ".", see https://coredns.io/plugins/loop#troubleshooting. Query: "HINFO '.replace(
        "@PORT@", str(s.port)) in fatal[0]


def test_no_loop_keeps_serving(tmp_path):
    upstream = Warpdns(tmp_path / "up", ".:@PORT@ {\n    bind 127.0.0.1\n    whoami\n}\n")
    try:
        corefile = ".:@PORT@ {\n    bind 127.0.0.1\n    loop\n    forward . 127.0.0.1:%d\n}\n" % upstream.port
        with Warpdns(tmp_path / "main", corefile) as s:
            r = s.query("x.test.", "A")
            assert r.rcode() == dns.rcode.NOERROR
            assert s.proc.poll() is None
            assert not any("plugin/loop" in l for l in s.output())
    finally:
        upstream.stop()
