"""The prometheus plugin against the real binary: CoreDNS's names, labels and
exact counts after a dnsperf run."""
import re
import subprocess
import urllib.request

import dns.rcode

import differential
from harness import Warpdns, free_port

ZONE = """$ORIGIN example.org.
$TTL 300
@ IN SOA ns.example.org. admin.example.org. 1 7200 3600 1209600 300
@ IN NS ns.example.org.
ns IN A 192.0.2.1
www IN A 192.0.2.10
www IN AAAA 2001:db8::10
"""


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        return r.read().decode()


def samples(text, name):
    """{labels-dict-as-frozenset: value} for one metric name."""
    out = {}
    for line in text.splitlines():
        m = re.match(r'^%s\{(.*)\} (\S+)$' % re.escape(name), line)
        if m:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
            out[labels] = float(m.group(2))
    return out


def test_counts_match_dnsperf_exactly(tmp_path):
    mport = free_port()
    corefile = """
example.org:@PORT@ {
    bind 127.0.0.1
    prometheus 127.0.0.1:%d
    file @DIR@/db.example.org
}
""" % mport
    queries = tmp_path / "queries.txt"
    queries.write_text("www.example.org A\nwww.example.org AAAA\nnx.example.org A\nexample.org MX\n")
    with Warpdns(tmp_path, corefile, files={"db.example.org": ZONE}) as s:
        # One of each first (counted too): the slow path answers and memoizes them, so
        # that the run below is answered by the fast path.
        def dnsperf(*args):
            return subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(s.port), "-d",
                                   str(queries), *args],
                                  capture_output=True, text=True, timeout=60).stdout
        assert "Queries completed:    4 " in dnsperf("-n", "1", "-q", "1")
        differential.wait_publisher(lambda: scrape(mport))
        out = dnsperf("-n", "500", "-c", "2", "-q", "20")
        sent = int(re.search(r"Queries sent:\s+(\d+)", out).group(1))
        completed = int(re.search(r"Queries completed:\s+(\d+)", out).group(1))
        assert sent == 2000 and completed == sent, out
        # A query refused before any chain counts under zone "dropped".
        assert s.query("example.com.", "A").rcode() == dns.rcode.REFUSED
        text = scrape(mport)

    server = "dns://127.0.0.1:%d" % s.port
    req = samples(text, "coredns_dns_requests_total")
    by_type = {dict(k)["type"]: v for k, v in req.items() if dict(k)["zone"] == "example.org."}
    assert by_type == {"A": 1002, "AAAA": 501, "MX": 501}
    for labels in req:
        d = dict(labels)
        assert set(d) == {"server", "zone", "view", "proto", "family", "type"}
        assert d["server"] == server and d["proto"] == "udp" and d["family"] == "1"
    dropped = [v for k, v in req.items() if dict(k)["zone"] == "dropped"]
    assert dropped == [1]

    resp = samples(text, "coredns_dns_responses_total")
    by_rcode = {(dict(k)["rcode"], dict(k)["plugin"]): v for k, v in resp.items()
                if dict(k)["zone"] == "example.org."}
    assert by_rcode == {("NOERROR", "file"): 1503, ("NXDOMAIN", "file"): 501}
    assert {(dict(k)["rcode"], dict(k)["plugin"]): v for k, v in resp.items()
            if dict(k)["zone"] == "dropped"} == {("REFUSED", ""): 1}

    def hist_count(name):
        return sum(v for k, v in samples(text, name + "_count").items()
                   if dict(k).get("zone") == "example.org.")
    assert hist_count("coredns_dns_request_duration_seconds") == 2004
    assert hist_count("coredns_dns_request_size_bytes") == 2004
    assert hist_count("coredns_dns_response_size_bytes") == 2004
    # Duration buckets are CoreDNS's: 0.00025 * 2^k.
    les = {dict(k)["le"] for k in samples(text, "coredns_dns_request_duration_seconds_bucket")}
    assert "0.00025" in les and "8.192" in les and "+Inf" in les
    assert 'coredns_build_info{' in text and "# TYPE coredns_panics_total counter" in text
    # Most answers came from the fast path (prometheus does not keep queries off it)
    # and were counted exactly as the slow path's above.
    fast = sum(v for k, v in samples(text, "warpdns_fastpath_packets_total").items()
               if dict(k)["kind"] == "answered")
    print("fast-path answers: %d of %d" % (fast, sent))
    assert fast >= sent  # a warm-up query may have found a prebuilt answer too


def test_plugin_enabled_lists_the_query_path_plugins(tmp_path):
    mport = free_port()
    corefile = """
example.org:@PORT@ {
    bind 127.0.0.1
    prometheus 127.0.0.1:%d
    health 127.0.0.1:%d
    log
    file @DIR@/db.example.org
}
""" % (mport, free_port())
    with Warpdns(tmp_path, corefile, files={"db.example.org": ZONE}) as s:
        text = scrape(mport)
    names = {dict(k)["name"] for k, v in samples(text, "coredns_plugin_enabled").items() if v == 1}
    # health and bind configure the process; they are not on the query path.
    assert names == {"prometheus", "log", "file"}


def test_fast_path_answers_count_as_slow_path_answers(tmp_path):
    """The same 600 queries to two blocks on the same data: over UDP to one, answered by
    the fast path, over TCP to the other, which only the slow path serves. Every DNS
    metric must come out the same, bucket by bucket (the proto label and the duration
    aside)."""
    import socket

    import dns.message
    import dns.query

    mport, fast_port, slow_port = free_port(), free_port(), free_port()
    corefile = """
example.org:%d {
    bind 127.0.0.1
    prometheus 127.0.0.1:%d
    file @DIR@/db.example.org
}
example.org:%d {
    bind 127.0.0.1
    prometheus 127.0.0.1:%d
    file @DIR@/db.example.org
}
""" % (fast_port, mport, slow_port, mport)
    questions = [("www.example.org.", "A"), ("www.example.org.", "AAAA"),
                 ("nx.example.org.", "A"), ("example.org.", "MX"), ("example.org.", "NS")]

    def wires():
        out = []
        for k in range(600):
            name, qtype = questions[k % len(questions)]
            q = dns.message.make_query(name, qtype, use_edns=0, payload=1232,
                                       want_dnssec=k % 3 == 0)
            out.append(q.to_wire())
        return out

    with Warpdns(tmp_path, corefile, files={"db.example.org": ZONE}) as s:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            assert all(differential.udp_batch(sock, ("127.0.0.1", fast_port))(wires()))
        finally:
            sock.close()
        for w in wires():
            dns.query.tcp(dns.message.from_wire(w), "127.0.0.1", port=slow_port, timeout=3)
        text = scrape(mport)

    def per_server(name, drop=("le",)):
        out = {}
        for labels, v in samples(text, name).items():
            d = dict(labels)
            if d.get("zone") != "example.org.":
                continue
            port = int(d.pop("server").rsplit(":", 1)[1])
            d.pop("proto", None)
            out.setdefault(port, {})[frozenset(d.items())] = v
        return out.get(fast_port, {}), out.get(slow_port, {})

    for name in ("coredns_dns_requests_total", "coredns_dns_responses_total",
                 "coredns_dns_do_requests_total", "coredns_dns_response_size_bytes_bucket",
                 "coredns_dns_response_size_bytes_sum", "coredns_dns_request_size_bytes_bucket",
                 "coredns_dns_request_size_bytes_count", "coredns_dns_request_duration_seconds_count"):
        fast, slow = per_server(name)
        assert fast and fast == slow, (name, fast, slow)
    fast, _ = per_server("coredns_dns_requests_total")
    assert sum(fast.values()) == 600
    fast_answers = sum(v for k, v in samples(text, "warpdns_fastpath_packets_total").items()
                       if str(fast_port) in dict(k)["worker"])
    print("fast-path answers: %d of 600" % fast_answers)
    assert fast_answers >= 500  # the first window of 64 goes to the slow path
