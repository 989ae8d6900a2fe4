"""Fast path against slow path in socket mode: 10,000 queries of many shapes
answered once by the chain and once from the published table are the same
messages, ID aside (tests/fastpath/differential.py)."""
import socket
import urllib.request

import differential
from harness import Warpdns, free_port

COREFILE = """
diff.test:@PORT@ {
    bind 127.0.0.1
    file @DIR@/db.diff.test
}
.:%(metrics_dns)d {
    bind 127.0.0.1
    prometheus 127.0.0.1:%(metrics)d
    whoami
}
"""


def test_ten_thousand_queries_fast_equals_slow(tmp_path):
    metrics = free_port()
    corefile = COREFILE % {"metrics": metrics, "metrics_dns": free_port()}
    with Warpdns(tmp_path, corefile, files={"db.diff.test": differential.zone_text()}) as w:
        def read_metrics():
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics, timeout=5) as r:
                return r.read().decode()

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            answered, reusable, memoized = differential.run(
                differential.udp_batch(sock, ("127.0.0.1", w.port)), read_metrics,
                differential.queries(10000), {"kind": "answered"})
        # The second round came from the table, not the chain: all that
        # was stored (no more than the server's rules allow).
        assert reusable >= memoized > 9000, (reusable, memoized)
        assert answered >= memoized * 0.99, (answered, memoized)
