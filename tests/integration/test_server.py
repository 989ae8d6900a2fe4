"""The real binary over real sockets: server-level rules, transports, bad input.

Each test starts warpdns on a free loopback port and talks to it with
dnspython (and dig/kdig where a real client's view matters).
"""
import os
import signal
import socket
import struct
import subprocess

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

from harness import BIN, Warpdns

BIG_ZONE = """$ORIGIN big.test.
$TTL 300
@ IN SOA ns.big.test. admin.big.test. 1 7200 3600 1209600 300
@ IN NS ns.big.test.
ns IN A 192.0.2.1
""" + "".join("many IN A 10.0.%d.%d\n" % (i // 250, i % 250 + 1) for i in range(120)) + \
    "".join('txt IN TXT "%s"\n' % ("x" * 200) for _ in range(5))

COREFILE = """
big.test:@PORT@ {
    bind 127.0.0.1
    file @DIR@/db.big.test
}
whoami.test:@PORT@ {
    bind 127.0.0.1
    whoami
}
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with Warpdns(tmp_path_factory.mktemp("srv"), COREFILE, files={"db.big.test": BIG_ZONE}) as s:
        yield s


def raw_udp(port, payload, timeout=1.0):
    """Sends raw bytes; returns the reply bytes or None when nothing comes back."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(payload, ("127.0.0.1", port))
        try:
            return s.recv(65535)
        except socket.timeout:
            return None


def header(qid=0x1234, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def question(name=b"\x03www\x08big\x04test\x00", qtype=1, qclass=1):
    return name + struct.pack("!HH", qtype, qclass)


def test_banner_lists_every_address(srv):
    out = srv.output()
    assert "big.test.:%d" % srv.port in out
    assert "whoami.test.:%d" % srv.port in out
    assert any(l.startswith("warpdns-") for l in out)


def test_whoami_over_udp_and_tcp(srv):
    for tcp in (False, True):
        r = srv.query("a.whoami.test.", "A", tcp=tcp)
        assert r.rcode() == dns.rcode.NOERROR
        assert r.flags & dns.flags.AA
        assert not r.answer
        types = {rr.rdtype for rr in r.additional}
        assert types == {dns.rdatatype.A, dns.rdatatype.SRV}
        srv_rr = [rr for rr in r.additional if rr.rdtype == dns.rdatatype.SRV][0]
        assert srv_rr.name.to_text() == ("_tcp" if tcp else "_udp") + ".a.whoami.test."


def test_no_matching_zone_is_refused(srv):
    r = srv.query("example.com.", "A")
    assert r.rcode() == dns.rcode.REFUSED


def test_chaos_class_without_chaos_plugin_is_refused(srv):
    r = srv.query("version.bind.", "TXT", rdclass="CH")
    assert r.rcode() == dns.rcode.REFUSED


def test_edns_version_1_gets_badvers(srv):
    q = dns.message.make_query("www.big.test.", "A")
    q.use_edns(edns=1)
    assert q.edns == 1
    # Raw: the reply has no question (as CoreDNS's), which dnspython's
    # query helpers refuse to match to the query.
    wire = raw_udp(srv.port, q.to_wire())
    r = dns.message.from_wire(wire)
    assert r.id == q.id
    assert r.rcode() == dns.rcode.BADVERS
    assert r.edns == 0
    assert not r.question


def test_answer_larger_than_udp_size_is_truncated_then_whole_over_tcp(srv):
    r = srv.query("many.big.test.", "A", use_edns=False)
    assert r.flags & dns.flags.TC
    assert len(r.to_wire()) <= 512
    r = srv.query("many.big.test.", "A", use_edns=0, payload=1232)
    assert r.flags & dns.flags.TC
    assert len(r.to_wire()) <= 1232
    r = srv.query("many.big.test.", "A", tcp=True)
    assert not r.flags & dns.flags.TC
    assert len(r.answer[0]) == 120


def test_tcp_pipelined_queries_on_one_connection(srv):
    names = ["many.big.test.", "ns.big.test.", "nope.big.test.", "a.whoami.test."] * 25
    queries = []
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        out = b""
        for i, n in enumerate(names):
            q = dns.message.make_query(n, "A")
            q.id = i
            queries.append(q)
            w = q.to_wire()
            out += struct.pack("!H", len(w)) + w
        s.sendall(out)  # all 100 before reading any answer
        got = {}
        buf = b""
        while len(got) < len(names):
            while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
                chunk = s.recv(65535)
                assert chunk, "connection closed after %d answers" % len(got)
                buf += chunk
            n = struct.unpack("!H", buf[:2])[0]
            r = dns.message.from_wire(buf[2:2 + n])
            buf = buf[2 + n:]
            got[r.id] = r
    assert sorted(got) == list(range(len(names)))
    for i, n in enumerate(names):
        assert got[i].question[0].name.to_text() == n
    assert got[2].rcode() == dns.rcode.NXDOMAIN


@pytest.mark.parametrize("name,payload,expect", [
    ("truncated header", b"\x12\x34\x01", None),
    ("qdcount 0", header(qd=0), dns.rcode.FORMERR),
    ("qdcount 2", header(qd=2) + question() + question(), dns.rcode.FORMERR),
    ("compression loop", header() + b"\xc0\x0c" + struct.pack("!HH", 1, 1), dns.rcode.FORMERR),
    ("forward pointer", header() + b"\xc0\x10\x00\x00" + struct.pack("!HH", 1, 1), dns.rcode.FORMERR),
    ("label > 63", header() + b"\x40" + b"a" * 64 + b"\x00" + struct.pack("!HH", 1, 1), dns.rcode.FORMERR),
    ("name > 255", header() + (b"\x3f" + b"a" * 63) * 4 + b"\x00" + struct.pack("!HH", 1, 1), dns.rcode.FORMERR),
    ("question cut short", header() + b"\x03www", dns.rcode.FORMERR),
    ("garbage in OPT", header(ar=1) + question() + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x08\x00\x0a\x00\x20abc",
     dns.rcode.FORMERR),
    ("OPT owner not root", header(ar=1) + question() + b"\x01a\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00",
     dns.rcode.FORMERR),
    ("two OPTs", header(ar=2) + question() + (b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00") * 2,
     dns.rcode.FORMERR),
    ("a response", header(flags=0x8100) + question(), None),
    ("opcode UPDATE", header(flags=0x2800) + question(), dns.rcode.NOTIMP),
])
def test_malformed_packets_get_formerr_or_drop(srv, name, payload, expect):
    reply = raw_udp(srv.port, payload, timeout=0.5 if expect is None else 2)
    if expect is None:
        assert reply is None, name
    else:
        assert reply is not None, name
        assert reply[:2] == payload[:2]  # the ID comes back
        flags = struct.unpack("!H", reply[2:4])[0]
        assert flags & 0x8000
        assert flags & 0xF == expect, name
    # The server is still there and answering.
    assert srv.query("ns.big.test.", "A").rcode() == dns.rcode.NOERROR


def test_random_garbage_never_kills_the_server(srv):
    import random
    rnd = random.Random(7)
    for i in range(500):
        base = bytearray(dns.message.make_query("www.big.test.", "A", use_edns=0).to_wire())
        for _ in range(rnd.randint(1, 6)):
            base[rnd.randrange(len(base))] = rnd.randrange(256)
        raw_udp(srv.port, bytes(base[:rnd.randint(0, len(base))]), timeout=0.01)
    assert srv.query("ns.big.test.", "A").rcode() == dns.rcode.NOERROR
    assert srv.proc.poll() is None


def test_dig_and_kdig_see_the_answer(srv):
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(srv.port), "+short", "ns.big.test", "A"],
                         capture_output=True, text=True, timeout=10).stdout
    assert out.strip() == "192.0.2.1"
    out = subprocess.run(["kdig", "@127.0.0.1", "-p", str(srv.port), "+short", "+tcp", "ns.big.test", "A"],
                         capture_output=True, text=True, timeout=10).stdout
    assert out.strip() == "192.0.2.1"


def test_sigterm_stops_cleanly(tmp_path):
    s = Warpdns(tmp_path, ".:@PORT@ {\n bind 127.0.0.1\n whoami\n}\n")
    assert s.query("x.", "A").rcode() == dns.rcode.NOERROR
    s.proc.send_signal(signal.SIGTERM)
    assert s.wait_exit() == 0


def test_sigint_stops_cleanly(tmp_path):
    s = Warpdns(tmp_path, ".:@PORT@ {\n bind 127.0.0.1\n whoami\n}\n")
    s.proc.send_signal(signal.SIGINT)
    assert s.wait_exit() == 0


@pytest.mark.parametrize("corefile,line,fragment", [
    (".:@PORT@ {\n    whoami\n    nosuchplugin\n}\n", 3, "nosuchplugin"),
    (".:@PORT@ {\n    whoami\n", 1, "}"),
    ("a.test:@PORT@ {\n whoami\n}\na.test:@PORT@ {\n whoami\n}\n", 4, "already defined"),
    # With reload on, CoreDNS only warns about a missing zone file and retries.
    (".:@PORT@ {\n    file /nonexistent/db.x x.test {\n        reload 0\n    }\n}\n", 2, "plugin/file"),
])
def test_bad_corefile_is_rejected_with_file_and_line(tmp_path, corefile, line, fragment):
    s = Warpdns(tmp_path, corefile, expect_fail=True)
    rc = s.wait_exit()
    out = "\n".join(s.output())
    assert rc != 0
    assert "%s:%d - Error during parsing" % (s.corefile, line) in out, out
    assert fragment in out


def test_version_and_plugins_flags():
    out = subprocess.run([BIN, "-version"], capture_output=True, text=True, timeout=10).stdout
    assert out.startswith("warpdns-")
    out = subprocess.run([BIN, "-plugins"], capture_output=True, text=True, timeout=10).stdout
    for p in ("dns.file", "dns.whoami", "dns.log", "dns.hosts", "dns.chaos", "dns.errors", "dns.health"):
        assert p in out.split(), p


def test_dns_port_flag_changes_only_the_default(tmp_path):
    from harness import free_port
    port = free_port()
    s = Warpdns(tmp_path, ".:@PORT@ {\n bind 127.0.0.1\n whoami\n}\nother.test {\n bind 127.0.0.1\n whoami\n}\n",
                args=("-dns.port", str(port)))
    try:
        assert "other.test.:%d" % port in s.output()
        r = dns.query.udp(dns.message.make_query("x.other.test.", "A"), "127.0.0.1", port=port, timeout=3)
        assert r.rcode() == dns.rcode.NOERROR
    finally:
        s.stop()


def test_health_endpoint(tmp_path):
    from harness import free_port
    import urllib.request
    hport = free_port()
    with Warpdns(tmp_path, ".:@PORT@ {\n bind 127.0.0.1\n health 127.0.0.1:%d\n whoami\n}\n" % hport) as s:
        with urllib.request.urlopen("http://127.0.0.1:%d/health" % hport, timeout=5) as resp:
            assert resp.status == 200
            assert resp.read() == b"OK"


def test_malformed_packets_are_counted(tmp_path):
    from harness import free_port
    import urllib.request
    mport = free_port()
    corefile = ".:@PORT@ {\n bind 127.0.0.1\n prometheus 127.0.0.1:%d\n whoami\n}\n" % mport
    with Warpdns(tmp_path, corefile) as s:
        def scrape():
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=5) as resp:
                text = resp.read().decode()
            out = {}
            for line in text.splitlines():
                if line.startswith("warpdns_malformed_requests_total{"):
                    labels, value = line.rsplit(" ", 1)
                    reason = labels.split('reason="')[1].split('"')[0]
                    out[reason] = out.get(reason, 0) + float(value)
            return out
        before = scrape()
        assert raw_udp(s.port, header(qd=0), timeout=2) is not None
        assert raw_udp(s.port, header(qd=2) + question() + question(), timeout=2) is not None
        assert raw_udp(s.port, header() + b"\xc0\x0c" + struct.pack("!HH", 1, 1), timeout=2) is not None
        assert raw_udp(s.port, b"\x00\x01\x02", timeout=0.3) is None
        assert raw_udp(s.port, header(flags=0x8000) + question(), timeout=0.3) is None
        after = scrape()
        delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        assert sum(delta.values()) == 5, delta
        assert delta["short"] == 1 and delta["response"] == 1
        assert delta["bad_qdcount"] == 2
        # A pointer to itself is both a loop and not strictly backwards.
        assert delta["pointer_loop"] + delta["pointer_forward"] == 1


PARENT_ZONE = """$ORIGIN example.test.
$TTL 300
@ IN SOA ns.example.test. admin.example.test. 7 7200 3600 1209600 300
@ IN NS ns.example.test.
ns IN A 192.0.2.1
"""


def test_routing_longest_zone_and_ds_to_the_parent(tmp_path):
    corefile = """
example.test:@PORT@ {
    bind 127.0.0.1
    file @DIR@/db.example.test
}
sub.example.test:@PORT@ {
    bind 127.0.0.1
    whoami
}
"""
    with Warpdns(tmp_path, corefile, files={"db.example.test": PARENT_ZONE}) as s:
        # The child block answers its own names (whoami: empty answer, A + SRV extra).
        r = s.query("www.sub.example.test.", "A")
        assert r.rcode() == dns.rcode.NOERROR and not r.answer and len(r.additional) == 2
        # DS belongs to the parent side of the cut: the parent's chain answers
        # (here NXDOMAIN with the parent's SOA, since the parent has no such name).
        r = s.query("sub.example.test.", "DS")
        assert r.rcode() == dns.rcode.NXDOMAIN
        assert r.authority[0].rdtype == dns.rdatatype.SOA
        assert r.authority[0].name.to_text() == "example.test."
        # Any other type at the child apex goes to the child.
        r = s.query("sub.example.test.", "A")
        assert not r.authority and len(r.additional) == 2
        # Names matching no block: REFUSED.
        assert s.query("test.", "SOA").rcode() == dns.rcode.REFUSED


def test_chaos_in_a_block_lets_ch_class_through(tmp_path):
    corefile = ".:@PORT@ {\n bind 127.0.0.1\n chaos warpdns-test me@example.org\n}\n"
    with Warpdns(tmp_path, corefile) as s:
        r = s.query("version.bind.", "TXT", rdclass="CH")
        assert r.rcode() == dns.rcode.NOERROR
        assert r.answer[0].rdclass == dns.rdataclass.CH
        assert r.answer[0][0].strings == (b"warpdns-test",)


def test_default_corefile_serves_the_sample_zone(tmp_path):
    """No -conf and no ./Corefile: the embedded default on 127.0.0.1:1053's
    configuration, here moved to a free port with -dns.port."""
    from harness import free_port
    port = free_port()
    proc = subprocess.Popen([BIN, "-dns.port", str(port)], cwd=str(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line.rstrip())
            if line.startswith("warpdns-"):
                break
        assert "example.org.:%d" % port in lines, lines
        r = dns.query.udp(dns.message.make_query("www.example.org.", "A"), "127.0.0.1", port=port, timeout=3)
        assert r.rcode() == dns.rcode.NOERROR
        assert r.flags & dns.flags.AA
        assert sorted(rr.address for rr in r.answer[0]) == ["192.0.2.10", "192.0.2.11"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


def test_wildcard_listener_replies_from_the_address_queried(tmp_path):
    # No bind: the socket is on 0.0.0.0, and each reply must leave from the
    # loopback address its query was sent to (dnspython rejects any other).
    with Warpdns(tmp_path, ".:@PORT@ {\n whoami\n}\n") as s:
        for addr in ("127.0.0.1", "127.0.0.2", "127.1.2.3"):
            r = dns.query.udp(dns.message.make_query("x.test.", "A"), addr, port=s.port, timeout=3)
            assert r.rcode() == dns.rcode.NOERROR
            assert r.additional[0][0].address == "127.0.0.1"
