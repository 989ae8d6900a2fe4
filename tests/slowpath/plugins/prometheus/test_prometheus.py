"""The prometheus plugin against the real binary: CoreDNS's names, labels and
exact counts after a dnsperf run."""
import re
import subprocess
import urllib.request

import dns.rcode

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
        out = subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(s.port), "-d", str(queries),
                              "-n", "500", "-c", "2", "-q", "20"],
                             capture_output=True, text=True, timeout=60).stdout
        sent = int(re.search(r"Queries sent:\s+(\d+)", out).group(1))
        completed = int(re.search(r"Queries completed:\s+(\d+)", out).group(1))
        assert sent == 2000 and completed == sent, out
        # A query refused before any chain counts under zone "dropped".
        assert s.query("example.com.", "A").rcode() == dns.rcode.REFUSED
        text = scrape(mport)

    server = "dns://127.0.0.1:%d" % s.port
    req = samples(text, "coredns_dns_requests_total")
    by_type = {dict(k)["type"]: v for k, v in req.items() if dict(k)["zone"] == "example.org."}
    assert by_type == {"A": 1000, "AAAA": 500, "MX": 500}
    for labels in req:
        d = dict(labels)
        assert set(d) == {"server", "zone", "view", "proto", "family", "type"}
        assert d["server"] == server and d["proto"] == "udp" and d["family"] == "1"
    dropped = [v for k, v in req.items() if dict(k)["zone"] == "dropped"]
    assert dropped == [1]

    resp = samples(text, "coredns_dns_responses_total")
    by_rcode = {(dict(k)["rcode"], dict(k)["plugin"]): v for k, v in resp.items()
                if dict(k)["zone"] == "example.org."}
    assert by_rcode == {("NOERROR", "file"): 1500, ("NXDOMAIN", "file"): 500}
    assert {(dict(k)["rcode"], dict(k)["plugin"]): v for k, v in resp.items()
            if dict(k)["zone"] == "dropped"} == {("REFUSED", ""): 1}

    def hist_count(name):
        return sum(v for k, v in samples(text, name + "_count").items()
                   if dict(k).get("zone") == "example.org.")
    assert hist_count("coredns_dns_request_duration_seconds") == 2000
    assert hist_count("coredns_dns_request_size_bytes") == 2000
    assert hist_count("coredns_dns_response_size_bytes") == 2000
    # Duration buckets are CoreDNS's: 0.00025 * 2^k.
    les = {dict(k)["le"] for k in samples(text, "coredns_dns_request_duration_seconds_bucket")}
    assert "0.00025" in les and "8.192" in les and "+Inf" in les
    assert 'coredns_build_info{' in text and "# TYPE coredns_panics_total counter" in text


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
