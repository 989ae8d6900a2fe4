"""health with lameduck against the real binary: after SIGTERM, DNS and
/health keep answering for the lameduck period and /ready turns 503, so a
dnsperf run that ends inside the period loses nothing."""
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request

from harness import Warpdns, free_port


def http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_sigterm_with_lameduck_under_load_loses_nothing(tmp_path):
    hport, rport = free_port(), free_port()
    corefile = """
.:@PORT@ {
    bind 127.0.0.1
    health 127.0.0.1:%d {
        lameduck 4s
    }
    ready 127.0.0.1:%d
    whoami
}
""" % (hport, rport)
    s = Warpdns(tmp_path, corefile)
    try:
        assert http_status("http://127.0.0.1:%d/ready" % rport) == (200, "OK")
        queries = tmp_path / "q.txt"
        queries.write_text("a.example A\nb.example AAAA\n")
        perf = subprocess.Popen(
            ["dnsperf", "-s", "127.0.0.1", "-p", str(s.port), "-d", str(queries), "-l", "2",
             "-Q", "5000", "-c", "2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # Mid-run at SIGTERM: dnsperf says when it starts sending.
        lines = []
        for line in perf.stdout:
            lines.append(line)
            if "Sending queries" in line:
                break
        sent_at = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        s.wait_for_line(lambda l: "lameduck" in l)
        assert http_status("http://127.0.0.1:%d/health" % hport) == (200, "OK")
        assert http_status("http://127.0.0.1:%d/ready" % rport) == (503, "lameduck")
        out = "".join(lines) + perf.stdout.read()  # the rest, buffered part included
        assert perf.wait(30) == 0
        assert s.wait_exit(15) == 0
        stopped_after = time.monotonic() - sent_at
        lost = int(re.search(r"Queries lost:\s+(\d+)", out).group(1))
        completed = int(re.search(r"Queries completed:\s+(\d+)", out).group(1))
        assert completed > 1000 and lost == 0, out
        assert stopped_after >= 4.0  # the lameduck period was honoured
    finally:
        s.stop()
