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
