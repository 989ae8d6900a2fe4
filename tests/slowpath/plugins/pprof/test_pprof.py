"""pprof against the real binary under dnsperf load: a CPU profile that google-pprof
reads, and the fast path's per-stage cycle histograms."""
import re
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest

from harness import BIN, Warpdns, free_port

ZONE = """$ORIGIN example.org.
$TTL 300
@ IN SOA ns.example.org. admin.example.org. 1 7200 3600 1209600 300
@ IN NS ns.example.org.
ns IN A 192.0.2.1
www IN A 192.0.2.10
"""


def get(port, path, timeout=30):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture
def loaded(tmp_path):
    """warpdns with pprof, answering dnsperf for 8 s."""
    pport = free_port()
    corefile = """
example.org:@PORT@ {
    bind 127.0.0.1
    pprof 127.0.0.1:%d
    file @DIR@/db.example.org
}
""" % pport
    queries = tmp_path / "queries.txt"
    queries.write_text("www.example.org A\nexample.org NS\n")
    with Warpdns(tmp_path, corefile, files={"db.example.org": ZONE}) as s:
        perf = subprocess.Popen(["dnsperf", "-s", "127.0.0.1", "-p", str(s.port), "-d", str(queries),
                                 "-l", "8", "-Q", "30000"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            yield s, pport, tmp_path
        finally:
            perf.kill()
            perf.wait()


def test_cpu_profile_reads_in_pprof(loaded):
    s, pport, tmp_path = loaded
    status, body = get(pport, "/debug/pprof/profile?seconds=2")
    assert status == 200 and len(body) > 0
    prof = tmp_path / "cpu.prof"
    prof.write_bytes(body)
    tool = shutil.which("google-pprof") or shutil.which("pprof")
    assert tool, "scripts/setup.sh installs google-perftools"
    text = subprocess.run([tool, "--text", BIN, str(prof)], capture_output=True, text=True,
                          timeout=120).stdout
    total = re.search(r"Total: (\d+) samples", text)
    print(text.splitlines()[:6])
    assert total and int(total.group(1)) > 0, text
    # A bad duration is refused; the index lists the endpoints.
    assert get(pport, "/debug/pprof/profile?seconds=abc")[0] == 400
    assert b"profile?seconds=N" in get(pport, "/debug/pprof/")[1]
    # Go's handler: the arguments joined by NULs.
    status, cmdline = get(pport, "/debug/pprof/cmdline")
    assert status == 200 and cmdline.split(b"\0")[0].endswith(b"warpdns")
    assert b"-conf" in cmdline.split(b"\0") and not cmdline.endswith(b"\0")


def test_fast_path_stage_histograms(loaded):
    s, pport, _ = loaded
    status, body = get(pport, "/debug/fastpath/stages?seconds=1")
    text = body.decode()
    print(text)
    assert status == 200
    stages = {m.group(1): (int(m.group(2)), float(m.group(3)))
              for m in re.finditer(r"^  (\w+)\s+packets (\d+)\s+cycles/packet (\S+)", text, re.M)}
    assert set(stages) == {"receive", "key", "answer", "send"}, text
    # dnsperf at 30k qps, answered by the fast path: every stage saw them (the bound leaves
    # room for a loaded CI machine).
    assert all(n > 1000 for n, _ in stages.values()), stages
    assert all(c > 0 for _, c in stages.values())
