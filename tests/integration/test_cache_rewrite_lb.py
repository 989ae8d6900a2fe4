"""cache, rewrite and loadbalance in the real binary, in front of the file
plugin: TTLs counting down between queries, denials bounded by the SOA
minimum, the DO bit in the cache key, rewritten questions answered with the
name asked, and cached answers reshuffled."""
import time

import dns.flags
import dns.rcode
import dns.rdatatype

from harness import Warpdns

ZONE = """\
$TTL 300
$ORIGIN example.org.
@    3600 IN SOA ns1 hostmaster 1 3600 900 604800 60
     IN NS  ns1
ns1  IN A   192.0.2.53
www  IN A   192.0.2.1
www  IN A   192.0.2.2
www  IN A   192.0.2.3
www  IN A   192.0.2.4
web  IN CNAME www
"""

COREFILE = """\
example.org:@PORT@ {
    file @DIR@/db.example.org
    cache
    rewrite name exact alias.example.org www.example.org
    rewrite name regex ^(.+)-v2\\.example\\.org\\.$ {1}.example.org answer auto
    loadbalance
}
"""


def start(tmp_path):
    return Warpdns(tmp_path, COREFILE, files={"db.example.org": ZONE})


def ttl_of(response):
    return response.answer[0].ttl


def test_ttl_counts_down_on_cache_hits(tmp_path):
    with start(tmp_path) as w:
        first = w.query("www.example.org", "A")
        assert first.rcode() == dns.rcode.NOERROR
        assert ttl_of(first) == 300
        # The zone always says 300: a lower TTL can only come from the cache.
        deadline = time.monotonic() + 5
        ttl = 300
        while ttl == 300 and time.monotonic() < deadline:
            time.sleep(0.2)
            hit = w.query("www.example.org", "A")
            ttl = ttl_of(hit)
        assert ttl in (298, 299)
        assert hit.flags & dns.flags.AA
        assert len(hit.answer[0]) == 4


def test_do_bit_is_part_of_the_key(tmp_path):
    with start(tmp_path) as w:
        w.query("www.example.org", "A")
        deadline = time.monotonic() + 5
        while ttl_of(w.query("www.example.org", "A")) == 300 and time.monotonic() < deadline:
            time.sleep(0.2)
        # The plain entry has aged; the DO query is a miss of its own.
        assert ttl_of(w.query("www.example.org", "A")) < 300
        assert ttl_of(w.query("www.example.org", "A", want_dnssec=True)) == 300


def test_nxdomain_is_cached_for_the_soa_minimum(tmp_path):
    with start(tmp_path) as w:
        r = w.query("nope.example.org", "A")
        assert r.rcode() == dns.rcode.NXDOMAIN
        soa = r.authority[0]
        assert soa.rdtype == dns.rdatatype.SOA
        # The zone's SOA has TTL 3600 and MINIMUM 60.
        assert soa.ttl == 60


def test_exact_rewrite_answers_with_the_name_asked(tmp_path):
    with start(tmp_path) as w:
        for _ in range(2):  # a miss, then a hit of the rewritten name
            r = w.query("Alias.Example.Org", "A")
            assert r.rcode() == dns.rcode.NOERROR
            assert r.question[0].name.to_text() == "Alias.Example.Org."
            assert [a.name.to_text() for a in r.answer] == ["alias.example.org."]
            assert sorted(rr.address for rr in r.answer[0]) == [
                "192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]


def test_regex_rewrite_with_answer_auto(tmp_path):
    with start(tmp_path) as w:
        r = w.query("web-v2.example.org", "A")
        assert r.rcode() == dns.rcode.NOERROR
        assert r.question[0].name.to_text() == "web-v2.example.org."
        names = [(a.name.to_text(), dns.rdatatype.to_text(a.rdtype)) for a in r.answer]
        assert names == [("web-v2.example.org.", "CNAME"), ("www.example.org.", "A")]
        # The CNAME's target is under the rewritten zone too, but only names
        # under the new question name map back.
        assert r.answer[0][0].target.to_text() == "www.example.org."


def test_cached_answers_are_reshuffled(tmp_path):
    with start(tmp_path) as w:
        orders = set()
        for _ in range(60):
            r = w.query("www.example.org", "A")
            orders.add(tuple(rr.address for rr in r.answer[0]))
        # Four records: 24 orders, a shuffle per reply.
        assert len(orders) > 5
