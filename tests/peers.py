"""Real peer DNS servers (NSD, Knot) for differential tests.

Each peer runs as a foreground child process on 127.0.0.1 with its config,
state and logs under the test's temporary directory, and is stopped by its
PID. Readiness is an SOA answer for every zone it serves, polled with a
bounded deadline: tests never sleep a fixed time.
"""
import base64
import json
import pathlib
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import dns.exception
import dns.message
import dns.query
import dns.rcode

from harness import free_port


class _Process:
    """A peer process the test owns: stopped, or killed, by its own PID only."""
    proc = None

    def kill(self):
        """SIGKILL to this PID only: the peer vanishes without closing anything."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

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


class _Peer(_Process):
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


class Unbound(_Peer):
    """Unbound 1.17 in the foreground (`unbound -d`), one thread, answering
    only from local data: `local-zone: "." static` means it never recurses,
    so nothing it does leaves the machine.

    Each origin in `zones` is a `redirect` zone whose apex holds an SOA (the
    readiness check) and TXT `text`: every name under it answers that TXT,
    which tells a test who answered. `local_data` adds RRs ("big.example. 60
    TXT ..."), `local_zones` more zones ("big.example. static"). `ip` may be
    any 127/8 address; `port` defaults to a free one. `tls` = (cert, key)
    also serves DNS over TLS on `tls_port`. `udp=False` serves TCP only;
    `max_udp_size` caps UDP answers (512: big answers come back truncated).
    `label` names the instance's directory, so several can share tmp_path.
    """
    name = "unbound"

    def __init__(self, tmp_path, zones=("example.",), text="unbound", label="unbound",
                 local_data=(), local_zones=(), ip="127.0.0.1", port=None, tls=None, udp=True,
                 max_udp_size=None, **kw):
        self.name = label
        self.text = text
        self.local_data = list(local_data)
        self.local_zones = list(local_zones)
        self.ip = ip
        self.tls = tls
        self.tls_port = free_port() if tls else None
        self.udp = udp
        self.max_udp_size = max_udp_size
        self._fixed_port = port
        super().__init__(tmp_path, {z: "" for z in zones}, **kw)

    def _start(self, timeout):
        if self._fixed_port:
            self.port = self._fixed_port
        super()._start(timeout)

    def _command(self):
        conf = self.dir / "unbound.conf"
        lines = [
            "server:",
            "  interface: %s@%d" % (self.ip, self.port),
            "  port: %d" % self.port,
            "  do-ip6: no",
            "  do-udp: %s" % ("yes" if self.udp else "no"),
            "  num-threads: 1",
            '  chroot: ""',
            '  username: ""',
            "  directory: %s" % self.dir,
            "  pidfile: %s" % (self.dir / "unbound.pid"),
            "  use-syslog: no",
            '  logfile: ""',
            "  verbosity: 1",
            "  do-not-query-localhost: no",
            '  local-zone: "." static',
        ]
        if self.max_udp_size:
            lines.append("  max-udp-size: %d" % self.max_udp_size)
        if self.tls:
            lines += ["  interface: %s@%d" % (self.ip, self.tls_port),
                      "  tls-port: %d" % self.tls_port,
                      "  tls-service-pem: %s" % self.tls[0],
                      "  tls-service-key: %s" % self.tls[1]]
        for origin in self.zones:
            lines += ['  local-zone: "%s" redirect' % origin,
                      '  local-data: "%s 60 IN SOA ns.%s host.%s 1 3600 600 86400 60"'
                      % (origin, origin, origin),
                      '  local-data: \'%s 60 IN TXT "%s"\'' % (origin, self.text)]
        for zone in self.local_zones:
            name, kind = zone.split()
            lines.append('  local-zone: "%s" %s' % (name, kind))
        for rr in self.local_data:
            lines.append("  local-data: '%s'" % rr)
        lines += ["remote-control:", "  control-enable: no"]
        conf.write_text("\n".join(lines) + "\n")
        return ["unbound", "-d", "-c", str(conf)]

    def send(self, q, tcp=False, timeout=3):
        if tcp or not self.udp:
            return dns.query.tcp(q, self.ip, port=self.port, timeout=timeout)
        return dns.query.udp(q, self.ip, port=self.port, timeout=timeout)

    @property
    def addr(self):
        return "%s:%d" % (self.ip, self.port)

    def restart(self, timeout=20):
        """Starts again on the same address and port; returns once it answers."""
        self.kill()
        self._start(timeout)


class Etcd(_Process):
    """etcd 3.4 in the foreground on free loopback ports, its data under
    tmp_path/<label>/data so that kill() and start() bring it back with the
    same keys and revisions. Readiness is /health saying "true", polled with
    a deadline. Keys are read and written through the v3 JSON gateway (the
    API etcdctl speaks over gRPC): base64 keys and values, int64 as strings.

    `tls` = (cert, key, ca) serves https and requires client certificates
    signed by ca; the same pair is used for the test's own calls.
    `credentials` = (user, password) is sent once enable_auth() ran.
    """

    def __init__(self, tmp_path, label="etcd", tls=None, startup_timeout=20):
        self.name = label
        self.dir = pathlib.Path(tmp_path) / label
        self.dir.mkdir(parents=True, exist_ok=True)
        self.tls = tls
        self.port = free_port()
        self.peer_port = free_port()
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http", self.port)
        self.log = self.dir / "etcd.out"
        self.credentials = None
        self._token = None
        self.proc = None
        self.start(startup_timeout)

    def start(self, timeout=20):
        peer = "http://127.0.0.1:%d" % self.peer_port
        cmd = ["etcd", "--name", self.name, "--data-dir", str(self.dir / "data"),
               "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
               "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
               "--initial-cluster", "%s=%s" % (self.name, peer)]
        if self.tls:
            cmd += ["--cert-file", self.tls[0], "--key-file", self.tls[1],
                    "--trusted-ca-file", self.tls[2], "--client-cert-auth"]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                         cwd=str(self.dir))
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("etcd exited %s:\n%s" % (self.proc.returncode,
                                                             self.log.read_text(errors="replace")))
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=0.5,
                                            context=self._ssl()) as r:
                    if json.load(r).get("health") == "true":
                        return
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError("etcd not healthy:\n" + self.log.read_text(errors="replace"))
            time.sleep(0.05)

    def _ssl(self):
        if not self.tls:
            return None
        ctx = ssl.create_default_context(cafile=self.tls[2])
        ctx.load_cert_chain(self.tls[0], self.tls[1])
        return ctx

    def call(self, path, body, timeout=5):
        """POSTs to the gateway; returns the reply, raises on an error reply."""
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     method="POST")
        if self._token:
            req.add_header("Authorization", self._token)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self._ssl()) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            raise RuntimeError("etcd %s: %s" % (path, e.read().decode(errors="replace")))

    @staticmethod
    def _b64(text):
        return base64.b64encode(text.encode()).decode()

    def put(self, key, value, lease=None):
        """Writes a key (a dict value is written as JSON); returns the revision."""
        body = {"key": self._b64(key),
                "value": self._b64(value if isinstance(value, str) else json.dumps(value))}
        if lease:
            body["lease"] = str(lease)
        return int(self.call("/v3/kv/put", body)["header"]["revision"])

    def delete(self, key):
        return int(self.call("/v3/kv/deleterange", {"key": self._b64(key)})["header"]["revision"])

    def grant(self, ttl):
        """A new lease of `ttl` seconds; returns its ID."""
        return int(self.call("/v3/lease/grant", {"TTL": str(ttl)})["ID"])

    def compact(self, revision):
        self.call("/v3/kv/compaction", {"revision": str(revision), "physical": True})

    def enable_auth(self, user, password):
        """Adds `user` with the root role and turns authentication on."""
        self.call("/v3/auth/user/add", {"name": user, "password": password})
        self.call("/v3/auth/user/grant", {"user": user, "role": "root"})
        self.call("/v3/auth/enable", {})
        self._token = self.call("/v3/auth/authenticate",
                                {"name": user, "password": password})["token"]
