"""Real peer DNS servers (NSD, Knot) for differential tests.

Each peer runs as a foreground child process on 127.0.0.1 with its config,
state and logs under the test's temporary directory, and is stopped by its
PID. Readiness is an SOA answer for every zone it serves, polled with a
bounded deadline: tests never sleep a fixed time.
"""
import pathlib
import subprocess
import time

import dns.exception
import dns.message
import dns.query
import dns.rcode

from harness import free_port


class _Peer:
    name = "peer"

    def __init__(self, tmp_path, zones, startup_timeout=20):
        """`zones` maps an origin ("example.org.") to its zone file path."""
        self.dir = pathlib.Path(tmp_path) / self.name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.zones = {o if o.endswith(".") else o + ".": str(p) for o, p in zones.items()}
        self.port = free_port()
        self.log = self.dir / (self.name + ".out")
        self.proc = None
        self._start(startup_timeout)

    def _command(self):
        raise NotImplementedError

    def _start(self, timeout):
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(self._command(), stdout=out, stderr=subprocess.STDOUT,
                                         cwd=str(self.dir))
        deadline = time.monotonic() + timeout
        pending = set(self.zones)
        while pending:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited %s:\n%s" % (self.name, self.proc.returncode,
                                                          self.log.read_text(errors="replace")))
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError("%s did not answer SOA for %s:\n%s" % (
                    self.name, sorted(pending), self.log.read_text(errors="replace")))
            for origin in list(pending):
                try:
                    r = self.query(origin, "SOA", timeout=0.2)
                except (dns.exception.Timeout, OSError):
                    continue
                if r.rcode() == dns.rcode.NOERROR and r.answer:
                    pending.discard(origin)
            if pending:
                time.sleep(0.05)

    def query(self, qname, rdtype="A", tcp=False, want_dnssec=False, use_edns=None, payload=1232,
              timeout=3, **kw):
        q = dns.message.make_query(qname, rdtype, want_dnssec=want_dnssec, use_edns=use_edns,
                                   payload=payload, **kw)
        return self.send(q, tcp=tcp, timeout=timeout)

    def send(self, q, tcp=False, timeout=3):
        if tcp:
            return dns.query.tcp(q, "127.0.0.1", port=self.port, timeout=timeout)
        return dns.query.udp(q, "127.0.0.1", port=self.port, timeout=timeout)

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()  # SIGTERM to this PID only
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Nsd(_Peer):
    """NSD 4 in the foreground (`nsd -d`), no database, no privilege drop.

    `minimal_responses` is NSD's option of that name; its default (no) adds
    the apex NS RRset to the authority section of positive answers, as
    CoreDNS's file plugin does.
    """
    name = "nsd"

    def __init__(self, tmp_path, zones, minimal_responses=False, **kw):
        self.minimal_responses = minimal_responses
        super().__init__(tmp_path, zones, **kw)

    def _command(self):
        conf = self.dir / "nsd.conf"
        lines = [
            "server:",
            "  ip-address: 127.0.0.1",
            "  port: %d" % self.port,
            '  database: ""',
            '  username: ""',
            '  chroot: ""',
            "  zonesdir: %s" % self.dir,
            "  pidfile: %s" % (self.dir / "nsd.pid"),
            "  xfrdfile: %s" % (self.dir / "xfrd.state"),
            "  zonelistfile: %s" % (self.dir / "zone.list"),
            "  server-count: 1",
            "  verbosity: 1",
            "  minimal-responses: %s" % ("yes" if self.minimal_responses else "no"),
            "remote-control:",
            "  control-enable: no",
        ]
        for origin, path in self.zones.items():
            lines += ["zone:", "  name: %s" % origin, "  zonefile: %s" % path]
        conf.write_text("\n".join(lines) + "\n")
        return ["nsd", "-d", "-c", str(conf)]


class Knot(_Peer):
    """Knot DNS 3 (`knotd -c`), zones loaded as they are (no signing, no
    journal, never written back)."""
    name = "knot"

    def _command(self):
        conf = self.dir / "knot.conf"
        lines = [
            "server:",
            "  rundir: %s" % self.dir,
            "  user: root:root",
            "  listen: 127.0.0.1@%d" % self.port,
            "  udp-workers: 1",
            "  tcp-workers: 1",
            "  background-workers: 1",
            "control:",
            "  listen: %s" % (self.dir / "knot.sock"),
            "database:",
            "  storage: %s" % (self.dir / "db"),
            "log:",
            "  - target: stderr",
            "    any: info",
            "template:",
            "  - id: default",
            "    storage: %s" % self.dir,
            "    journal-content: none",
            "    zonefile-sync: -1",
            "    zonefile-load: whole",
            "    semantic-checks: off",
            "zone:",
        ]
        for origin, path in self.zones.items():
            lines += ["  - domain: %s" % origin, "    file: %s" % path]
        conf.write_text("\n".join(lines) + "\n")
        return ["knotd", "-c", str(conf)]
