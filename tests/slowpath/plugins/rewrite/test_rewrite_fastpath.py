"""rewrite in the fast path: a chain with rewrite rules (exact, prefix,
suffix, substring, regex with captures and answer auto, type, class, ttl,
edns0 local) is a pure function of the query, so its replies are memoized
keyed by the question the client asked. The fast path's answers equal the
chain's, octet for octet, on the same query stream."""
import random
import socket

import dns.message
import dns.rdataclass

import differential
from harness import Warpdns, free_port

ZONE = """$ORIGIN rw.test.
@    300 IN SOA ns1 host 1 3600 600 86400 60
@    300 IN NS ns1
ns1  300 IN A 10.0.0.53
www  300 IN A 10.0.0.1
www  300 IN AAAA fd00::1
www  300 IN TXT "www"
app  300 IN CNAME www
x    300 IN A 10.0.0.2
mail 300 IN MX 10 www
"""

RULES = """
    rewrite name exact exact.alias.test. www.rw.test.
    rewrite name prefix pre- www.
    rewrite name suffix .alias.test. .rw.test. answer auto
    rewrite name substring .middle. .
    rewrite name regex ^re-([a-z]+)\\.rw\\.test\\.$ {1}.rw.test. answer auto
    rewrite type HINFO TXT
    rewrite class CH IN
    rewrite ttl exact x.rw.test. 30
    rewrite continue edns0 local set 0xffee abc
"""

COREFILE = """
.:@PORT@ {
    bind 127.0.0.1
%(rules)s
    file @DIR@/db.rw rw.test
}
.:%(slow)d {
    bind 127.0.0.1
    prometheus 127.0.0.1:%(metrics)d
    log . "{local} {name}"
%(rules)s
    file @DIR@/db.rw rw.test
}
"""

NAMES = ["exact.alias.test.", "pre-rw.test.", "www.alias.test.", "app.alias.test.",
         "mail.alias.test.", "www.middle.rw.test.", "re-www.rw.test.", "re-x.rw.test.",
         "re-app.rw.test.", "x.rw.test.", "www.rw.test.", "nope.alias.test.", "re-nope.rw.test."]
TYPES = ["A", "AAAA", "TXT", "MX", "HINFO", "CNAME", "NS"]


def _queries(count=1500, seed=11):
    rng = random.Random(seed)
    out = []
    for i in range(count):
        name = "".join(c.upper() if rng.random() < 0.2 else c for c in rng.choice(NAMES))
        edns = rng.choice([None, 0])
        q = dns.message.make_query(name, rng.choice(TYPES), use_edns=edns, payload=1232,
                                   want_dnssec=edns is not None and rng.random() < 0.3)
        if rng.random() < 0.1:
            q.question[0].rdclass = dns.rdataclass.CH
        if rng.random() < 0.2:
            q.flags &= ~dns.flags.RD
        out.append(q.to_wire())
    return out


def test_rewritten_answers_fast_equal_slow(tmp_path):
    metrics, slow = free_port(), free_port()
    corefile = COREFILE % {"rules": RULES, "slow": slow, "metrics": metrics}
    with Warpdns(tmp_path, corefile, files={"db.rw": ZONE}) as w:
        def read_metrics():
            return differential.scrape(metrics)

        wires = _queries()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            answered = differential.run(
                differential.udp_batch(sock, ("127.0.0.1", w.port)),
                differential.udp_batch(sock, ("127.0.0.1", slow)), read_metrics, wires,
                {"kind": "answered", "worker": "socket dns://127.0.0.1:%d" % w.port})
        # All but the REFUSED and SERVFAIL replies (CH queries a name rule
        # stopped before the class rule), which are never memoized.
        assert answered >= len(wires) * 0.75, answered
        # The rules did rewrite: the question comes back as asked, the data is
        # the target's.
        r = w.query("Re-X.rw.test.", "A")
        assert str(r.question[0].name) == "Re-X.rw.test."
        assert [str(rr.name) for rr in r.answer] == ["re-x.rw.test."]
        assert r.answer[0][0].address == "10.0.0.2"
        assert w.query("x.rw.test.", "A").answer[0].ttl == 30


def test_edns0_rules_that_depend_on_the_options_stay_on_the_chain(tmp_path):
    """`replace`, `append` and `unset` apply or not depending on the query's EDNS options,
    which the fast path's key leaves out, and a rule that applied stops the later ones: the
    same question with and without the option gets different answers, each time."""
    import dns.edns
    import dns.query
    import dns.rcode

    mport = free_port()
    corefile = """rw.test:@PORT@ {
    bind 127.0.0.1
    prometheus 127.0.0.1:%d
    rewrite edns0 local replace 0xffee 0xabcd
    rewrite name exact alias.rw.test. www.rw.test.
    file @DIR@/db.rw rw.test
}
""" % mport
    with Warpdns(tmp_path, corefile, files={"db.rw": ZONE}) as w:
        read = lambda: differential.scrape(mport)
        with_opt = dns.message.make_query("alias.rw.test.", "A", use_edns=0, payload=1232,
                                          options=[dns.edns.GenericOption(0xffee, b"\x12\x34")])
        plain = dns.message.make_query("alias.rw.test.", "A", use_edns=0, payload=1232)
        for _ in range(3):
            # With the option the edns0 rule applies and stops: no name rewrite, NXDOMAIN.
            r = dns.query.udp(with_opt, "127.0.0.1", port=w.port, timeout=3)
            assert r.rcode() == dns.rcode.NXDOMAIN
            differential.wait_publisher(read)
            r = dns.query.udp(plain, "127.0.0.1", port=w.port, timeout=3)
            assert r.rcode() == dns.rcode.NOERROR and r.answer[0][0].address == "10.0.0.1"
            differential.wait_publisher(read)
