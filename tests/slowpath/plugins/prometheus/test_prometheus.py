"""The prometheus plugin against the real binary: CoreDNS's names, labels and
exact counts after a dnsperf run."""
import re
import subprocess
import time
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
    for gauge in ("warpdns_fastpath_table_generation", "warpdns_fastpath_reclaim_pending"):
        assert re.search(r"^%s \d+" % gauge, text, re.M), gauge


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

    def fast_answers(text):
        return sum(v for k, v in samples(text, "warpdns_fastpath_packets_total").items()
                   if str(fast_port) in dict(k)["worker"] and dict(k)["kind"] == "answered")

    # The 15 shapes (5 questions, DO or not) once to each block first: their first sights
    # are the slow path's on both; once the publisher has them, all 600 are the fast path's.
    shapes = 15
    with Warpdns(tmp_path, corefile, files={"db.example.org": ZONE}) as s:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            send = differential.udp_batch(sock, ("127.0.0.1", fast_port))
            assert all(send(wires()[:shapes]))
            differential.wait_publisher(lambda: scrape(mport))
            warm = fast_answers(scrape(mport))
            assert all(send(wires()))
        finally:
            sock.close()
        for w in wires()[:shapes] + wires():
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
    assert sum(fast.values()) == shapes + 600
    print("fast-path answers: %d of 600" % (fast_answers(text) - warm))
    assert fast_answers(text) - warm == 600


# CoreDNS's metric names (1.11) and the labels of each, as coredns-behaviour.md lists
# them; "le" of histograms aside.
COREDNS_METRICS = {
    "coredns_dns_requests_total": {"server", "zone", "view", "proto", "family", "type"},
    "coredns_dns_responses_total": {"server", "zone", "view", "rcode", "plugin"},
    "coredns_dns_request_duration_seconds": {"server", "zone", "view"},
    "coredns_dns_request_size_bytes": {"server", "zone", "view", "proto"},
    "coredns_dns_response_size_bytes": {"server", "zone", "view", "proto"},
    "coredns_dns_do_requests_total": {"server", "zone", "view"},
    "coredns_panics_total": set(),
    "coredns_build_info": {"version", "revision", "goversion"},
    "coredns_plugin_enabled": {"server", "zone", "view", "name"},
    "coredns_reload_failed_total": set(),
    "coredns_reload_version_info": {"hash", "value"},
    "coredns_health_request_duration_seconds": set(),
    "coredns_health_request_failures_total": set(),
    "coredns_cache_entries": {"server", "type", "zones", "view"},
    "coredns_cache_requests_total": {"server", "zones", "view"},
    "coredns_cache_hits_total": {"server", "type", "zones", "view"},
    "coredns_cache_misses_total": {"server", "zones", "view"},
    "coredns_cache_prefetch_total": {"server", "zones", "view"},
    "coredns_cache_drops_total": {"server", "zones", "view"},
    "coredns_cache_served_stale_total": {"server", "zones", "view"},
    "coredns_cache_evictions_total": {"server", "type", "zones", "view"},
    "coredns_forward_requests_total": {"to"},
    "coredns_forward_responses_total": {"rcode", "to"},
    "coredns_forward_request_duration_seconds": {"rcode", "to"},
    "coredns_forward_healthcheck_failures_total": {"to"},
    "coredns_forward_healthcheck_broken_total": set(),
    "coredns_forward_max_concurrent_rejects_total": set(),
    "coredns_forward_conn_cache_hits_total": {"proto", "to"},
    "coredns_forward_conn_cache_misses_total": {"proto", "to"},
    # The names that replaced some of the forward ones in 1.12.
    "coredns_proxy_request_duration_seconds": {"proxy_name", "rcode", "to"},
    "coredns_proxy_healthcheck_failures_total": {"proxy_name", "to"},
    "coredns_proxy_conn_cache_hits_total": {"proxy_name", "proto", "to"},
    "coredns_proxy_conn_cache_misses_total": {"proxy_name", "proto", "to"},
}


def test_metric_and_label_names_are_coredns(tmp_path):
    """A kubeadm-shaped server (health, reload, prometheus, cache, forward) after some
    traffic: every coredns_* series has CoreDNS's name and exactly CoreDNS's labels, and
    the ones an operator's dashboards read are all there."""
    mport, hport, up = free_port(), free_port(), free_port()
    corefile = """
example.org:%d {
    bind 127.0.0.1
    file @DIR@/db.example.org
}
.:@PORT@ {
    bind 127.0.0.1
    errors
    health 127.0.0.1:%d
    prometheus 127.0.0.1:%d
    forward . 127.0.0.1:%d
    cache 30
    reload
    loadbalance
}
""" % (up, hport, mport, up)
    with Warpdns(tmp_path, corefile, files={"db.example.org": ZONE}) as s:
        for _ in range(3):
            for name, qtype in (("www.example.org.", "A"), ("nx.example.org.", "A")):
                s.query(name, qtype, want_dnssec=True, use_edns=0)
        urllib.request.urlopen("http://127.0.0.1:%d/health" % hport, timeout=5).read()
        # The health plugin checks itself once a second.
        deadline = time.monotonic() + 10
        while not re.search(r"^coredns_health_request_duration_seconds_count [1-9]", scrape(mport),
                        re.M):
            assert time.monotonic() < deadline, "no health self-check"
            time.sleep(0.1)
        text = scrape(mport)
    seen = {}
    for line in text.splitlines():
        m = re.match(r"^(coredns_\w+?)(_bucket|_sum|_count)?(\{(.*)\})? \S+$", line)
        if not m:
            continue
        name = m.group(1) if m.group(1) in COREDNS_METRICS or not m.group(2) else m.group(1)
        labels = {k for k, _ in re.findall(r'(\w+)="([^"]*)"', m.group(4) or "")} - {"le"}
        seen.setdefault(name, set()).add(frozenset(labels))
    unknown = set(seen) - set(COREDNS_METRICS)
    assert not unknown, unknown
    for name, label_sets in seen.items():
        assert label_sets == {frozenset(COREDNS_METRICS[name])}, (name, label_sets)
    must = {"coredns_dns_requests_total", "coredns_dns_responses_total",
            "coredns_dns_request_duration_seconds", "coredns_dns_request_size_bytes",
            "coredns_dns_response_size_bytes", "coredns_dns_do_requests_total",
            "coredns_panics_total", "coredns_build_info", "coredns_plugin_enabled",
            "coredns_reload_failed_total", "coredns_health_request_duration_seconds",
            "coredns_cache_requests_total", "coredns_cache_hits_total", "coredns_cache_entries",
            "coredns_forward_requests_total", "coredns_forward_responses_total",
            "coredns_forward_request_duration_seconds", "coredns_forward_conn_cache_misses_total",
            "coredns_proxy_request_duration_seconds", "coredns_proxy_conn_cache_misses_total"}
    assert must <= set(seen), must - set(seen)
