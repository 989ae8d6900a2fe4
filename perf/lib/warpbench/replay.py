"""Replay mode: the DPDK fast path's capacity per core with no client and no kernel.

warpdns runs in DPDK mode on a net_pcap port that replays a capture of queries forever
(infinite_rx=1; with no tx_pcap/tx_iface the PMD drops what is sent, tx_drop). The capture
holds one A query for each of the zone's 10k names; the first pass punts each distinct
query to the slow path once, which memoizes its answer, and from then on every frame is a
fast-path hit. The one worker busy-polls its core, so answers per second of the worker's
CPU time is the per-core capacity of the whole poll loop (PMD rx, classify, key, lookup,
reply in place, PMD tx), measured from warpdns's own counters on its metrics endpoint
(warpdns_fastpath_packets_total) and the worker thread's CPU time (/proc).

The PMD's own share is measured the same way with dpdk-testpmd forwarding the same
capture (io mode: rx_burst, tx_burst, no DNS work): the ceiling of this packet source.

Rounds are interleaved (warpdns, testpmd, warpdns, ...), each in a fresh process.
"""

import os
import re
import shutil
import time
import urllib.request

from . import data, pcap, procs, servers

SERVER_IP = "10.99.0.1"
TARGET_MQPS = 5.0  # the issue's target per core (about 600 cycles per query here)
TESTPMD = "dpdk-testpmd"


def tsc_hz():
    """The TSC rate, taken as the CPU's nominal clock from /proc/cpuinfo (constant_tsc)."""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("cpu MHz"):
                return float(line.split(":", 1)[1]) * 1e6
    return None


def _cpus(spec):
    """First CPU of a taskset list ("0", "2-3", "1,3")."""
    return int(re.split(r"[,-]", str(spec))[0])


def thread_ticks(pid, prefix):
    """utime+stime (ticks) of the first thread of `pid` whose name starts with `prefix`
    (EAL names its lcore threads rte-worker-N), or None."""
    try:
        tids = sorted(os.listdir(f"/proc/{pid}/task"), key=int)
    except OSError:
        return None
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if not f.read().startswith(prefix):
                    continue
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
            return int(rest[11]) + int(rest[12])
        except OSError:
            continue
    return None


_COUNTER_RE = re.compile(r'^warpdns_fastpath_packets_total\{([^}]*)\}\s+(\S+)', re.M)
_PUNT_RE = re.compile(r'^warpdns_punt_queries_total\{outcome="([^"]+)"\}\s+(\S+)', re.M)


def fastpath_counters(url):
    """{kind: value summed over workers} from warpdns's metrics, plus punt outcomes as
    punt_<outcome>."""
    with urllib.request.urlopen(url, timeout=5) as r:
        text = r.read().decode("utf-8", "replace")
    out = {}
    for labels, value in _COUNTER_RE.findall(text):
        m = re.search(r'kind="([^"]+)"', labels)
        if m:
            out[m.group(1)] = out.get(m.group(1), 0.0) + float(value)
    for outcome, value in _PUNT_RE.findall(text):
        out["punt_" + outcome] = float(value)
    return out


class ReplayError(Exception):
    pass


class _Setup:
    """One process on the replay port: the main lcore on `main_cpu`, one worker on
    `worker_cpu`, its own EAL file prefix."""
    key = ""
    label = ""

    def __init__(self, ctx, capture):
        self.ctx = ctx
        self.capture = capture
        self.proc = None
        self.main_cpu = _cpus(ctx.client_cpu)
        self.worker_cpu = _cpus(ctx.server_cpu)
        self.dir = None

    def eal(self, tag):
        return (f"--no-huge -m 512 --no-pci --no-shconf --file-prefix wdns-{tag}-{os.getpid()} "
                f"-l {min(self.main_cpu, self.worker_cpu)},{max(self.main_cpu, self.worker_cpu)} "
                f"--main-lcore {self.main_cpu} --no-telemetry")

    def stop(self):
        if self.proc is not None:
            p, self.proc = self.proc, None
            p.stop()

    def worker_ticks(self):
        return thread_ticks(self.proc.pid, "rte-worker")


class WarpdnsReplay(_Setup):
    key = "warpdns-replay"

    def __init__(self, ctx, capture, zone, port, table_slots=None, burst=None):
        super().__init__(ctx, capture)
        self.zone = zone
        self.port = port
        self.table_slots = table_slots
        self.burst = burst
        self.metrics_port = None
        self.binary = os.path.join(ctx.root, "build", "control", "warpdns")
        self.label = "warpdns DPDK, 1 worker (net_pcap replay)"

    def missing(self):
        if not os.access(self.binary, os.X_OK):
            return "n/a (build/control/warpdns not built)"
        return None

    def corefile(self):
        extra = ""
        if self.table_slots:
            extra += f"        table_slots {self.table_slots}\n"
        if self.burst:
            extra += f"        burst {self.burst}\n"
        if getattr(self.ctx.args, "descriptors", None):
            extra += f"        descriptors {self.ctx.args.descriptors}\n"
        # The zone block has `file` and the setup's zone_plugins (none: the answers carry no
        # metric or log work); prometheus, for the counters read here, sits in a block of its
        # own on another port. mbufs: net_pcap's infinite_rx keeps the whole capture (10k
        # frames) in mbufs of the pool, beside the rings.
        return (self._io_block(extra) +
                f"{self.zone.origin.rstrip('.')}:{self.port} {{\n"
                f"{self.zone_plugins()}"
                f"    file {self.zone.path}\n"
                "}\n"
                f".:{self.metrics_dns_port} {{\n"
                f"    prometheus 127.0.0.1:{self.metrics_port}\n"
                "}\n")

    def zone_plugins(self):
        """Corefile lines before `file` in the zone's block."""
        return ""

    def url(self):
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def _io_block(self, extra):
        return ("{\n"
                "    io dpdk {\n"
                f"        eal {self.eal('replay')}\n"
                f"        port net_pcap0,rx_pcap={self.capture},infinite_rx=1 address {SERVER_IP}/24\n"
                "        workers 1\n"
                "        mbufs 65536\n"
                f"{extra}"
                "    }\n"
                "}\n")

    def start(self, deadline_s=60):
        self.probe_port = getattr(self, "upstream_port", self.port)
        self.dir = os.path.join(self.ctx.tmp, f"replay-{len(os.listdir(self.ctx.tmp))}")
        os.makedirs(self.dir)
        self.metrics_port = procs.free_port()
        self.metrics_dns_port = procs.free_port()
        conf = os.path.join(self.dir, "Corefile")
        with open(conf, "w") as f:
            f.write(self.corefile())
        # Not taskset: EAL pins its own threads (-l, --main-lcore).
        self.proc = procs.Proc("warpdns", [self.binary, "-conf", conf],
                               os.path.join(self.dir, "warpdns.log"), cwd=self.dir)
        # The zone is loaded once the kernel-socket listener on the same port answers
        # (DPDK mode keeps the sockets, for TCP and for traffic outside the port).
        servers.wait_answer([self.proc], self.probe_port, self.zone.probe_name, deadline_s,
                            self.label)
        # Then every distinct query has to be punted once and memoized: wait until nothing
        # is punted any more.
        deadline = time.monotonic() + deadline_s
        last = None
        while time.monotonic() < deadline:
            if not self.proc.alive():
                raise ReplayError(f"{self.label}: exited:\n{self.proc.log_tail()}")
            c = fastpath_counters(self.url())
            if last and c.get("answered", 0) > last.get("answered", 0) and \
                    c.get("punted", 0) == last.get("punted", 0) and c.get("punt_full", 0) == last.get("punt_full", 0):
                return
            last = c
            time.sleep(1.0)
        raise ReplayError(f"{self.label}: still punting after {deadline_s:.0f} s: {last}")

    def snapshot(self):
        c = fastpath_counters(self.url())
        return time.monotonic(), c, self.worker_ticks()

    def measure(self, seconds):
        t0, c0, k0 = self.snapshot()
        time.sleep(seconds)
        t1, c1, k1 = self.snapshot()
        if not self.proc.alive():
            raise ReplayError(f"{self.label}: exited:\n{self.proc.log_tail()}")
        wall = t1 - t0
        d = {k: c1.get(k, 0) - c0.get(k, 0) for k in set(c0) | set(c1)}
        cpu_s = (k1 - k0) / procs.CLK_TCK if k0 is not None and k1 is not None else None
        return _figures(wall, d.get("answered", 0), cpu_s, {
            "rx": d.get("rx", 0), "punted": d.get("punted", 0), "tx_dropped": d.get("tx_dropped", 0),
            "answered_pct": 100.0 * d.get("answered", 0) / d["rx"] if d.get("rx") else None})


class WarpdnsReplayObserved(WarpdnsReplay):
    """The authoritative replay with `prometheus` and `log` in the zone's block: every
    answer counted in CoreDNS's DNS metrics and logged (a line per query into the worker's
    ring, formatted and written by the log thread on the main lcore; lines that do not fit
    are dropped and counted in warpdns_log_dropped_lines_total)."""
    key = "warpdns-replay-observed"

    def __init__(self, ctx, capture, zone, port, table_slots=None, burst=None):
        super().__init__(ctx, capture, zone, port, table_slots, burst)
        self.label = "warpdns DPDK, 1 worker, authoritative hits with prometheus and log on"

    def zone_plugins(self):
        return f"    prometheus 127.0.0.1:{self.metrics_port}\n    log\n"


class WarpdnsReplayStages(WarpdnsReplay):
    """The same replay through cache, rewrite and loadbalance: the capture asks the zone's
    names under ALIAS; `rewrite` maps them to the zone, `cache` holds the answers of a
    `forward` to a file block on loopback, `loadbalance` shuffles them. Every answer of the
    measured passes is a cache hit replayed by the fast path (TTL aged, records shuffled)."""
    key = "warpdns-replay-stages"
    ALIAS = "alias.test."

    def __init__(self, ctx, capture, zone, port, table_slots=None, burst=None):
        super().__init__(ctx, capture, zone, port, table_slots, burst)
        self.label = "warpdns DPDK, 1 worker, cache+rewrite+loadbalance hits (net_pcap replay)"

    def corefile(self):
        origin = self.zone.origin
        return (self._io_block("") +
                # `.`: rewrite runs before cache, which sees (and keys) the zone's names.
                f".:{self.port} {{\n"
                "    loadbalance round_robin\n"
                "    cache 3600\n"
                f"    rewrite name suffix .{self.ALIAS} .{origin} answer auto\n"
                f"    forward . 127.0.0.1:{self.upstream_port}\n"
                "}\n"
                f"{origin.rstrip('.')}:{self.upstream_port} {{\n"
                "    bind 127.0.0.1\n"
                f"    file {self.zone.path}\n"
                "}\n"
                f".:{self.metrics_dns_port} {{\n"
                f"    prometheus 127.0.0.1:{self.metrics_port}\n"
                "}\n")

    def start(self, deadline_s=60):
        self.upstream_port = procs.free_port()  # also the port start() probes
        return super().start(deadline_s)


class TestpmdForward(_Setup):
    """dpdk-testpmd in io mode on the same capture: rx_burst and tx_burst only."""
    key = "testpmd-io"
    label = "dpdk-testpmd io forward, no DNS work (same net_pcap replay)"

    def missing(self):
        return None if shutil.which(TESTPMD) else f"n/a ({TESTPMD} not found)"

    def start(self, deadline_s=30):
        self.dir = os.path.join(self.ctx.tmp, f"testpmd-{len(os.listdir(self.ctx.tmp))}")
        os.makedirs(self.dir)
        argv = [TESTPMD] + self.eal("testpmd").split() + [
            f"--vdev=net_pcap0,rx_pcap={self.capture},infinite_rx=1", "--",
            "--total-num-mbufs=32768", "--forward-mode=io", "--port-topology=loop",
            "--stats-period=1"]
        self.proc = procs.Proc("testpmd", argv, os.path.join(self.dir, "testpmd.log"), cwd=self.dir)
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if not self.proc.alive():
                raise ReplayError(f"{self.label}: exited:\n{self.proc.log_tail()}")
            if self._rates():
                return
            time.sleep(0.5)
        raise ReplayError(f"{self.label}: no statistics within {deadline_s:.0f} s")

    def _rates(self):
        try:
            with open(self.proc.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return []
        return [int(x) for x in re.findall(r"Tx-pps:\s+(\d+)", text)]

    def measure(self, seconds):
        n0 = len(self._rates())
        k0 = self.worker_ticks()
        t0 = time.monotonic()
        time.sleep(seconds)
        k1 = self.worker_ticks()
        wall = time.monotonic() - t0
        rates = [r for r in self._rates()[n0:] if r > 0]
        if not rates:
            raise ReplayError(f"{self.label}: no Tx-pps lines:\n{self.proc.log_tail()}")
        pps = sorted(rates)[len(rates) // 2]
        cpu_s = (k1 - k0) / procs.CLK_TCK if k0 is not None and k1 is not None else None
        return _figures(wall, pps * wall, cpu_s, {"rx": None, "punted": None, "answered_pct": None})


def _figures(wall, answered, cpu_s, extra):
    hz = tsc_hz()
    r = {"wall_s": wall, "answered": answered, "qps": answered / wall, "worker_cpu_s": cpu_s}
    r["worker_cpu_pct"] = 100.0 * cpu_s / wall if cpu_s is not None else None
    # Per core: answers per second of the worker's CPU time. Equal to qps when the worker
    # had its core to itself; higher when other processes took turns on it.
    r["qps_per_core"] = answered / cpu_s if cpu_s else None
    per_core = r["qps_per_core"] or r["qps"]
    r["cycles_per_query"] = hz / per_core if hz and per_core else None
    r["ns_per_query"] = 1e9 / per_core if per_core else None
    r.update(extra)
    return r


def run(ctx, wl, keys, log):
    """Interleaved rounds of each setup in `keys`; returns the results dict of the report."""
    a = ctx.args
    results = {}
    if os.geteuid() != 0:
        for k in keys:
            results[k] = {"label": k, "na": "n/a (replay needs root: DPDK EAL)", "version": None,
                          "runs": [], "notes": []}
        return results
    zone = data.make_zone(os.path.join(ctx.tmp, "replay.zone"), a.zone_names)
    port = procs.free_port()
    capture = pcap.query_capture(os.path.join(ctx.tmp, "replay.pcap"), zone.names, SERVER_IP, port)
    alias_names = [n[:-len(zone.origin)] + WarpdnsReplayStages.ALIAS for n in zone.names]
    alias_capture = pcap.query_capture(os.path.join(ctx.tmp, "replay-alias.pcap"), alias_names,
                                       SERVER_IP, port)
    makers = {
        "warpdns-replay": lambda: WarpdnsReplay(ctx, capture, zone, port, a.table_slots, a.burst),
        "warpdns-replay-stages": lambda: WarpdnsReplayStages(ctx, alias_capture, zone, port,
                                                             a.table_slots, a.burst),
        "warpdns-replay-observed": lambda: WarpdnsReplayObserved(ctx, capture, zone, port,
                                                                 a.table_slots, a.burst),
        "testpmd-io": lambda: TestpmdForward(ctx, capture),
    }
    order = []
    for k in keys:
        s = makers[k]()
        results[k] = {"label": s.label, "na": s.missing(), "version": None, "runs": [], "notes": []}
        if k.startswith("warpdns-replay") and not results[k]["na"]:
            results[k]["version"] = servers.version_of([s.binary, "-version"])
            if a.table_slots:
                results[k]["label"] += f", table_slots {a.table_slots}"
        if not results[k]["na"]:
            order.append(k)
    for r in range(a.rounds):
        for k in order:
            res = results[k]
            if res["na"]:
                continue
            s = makers[k]()
            try:
                s.start()
                time.sleep(a.warm_seconds)
                run_ = s.measure(a.seconds)
            except (ReplayError, servers.StartError, OSError) as e:
                res["na"] = "n/a (failed, log on stderr)"
                log(f"[replay] {s.label}: {e}")
                continue
            finally:
                s.stop()
            run_["round"] = r + 1
            res["runs"].append(run_)
            if run_.get("worker_cpu_pct") is not None and run_["worker_cpu_pct"] < 90:
                res["notes"].append(f"round {r + 1}: the worker had {run_['worker_cpu_pct']:.0f}% of its "
                                    f"core (other processes ran on it); per-core figures use its CPU time")
            log(f"[replay] round {r + 1}/{a.rounds} {s.label}: "
                f"{run_['qps'] / 1e6:.2f} Mqps wall, "
                f"{(run_['qps_per_core'] or 0) / 1e6:.2f} Mqps per worker CPU-second "
                f"({run_['worker_cpu_pct'] or 0:.0f}% CPU), {run_['cycles_per_query'] or 0:.0f} cycles/query"
                + (f", {run_['answered_pct']:.2f}% of rx answered" if run_.get("answered_pct") is not None else ""))
    return results
