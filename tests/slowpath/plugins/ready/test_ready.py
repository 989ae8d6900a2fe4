"""ready against the real binary."""
import urllib.error
import urllib.request

import pytest

from harness import Warpdns, free_port


def test_ready_is_ok_with_nothing_to_wait_for(tmp_path):
    rport = free_port()
    with Warpdns(tmp_path, ".:@PORT@ {\n bind 127.0.0.1\n ready 127.0.0.1:%d\n whoami\n}\n" % rport):
        with urllib.request.urlopen("http://127.0.0.1:%d/ready" % rport, timeout=5) as r:
            assert r.status == 200 and r.read() == b"OK"
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen("http://127.0.0.1:%d/other" % rport, timeout=5)
        assert e.value.code == 404


def test_ready_monitor_modes(tmp_path):
    rport = free_port()
    corefile = ".:@PORT@ {\n bind 127.0.0.1\n ready 127.0.0.1:%d {\n  monitor continuously\n }\n whoami\n}\n"
    with Warpdns(tmp_path / "ok", corefile % rport):
        with urllib.request.urlopen("http://127.0.0.1:%d/ready" % rport, timeout=5) as r:
            assert r.status == 200
    s = Warpdns(tmp_path / "bad", ".:@PORT@ {\n ready {\n  monitor sometimes\n }\n whoami\n}\n",
                expect_fail=True)
    assert s.wait_exit() != 0
    assert "Corefile:3 - Error during parsing: monitor expects" in "\n".join(s.output())
