"""loadbalance round_robin in the fast path: memoized replies have their
A/AAAA and MX runs shuffled as CoreDNS shuffles them, from per-core random
state, so the fast path answers with the same records as the chain, in
orders that change from answer to answer, with or without a cache in front
of the data."""
import collections
import socket

import dns.message

import differential
from harness import Warpdns, free_port

ZONE = """$ORIGIN lb.test.
@    300 IN SOA ns1 host 1 3600 600 86400 60
@    300 IN NS ns1
ns1  300 IN A 10.0.0.53
www  300 IN A 10.0.0.1
www  300 IN A 10.0.0.2
www  300 IN A 10.0.0.3
www  300 IN A 10.0.0.4
www  300 IN AAAA fd00::1
www  300 IN AAAA fd00::2
www  300 IN AAAA fd00::3
mail 300 IN MX 10 mx1
mail 300 IN MX 20 mx2
mail 300 IN MX 30 mx3
one  300 IN A 10.0.0.9
"""

COREFILE = """
lb.test:@PORT@ {
    bind 127.0.0.1
    loadbalance
    file @DIR@/db.lb
}
lb.test:%(cached)d {
    bind 127.0.0.1
    loadbalance round_robin
    cache 60
    forward . 127.0.0.1:%(up)d
}
lb.test:%(up)d {
    bind 127.0.0.1
    prometheus 127.0.0.1:%(metrics)d
    loadbalance
    file @DIR@/db.lb
}
"""

QUESTIONS = [("www.lb.test.", "A", 4), ("www.lb.test.", "AAAA", 3), ("mail.lb.test.", "MX", 3),
             ("one.lb.test.", "A", 1)]


def _records(msg):
    return sorted(rr.to_text() for rrset in msg.answer for rr in rrset)


def _rrsets(section):
    # TTLs aside: the cache caps them.
    return sorted((str(s.name), s.rdtype, sorted(rr.to_text() for rr in s)) for s in section)


def _order(msg):
    return tuple(rr.to_text() for rrset in msg.answer for rr in rrset)


def test_fast_path_shuffles_as_the_chain_does(tmp_path):
    cached, up, metrics = free_port(), free_port(), free_port()
    corefile = COREFILE % {"cached": cached, "up": up, "metrics": metrics}
    with Warpdns(tmp_path, corefile, files={"db.lb": ZONE}) as w:
        def read_metrics():
            return differential.scrape(metrics)

        def answered(port):
            return differential.metric(read_metrics(), "warpdns_fastpath_packets_total",
                                       kind="answered", worker="socket dns://127.0.0.1:%d" % port)

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(2)

            def ask(port, name, rdtype):
                q = dns.message.make_query(name, rdtype)
                sock.sendto(q.to_wire(), ("127.0.0.1", port))
                r = dns.message.from_wire(sock.recvfrom(65535)[0])
                assert r.id == q.id
                return r

            for port in (w.port, cached):
                # Warm-up: first sights (a miss, a cache hit) are memoized;
                # the publisher is done with them before the measured round.
                for name, rdtype, _ in QUESTIONS:
                    for _ in range(3):
                        ask(port, name, rdtype)
                differential.wait_publisher(read_metrics)
                before = answered(port)
                asked = 0
                for name, rdtype, count in QUESTIONS:
                    chain = ask(up, name, rdtype)  # the upstream always runs its chain
                    orders = collections.Counter()
                    for _ in range(40):
                        r = ask(port, name, rdtype)
                        asked += 1
                        assert _records(r) == _records(chain), (name, rdtype, r, chain)
                        assert _rrsets(r.authority) == _rrsets(chain.authority)
                        assert _rrsets(r.additional) == _rrsets(chain.additional)
                        orders[_order(r)] += 1
                    # From the table, shuffled per answer as CoreDNS shuffles
                    # (24 orders of 4 records, 6 of 3): far more orders than
                    # a rotation's `count`.
                    assert len(orders) >= {1: 1, 3: 4, 4: 12}[count], (port, name, rdtype, orders)
                assert answered(port) - before == asked, port
