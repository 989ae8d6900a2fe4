"""The default log line from the real binary, byte for byte against CoreDNS's
{common} format, for A, AAAA and MX over UDP and TCP from IPv4 and IPv6."""
import io
import re
import socket
import subprocess
import time

import dns.message
import dns.query
import dns.rdatatype
import pytest

from harness import Warpdns

ZONE = """$ORIGIN example.org.
$TTL 300
@ IN SOA ns.example.org. admin.example.org. 1 7200 3600 1209600 300
@ IN NS ns.example.org.
@ IN MX 10 mail.example.org.
ns IN A 192.0.2.1
mail IN A 192.0.2.25
www IN A 192.0.2.10
www IN AAAA 2001:db8::10
"""


def uncompressed_len(msg):
    """miekg's Msg.Len() without compression: what CoreDNS logs as {rsize}."""
    n = 12
    for q in msg.question:
        n += len(q.name.to_wire()) + 4
    for section in (msg.answer, msg.authority, msg.additional):
        for rrset in section:
            for rd in rrset:
                f = io.BytesIO()
                rd.to_wire(f, None, None)
                n += len(rrset.name.to_wire()) + 10 + len(f.getvalue())
    if msg.edns >= 0:
        n += 11 + sum(4 + len(o.to_wire()) for o in msg.options)
    return n


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_default_log_line_byte_for_byte(tmp_path, family):
    if family == "ipv6" and not have_ipv6_loopback():
        pytest.skip("no IPv6 loopback on this host")
    addr = "127.0.0.1" if family == "ipv4" else "::1"
    corefile = """
example.org:@PORT@ {
    bind %s
    log
    file @DIR@/db.example.org
}
""" % addr
    with Warpdns(tmp_path, corefile, files={"db.example.org": ZONE}) as s:
        # UDP twice: the first answer may come from the slow path, the second is the
        # fast path's (memoized or prebuilt); both lines must be CoreDNS's.
        for qtype, name in (("A", "www.example.org."), ("AAAA", "www.example.org."), ("MX", "example.org.")):
            for tcp in (False, False, True):
                q = dns.message.make_query(name, qtype, use_edns=0, payload=4096, want_dnssec=(qtype == "MX"))
                sock = socket.socket(socket.AF_INET if family == "ipv4" else socket.AF_INET6,
                                     socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
                sock.bind((addr, 0))
                port = sock.getsockname()[1]
                start = len(s.output())
                if tcp:
                    sock.settimeout(3)
                    sock.connect((addr, s.port))
                    r = dns.query.tcp(q, addr, port=s.port, sock=sock, timeout=3)
                else:
                    r = dns.query.udp(q, addr, port=s.port, sock=sock, timeout=3)
                sock.close()
                remote = "%s:%d" % (addr if family == "ipv4" else "[::1]", port)
                line = s.wait_for_line(lambda l: l.startswith("[INFO] " + remote), start=start)
                flags = ",".join(f for f, bit in (("qr", 0x8000), ("aa", 0x400), ("tc", 0x200), ("rd", 0x100),
                                                  ("ra", 0x80), ("z", 0x40), ("ad", 0x20), ("cd", 0x10))
                                 if r.flags & bit)
                expected = '[INFO] %s - %d "%s IN %s %s %d %s %d" NOERROR %s %d ' % (
                    remote, q.id, qtype, name, "tcp" if tcp else "udp", len(q.to_wire()),
                    "true" if qtype == "MX" else "false", 65535 if tcp else 4096, flags,
                    uncompressed_len(r))
                assert line.startswith(expected), (line, expected)
                assert re.fullmatch(r"\d+\.\d+s", line[len(expected):]), line


# A zone block with the default log line and metrics on port %d.
LOGGED_AND_COUNTED = """
example.org:@PORT@ {
    bind 127.0.0.1
    prometheus 127.0.0.1:%d
    log
    file @DIR@/db.example.org
}
"""


def query_lines(s, start, want):
    """The query log lines after output line `start`, once there are `want` of them (they are
    written within milliseconds of the answers) or 10 s have passed."""
    deadline = time.monotonic() + 10
    while True:
        lines = [l for l in s.output()[start:] if l.startswith("[INFO] 127.0.0.1:")]
        if len(lines) >= want or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_every_query_logged_under_dnsperf_all_from_the_fast_path(tmp_path):
    """dnsperf against a block with log and prometheus: one line per query sent, the
    fast path answering (and logging) every one once the first sights are memoized."""
    import differential
    from harness import free_port

    mport = free_port()
    corefile = LOGGED_AND_COUNTED % mport
    queries = tmp_path / "queries.txt"
    queries.write_text("www.example.org A\nwww.example.org AAAA\nnx.example.org A\nexample.org MX\n")
    def dnsperf(port, rounds, clients, outstanding, rate=10000):
        # The rate bounds how fast the rings fill while the test's reader of the server's
        # stdout is descheduled (a full ring drops lines, counted): 4096 lines is 0.4 s.
        out = subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(queries),
                              "-n", str(rounds), "-c", str(clients), "-q", str(outstanding),
                              "-Q", str(rate)],
                             capture_output=True, text=True, timeout=60).stdout
        return int(re.search(r"Queries completed:\s+(\d+)", out).group(1)), out

    with Warpdns(tmp_path, corefile, files={"db.example.org": ZONE}) as s:
        # One round first, in dnsperf's own query shape: each question's first sight is the
        # slow path's (it memoizes the answer); once the publisher has them, every later one
        # must be the fast path's.
        before = len(s.output())
        assert dnsperf(s.port, 1, 1, 1)[0] == 4
        differential.wait_publisher(lambda: differential.scrape(mport))
        assert len(query_lines(s, before, 4)) == 4
        warm_text = differential.scrape(mport)
        warm = differential.metric(warm_text, "warpdns_fastpath_packets_total", kind="answered")
        start = len(s.output())
        completed, out = dnsperf(s.port, 2500, 4, 50)
        assert completed == 10000, out
        lines = query_lines(s, start, completed)
        text = differential.scrape(mport)
    fast = differential.metric(text, "warpdns_fastpath_packets_total", kind="answered") - warm
    dropped = differential.metric(text, "warpdns_log_dropped_lines_total")
    print("log lines %d for %d queries, %d answered by the fast path, %d lines dropped"
          % (len(lines), completed, fast, dropped))
    assert dropped == 0 and len(lines) == completed
    assert fast == completed
    # The log's {rsize} and the response size histogram report the same size (CoreDNS's,
    # uncompressed), fast-path answers included.
    logged = sum(int(re.search(r" (\d+) [\d.]+s$", l).group(1)) for l in lines)
    counted = (differential.metric(text, "coredns_dns_response_size_bytes_sum") -
               differential.metric(warm_text, "coredns_dns_response_size_bytes_sum"))
    assert logged == counted, (logged, counted)
    nx = [l for l in lines if '"A IN nx.example.org. udp ' in l]
    assert len(nx) == 2500 and all(" NXDOMAIN qr,aa,rd " in l for l in nx)


def test_a_lookup_a_plugin_makes_through_the_server_is_not_a_query(tmp_path):
    """`ftp CNAME www` asked for NS: the file plugin looks the target up through the server.
    That lookup is the plugin's, not a client's: one log line and one counted request per
    query, so the counters still equal what the clients sent."""
    import differential
    from harness import free_port

    mport = free_port()
    corefile = LOGGED_AND_COUNTED % mport
    zone = ZONE + "ftp IN CNAME www\n"
    with Warpdns(tmp_path, corefile, files={"db.example.org": zone}) as s:
        start = len(s.output())
        for _ in range(3):
            r = s.query("ftp.example.org.", "NS", tcp=True)
            assert r.answer and r.answer[0].rdtype == dns.rdatatype.CNAME
        query_lines(s, start, 3)  # the three real lines are out
        time.sleep(0.2)  # a phantom would be written with its real line; nothing signals none
        lines = [l for l in s.output()[start:] if l.startswith("[INFO] ")]
        text = differential.scrape(mport)
    assert len(lines) == 3, lines
    assert all('"NS IN ftp.example.org. tcp ' in l for l in lines), lines
    assert differential.metric(text, "coredns_dns_requests_total") == 3
    assert differential.metric(text, "coredns_dns_responses_total") == 3
