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


def test_not_ready_until_kubernetes_has_synced(tmp_path):
    # The API server address has nothing listening: kubernetes never syncs,
    # and /ready names it.
    rport, api = free_port(), free_port()
    corefile = """
.:@PORT@ {
    bind 127.0.0.1
    ready 127.0.0.1:%d
    kubernetes cluster.local {
        endpoint http://127.0.0.1:%d
        startup_timeout 1s
    }
}
""" % (rport, api)
    with Warpdns(tmp_path, corefile):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen("http://127.0.0.1:%d/ready" % rport, timeout=5)
        assert e.value.code == 503
        assert e.value.read() == b"kubernetes"
