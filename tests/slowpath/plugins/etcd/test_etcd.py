"""The etcd plugin in the real binary against a real etcd 3.4 on loopback:
SkyDNS records, the watch (with put-to-answer latency), etcd killed and
restarted, compaction while disconnected, fail-over across endpoints,
leases, auth, TLS and reload."""
import select
import signal
import socket
import statistics
import subprocess
import threading
import time

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

import differential
from harness import Warpdns, free_port
from peers import Etcd

# The "." block: etcd for skydns.local and 10.0.0.0/24's reverse zone; hosts
# after it answers www.example.org, the target of an out-of-zone CNAME
# (resolved through the server itself).
COREFILE = """\
.:@PORT@ {
  etcd skydns.local 10.0.0.0/24 {
    endpoint %s
%s  }
  hosts {
    192.0.2.80 www.example.org
    fallthrough
  }
}
"""

SKYDNS = {
    # A: two records for one name, stored below it.
    "/skydns/local/skydns/east/web/x1": {"host": "10.0.0.1", "ttl": 60},
    "/skydns/local/skydns/east/web/x2": {"host": "10.0.0.2", "ttl": 60},
    # AAAA
    "/skydns/local/skydns/east/v6": {"host": "2001:db8::1"},
    # CNAME inside the zone (followed) and outside it (resolved by the server).
    "/skydns/local/skydns/alias": {"host": "web.east.skydns.local"},
    "/skydns/local/skydns/ext": {"host": "www.example.org"},
    # SRV: weights are shares of their priority; IP hosts get key names.
    "/skydns/local/skydns/svc/a": {"host": "10.0.1.1", "port": 8080, "weight": 120},
    "/skydns/local/skydns/svc/b": {"host": "10.0.1.2", "port": 8080, "weight": 100},
    "/skydns/local/skydns/svc/c": {"host": "10.0.1.3", "port": 8081, "weight": 130},
    "/skydns/local/skydns/svc/d": {"host": "backup.example.org", "port": 9000, "priority": 20},
    # TXT
    "/skydns/local/skydns/txt/t1": {"text": "v=spf1 -all"},
    # MX: a name host and an address host (named after its key).
    "/skydns/local/skydns/mail/mx1": {"host": "mx1.example.org", "mail": True, "priority": 10},
    "/skydns/local/skydns/mail/mx2": {"host": "10.0.2.2", "mail": True, "priority": 20},
    # Group: the shallowest group wins, ungrouped keys stay.
    "/skydns/local/skydns/grp/a": {"host": "10.0.3.1", "group": "blue"},
    "/skydns/local/skydns/grp/b": {"host": "10.0.3.2", "group": "blue"},
    "/skydns/local/skydns/grp/sub/c": {"host": "10.0.3.3", "group": "green"},
    "/skydns/local/skydns/grp/d": {"host": "10.0.3.4"},
    # targetstrip: the SRV target drops the key's leftmost label.
    "/skydns/local/skydns/strip/rails/x": {"host": "10.0.4.1", "port": 80, "targetstrip": 1},
    # Reverse, name servers, the zone's own address.
    "/skydns/arpa/in-addr/10/0/0/127": {"host": "reverse.skydns.local."},
    "/skydns/local/skydns/dns/ns/ns1": {"host": "10.0.9.1"},
    "/skydns/local/skydns/dns/apex/x": {"host": "10.0.9.9"},
}

# (qname, qtype, rcode, answer, additional): records as "name ttl TYPE rdata".
EXAMPLES = [
    ("web.east.skydns.local.", "A", "NOERROR",
     {"web.east.skydns.local. 60 A 10.0.0.1", "web.east.skydns.local. 60 A 10.0.0.2"}, set()),
    ("v6.east.skydns.local.", "AAAA", "NOERROR", {"v6.east.skydns.local. 300 AAAA 2001:db8::1"},
     set()),
    ("alias.skydns.local.", "A", "NOERROR",
     {"alias.skydns.local. 300 CNAME web.east.skydns.local.",
      "web.east.skydns.local. 60 A 10.0.0.1", "web.east.skydns.local. 60 A 10.0.0.2"}, set()),
    ("ext.skydns.local.", "A", "NOERROR",
     {"ext.skydns.local. 300 CNAME www.example.org.", "www.example.org. 3600 A 192.0.2.80"},
     set()),
    ("alias.skydns.local.", "CNAME", "NOERROR",
     {"alias.skydns.local. 300 CNAME web.east.skydns.local."}, set()),
    ("svc.skydns.local.", "SRV", "NOERROR",
     {"svc.skydns.local. 300 SRV 10 34 8080 a.svc.skydns.local.",
      "svc.skydns.local. 300 SRV 10 28 8080 b.svc.skydns.local.",
      "svc.skydns.local. 300 SRV 10 37 8081 c.svc.skydns.local.",
      "svc.skydns.local. 300 SRV 20 100 9000 backup.example.org."},
     {"a.svc.skydns.local. 300 A 10.0.1.1", "b.svc.skydns.local. 300 A 10.0.1.2",
      "c.svc.skydns.local. 300 A 10.0.1.3"}),
    ("txt.skydns.local.", "TXT", "NOERROR", {'txt.skydns.local. 300 TXT "v=spf1 -all"'}, set()),
    ("mail.skydns.local.", "MX", "NOERROR",
     {"mail.skydns.local. 300 MX 10 mx1.example.org.",
      "mail.skydns.local. 300 MX 20 mx2.mail.skydns.local."},
     {"mx2.mail.skydns.local. 300 A 10.0.2.2"}),
    ("*.east.skydns.local.", "A", "NOERROR",
     {"*.east.skydns.local. 60 A 10.0.0.1", "*.east.skydns.local. 60 A 10.0.0.2"}, set()),
    ("web.any.skydns.local.", "A", "NOERROR",
     {"web.any.skydns.local. 60 A 10.0.0.1", "web.any.skydns.local. 60 A 10.0.0.2"}, set()),
    ("grp.skydns.local.", "A", "NOERROR",
     {"grp.skydns.local. 300 A 10.0.3.1", "grp.skydns.local. 300 A 10.0.3.2",
      "grp.skydns.local. 300 A 10.0.3.4"}, set()),
    ("rails.strip.skydns.local.", "SRV", "NOERROR",
     {"rails.strip.skydns.local. 300 SRV 10 100 80 rails.strip.skydns.local."},
     {"rails.strip.skydns.local. 300 A 10.0.4.1"}),
    ("127.0.0.10.in-addr.arpa.", "PTR", "NOERROR",
     {"127.0.0.10.in-addr.arpa. 300 PTR reverse.skydns.local."}, set()),
    ("skydns.local.", "NS", "NOERROR", {"skydns.local. 300 NS ns1.ns.dns.skydns.local."},
     {"ns1.ns.dns.skydns.local. 300 A 10.0.9.1"}),
    ("skydns.local.", "A", "NOERROR", {"skydns.local. 300 A 10.0.9.9"}, set()),
    # NODATA and NXDOMAIN carry the synthesized SOA.
    ("v6.east.skydns.local.", "A", "NOERROR", set(), set()),
    ("web.east.skydns.local.", "HINFO", "NOERROR", set(), set()),
    ("nope.skydns.local.", "A", "NXDOMAIN", set(), set()),
]


def texts(section):
    out = set()
    for rrset in section:
        for rd in rrset:
            out.add("%s %d %s %s" % (rrset.name.to_text(), rrset.ttl,
                                     dns.rdatatype.to_text(rrset.rdtype), rd.to_text()))
    return out


def a_records(r):
    return sorted(rd.address for rrset in r.answer if rrset.rdtype == dns.rdatatype.A
                  for rd in rrset)


def wait_for(what, deadline_s=10):
    """Polls `what()` until it returns something true; returns it."""
    deadline = time.monotonic() + deadline_s
    while True:
        value = what()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met within %ss" % deadline_s)
        time.sleep(0.01)


@pytest.fixture(scope="module")
def etcd(tmp_path_factory):
    with Etcd(tmp_path_factory.mktemp("etcd")) as e:
        for key, value in SKYDNS.items():
            e.put(key, value)
        yield e


def start(tmp_path, endpoints, options=""):
    return Warpdns(tmp_path, COREFILE % (" ".join(endpoints), options))


# The same data on a second port, kept on the chain by a log format with
# {local} (the fast path cannot fill it in), with the metrics.
SLOW_BLOCK = """\
.:%d {
  prometheus 127.0.0.1:%d
  log . "{local} {name}"
  etcd skydns.local 10.0.0.0/24 {
    endpoint %s
  }
  hosts {
    192.0.2.80 www.example.org
    fallthrough
  }
}
"""


def test_skydns_examples(tmp_path, etcd):
    """The examples through both paths: the chain (the slow block), the first
    sight on the plain block, and again once memoized, from the table."""
    slow, metrics = free_port(), free_port()
    corefile = COREFILE % (etcd.url, "") + SLOW_BLOCK % (slow, metrics, etcd.url)
    with Warpdns(tmp_path, corefile) as w:
        assert w.output()[0].startswith("[INFO] plugin/etcd: read ")
        assert " keys under /skydns at revision " in w.output()[0]
        rounds = [("slow path", [w.query(q, t, port=slow) for q, t, *_ in EXAMPLES]),
                  ("first sight", [w.query(q, t) for q, t, *_ in EXAMPLES])]
        differential.wait_publisher(lambda: differential.scrape(metrics))
        label = {"kind": "answered", "worker": "socket dns://:%d" % w.port}
        before = differential.metric(differential.scrape(metrics), "warpdns_fastpath_packets_total",
                                     **label)
        rounds.append(("fast path", [w.query(q, t) for q, t, *_ in EXAMPLES]))
        fast = differential.metric(differential.scrape(metrics), "warpdns_fastpath_packets_total",
                                   **label) - before
        for path, replies in rounds:
            for (qname, qtype, rcode, answer, extra), r in zip(EXAMPLES, replies):
                what = "%s: %s %s" % (path, qname, qtype)
                assert dns.rcode.to_text(r.rcode()) == rcode, what
                assert r.flags & dns.flags.AA, what
                assert texts(r.answer) == answer, what
                assert texts(r.additional) == extra, what
                soa = {t for t in texts(r.authority) if " SOA " in t}
                if answer:
                    assert not r.authority, what
                else:
                    assert len(soa) == 1 and soa.pop().startswith(
                        "skydns.local. 30 SOA ns.dns.skydns.local. hostmaster.skydns.local. "), what
        print("skydns examples: %d, %d answered by the fast path in the last round"
              % (len(EXAMPLES), fast))
        # Every positive answer but the three that name hosts outside the zone
        # (ext's CNAME target, svc's backup SRV target, mail's mx1), which the
        # server resolves through another chain. Denials carry an SOA whose
        # serial is the clock (CoreDNS's), so they stay on the chain.
        assert fast >= sum(1 for example in EXAMPLES if example[3]) - 3
        # Outside the plugin's zones the next plugin answers.
        assert a_records(w.query("www.example.org.", "A")) == ["192.0.2.80"]


def test_watch_put_and_delete_and_latency(tmp_path, etcd):
    metrics = free_port()
    corefile = COREFILE % (etcd.url, "") + (
        "metrics.invalid:@PORT@ {\n  prometheus 127.0.0.1:%d\n  whoami\n}\n" % metrics)
    with Warpdns(tmp_path, corefile) as w:
        key = "/skydns/local/skydns/watch/w1"
        name = "w1.watch.skydns.local."
        assert w.query(name, "A").rcode() == dns.rcode.NXDOMAIN
        etcd.put(key, {"host": "10.1.0.1"})
        wait_for(lambda: a_records(w.query(name, "A")) == ["10.1.0.1"])
        etcd.delete(key)
        wait_for(lambda: w.query(name, "A").rcode() == dns.rcode.NXDOMAIN)

        # Put to changed answer, over UDP as a client sees it: from before
        # the write is sent, and from etcd's acknowledgement of it; then on to
        # the first changed answer the fast path gave (a query between two
        # scrapes of its answer count, so these include a scrape's time).
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect(("127.0.0.1", w.port))
        query = dns.message.make_query(name, "A")
        wire = query.to_wire()

        def answer():
            sock.send(wire)
            return dns.message.from_wire(sock.recv(4096))

        def fast_answers():
            return differential.metric(differential.scrape(metrics),
                                       "warpdns_fastpath_packets_total", kind="answered")

        from_send, from_ack, to_fast = [], [], []
        for i in range(200):
            address = "10.2.%d.%d" % (i // 250, i % 250 + 1)
            t0 = time.perf_counter()
            etcd.put(key, {"host": address})
            t1 = time.perf_counter()
            deadline = t0 + 5
            while a_records(answer()) != [address]:
                assert time.perf_counter() < deadline, "put %d not visible" % i
            t2 = time.perf_counter()
            from_send.append((t2 - t0) * 1000)
            from_ack.append(max(0.0, t2 - t1) * 1000)
            while True:
                before = fast_answers()
                got = a_records(answer())
                t3 = time.perf_counter()
                if fast_answers() > before:
                    assert got == [address], "the fast path answered the old data"
                    break
                assert time.perf_counter() < deadline, "put %d never reached the fast path" % i
            to_fast.append(max(0.0, t3 - t1) * 1000)
        sock.close()

        def pct(values, p):
            return sorted(values)[min(len(values) - 1, int(len(values) * p))]

        print("\nput -> changed answer over %d puts (ms): from send p50 %.2f p99 %.2f; "
              "from etcd's ack p50 %.2f p99 %.2f; from etcd's ack to a fast-path answer "
              "p50 %.2f p99 %.2f" % (
                  len(from_send), statistics.median(from_send), pct(from_send, 0.99),
                  statistics.median(from_ack), pct(from_ack, 0.99),
                  statistics.median(to_fast), pct(to_fast, 0.99)))
        # The target is a p99 of 10 ms (met here, see docs/benchmarks.md). CI shares two cores
        # with etcd's fsyncs and everything else, so the test holds the median to the target
        # and the p99 to what only a fall-back to polling or a reconnect would exceed.
        assert statistics.median(from_ack) < 10 and statistics.median(to_fast) < 10
        assert pct(from_ack, 0.99) < 200
        assert pct(to_fast, 0.99) < 200


def test_etcd_killed_and_restarted(tmp_path):
    with Etcd(tmp_path / "e", label="killed") as etcd:
        for key, value in SKYDNS.items():
            etcd.put(key, value)
        with start(tmp_path / "w", [etcd.url]) as w:
            assert a_records(w.query("web.east.skydns.local.", "A")) == ["10.0.0.1", "10.0.0.2"]
            etcd.kill()
            # Down for 20 s: every answer keeps coming from the last data.
            down_until = time.monotonic() + 20
            queries = 0
            while time.monotonic() < down_until:
                r = w.query("web.east.skydns.local.", "A")
                assert a_records(r) == ["10.0.0.1", "10.0.0.2"]
                assert w.query("nope.skydns.local.", "A").rcode() == dns.rcode.NXDOMAIN
                queries += 1
            assert queries > 100
            w.wait_for_line(lambda l: l.startswith("[ERROR] plugin/etcd: %s: " % etcd.url))
            etcd.start()
            # Written while warpdns is still disconnected (in its backoff).
            etcd.put("/skydns/local/skydns/east/web/x3", {"host": "10.0.0.3", "ttl": 60})
            etcd.delete("/skydns/local/skydns/txt/t1")
            wait_for(lambda: a_records(w.query("web.east.skydns.local.", "A")) ==
                     ["10.0.0.1", "10.0.0.2", "10.0.0.3"])
            assert w.query("txt.skydns.local.", "TXT").rcode() == dns.rcode.NXDOMAIN
            # The watch resumed where it stopped: no second full read.
            w.wait_for_line(lambda l: l.startswith(
                "[INFO] plugin/etcd: watching %s from revision " % etcd.url))
            assert sum(l.startswith("[INFO] plugin/etcd: read ") for l in w.output()) == 1


class Cut:
    """A TCP relay to `port` that the test can cut: cut() drops every
    connection and refuses (closes) new ones until restore()."""

    def __init__(self, port):
        self.target = port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.url = "http://127.0.0.1:%d" % self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.conns = []
        self.blocked = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                if self.blocked:
                    client.close()
                    continue
                upstream = socket.create_connection(("127.0.0.1", self.target))
                self.conns += [client, upstream]
            threading.Thread(target=self._relay, args=(client, upstream), daemon=True).start()

    def _relay(self, a, b):
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [])
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)
        except OSError:
            pass
        finally:
            a.close()
            b.close()

    def cut(self):
        with self.lock:
            self.blocked = True
            for s in self.conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.conns = []

    def restore(self):
        with self.lock:
            self.blocked = False

    def close(self):
        self.cut()
        self.listener.close()


def test_compaction_while_disconnected_reads_everything_again(tmp_path):
    with Etcd(tmp_path / "e", label="compacted") as etcd:
        for key, value in SKYDNS.items():
            etcd.put(key, value)
        relay = Cut(etcd.port)
        try:
            with start(tmp_path / "w", [relay.url]) as w:
                assert w.query("txt.skydns.local.", "TXT").rcode() == dns.rcode.NOERROR
                relay.cut()
                w.wait_for_line(lambda l: l.startswith("[ERROR] plugin/etcd: %s: " % relay.url))
                etcd.put("/skydns/local/skydns/late", {"host": "10.5.0.1"})
                revision = etcd.delete("/skydns/local/skydns/txt/t1")
                etcd.compact(revision)
                relay.restore()
                w.wait_for_line(lambda l: l.startswith("[WARNING] plugin/etcd: revision ") and
                                "is compacted" in l)
                wait_for(lambda: a_records(w.query("late.skydns.local.", "A")) == ["10.5.0.1"])
                # The delete is seen too, though no event for it survived.
                assert w.query("txt.skydns.local.", "TXT").rcode() == dns.rcode.NXDOMAIN
                # The log writer is asynchronous: wait for the re-read's line, then count.
                first = next(i for i, l in enumerate(w.output())
                             if l.startswith("[INFO] plugin/etcd: read "))
                w.wait_for_line(lambda l: l.startswith("[INFO] plugin/etcd: read "), start=first + 1)
                assert sum(l.startswith("[INFO] plugin/etcd: read ") for l in w.output()) == 2
        finally:
            relay.close()


def test_fails_over_to_the_next_endpoint(tmp_path, etcd):
    relay = Cut(etcd.port)
    try:
        with start(tmp_path, [relay.url, etcd.url]) as w:
            assert w.output()[0].endswith("from " + relay.url)
            relay.cut()
            w.wait_for_line(lambda l: l.startswith(
                "[INFO] plugin/etcd: watching %s from revision " % etcd.url))
            etcd.put("/skydns/local/skydns/failover", {"host": "10.6.0.1"})
            wait_for(lambda: a_records(w.query("failover.skydns.local.", "A")) == ["10.6.0.1"])
            etcd.delete("/skydns/local/skydns/failover")
    finally:
        relay.close()


def test_lease_ttl_caps_the_answer_and_expiry_removes_it(tmp_path, etcd):
    with start(tmp_path, [etcd.url]) as w:
        long_lease = etcd.grant(100)
        etcd.put("/skydns/local/skydns/leased/a", {"host": "10.7.0.1"}, lease=long_lease)
        etcd.put("/skydns/local/skydns/leased2/a", {"host": "10.7.0.2", "ttl": 60},
                 lease=long_lease)
        short_lease = etcd.grant(6)
        etcd.put("/skydns/local/skydns/brief/a", {"host": "10.7.0.3"}, lease=short_lease)
        r = wait_for(lambda: (lambda r: r.answer and r)(w.query("leased.skydns.local.", "A")))
        assert 90 <= r.answer[0].ttl <= 100
        r = wait_for(lambda: (lambda r: r.answer and r)(w.query("leased2.skydns.local.", "A")))
        assert r.answer[0].ttl == 60
        # A few seconds left is clamped up to min-lease-ttl (30 s)...
        r = wait_for(lambda: (lambda r: r.answer and r)(w.query("brief.skydns.local.", "A")))
        assert r.answer[0].ttl == 30
        # ... and when the lease expires etcd deletes the key: the watch says so.
        wait_for(lambda: w.query("brief.skydns.local.", "A").rcode() == dns.rcode.NXDOMAIN,
                 deadline_s=15)


def test_credentials(tmp_path):
    with Etcd(tmp_path / "e", label="auth") as etcd:
        etcd.put("/skydns/local/skydns/secret", {"host": "10.8.0.1"})
        etcd.enable_auth("root", "s3cret")
        with start(tmp_path / "ok", [etcd.url], "    credentials root s3cret\n") as w:
            assert a_records(w.query("secret.skydns.local.", "A")) == ["10.8.0.1"]
            etcd.put("/skydns/local/skydns/secret2", {"host": "10.8.0.2"})
            wait_for(lambda: a_records(w.query("secret2.skydns.local.", "A")) == ["10.8.0.2"])
        with start(tmp_path / "bad", [etcd.url], "    credentials root wrong\n") as w:
            r = w.query("secret.skydns.local.", "A")
            assert r.rcode() == dns.rcode.SERVFAIL
            assert any("authentication failed" in l for l in w.output())


def make_certs(d):
    """A CA, a server certificate for 127.0.0.1 and a client certificate.
    etcd's gateway dials etcd itself with the server certificate, so that
    one is good for both ends."""
    d.mkdir(parents=True, exist_ok=True)

    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.pem", "-days", "2", "-subj", "/CN=warpdns test CA")
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth"),
                      ("client", "extendedKeyUsage=clientAuth")):
        (d / (name + ".ext")).write_text(ext + "\n")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
                name + ".csr", "-subj", "/CN=" + name)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", name + ".ext")
    return {n: str(d / n) for n in ("ca.pem", "server.pem", "server.key", "client.pem",
                                    "client.key")}


def test_tls_with_client_certificate(tmp_path):
    certs = make_certs(tmp_path / "certs")
    with Etcd(tmp_path / "e", label="tls",
              tls=(certs["server.pem"], certs["server.key"], certs["ca.pem"])) as etcd:
        etcd.put("/skydns/local/skydns/tls", {"host": "10.9.0.1"})
        options = "    tls %s %s %s\n" % (certs["client.pem"], certs["client.key"], certs["ca.pem"])
        with start(tmp_path / "w", [etcd.url], options) as w:
            assert a_records(w.query("tls.skydns.local.", "A")) == ["10.9.0.1"]
            etcd.put("/skydns/local/skydns/tls2", {"host": "10.9.0.2"})
            wait_for(lambda: a_records(w.query("tls2.skydns.local.", "A")) == ["10.9.0.2"])


def test_reload_replaces_the_watch(tmp_path, etcd):
    etcd.put("/other/local/skydns/moved", {"host": "10.10.0.1"})
    with start(tmp_path, [etcd.url]) as w:
        assert w.query("moved.skydns.local.", "A").rcode() == dns.rcode.NXDOMAIN
        w.corefile.write_text((COREFILE % (etcd.url, "    path /other\n")).replace(
            "@PORT@", str(w.port)))
        start_line = len(w.output())
        w.proc.send_signal(signal.SIGUSR1)
        w.wait_for_line(lambda l: l.startswith("[INFO] plugin/etcd: read 1 keys under /other "),
                        start=start_line)
        wait_for(lambda: a_records(w.query("moved.skydns.local.", "A")) == ["10.10.0.1"])
        # The old configuration's watch is gone: its keys no longer answer.
        assert w.query("web.east.skydns.local.", "A").rcode() == dns.rcode.NXDOMAIN
