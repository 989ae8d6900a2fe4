"""Prebuilt answers: the owner names and types of authoritative zones are in
the fast path's table before anyone asks, and are rebuilt when the zone
changes."""
import time
import urllib.request

import dns.flags
import dns.message
import dns.rcode

import differential
from harness import Warpdns, free_port

ZONE = """$ORIGIN pre.test.
$TTL 300
@ IN SOA ns1 hostmaster %(serial)d 7200 3600 1209600 300
@ IN NS ns1
ns1 IN A 10.30.0.1
www IN A %(www)s
www IN TXT "hello"
mail IN MX 10 www
"""

COREFILE = """
pre.test:@PORT@ {
    bind 127.0.0.1
    file @DIR@/db.pre.test {
        reload 200ms
    }
}
.:%(other)d {
    bind 127.0.0.1
    prometheus 127.0.0.1:%(metrics)d
    whoami
}
"""


def wait_metric(read, name, pred, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        v = differential.metric(read(), name)
        if pred(v):
            return v
        assert time.monotonic() < deadline, "%s stayed at %s" % (name, v)
        time.sleep(0.02)


def settle(read):
    """Waits until the publisher has stored or refused every answer offered."""
    def done(text):
        m = lambda n: differential.metric(text, n)
        return (m("warpdns_fastpath_answers_memoized_total") +
                m("warpdns_fastpath_answers_not_memoized_total") >=
                m("warpdns_fastpath_answers_offered_total"))
    deadline = time.monotonic() + 10
    while not done(read()):
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_first_query_is_answered_from_the_table_and_rebuilt_on_change(tmp_path):
    metrics = free_port()
    corefile = COREFILE % {"metrics": metrics, "other": free_port()}
    files = {"db.pre.test": ZONE % {"serial": 1, "www": "10.30.0.10"}}
    with Warpdns(tmp_path, corefile, files=files) as w:
        def read():
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics, timeout=5) as r:
                return r.read().decode()

        builds = wait_metric(read, "warpdns_fastpath_prebuilds_total", lambda v: v >= 1)
        assert differential.metric(read(), "warpdns_fastpath_prebuilt_answers") > 0
        settle(read)

        def fast(qname, rdtype, **kw):
            """Asks once; returns the reply and whether the table answered."""
            before = differential.metric(read(), "warpdns_fastpath_packets_total", kind="answered")
            r = w.query(qname, rdtype, **kw)
            after = differential.metric(read(), "warpdns_fastpath_packets_total", kind="answered")
            return r, after - before == 1

        # The three prebuilt shapes, each asked for the first time.
        r, hit = fast("www.pre.test.", "A", use_edns=False)
        assert hit and [rr.to_text() for rr in r.answer[0]] == ["10.30.0.10"]
        r, hit = fast("www.pre.test.", "TXT", use_edns=0, payload=1232)
        assert hit and r.answer
        r, hit = fast("mail.pre.test.", "MX", use_edns=0, payload=1232, want_dnssec=True,
                      flags=0)
        assert hit and r.flags & dns.flags.AA and not r.flags & dns.flags.RD
        # NODATA for the other address family is prebuilt too.
        r, hit = fast("www.pre.test.", "AAAA", use_edns=False)
        assert hit and r.rcode() == dns.rcode.NOERROR and not r.answer and r.authority
        # A name that does not exist is not: it is memoized on first sight.
        r, hit = fast("nope.pre.test.", "A", use_edns=False)
        assert not hit and r.rcode() == dns.rcode.NXDOMAIN

        # The zone changes: the table is rebuilt with the new data.
        (w.dir / "db.pre.test").write_text(ZONE % {"serial": 2, "www": "10.30.0.99"})
        wait_metric(read, "warpdns_fastpath_prebuilds_total", lambda v: v > builds)
        settle(read)
        r, hit = fast("www.pre.test.", "A", use_edns=False)
        assert hit and [rr.to_text() for rr in r.answer[0]] == ["10.30.0.99"]
