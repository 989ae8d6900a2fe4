"""The socket-mode fast path (per-worker memo of replies from deterministic
chains) against the real binary: a memoized reply is the slow path's reply,
byte for byte but the ID, and a data change is seen at once."""
import socket

import dns.message
import dns.rcode

from harness import Warpdns

ZONE = """$ORIGIN example.org.
$TTL 300
@ IN SOA ns.example.org. admin.example.org. %d 7200 3600 1209600 300
@ IN NS ns.example.org.
ns IN A 192.0.2.1
www IN A %s
"""


def raw(port, wire):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        s.sendto(wire, ("127.0.0.1", port))
        return s.recv(65535)


def test_memoized_replies_equal_the_slow_path_and_follow_reloads(tmp_path):
    corefile = """
example.org:@PORT@ {
    bind 127.0.0.1
    file @DIR@/db.example.org {
        reload 1s
    }
}
"""
    with Warpdns(tmp_path, corefile, files={"db.example.org": ZONE % (1, "192.0.2.10")}) as s:
        q = dns.message.make_query("www.example.org.", "A", use_edns=0, payload=1232)
        first = raw(s.port, q.to_wire())       # slow path, then memoized
        for qid in (1, 2, 0xBEEF):
            q.id = qid
            again = raw(s.port, q.to_wire())   # from the memo
            assert again[:2] == qid.to_bytes(2, "big")
            assert again[2:] == first[2:]
        # Other spellings and types are other keys, answered correctly.
        r = dns.message.from_wire(raw(s.port, dns.message.make_query("WWW.example.org.", "A").to_wire()))
        assert r.answer[0][0].address == "192.0.2.10"
        r = dns.message.from_wire(raw(s.port, dns.message.make_query("nx.example.org.", "A").to_wire()))
        assert r.rcode() == dns.rcode.NXDOMAIN
        # A zone change is visible on the very next query after the reload.
        (s.dir / "db.example.org").write_text(ZONE % (2, "192.0.2.99"))
        start = len(s.output())
        s.wait_for_line(lambda l: "Successfully reloaded zone" in l, start=start, timeout=10)
        q.id = 7
        r = dns.message.from_wire(raw(s.port, q.to_wire()))
        assert r.answer[0][0].address == "192.0.2.99"


def test_non_deterministic_chains_are_not_memoized(tmp_path):
    # whoami answers with the client's port: two sockets, two answers.
    with Warpdns(tmp_path, ".:@PORT@ {\n bind 127.0.0.1\n whoami\n}\n") as s:
        q = dns.message.make_query("x.test.", "A")
        ports = set()
        for _ in range(3):
            r = dns.message.from_wire(raw(s.port, q.to_wire()))
            srv = [rr for rr in r.additional if rr.rdtype == 33][0]
            ports.add(srv[0].port)
        assert len(ports) == 3
