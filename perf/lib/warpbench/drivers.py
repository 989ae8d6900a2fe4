"""Load generators.

Dnsperf drives every socket-mode row over loopback, pinned (taskset) to the client CPU.
Two kinds of run:
  - throughput: closed loop (no -Q), many source ports (-c) and outstanding queries (-q),
    for a bounded time (-l); gives qps, answers and loss;
  - latency: open loop at a fixed offered rate (-Q) with -v, one line per answer
    ("> NOERROR name A 0.000123", "> T name A" for a timeout), from which p50/p99 come.
dnsperf 2.10 (Debian 12) has no latency-histogram option, hence -v.

Kxdpgun drives the DPDK-mode rows (veth.py): AF_XDP load from a client network namespace
over a veth, in a rate sweep (answered qps and loss at each offered rate). Replay mode
needs no driver at all (replay.py: net_pcap replays a capture inside warpdns).
"""

import os
import re
import resource
import shutil
import subprocess
import time

from . import procs

_STAT_RE = {
    "sent": re.compile(r"Queries sent:\s+(\d+)"),
    "completed": re.compile(r"Queries completed:\s+(\d+)"),
    "lost": re.compile(r"Queries lost:\s+(\d+)"),
    "qps": re.compile(r"Queries per second:\s+([\d.]+)"),
    "runtime": re.compile(r"Run time \(s\):\s+([\d.]+)"),
}
_RCODES_RE = re.compile(r"Response codes:[ \t]*(.*)")


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list (None if empty)."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(-(-p * len(sorted_values) // 100)) - 1))
    return sorted_values[k]


class Dnsperf:
    name = "dnsperf"

    def __init__(self, ctx, clients=128, outstanding=500, timeout_s=1):
        self.ctx = ctx
        self.clients = clients
        self.outstanding = outstanding
        self.timeout_s = timeout_s

    @staticmethod
    def missing():
        return None if shutil.which("dnsperf") else "dnsperf not found"

    @staticmethod
    def version():
        out = subprocess.run(["dnsperf", "-h"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout
        m = re.search(rb"Version ([\d.]+)", out)
        return "dnsperf " + (m.group(1).decode() if m else "?")

    def argv(self, port, qfile, seconds, rate=None):
        a = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", qfile, "-l", str(seconds),
             "-c", str(self.clients), "-q", str(self.outstanding), "-t", str(self.timeout_s)]
        if rate:
            a += ["-Q", str(rate), "-v"]
        return a

    def run(self, server, qfile, seconds, rate=None):
        """Runs dnsperf against `server` and measures the server setup's CPU over the run."""
        out = os.path.join(self.ctx.tmp, "dnsperf.out")
        argv = ["taskset", "-c", self.ctx.client_cpu] + self.argv(server.port, qfile, seconds, rate)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy0 = procs.busy_seconds()
        cpu0 = server.cpu_seconds()
        t0 = time.monotonic()
        p = procs.Proc("dnsperf", argv, out)
        try:
            p.popen.wait(timeout=seconds + self.timeout_s + 30)
        except subprocess.TimeoutExpired:
            p.stop()
            raise RuntimeError(f"dnsperf did not finish: {' '.join(argv)}")
        wall = time.monotonic() - t0
        cpu1 = server.cpu_seconds()
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy1 = procs.busy_seconds()
        p.stop()
        if p.popen.returncode != 0:
            raise RuntimeError(f"dnsperf exited {p.popen.returncode}: {' '.join(argv)}\n{p.log_tail()}")
        with open(out, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        os.unlink(out)
        r = {"argv": argv, "wall_s": wall, "server_cpu_s": cpu1 - cpu0,
             "client_cpu_s": (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)}
        # CPU used by anything else on the machine meanwhile (other builds, the harness): noise.
        r["others_cpu_pct"] = max(0.0, 100.0 * (busy1 - busy0 - r["server_cpu_s"] - r["client_cpu_s"]) / wall)
        for k, rx in _STAT_RE.items():
            m = rx.search(text)
            if not m:
                raise RuntimeError(f"dnsperf output without '{k}':\n{text[-2000:]}")
            r[k] = float(m.group(1)) if k in ("qps", "runtime") else int(m.group(1))
        m = _RCODES_RE.search(text)
        r["rcodes"] = {}
        if m:
            for part in m.group(1).split(","):
                bits = part.split()
                if len(bits) >= 2:
                    r["rcodes"][bits[0]] = int(bits[1])
        r["loss_pct"] = 100.0 * r["lost"] / r["sent"] if r["sent"] else 0.0
        r["cpu_us_per_answer"] = 1e6 * r["server_cpu_s"] / r["completed"] if r["completed"] else None
        r["server_cpu_pct"] = 100.0 * r["server_cpu_s"] / r["runtime"] if r["runtime"] else None
        if rate:
            lat = []
            for line in text.splitlines():
                if line.startswith("> ") and not line.startswith("> T "):
                    try:
                        lat.append(float(line.rsplit(None, 1)[1]))
                    except (ValueError, IndexError):
                        pass
            lat.sort()
            r["answers_with_latency"] = len(lat)
            r["p50_us"] = 1e6 * percentile(lat, 50) if lat else None
            r["p99_us"] = 1e6 * percentile(lat, 99) if lat else None
        return r


class Kxdpgun:
    """kxdpgun (Knot's AF_XDP load generator) from the client namespace of a veth pair,
    pinned to the client CPU (its own -F affinity too: by default it takes CPU 0):

        ip netns exec CLI taskset -c 1 kxdpgun -t SECONDS -Q RATE -F 1 -I CLIENT_IF -i QFILE 10.99.0.1

    One run per offered rate; parses sent and answered queries. kxdpgun leaves its XDP
    program on the interface: it is taken off the client end after every run."""
    name = "kxdpgun"
    _SENT_RE = re.compile(r"total queries:\s+(\d+)\s+\((\d+) pps\)")
    _RECV_RE = re.compile(r"total replies:\s+(\d+)\s+\((\d+) pps\)")

    def __init__(self, ctx, net, batch=None):
        self.ctx = ctx
        self.net = net
        self.batch = batch

    @staticmethod
    def missing():
        return None if shutil.which("kxdpgun") else "kxdpgun not found (knot-dnsutils)"

    @staticmethod
    def version():
        out = subprocess.run(["kxdpgun", "-V"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout
        return out.decode("utf-8", "replace").strip() or "kxdpgun ?"

    def run(self, qfile, rate, seconds, server_ip):
        cpu = self.ctx.client_cpu.split(",")[0].split("-")[0]
        argv = self.net.client_prefix() + ["taskset", "-c", self.ctx.client_cpu, "kxdpgun", "-t", str(int(seconds)),
                                           "-Q", str(int(rate)), "-F", cpu, "-I", self.net.client_if,
                                           "-i", qfile]
        if self.batch:
            argv += ["-b", str(self.batch)]
        argv.append(server_ip)
        out = os.path.join(self.ctx.tmp, "kxdpgun.out")
        p = procs.Proc("kxdpgun", argv, out)
        try:
            p.popen.wait(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"kxdpgun did not finish: {' '.join(argv)}")
        finally:
            p.stop()
            self.net.client_xdp_off()
        with open(out, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        os.unlink(out)
        m = self._SENT_RE.search(text)
        if p.popen.returncode != 0 or not m:
            raise RuntimeError(f"kxdpgun exited {p.popen.returncode}: {' '.join(argv)}\n{text[-2000:]}")
        sent, sent_pps = int(m.group(1)), int(m.group(2))
        m = self._RECV_RE.search(text)
        answered, answered_pps = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
        return {"rate": rate, "sent": sent, "sent_pps": sent_pps, "answered": answered,
                "answered_pps": answered_pps,
                "loss_pct": 100.0 * (sent - answered) / sent if sent else None}
