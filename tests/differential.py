"""The fast path/slow path differential: the same queries answered once by
the plugin chain (first sight: a miss, the answer is memoized) and once from
the fast path's table must be the same message, octet for octet, ID aside.

Shared by the socket-mode test (loopback) and the DPDK-mode test (veth):
`run()` takes a function that sends a batch of wire queries and returns the
replies, and one that reads a metric from the server's /metrics.
"""
import random
import re
import time

import dns.flags
import dns.message
import dns.name
import dns.rdatatype

ORIGIN = "diff.test."
HOSTS = 1500


def zone_text():
    lines = [
        "$ORIGIN %s" % ORIGIN,
        "$TTL 300",
        "@ IN SOA ns1 hostmaster 2024010101 7200 3600 1209600 300",
        "@ IN NS ns1",
        "ns1 IN A 10.20.0.1",
        "*.wild IN A 10.20.9.9",
        "*.wild IN TXT \"wildcard\"",
        "sub IN NS ns.sub",
        "ns.sub IN A 10.20.8.8",
        "deep.a.b IN A 10.20.7.7",
    ]
    for i in range(HOSTS):
        lines.append("h%d IN A 10.21.%d.%d" % (i, i // 250, i % 250 + 1))
        if i % 2 == 0:
            lines.append("h%d IN AAAA fd00:21::%x" % (i, i + 1))
            lines.append("h%d IN A 10.22.%d.%d" % (i, i // 250, i % 250 + 1))
        if i % 3 == 0:
            lines.append("h%d IN TXT \"host %d\" \"second\"" % (i, i))
        if i % 5 == 0:
            lines.append("h%d IN MX 10 h%d" % (i, (i + 1) % HOSTS))
        if i % 7 == 0:
            lines.append("c%d IN CNAME h%d" % (i, (i * 3) % HOSTS))
    return "\n".join(lines) + "\n"


def _random_case(rng, s):
    return "".join(c.upper() if rng.random() < 0.5 else c for c in s)


def queries(count=10000, seed=7):
    """`count` wire-format queries of many shapes: hits, NODATA, NXDOMAIN,
    CNAME chains, wildcards, referrals, empty non-terminals, mixed case,
    with and without EDNS (sizes, DO) and RD."""
    rng = random.Random(seed)
    types = ["A", "A", "A", "AAAA", "TXT", "MX", "NS", "SOA", "SRV", "CAA"]
    out = []
    for _ in range(count):
        kind = rng.random()
        i = rng.randrange(HOSTS)
        if kind < 0.6:
            name = "h%d" % i
        elif kind < 0.7:
            name = "c%d" % (i - i % 7)
        elif kind < 0.8:
            name = "nx%d" % i
        elif kind < 0.85:
            name = "x%d.wild" % i
        elif kind < 0.9:
            name = "w%d.sub" % i
        elif kind < 0.93:
            name = rng.choice(["b", "a.b", "deep.a.b", "sub", "@"])
        else:
            name = "h%d.nx" % i
        fq = ORIGIN if name == "@" else name + "." + ORIGIN
        if rng.random() < 0.1:
            fq = _random_case(rng, fq)
        edns = rng.choice([None, 512, 1232, 1232, 4096])
        q = dns.message.make_query(fq, rng.choice(types), use_edns=edns is not None,
                                   payload=edns or 512,
                                   want_dnssec=edns is not None and rng.random() < 0.3)
        if rng.random() < 0.2:
            q.flags &= ~dns.flags.RD
        out.append(q.to_wire())
    return out


def scrape(port):
    """The text of the metrics endpoint on 127.0.0.1:`port`."""
    import urllib.request
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        return r.read().decode()


def metric(text, name, **labels):
    """Sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:]+)(\{[^}]*\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            total += float(m.group(3))
    return total


def wait_publisher(read_metrics, timeout=30):
    """Readiness: the publisher has dealt with every answer offered to it
    (offers happen before the reply is sent, so all first-sight ones are in)."""
    deadline = time.monotonic() + timeout
    while True:
        text = read_metrics()
        offered = metric(text, "warpdns_fastpath_answers_offered_total")
        done = (metric(text, "warpdns_fastpath_answers_memoized_total") +
                metric(text, "warpdns_fastpath_answers_not_memoized_total"))
        if done >= offered:
            return
        assert time.monotonic() < deadline, "the publisher is stuck:\n" + text
        time.sleep(0.01)


def run(send_fast, send_slow, read_metrics, wire_queries, answered_labels, timeout=30):
    """Asks every query of `wire_queries` three times: once of a server
    block whose chain is not deterministic (`send_slow`: it always runs the
    chain; a `log` format with {local} makes it so), twice of the same data behind the fast path (`send_fast`: the
    first sight is prebuilt or punted and memoized, the second comes from
    the table). All three answers must be the same message, ID aside.
    `send_*(list of wire queries) -> list of reply wires (None when lost)`.
    Returns how many second-round queries the fast path answered."""
    slow = send_slow(wire_queries)
    first = send_fast(wire_queries)
    for replies in (slow, first):
        lost = sum(r is None for r in replies)
        assert lost <= len(wire_queries) // 1000, "%d replies lost" % lost
    wait_publisher(read_metrics, timeout)
    before = metric(read_metrics(), "warpdns_fastpath_packets_total", **answered_labels)
    second = send_fast(wire_queries)
    after = metric(read_metrics(), "warpdns_fastpath_packets_total", **answered_labels)
    compared = 0
    for q, s, a, b in zip(wire_queries, slow, first, second):
        if s is None or a is None or b is None:
            continue
        assert s[:2] == a[:2] == b[:2] == q[:2]
        assert s[2:] == a[2:] == b[2:], "answers differ for %s:\nchain %s\nfirst %s\nsecond %s" % (
            dns.message.from_wire(q).question, dns.message.from_wire(s),
            dns.message.from_wire(a), dns.message.from_wire(b))
        compared += 1
    assert compared >= len(wire_queries) * 0.999
    return after - before


def udp_batch(sock, address, window=64, timeout=2.0):
    """A send_batch for run(): pipelines `window` queries at a time over the
    connected-less UDP socket `sock`, matching replies by ID."""
    import select

    def send_batch(wires):
        replies = [None] * len(wires)
        for start in range(0, len(wires), window):
            chunk = range(start, min(start + window, len(wires)))
            pending = {}
            for i in chunk:
                qid = (i % 65535) + 1
                w = qid.to_bytes(2, "big") + wires[i][2:]
                wires[i] = w
                pending[qid] = i
                sock.sendto(w, address)
            deadline = time.monotonic() + timeout
            while pending and time.monotonic() < deadline:
                r, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
                if not r:
                    break
                data, _ = sock.recvfrom(65535)
                qid = int.from_bytes(data[:2], "big")
                if qid in pending:
                    replies[pending.pop(qid)] = data
        return replies

    return send_batch
