"""cache in the fast path: hits answered from the published table with
TTLs aged as the slow path ages them, through expiry, counted in CoreDNS's
cache metrics; and a flood of distinct names that leaves memory bounded and
a hot set answered from the cache."""
import os
import socket
import subprocess
import time

import dns.edns
import dns.message
import dns.rcode
import dns.rdatatype

import differential
from harness import Warpdns, free_port

ZONE = """$ORIGIN up.test.
@    2 IN SOA ns1 host 1 3600 600 86400 2
@    2 IN NS ns1
ns1  2 IN A 10.0.0.53
www  2 IN A 10.0.0.1
www  2 IN A 10.0.0.2
www  2 IN AAAA fd00::1
long 300 IN A 10.0.0.9
mail 2 IN MX 10 ns1
txt  2 IN TXT "hello" "world"
alias 2 IN CNAME www
"""

# The upstream and the cache on one process; prometheus sits in the
# upstream's block (metrics are one registry), so the cache's block has
# nothing before the cache.
COREFILE = """
up.test:%(up)d {
    bind 127.0.0.1
    prometheus 127.0.0.1:%(metrics)d
    file @DIR@/db.up
}
up.test:@PORT@ {
    bind 127.0.0.1
    cache 30 {
        success 1000 30 1
        denial 1000 30 1
    }
    forward . 127.0.0.1:%(up)d
}
"""

QUESTIONS = [("www.up.test.", "A"), ("www.up.test.", "AAAA"), ("WWW.Up.Test.", "A"),
             ("mail.up.test.", "MX"), ("txt.up.test.", "TXT"), ("alias.up.test.", "A"),
             ("long.up.test.", "A"), ("nx.up.test.", "A"), ("www.up.test.", "TXT"),
             ("ns1.up.test.", "A")]


def _ask(sock, port, wire):
    sock.sendto(wire, ("127.0.0.1", port))
    while True:
        data, _ = sock.recvfrom(65535)
        if data[:2] == wire[:2]:
            return data


def _query(name, rdtype, qid, slow, dnssec):
    # An EDNS option the server does not know keeps a query off the fast
    # path (options are not in the key) and changes nothing in the answer.
    options = [dns.edns.GenericOption(65001, b"slow")] if slow else []
    q = dns.message.make_query(name, rdtype, use_edns=0, payload=1232, options=options,
                               want_dnssec=dnssec)
    q.id = qid
    return q.to_wire()


def _ttls(msg):
    return {rr.ttl for section in (msg.answer, msg.authority, msg.additional) for rr in section}


def _without_ttls(wire):
    m = dns.message.from_wire(wire)
    for section in (m.answer, m.authority, m.additional):
        for rrset in section:
            rrset.ttl = 0
    m.id = 0
    return m


def test_fast_hits_age_like_slow_hits_through_expiry(tmp_path):
    up, metrics = free_port(), free_port()
    with Warpdns(tmp_path, COREFILE % {"up": up, "metrics": metrics},
                 files={"db.up": ZONE}) as w:
        label = {"server": "dns://127.0.0.1:%d" % w.port}
        before = differential.scrape(metrics)
        answered_before = differential.metric(before, "warpdns_fastpath_packets_total",
                                              kind="answered")
        sent = 0
        fast_sent = 0
        expiries = 0
        last_ttl = {}
        qid = 1
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(2)
            # Sandwiches: slow, fast, slow. The fast answer equals both slow
            # ones but for the TTL, which lies between theirs (an entry may
            # be refreshed in between, never served past its expiry).
            deadline = time.monotonic() + 5.5
            while time.monotonic() < deadline:
                for name, rdtype in QUESTIONS:
                    for dnssec in (False, True):
                        s1 = _ask(sock, w.port, _query(name, rdtype, qid, True, dnssec))
                        f = _ask(sock, w.port, _query(name, rdtype, qid + 1, False, dnssec))
                        s2 = _ask(sock, w.port, _query(name, rdtype, qid + 2, True, dnssec))
                        qid = (qid + 3) % 60000 + 1
                        sent += 3
                        fast_sent += 1
                        m1, mf, m2 = (dns.message.from_wire(x) for x in (s1, f, s2))
                        assert _without_ttls(s1) == _without_ttls(f) == _without_ttls(s2), (
                            "%s %s:\n%s\n---\n%s" % (name, rdtype, m1, mf))
                        t1, tf, t2 = _ttls(m1), _ttls(mf), _ttls(m2)
                        assert len(tf) == 1 and len(t1) == 1 and len(t2) == 1, (t1, tf, t2)
                        lo, hi = sorted([t1.pop(), t2.pop()])
                        ttl = tf.pop()
                        assert lo <= ttl <= hi, (name, rdtype, lo, ttl, hi)
                        key = (name, rdtype, dnssec)
                        if key in last_ttl and ttl > last_ttl[key]:
                            expiries += 1
                        last_ttl[key] = ttl
        after = differential.scrape(metrics)
    fast = differential.metric(after, "warpdns_fastpath_packets_total",
                               kind="answered") - answered_before
    # Most fast-shaped queries came from the table, and entries did expire
    # and come back (2-second TTLs over 5.5 s).
    assert fast >= fast_sent * 0.8, (fast, fast_sent)
    assert expiries >= len(QUESTIONS), expiries
    # Every query counts as a cache request, fast-path hits included.
    requests = (differential.metric(after, "coredns_cache_requests_total", **label) -
                differential.metric(before, "coredns_cache_requests_total", **label))
    assert requests == sent, (requests, sent)
    hits = sum(differential.metric(after, "coredns_cache_hits_total", type=t, **label)
               for t in ("success", "denial"))
    misses = differential.metric(after, "coredns_cache_misses_total", **label)
    assert hits + misses == requests
    assert differential.metric(after, "coredns_cache_hits_total", type="denial", **label) > 0


# The upstream runs in a process of its own, so that the memory measured is
# the cache's.
FLOOD_UPSTREAM = """
flood.test:@PORT@ {
    bind 127.0.0.1
    file @DIR@/db.flood
}
hot.test:@PORT@ {
    bind 127.0.0.1
    prometheus 127.0.0.1:%(metrics)d
    file @DIR@/db.hot
}
"""

FLOOD_COREFILE = """
.:@PORT@ {
    bind 127.0.0.1
    cache 300 {
        success 10000
        denial 10000
    }
    forward . 127.0.0.1:%(up)d
}
metrics.invalid:@PORT@ {
    bind 127.0.0.1
    prometheus 127.0.0.1:%(metrics)d
    whoami
}
"""


def _rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_flood_of_distinct_names_keeps_memory_bounded_and_the_hot_set_cached(tmp_path):
    metrics, cache_metrics = free_port(), free_port()
    hot = ["h%d.hot.test" % i for i in range(100)]
    files = {
        "db.flood": "$ORIGIN flood.test.\n@ 300 IN SOA ns host 1 3600 600 86400 300\n"
                    "@ 300 IN NS ns\nns 300 IN A 10.0.0.1\n* 300 IN A 10.0.0.2\n",
        "db.hot": "$ORIGIN hot.test.\n@ 300 IN SOA ns host 1 3600 600 86400 300\n"
                  "@ 300 IN NS ns\nns 300 IN A 10.0.0.1\n* 300 IN A 10.0.0.3\n",
    }
    distinct = 1_000_000
    # Every other query is one of the hot names, the others all different.
    lines = []
    for i in range(distinct):
        lines.append("n%d.flood.test A\n" % i)
        lines.append("%s A\n" % hot[i % len(hot)])
    qfile = tmp_path / "queries.txt"
    qfile.write_text("".join(lines))
    with Warpdns(tmp_path / "up", FLOOD_UPSTREAM % {"metrics": metrics}, files=files) as u, \
            Warpdns(tmp_path / "cache", FLOOD_COREFILE % {"up": u.port,
                                                          "metrics": cache_metrics}) as w:
        # Warm-up: the hot set is asked (and cached, and memoized) first.
        warm = tmp_path / "warm.txt"
        warm.write_text("".join("%s A\n" % h for h in hot) * 3)
        subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(w.port), "-d", str(warm),
                        "-n", "1"], check=True, capture_output=True, timeout=60)
        rss_before = _rss_kib(w.proc.pid)
        hot_label = {"zone": "hot.test."}
        upstream_hot_before = differential.metric(differential.scrape(metrics),
                                                  "coredns_dns_requests_total", **hot_label)
        out = subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(w.port), "-d", str(qfile),
                              "-n", "1", "-q", "500", "-t", "5"],
                             check=True, capture_output=True, text=True, timeout=600).stdout
        rss_after = _rss_kib(w.proc.pid)
        text = differential.scrape(metrics)
        cache_text = differential.scrape(cache_metrics)
    completed = int(out.split("Queries completed:")[1].split()[0])
    assert completed >= 2 * distinct * 0.99, out
    # The cache holds at most its capacity: what the flood costs is bounded
    # by the 10,000 entries, not by the million names.
    entries = differential.metric(cache_text, "coredns_cache_entries", type="success")
    assert entries <= 10000 + 256 * 4, entries
    assert rss_after - rss_before < 64 * 1024, (rss_before, rss_after)
    # Hot names that had to go upstream again are the cache's misses on
    # them: fewer than 1% of the million hot queries.
    upstream_hot = differential.metric(text, "coredns_dns_requests_total",
                                       **hot_label) - upstream_hot_before
    assert upstream_hot < distinct * 0.01, upstream_hot
    print("flood: %d queries, hot-set misses %d (%.3f%%), RSS %d -> %d KiB, entries %d" % (
        completed, upstream_hot, 100.0 * upstream_hot / distinct, rss_before, rss_after, entries))
