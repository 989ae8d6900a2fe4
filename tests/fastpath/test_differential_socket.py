"""Fast path against slow path in socket mode: 10,000 queries of many shapes
answered once by the chain and once from the published table are the same
messages, ID aside (tests/fastpath/differential.py)."""
import socket
import urllib.request

import differential
from harness import Warpdns, free_port

# The same zone twice: behind the fast path (a deterministic chain), and on
# a second port whose log format has {local}, which the fast path cannot fill
# in: that keeps every query of the block on the chain.
COREFILE = """
diff.test:@PORT@ {
    bind 127.0.0.1
    file @DIR@/db.diff.test
}
diff.test:%(slow)d {
    bind 127.0.0.1
    file @DIR@/db.diff.test
    prometheus 127.0.0.1:%(metrics)d
    log . "{local} {name}"
}
"""


def test_ten_thousand_queries_fast_equals_slow(tmp_path):
    metrics = free_port()
    slow = free_port()
    corefile = COREFILE % {"metrics": metrics, "slow": slow}
    with Warpdns(tmp_path, corefile, files={"db.diff.test": differential.zone_text()}) as w:
        def read_metrics():
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics, timeout=5) as r:
                return r.read().decode()

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            answered = differential.run(
                differential.udp_batch(sock, ("127.0.0.1", w.port)),
                differential.udp_batch(sock, ("127.0.0.1", slow)), read_metrics,
                differential.queries(10000), {"kind": "answered"})
        # The second round came from the table, not the chain (all but the
        # answers the rules keep on the chain: TC, CNAMEs to other chains).
        assert answered >= 9000, answered
        # and the slow block's came from the chain, every one.
        assert differential.metric(read_metrics(), "warpdns_fastpath_packets_total", kind="answered",
                                   worker="socket dns://127.0.0.1:%d" % slow) == 0


def test_servers_sharing_a_port_keep_their_own_answers(tmp_path):
    """Two servers on one port, bound to different addresses, with different data: the fast
    path's key has the port but not the address, so neither server's answers are replayed
    (each answer stays its own server's, prebuilt or not)."""
    import dns.message
    import dns.query

    zone = ("$ORIGIN two.test.\n$TTL 300\n@ IN SOA ns hm 1 7200 3600 1209600 300\n"
            "@ IN NS ns\nns IN A 10.0.0.1\nwww IN A %s\n")
    mport = free_port()
    corefile = """two.test:@PORT@ {
    bind 127.0.0.1
    prometheus 127.0.0.1:%d
    file @DIR@/a.zone
}
.:@PORT@ {
    bind 127.0.0.2
    file @DIR@/b.zone two.test
}
""" % mport
    want = {"127.0.0.1": "192.0.2.1", "127.0.0.2": "198.51.100.2"}
    with Warpdns(tmp_path, corefile, files={"a.zone": zone % want["127.0.0.1"],
                                            "b.zone": zone % want["127.0.0.2"]}) as w:
        read = lambda: differential.scrape(mport)
        differential.wait_publisher(read)
        for shape in (dict(), dict(use_edns=0, payload=1232), dict(use_edns=0, payload=1000)):
            for name in ("www.two.test.", "WwW.two.test."):
                for _ in range(3):
                    for addr, address in want.items():
                        r = dns.query.udp(dns.message.make_query(name, "A", **shape), addr,
                                          port=w.port, timeout=3)
                        assert [rr.address for rrs in r.answer for rr in rrs] == [address], (
                            addr, name, shape)
                    differential.wait_publisher(read)
        assert differential.metric(read(), "warpdns_fastpath_packets_total", kind="answered") == 0
