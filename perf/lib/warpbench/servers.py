"""The servers under test: how each is configured, started, probed and stopped.

Each server runs in the foreground as an ordinary process pinned (taskset) to the
server CPU, on its own free loopback port, answering from the same zone file.
A server's "setup" may include a backend (the NSD that dnsdist and the Unbound
forwarder forward to): its CPU is counted with the front-end's, since both run
on the server core and answering the workload costs both.

The DPDK-mode rows live elsewhere: replay.py (no client) and veth.py (a veth between
two network namespaces, driven by kxdpgun).
A server's configure() writes its configs and returns the processes to start, so the
same configs can be written for another host (perf/run --emit).
"""

import os
import random
import shutil
import socket
import struct
import subprocess
import time

from . import procs


class StartError(Exception):
    pass


def dns_query(port, name, qtype=1, timeout=0.2, host="127.0.0.1"):
    """One UDP query; returns (rcode, ancount) or None on timeout/refusal."""
    qid = random.randrange(65536)
    qname = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".") if l) + b"\0"
    packet = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.connect((host, port))
        s.send(packet)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = s.recv(4096)
            if len(data) >= 12:
                rid, flags, _, an, _, _ = struct.unpack(">HHHHHH", data[:12])
                if rid == qid and flags & 0x8000:
                    return flags & 0xF, an
    except (socket.timeout, ConnectionRefusedError, OSError):
        return None
    finally:
        s.close()
    return None


def wait_answer(proc_list, port, name, deadline_s, what):
    """Polls until `name` A is answered NOERROR with data. Returns seconds since the
    first process started. Raises StartError if a process exits or the deadline passes."""
    start = min(p.start_time for p in proc_list)
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        for p in proc_list:
            if not p.alive():
                raise StartError(f"{what}: {p.name} exited with {p.popen.returncode}:\n{p.log_tail()}")
        r = dns_query(port, name, timeout=0.05)
        if r and r[0] == 0 and r[1] > 0:
            return time.monotonic() - start
        time.sleep(0.01)
    tails = "\n".join(f"--- {p.name}\n{p.log_tail()}" for p in proc_list)
    raise StartError(f"{what}: no answer for {name} on port {port} within {deadline_s:.0f} s\n{tails}")


def version_of(argv):
    try:
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=10).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    for line in out.splitlines():
        line = line.strip()
        if any(c.isdigit() for c in line) and ("ersion" in line or line.split()[0].lower().startswith(
                ("nsd", "knot", "dnsdist", "warpdns", "unbound"))):
            return line
    return out.strip().splitlines()[0] if out.strip() else "?"


class Server:
    """Base class. A subclass sets key, label, binary, and implements configure(): write its
    config files into self.dir and return the processes to start, in order, as
    (name, argv, port that answers once this process is ready)."""
    key = ""
    label = ""
    binary = ""
    version_argv = None
    # workloads this server cannot run, with the reason shown in the table
    unsupported = {}

    def __init__(self, ctx):
        self.ctx = ctx
        self.procs = []
        self.port = None
        self.backend_port = None
        self.listen = "127.0.0.1"
        self.dir = None
        self.workload = None  # set by the bench before start: some servers differ per workload

    def missing(self):
        """Why this server cannot run at all on this machine, or None."""
        if not (shutil.which(self.binary) or os.access(self.binary, os.X_OK)):
            return f"n/a ({self.binary} not found)"
        return None

    def version(self):
        return version_of(self.version_argv) if self.version_argv else "?"

    def pinned(self, argv):
        return ["taskset", "-c", self.ctx.server_cpu] + argv

    def start(self, zone, deadline_s=60):
        """Starts the setup and waits until it answers zone.probe_name. Returns the seconds from
        the first exec to that answer (the load time)."""
        self.dir = os.path.join(self.ctx.tmp, f"{self.key}-{len(os.listdir(self.ctx.tmp))}")
        os.makedirs(self.dir)
        self.port = procs.free_port()
        self.backend_port = procs.free_port()
        try:
            for name, argv, port in self.configure(zone):
                p = procs.Proc(name, self.pinned(argv), os.path.join(self.dir, name + ".log"), cwd=self.dir)
                self.procs.append(p)
                t = wait_answer(self.procs, port, zone.probe_name, deadline_s, f"{self.label} ({name})")
            return t
        except BaseException:
            self.stop()
            raise

    def emit(self, zone, directory, port, backend_port, listen):
        """Writes the configs for another host (perf/run --emit); returns the commands."""
        self.dir, self.port, self.backend_port, self.listen = directory, port, backend_port, listen
        os.makedirs(directory, exist_ok=True)
        return [argv for _, argv, _ in self.configure(zone)]

    def cpu_seconds(self):
        # forward measures what the front end spends per forwarded query; the backend's share
        # is the same NSD answering the same names for every front end.
        if self.workload == "forward":
            return procs.cpu_seconds([self.procs[-1].pid])
        return procs.cpu_seconds([p.pid for p in self.procs])

    def memory_kb(self):
        return procs.memory_kb(self.procs[-1].pid)

    def stop(self):
        errors = []
        for p in reversed(self.procs):
            try:
                p.stop()
            except Exception as e:
                errors.append(str(e))
        self.procs = []
        if errors:
            raise RuntimeError("; ".join(errors))

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path


class Warpdns(Server):
    key = "warpdns"
    unsupported = {}

    @property
    def label(self):
        if self.workload in ("cache", "forward"):
            return "warpdns cache+forward → NSD"
        return "warpdns (socket, file)"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.binary = os.path.join(ctx.root, "build", "control", "warpdns")
        self.version_argv = [self.binary, "-version"]

    def missing(self):
        if not os.access(self.binary, os.X_OK):
            return "n/a (build/control/warpdns not built)"
        return None

    def configure(self, zone):
        # No log plugin: logging every query would dominate the cost being measured.
        if self.workload in ("cache", "forward"):
            # The same shape as the dnsdist and Unbound rows: a cache in front
            # of its own NSD, whose CPU counts with ours.
            backend = _backend(self, zone)
            conf = self.write("Corefile",
                              f"{zone.origin.rstrip('.')}:{self.port} {{\n"
                              f"    bind {self.listen}\n"
                              f"    cache 3600\n"
                              f"    forward . 127.0.0.1:{self.backend_port}\n"
                              f"}}\n")
            return [backend, ("warpdns", [self.binary, "-conf", conf], self.port)]
        return self.file_setup(zone)

    def file_setup(self, zone, plugins=""):
        """The authoritative setup: `file` for the zone, after `plugins` (Corefile lines)."""
        conf = self.write("Corefile",
                          f"{zone.origin.rstrip('.')}:{self.port} {{\n"
                          f"    bind {self.listen}\n"
                          f"{plugins}"
                          f"    file {zone.path}\n"
                          f"}}\n")
        return [("warpdns", [self.binary, "-conf", conf], self.port)]


class WarpdnsObserved(Warpdns):
    """The authoritative setup with prometheus and log on (what it costs to see every query)."""
    key = "warpdns-observed"

    @property
    def label(self):
        return "warpdns (socket, file, prometheus + log)"

    def configure(self, zone):
        return self.file_setup(zone, f"    prometheus 127.0.0.1:{procs.free_port()}\n    log\n")


def nsd_conf(d, listen, port, zone):
    return (f"server:\n"
            f"  ip-address: {listen}@{port}\n"
            f"  do-ip6: no\n"
            f"  database: \"\"\n"
            f"  username: \"\"\n"
            f"  chroot: \"\"\n"
            f"  zonesdir: \"{d}\"\n"
            f"  pidfile: \"{d}/nsd.pid\"\n"
            f"  xfrdfile: \"{d}/xfrd.state\"\n"
            f"  zonelistfile: \"{d}/zone.list\"\n"
            f"  logfile: \"{d}/nsd-internal.log\"\n"
            f"  server-count: 1\n"
            f"  verbosity: 0\n"
            f"  hide-version: yes\n"
            # NSD's response rate limiting is on by default and caps NXDOMAIN from one
            # source at 200/s: off, as for every other server here.
            f"  rrl-ratelimit: 0\n"
            f"  rrl-whitelist-ratelimit: 0\n"
            f"remote-control:\n"
            f"  control-enable: no\n"
            f"zone:\n"
            f"  name: \"{zone.origin}\"\n"
            f"  zonefile: \"{zone.path}\"\n")


class Nsd(Server):
    key = "nsd"
    label = "NSD"
    binary = "nsd"
    version_argv = ["nsd", "-v"]

    def configure(self, zone):
        conf = self.write("nsd.conf", nsd_conf(self.dir, self.listen, self.port, zone))
        return [("nsd", ["nsd", "-d", "-c", conf], self.port)]


def knot_conf(d, zone, listen, xdp_listen=None):
    """knot.conf for one zone from `zone` in run dir `d`: one worker of each
    kind, no journal, never writing the zone back; with `xdp_listen`
    (IFACE@PORT), also Knot's XDP mode on that interface."""
    xdp = (f"xdp:\n"
           f"  listen: {xdp_listen}\n"
           f"  udp: on\n") if xdp_listen else ""
    return (f"server:\n"
            f"  listen: {listen}\n"
            f"  rundir: \"{d}\"\n"
            f"  user: root:root\n"
            f"  udp-workers: 1\n"
            f"  tcp-workers: 1\n"
            f"  background-workers: 1\n"
            f"{xdp}"
            f"control:\n"
            f"  listen: \"{d}/knot.sock\"\n"
            f"database:\n"
            f"  storage: \"{d}/db\"\n"
            f"log:\n"
            f"  - target: stderr\n"
            f"    any: warning\n"
            f"template:\n"
            f"  - id: default\n"
            f"    storage: \"{d}\"\n"
            f"    journal-content: none\n"
            f"    zonefile-sync: -1\n"
            f"    zonefile-load: whole\n"
            f"    semantic-checks: off\n"
            f"zone:\n"
            f"  - domain: \"{zone.origin}\"\n"
            f"    file: \"{zone.path}\"\n")


class Knot(Server):
    key = "knot"
    label = "Knot"
    binary = "knotd"
    version_argv = ["knotd", "-V"]

    def configure(self, zone):
        d = self.dir
        os.makedirs(os.path.join(d, "db"), exist_ok=True)
        conf = self.write("knot.conf", knot_conf(d, zone, f"{self.listen}@{self.port}"))
        return [("knotd", ["knotd", "-c", conf], self.port)]


def unbound_common(d, listen, port):
    return (f"server:\n"
            f"  interface: {listen}\n"
            f"  port: {port}\n"
            f"  do-ip6: no\n"
            f"  num-threads: 1\n"
            f"  so-reuseport: no\n"
            f"  username: \"\"\n"
            f"  chroot: \"\"\n"
            f"  directory: \"{d}\"\n"
            f"  pidfile: \"{d}/unbound.pid\"\n"
            f"  use-syslog: no\n"
            f"  logfile: \"\"\n"
            f"  verbosity: 0\n"
            f"  access-control: 0.0.0.0/0 allow\n"
            f"  do-not-query-localhost: no\n"
            f"  module-config: \"iterator\"\n"
            f"  local-zone: \"test.\" nodefault\n"
            f"  hide-version: yes\n")


class UnboundLocal(Server):
    key = "unbound-local"
    label = "Unbound local-data"
    binary = "unbound"
    version_argv = ["unbound", "-V"]

    def configure(self, zone):
        lines = [unbound_common(self.dir, self.listen, self.port),
                 f"  local-zone: \"{zone.origin}\" static\n"]
        with open(zone.path) as f:
            for rr in f:
                lines.append(f"  local-data: \"{rr.strip()}\"\n")
        lines.append("remote-control:\n  control-enable: no\n")
        conf = self.write("unbound.conf", "".join(lines))
        return [("unbound", ["unbound", "-d", "-c", conf], self.port)]


def _backend(server, zone):
    """The NSD a forwarder forwards to: on the same host and CPU, on 127.0.0.1."""
    bdir = os.path.join(server.dir, "backend")
    os.makedirs(bdir, exist_ok=True)
    conf = os.path.join(bdir, "nsd.conf")
    with open(conf, "w") as f:
        f.write(nsd_conf(bdir, "127.0.0.1", server.backend_port, zone))
    return ("backend-nsd", ["nsd", "-d", "-c", conf], server.backend_port)


class UnboundForward(Server):
    key = "unbound-fwd"
    label = "Unbound forwarder → NSD"
    binary = "unbound"
    version_argv = ["unbound", "-V"]

    def configure(self, zone):
        backend = _backend(self, zone)
        conf = self.write("unbound.conf",
                          unbound_common(self.dir, self.listen, self.port) +
                          f"  qname-minimisation: no\n"
                          f"forward-zone:\n"
                          f"  name: \"{zone.origin}\"\n"
                          f"  forward-addr: 127.0.0.1@{self.backend_port}\n"
                          f"remote-control:\n  control-enable: no\n")
        return [backend, ("unbound", ["unbound", "-d", "-c", conf], self.port)]


class DnsdistCache(Server):
    key = "dnsdist"
    label = "dnsdist packet cache → NSD"
    binary = "dnsdist"
    version_argv = ["dnsdist", "--version"]

    def configure(self, zone):
        backend = _backend(self, zone)
        conf = self.write("dnsdist.conf",
                          # Mandatory: otherwise dnsdist sends a security-poll query off the machine.
                          f"setSecurityPollSuffix(\"\")\n"
                          f"setLocal(\"{self.listen}:{self.port}\")\n"
                          f"setACL({{\"0.0.0.0/0\"}})\n"
                          f"newServer({{address=\"127.0.0.1:{self.backend_port}\", name=\"nsd\","
                          f" checkName=\"{zone.origin}\", checkType=\"SOA\"}})\n"
                          f"pc = newPacketCache(1000000, {{maxTTL=86400, minTTL=0}})\n"
                          f"getPool(\"\"):setCache(pc)\n")
        return [backend, ("dnsdist", ["dnsdist", "--supervised", "--disable-syslog", "-C", conf], self.port)]


ALL = [Warpdns, WarpdnsObserved, Knot, Nsd, UnboundLocal, DnsdistCache, UnboundForward]
BY_KEY = {c.key: c for c in ALL}
