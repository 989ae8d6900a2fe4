"""DPDK-mode rows over a veth: warpdns's fast path (net_af_xdp on the server end) beside
Knot in XDP mode and NSD on the same wire, driven from a client namespace.

Per server and round: start it in the server namespace (pinned to the server CPU; warpdns's
worker lcore there, its main lcore on the client CPU, where it idles once every query is
memoized), prime ARP with kdig, warm up with kxdpgun (discarded: it also makes warpdns
memoize all 10k answers), sweep kxdpgun over the offered rates (answered qps and loss at
each; the largest answered rate is "at saturation"), then a dnsperf run at a fixed rate
(latency p50/p99). kxdpgun and dnsperf run in the client namespace on the client CPU.
Servers are interleaved round by round (A B C A B C ...), each in a fresh process.

On this kind of VM the veth + AF_XDP copy-mode path itself (the kernel's AF_XDP transmit,
and the client's receive softirq running on the sender's CPU) costs far more per packet
than the DNS work: see ../shared/reference/testbed.md and docs/benchmarks.md.
"""

import os
import shutil
import subprocess
import time

from . import data, drivers, netns, procs, servers

PORT = 53


def io_extra(args):
    """The io dpdk options perf/run was asked to set (--descriptors, --burst, --table-slots)."""
    out = ""
    for opt, attr in (("descriptors", "descriptors"), ("burst", "burst"), ("table_slots", "table_slots")):
        v = getattr(args, attr, None)
        if v:
            out += f"        {opt} {v}\n"
    return out


class _VethServer:
    key = ""
    label = ""
    binary = ""
    needs_address = True  # a kernel address on the server end (sockets, or ARP for XDP peers)

    def __init__(self, ctx, net):
        self.ctx = ctx
        self.net = net
        self.procs = []
        self.port = PORT
        self.dir = None

    def missing(self):
        return None if shutil.which(self.binary) or os.access(self.binary, os.X_OK) else \
            f"n/a ({self.binary} not found)"

    def version(self):
        return "?"

    def pinned(self, argv):
        return self.net.server_prefix() + ["taskset", "-c", self.ctx.server_cpu] + argv

    def configure(self, zone):
        raise NotImplementedError

    def start(self, zone, deadline_s=60):
        self.dir = os.path.join(self.ctx.tmp, f"veth-{self.key}-{len(os.listdir(self.ctx.tmp))}")
        os.makedirs(self.dir)
        for name, argv in self.configure(zone):
            self.procs.append(procs.Proc(name, argv, os.path.join(self.dir, name + ".log"), cwd=self.dir))
        t0 = time.monotonic()
        while time.monotonic() < t0 + deadline_s:
            for p in self.procs:
                if not p.alive():
                    raise servers.StartError(f"{self.label}: {p.name} exited with {p.popen.returncode}:\n"
                                             f"{p.log_tail()}")
            r = self.net.in_client(["kdig", f"@{netns.SERVER_IP}", "-p", str(self.port), "+timeout=1",
                                    "+retry=0", "+short", zone.probe_name, "A"], timeout=10)
            if r.returncode == 0 and r.stdout.strip() and r.stdout.strip()[0].isdigit():
                return time.monotonic() - t0
            time.sleep(0.2)
        tails = "\n".join(f"--- {p.name}\n{p.log_tail()}" for p in self.procs)
        raise servers.StartError(f"{self.label}: no answer from {netns.SERVER_IP} within {deadline_s:.0f} s\n{tails}")

    def cpu_seconds(self):
        return procs.cpu_seconds([p.pid for p in self.procs])

    def alive(self):
        return all(p.alive() for p in self.procs)

    def stop(self):
        for p in reversed(self.procs):
            p.stop()
        self.procs = []

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path


class WarpdnsAfXdp(_VethServer):
    key = "warpdns-dpdk"
    label = "warpdns DPDK (net_af_xdp), 1 worker"
    needs_address = False  # the fast path owns the port and answers ARP itself

    def __init__(self, ctx, net):
        super().__init__(ctx, net)
        self.binary = os.path.join(ctx.root, "build", "control", "warpdns")

    def version(self):
        return servers.version_of([self.binary, "-version"])

    def devargs_extra(self):
        extra = getattr(self.ctx.args, "af_xdp_args", None)
        return "," + extra if extra else ""

    def configure(self, zone):
        main = int(self.ctx.client_cpu.split(",")[0].split("-")[0])
        worker = int(self.ctx.server_cpu.split(",")[0].split("-")[0])
        conf = self.write("Corefile",
                          "{\n"
                          "    io dpdk {\n"
                          f"        eal --no-huge -m 512 --no-pci --no-shconf --file-prefix wdns-veth-{os.getpid()} "
                          f"-l {min(main, worker)},{max(main, worker)} --main-lcore {main} --no-telemetry\n"
                          f"        port net_af_xdp0,iface={self.net.server_if}{self.devargs_extra()} "
                          f"address {netns.SERVER_IP}/{netns.PREFIX}\n"
                          "        workers 1\n"
                          f"{io_extra(self.ctx.args)}"
                          "    }\n"
                          "}\n"
                          f"{zone.origin.rstrip('.')}:{PORT} {{\n"
                          f"    file {zone.path}\n"
                          "}\n")
        # Not taskset: EAL pins the worker (server CPU) and the main lcore itself.
        return [("warpdns", self.net.server_prefix() + [self.binary, "-conf", conf])]


class KnotXdp(_VethServer):
    key = "knot-xdp"
    label = "Knot XDP mode, 1 UDP worker"
    binary = "knotd"

    def version(self):
        return servers.version_of(["knotd", "-V"])

    def configure(self, zone):
        d = self.dir
        os.makedirs(os.path.join(d, "db"), exist_ok=True)
        conf = self.write("knot.conf", servers.knot_conf(
            d, zone, f"{netns.SERVER_IP}@{PORT}", xdp_listen=f"{self.net.server_if}@{PORT}"))
        return [("knotd", self.pinned(["knotd", "-c", conf]))]


class NsdVeth(_VethServer):
    key = "nsd-veth"
    label = "NSD (UDP sockets), 1 server process"
    binary = "nsd"

    def version(self):
        return servers.version_of(["nsd", "-v"])

    def configure(self, zone):
        conf = self.write("nsd.conf", servers.nsd_conf(self.dir, netns.SERVER_IP, PORT, zone))
        return [("nsd", self.pinned(["nsd", "-d", "-c", conf]))]


ALL = [WarpdnsAfXdp, KnotXdp, NsdVeth]
BY_KEY = {c.key: c for c in ALL}


class NetnsDnsperf(drivers.Dnsperf):
    """dnsperf from the client namespace to 10.99.0.1."""

    def __init__(self, ctx, net, **kw):
        super().__init__(ctx, **kw)
        self.net = net

    def argv(self, port, qfile, seconds, rate=None):
        a = super().argv(port, qfile, seconds, rate)
        a[a.index("-s") + 1] = netns.SERVER_IP
        return self.net.client_prefix() + a


def _na(label, why):
    return {"label": label, "na": why, "version": None, "runs": [], "notes": []}


def run(ctx, wl, keys, log):
    a = ctx.args
    why = netns.available() or drivers.Kxdpgun.missing() or drivers.Dnsperf.missing()
    if why:
        return {k: _na(BY_KEY[k].label, f"n/a ({why})") for k in keys}
    rates = [int(float(x)) for x in a.xdp_rates.split(",")]
    zone = data.make_zone(os.path.join(ctx.tmp, "veth.zone"), a.zone_names)
    qfile = data.hit_queries(os.path.join(ctx.tmp, "veth-queries.txt"), zone)
    results = {}
    with netns.Veth(f"{os.getpid() % 100000}") as net:
        gun = drivers.Kxdpgun(ctx, net, batch=a.xdp_batch)
        perf = NetnsDnsperf(ctx, net, clients=a.clients, outstanding=a.outstanding)
        order = []
        for k in keys:
            s = BY_KEY[k](ctx, net)
            results[k] = _na(s.label, s.missing())
            if not results[k]["na"]:
                results[k]["version"] = s.version()
                order.append(k)
        for r in range(a.rounds):
            for k in order:
                res = results[k]
                if res["na"]:
                    continue
                s = BY_KEY[k](ctx, net)
                net.xdp_off()
                net.forget_neighbour()
                net.server_address(s.needs_address)
                try:
                    s.start(zone)
                    gun.run(qfile, rates[0], max(1, a.warm_seconds), netns.SERVER_IP)  # discarded
                    sweep = [gun.run(qfile, rate, a.seconds, netns.SERVER_IP) for rate in rates]
                    lat = perf.run(s, qfile, a.lat_seconds, rate=a.rate)
                    if not s.alive():
                        raise RuntimeError("a server process exited during the run")
                except (servers.StartError, RuntimeError, subprocess.TimeoutExpired) as e:
                    res["na"] = "n/a (failed, log on stderr)"
                    res["runs"] = []
                    log(f"[{wl.key}] {s.label}: {e}")
                    continue
                finally:
                    s.stop()
                    net.xdp_off()
                lat.pop("argv", None)
                best = max(sweep, key=lambda x: x["answered_pps"])
                run_ = {"round": r + 1, "sweep": sweep, "lat": lat, "sat_qps": best["answered_pps"],
                        "sat_rate": best["rate"], "sat_sent_pps": best["sent_pps"], "sat_loss_pct": best["loss_pct"]}
                res["runs"].append(run_)
                steps = ", ".join(f"{x['rate'] // 1000}k→{x['answered_pps'] / 1000:.0f}k ({x['loss_pct']:.1f}% lost)"
                                  for x in sweep)
                log(f"[{wl.key}] round {r + 1}/{a.rounds} {s.label}: {steps}; @{a.rate}: "
                    f"p50 {lat['p50_us'] or 0:.0f} µs, p99 {lat['p99_us'] or 0:.0f} µs, loss {lat['loss_pct']:.2f}%")
    return results
