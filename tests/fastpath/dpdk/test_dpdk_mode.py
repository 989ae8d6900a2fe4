"""DPDK mode end to end: warpdns on a DPDK vdev over a veth, a client in
another namespace.

Each vdev kind (AF_XDP, AF_PACKET) gets its own pair of namespaces
(tests/netns.py) and one warpdns in the server namespace, started through
`ip netns exec` with a global `io dpdk` block: the port is the server end of
the veth (no kernel address), the fast path answers 10.99.0.1 and
fd00:99::1, and an exception tap hands the kernel everything else (TCP,
ICMP, neighbour discovery). Answers are compared with a socket-mode warpdns
on loopback serving the same zone (docs/io.md: both modes give the same
answers).

Needs root (namespaces, veth, DPDK vdevs); skipped with the reason
otherwise.
"""
import contextlib
import itertools
import re
import socket

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

import differential
import harness
import netns
from harness import REPO, Warpdns

_OK, _WHY = netns.available()
pytestmark = pytest.mark.skipif(not _OK, reason=_WHY)

ZONE = (REPO / "examples" / "db.example.org").read_text()

# vdev kind -> devargs template ({} is the server end of the veth).
KINDS = {
    "af_xdp": "net_af_xdp0,iface={}",
    "af_packet": "net_af_packet0,iface={}",
}

_starts = itertools.count()


def dpdk_corefile(net, devargs, file_prefix, tap, log=False):
    return """{
    io dpdk {
        eal --no-huge -m 512 --no-pci --no-shconf --file-prefix %(prefix)s -l 0-1 --no-telemetry
        port %(devargs)s address %(ip4)s/24 %(ip6)s/64
        workers 1
        exception tap %(tap)s
    }
}
example.org:53 {
    file @DIR@/db.example.org
    prometheus 127.0.0.1:9253
%(log)s}
diff.test:53 {
    file @DIR@/db.diff.test
}
diff.test:5301 {
    file @DIR@/db.diff.test
    prometheus 127.0.0.1:9253
    log . "{local} {name}"
}
.:53 {
    whoami
}
.:5300 {
    prometheus 127.0.0.1:9253
}
""" % {"prefix": file_prefix, "devargs": devargs, "ip4": net.server_ip, "ip6": net.server_ip6,
       "tap": tap, "log": "    log\n" if log else ""}


SOCKET_COREFILE = """
example.org:@PORT@ {
    bind 127.0.0.1
    file @DIR@/db.example.org
}
.:@PORT@ {
    bind 127.0.0.1
    whoami
}
"""


def start_owned(*args, **kw):
    """Warpdns(*args, **kw) that the caller stops (it outlives single tests,
    so it is taken off conftest's per-test cleanup list). If it fails to
    come up, it is stopped here by its PID."""
    first = len(harness.STARTED)
    try:
        server = Warpdns(*args, **kw)
    except BaseException:
        while len(harness.STARTED) > first:
            harness.STARTED.pop().stop()
        raise
    harness.STARTED.remove(server)
    return server


class Bed:
    """One veth pair and the DPDK-mode warpdns on its server end. The
    server is this object's to stop (by PID), not the per-test cleanup's:
    it outlives single tests."""

    def __init__(self, kind, net, tmp_dir):
        self.kind = kind
        self.net = net
        self.tmp_dir = tmp_dir
        self.devargs = KINDS[kind].format(net.server_if)
        self.server = None
        self.log = None

    def ensure(self, log=False):
        """A running server with (or without) the log plugin; (re)starts it
        when needed."""
        if self.server is not None and self.server.proc.poll() is not None:
            # Never restart silently over a crash.
            dead, self.server = self.server, None
            pytest.fail("warpdns (%s) died with %s:\n%s" % (
                self.kind, dead.proc.returncode, "\n".join(dead.output()[-50:])))
        if self.server is not None and self.log == log:
            return self.server
        self.stop()
        k = next(_starts)
        tap = ("wx%st%d" % (self.net.tag.replace("-", "x"), k))[:15]
        corefile = dpdk_corefile(self.net, self.devargs, "wdns-%s-%d" % (self.net.tag, k), tap,
                                 log=log)
        self.server = start_owned(self.tmp_dir / ("run%d" % k), corefile,
                                  files={"db.example.org": ZONE,
                                         "db.diff.test": differential.zone_text()},
                                  prefix=self.net.server_prefix())
        self.log = log
        return self.server

    def stop(self):
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture(scope="module", params=list(KINDS))
def bed(request, tmp_path_factory):
    with contextlib.ExitStack() as stack:
        net = stack.enter_context(netns.VethPair())
        b = Bed(request.param, net, tmp_path_factory.mktemp("dpdk-" + request.param))
        stack.callback(b.stop)  # before the namespaces go
        b.ensure(log=False)
        yield b


@pytest.fixture
def srv(bed):
    """The bed with its plain (no log) server running."""
    bed.ensure(log=False)
    return bed


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    """Socket-mode warpdns on loopback with the same zone: the reference."""
    with start_owned(tmp_path_factory.mktemp("ref"), SOCKET_COREFILE,
                     files={"db.example.org": ZONE}) as s:
        yield s


# --- helpers ---------------------------------------------------------------

def query(net, q, where=None, tcp=False, attempts=3, timeout=2.0):
    """Sends q from the client namespace, retrying on timeout (the first
    query may wait for ARP / neighbour discovery)."""
    for i in range(attempts):
        try:
            return net.client_query(q, where=where, tcp=tcp, timeout=timeout)
        except (dns.exception.Timeout, TimeoutError, ConnectionError):
            if i == attempts - 1:
                raise


def _rrsets(section):
    return sorted((rrset.name.to_text(), int(rrset.rdclass), int(rrset.rdtype), int(rrset.covers),
                   rrset.ttl, tuple(sorted(rd.to_text() for rd in rrset)))
                  for rrset in section)


def canon(m):
    """Everything in a reply but its ID; owner names keep their case."""
    return {
        "rcode": m.rcode(),
        "opcode": m.opcode(),
        "flags": dns.flags.to_text(m.flags),
        "edns": m.edns,
        "ednsflags": m.ednsflags if m.edns >= 0 else None,
        "payload": m.payload if m.edns >= 0 else None,
        "options": sorted(o.to_text() for o in m.options) if m.edns >= 0 else None,
        "question": [(r.name.to_text(), int(r.rdclass), int(r.rdtype)) for r in m.question],
        "answer": _rrsets(m.answer),
        "authority": _rrsets(m.authority),
        "additional": _rrsets(m.additional),
    }


def neighbour_ok(net, ip):
    e = net.neighbour(ip)
    assert e is not None, "no neighbour entry for %s" % ip
    assert e.get("lladdr") == net.server_mac(), e
    assert set(e.get("state", ())) & {"REACHABLE", "STALE", "DELAY", "PROBE"}, e


def whoami_shape(r, qname, client_addr, client_port, proto="udp"):
    assert r.rcode() == dns.rcode.NOERROR
    assert r.flags & dns.flags.AA
    assert not r.answer
    addr_type = dns.rdatatype.AAAA if ":" in client_addr else dns.rdatatype.A
    by_type = {rrset.rdtype: rrset for rrset in r.additional}
    assert set(by_type) == {addr_type, dns.rdatatype.SRV}, r.to_text()
    assert by_type[addr_type].name == dns.name.from_text(qname)
    assert [rd.address for rd in by_type[addr_type]] == [client_addr]
    srv_rr = by_type[dns.rdatatype.SRV]
    assert srv_rr.name == dns.name.from_text("_%s.%s" % (proto, qname))
    assert [rd.port for rd in srv_rr] == [client_port]


def whoami_udp(net, where, qname):
    """(reply, client port) for a whoami query sent from a bound socket."""
    family = socket.AF_INET6 if ":" in where else socket.AF_INET
    src = net.client_ip6 if ":" in where else net.client_ip
    q = dns.message.make_query(qname, "A")
    for i in range(3):
        with net.client_socket(family, socket.SOCK_DGRAM) as sk:
            sk.bind((src, 0))
            port = sk.getsockname()[1]
            sk.setblocking(False)
            try:
                return dns.query.udp(q, where, timeout=2, sock=sk), port
            except dns.exception.Timeout:
                if i == 2:
                    raise


# --- a. ARP ----------------------------------------------------------------

def test_arp_resolves_without_static_entry(srv):
    net = srv.net
    arp_before = fastpath_count(net, "arp_reply")
    net.client(["ip", "neigh", "flush", "dev", net.client_if], check=True)
    e = net.neighbour(net.server_ip)
    assert e is None or "lladdr" not in e, e
    r = net.client(["kdig", "@" + net.server_ip, "www.example.org", "A", "+retry=2",
                    "+timeout=2", "+short"], timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert set(r.stdout.split()) == {"192.0.2.10", "192.0.2.11"}, r.stdout + r.stderr
    neighbour_ok(net, net.server_ip)
    # The fast path answered it (not the kernel behind the tap).
    assert fastpath_count(net, "arp_reply") > arp_before


# --- b. same answers as socket mode -------------------------------------------

DIFF_QUERIES = [
    ("www.example.org.", "A", {}),
    ("www.example.org.", "AAAA", {}),
    ("example.org.", "MX", {}),
    ("example.org.", "NS", {}),
    ("example.org.", "SOA", {}),
    ("example.org.", "TXT", {}),
    ("example.org.", "A", {}),
    ("mail.example.org.", "A", {}),
    ("ns1.example.org.", "A", {}),
    ("nonexistent.example.org.", "A", {}),           # NXDOMAIN
    ("deep.nonexistent.example.org.", "TXT", {}),    # NXDOMAIN below
    ("www.example.org.", "MX", {}),                  # NODATA
    ("example.org.", "DNSKEY", {}),                  # NODATA at the apex
    ("apps.example.org.", "A", {}),                  # empty non-terminal
    ("ftp.example.org.", "A", {}),                   # CNAME to www
    ("x.apps.example.org.", "A", {}),                # wildcard
    ("a.b.apps.example.org.", "A", {}),              # wildcard, deeper
    ("_dns._udp.example.org.", "SRV", {}),
    ("WwW.ExAmPlE.oRg.", "A", {}),                   # mixed case, after the lower-case one
    ("MAIL.EXAMPLE.ORG.", "A", {}),
    ("www.example.org.", "A", {"use_edns": False}),
    ("www.example.org.", "A", {"want_dnssec": True}),
    ("example.org.", "MX", {"use_edns": 0, "payload": 4096}),
    ("example.org.", "SOA", {"use_edns": 0, "payload": 512}),
    ("nonexistent.example.org.", "A", {"want_dnssec": True}),
    ("www.example.org.", "A", {"flags": 0}),         # RD clear
]


def _qid(case):
    name, rdtype, kw = case
    return "%s/%s%s" % (name, rdtype, "".join("/%s=%s" % i for i in sorted(kw.items())))


@pytest.mark.parametrize("case", DIFF_QUERIES, ids=[_qid(c) for c in DIFF_QUERIES])
def test_same_answer_as_socket_mode(srv, ref, case):
    name, rdtype, kw = case
    q = dns.message.make_query(name, rdtype, **kw)
    want = canon(ref.send(q))
    # The first may be punted to the slow path; the later ones come from
    # the fast path's table once the slow path's answer is published.
    for i in range(3):
        got = canon(query(srv.net, q))
        assert got == want, "answer %d differs" % (i + 1)


def test_whoami_outside_the_zone(srv, ref):
    net = srv.net
    for _ in range(2):
        r, port = whoami_udp(net, net.server_ip, "who.test.")
        whoami_shape(r, "who.test.", net.client_ip, port)
    # Same structure as socket mode's (which sees 127.0.0.1).
    q = dns.message.make_query("who.test.", "A")
    want = ref.send(q)
    assert want.flags == r.flags and want.rcode() == r.rcode()
    assert [(x.name, x.rdtype) for x in want.additional] == [(x.name, x.rdtype) for x in r.additional]


# --- c. load -----------------------------------------------------------------

PERF_QUERIES = """www.example.org A
www.example.org AAAA
example.org MX
example.org NS
example.org SOA
mail.example.org A
ns1.example.org A
ftp.example.org A
x.apps.example.org A
nonexistent.example.org A
www.example.org MX
_dns._udp.example.org SRV
"""


def _count(label, text):
    m = re.search(r"%s:\s+(\d+)" % re.escape(label), text)
    assert m, "no '%s' in dnsperf output:\n%s" % (label, text)
    return int(m.group(1))


def test_dnsperf_loses_under_a_thousandth(srv, tmp_path):
    net = srv.net
    qfile = tmp_path / "queries"
    qfile.write_text(PERF_QUERIES)
    # Resolve ARP before the clock starts.
    query(net, dns.message.make_query("www.example.org.", "A"))
    before = read_metrics(net)
    answered = differential.metric(before, "warpdns_fastpath_packets_total", kind="answered")
    requests = differential.metric(before, "coredns_dns_requests_total", zone="example.org.")
    responses = differential.metric(before, "coredns_dns_responses_total", zone="example.org.")
    # The worker busy-polls lcore 1: dnsperf goes on CPU 0.
    r = net.client(["taskset", "-c", "0", "dnsperf", "-s", net.server_ip, "-d", str(qfile),
                    "-l", "10", "-Q", "20000", "-t", "2"], timeout=60)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    sent = _count("Queries sent", out)
    lost = _count("Queries lost", out)
    assert sent >= 100000, out  # the run really ran at ~20k qps for 10 s
    assert lost * 1000 < sent, out
    # After each name's first (punted) answer, the fast path answered.
    after = read_metrics(net)
    answered = differential.metric(after, "warpdns_fastpath_packets_total", kind="answered") - answered
    assert answered >= (sent - lost) * 0.99, (answered, out)
    # Every query counted once in CoreDNS's metrics, fast-path answers included (a lost
    # query may have been counted before its reply was lost).
    requests = differential.metric(after, "coredns_dns_requests_total", zone="example.org.") - requests
    responses = differential.metric(after, "coredns_dns_responses_total", zone="example.org.") - responses
    completed = _count("Queries completed", out)
    assert completed <= requests <= sent and requests == responses, (requests, responses, out)


# --- d. TCP through the exception tap ----------------------------------------

def test_tcp_query_is_answered_through_the_exception_path(srv, ref):
    net = srv.net
    r = net.client(["dig", "+tcp", "@" + net.server_ip, "www.example.org", "A", "+short",
                    "+tries=2", "+time=3"], timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert set(r.stdout.split()) == {"192.0.2.10", "192.0.2.11"}, r.stdout + r.stderr
    for name, rdtype in (("www.example.org.", "A"), ("nonexistent.example.org.", "A"),
                         ("example.org.", "MX")):
        q = dns.message.make_query(name, rdtype)
        assert canon(query(net, q, tcp=True)) == canon(ref.send(q, tcp=True))
    r, port = whoami_udp(net, net.server_ip, "who.test.")  # UDP still works beside it
    whoami_shape(r, "who.test.", net.client_ip, port)


# --- e. IPv6 -----------------------------------------------------------------

def test_ipv6_udp_and_tcp(srv, ref):
    net = srv.net
    nd_before = fastpath_count(net, "nd_reply")
    net.client(["ip", "-6", "neigh", "flush", "dev", net.client_if], check=True)
    q = dns.message.make_query("www.example.org.", "AAAA")
    want = canon(ref.send(q))
    for _ in range(3):
        assert canon(query(net, q, where=net.server_ip6)) == want
    neighbour_ok(net, net.server_ip6)
    assert fastpath_count(net, "nd_reply") > nd_before  # answered by the fast path
    q = dns.message.make_query("nonexistent.example.org.", "A", want_dnssec=True)
    assert canon(query(net, q, where=net.server_ip6)) == canon(ref.send(q))
    r, port = whoami_udp(net, net.server_ip6, "who6.test.")
    whoami_shape(r, "who6.test.", net.client_ip6, port)
    q = dns.message.make_query("example.org.", "SOA")
    assert canon(query(net, q, where=net.server_ip6, tcp=True)) == canon(ref.send(q, tcp=True))


# --- log (restarts the server with `log`; keep it last) ------------------------

def test_log_lines_for_every_answer(bed):
    server = bed.ensure(log=True)
    net = bed.net
    start = len(server.output())
    ids = []
    for _ in range(3):  # the first may be punted, the others hit the table
        q = dns.message.make_query("mail.example.org.", "A")
        r = query(net, q)
        assert r.rcode() == dns.rcode.NOERROR and r.answer
        ids.append(q.id)
    for qid in ids:
        line = server.wait_for_line(
            lambda l, qid=qid: ("- %d \"A IN mail.example.org. udp " % qid) in l, timeout=10,
            start=start)
        assert line.startswith("[INFO] %s:" % net.client_ip), line
        assert "NOERROR" in line and "qr,aa,rd" in line, line


def read_metrics(net):
    """The server's /metrics, from inside its namespace."""
    return net.server(["curl", "-sf", "http://127.0.0.1:9253/metrics"], check=True).stdout


def fastpath_count(net, kind):
    return differential.metric(read_metrics(net), "warpdns_fastpath_packets_total", kind=kind)


def test_ten_thousand_queries_fast_equals_slow(srv):
    """The differential: each query answered by the chain (port 5301, whose
    log format has {local}, which keeps its queries on the chain) and twice by the fast path (port 53, from
    the table, prebuilt or memoized) gives the same message, ID aside."""
    net = srv.net
    query(net, dns.message.make_query("h1.diff.test.", "A"))  # ARP primed
    with net.client_socket() as sock:
        answered = differential.run(
            differential.udp_batch(sock, (net.server_ip, 53)),
            differential.udp_batch(sock, (net.server_ip, 5301)), lambda: read_metrics(net),
            differential.queries(10000), {"kind": "answered"})
    assert answered >= 9000, answered
