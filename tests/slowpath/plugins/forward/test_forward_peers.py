"""forward against real upstreams: Unbound instances on loopback serving
different data (TXT "u1", "u2", ...), so each answer says who gave it.

Run: WARPDNS_BIN=build-fwd/control/warpdns /usr/bin/python3 -m pytest tests/slowpath/plugins/forward
"""
import collections
import pathlib
import re
import subprocess
import sys
import time
import urllib.request

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3]))

import differential  # noqa: E402
from harness import Warpdns, free_port  # noqa: E402
from peers import Unbound  # noqa: E402


def txt(reply):
    for rrset in reply.answer:
        for rr in rrset:
            return b"".join(rr.strings).decode()
    return None


def upstreams(tmp_path, n, **kw):
    return [Unbound(tmp_path, text="u%d" % (k + 1), label="u%d" % (k + 1), **kw)
            for k in range(n)]


@pytest.fixture
def three(tmp_path):
    ups = upstreams(tmp_path, 3)
    yield ups
    for u in ups:
        u.stop()


def who_counts(srv, n, qname="who.example."):
    counts = collections.Counter()
    for k in range(n):
        counts[txt(srv.query("q%d.%s" % (k, qname), "TXT"))] += 1
    return counts


def test_policies(tmp_path, three):
    to = " ".join(u.addr for u in three)
    corefile = "".join(
        "%s.example:@PORT@ {\n  bind 127.0.0.1\n  forward . %s {\n    policy %s\n  }\n}\n"
        % (zone, to, policy)
        for zone, policy in [("seq", "sequential"), ("rr", "round_robin"), ("rnd", "random")])
    with Warpdns(tmp_path / "w", corefile) as srv:
        seq = who_counts(srv, 30, "seq.example.")
        rr = who_counts(srv, 30, "rr.example.")
        rnd = who_counts(srv, 300, "rnd.example.")
    print("sequential", dict(seq), "round_robin", dict(rr), "random", dict(rnd))
    assert seq == {"u1": 30}
    assert rr == {"u1": 10, "u2": 10, "u3": 10}
    assert set(rnd) == {"u1", "u2", "u3"} and min(rnd.values()) > 60


def test_except_goes_to_the_next_plugin(tmp_path, three):
    corefile = """.:@PORT@ {
  bind 127.0.0.1
  forward example %s {
    except internal.example
  }
  whoami
}
""" % three[0].addr
    with Warpdns(tmp_path / "w", corefile) as srv:
        assert txt(srv.query("www.example.", "TXT")) == "u1"
        inside = srv.query("db.internal.example.", "TXT")
        assert not inside.answer and inside.additional  # whoami's answer
        assert txt(srv.query("internal.example.", "TXT")) is None
        outside = srv.query("www.example.net.", "A")
        assert not outside.answer and outside.additional


def test_force_tcp_reaches_a_tcp_only_upstream(tmp_path):
    up = Unbound(tmp_path, text="tcp-only", label="tcp", udp=False)
    try:
        corefile = """a.example:@PORT@ {
  bind 127.0.0.1
  forward . %s {
    force_tcp
    max_fails 0
  }
}
b.example:@PORT@ {
  bind 127.0.0.1
  forward . %s
}
""" % (up.addr, up.addr)
        with Warpdns(tmp_path / "w", corefile) as srv:
            assert txt(srv.query("x.a.example.", "TXT")) == "tcp-only"
            # Over UDP (the client's transport) the same upstream is unreachable:
            # SERVFAIL once health checks have marked it down (about 1s).
            assert srv.query("x.b.example.", "TXT", timeout=4).rcode() == dns.rcode.SERVFAIL
    finally:
        up.stop()


def test_truncated_answer_retried_over_tcp_with_prefer_udp(tmp_path):
    big = ['%s 60 IN TXT "%s"' % (name, chr(97 + k) * 200)
           for name in ("big.example.", "big.other.") for k in range(6)]
    up = Unbound(tmp_path, label="big", local_zones=["big.example. static", "big.other. static"],
                 local_data=big, max_udp_size=512)
    try:
        corefile = """big.example:@PORT@ {
  bind 127.0.0.1
  forward . %s {
    prefer_udp
  }
}
.:@PORT@ {
  bind 127.0.0.1
  forward . %s
}
""" % (up.addr, up.addr)
        with Warpdns(tmp_path / "w", corefile) as srv:
            # The upstream truncates at 512 whatever the client offers.
            q = dns.message.make_query("big.example.", "TXT", use_edns=0, payload=4096)
            assert dns.query.udp(q, "127.0.0.1", port=up.port, timeout=3).flags & dns.flags.TC
            r = srv.send(q)
            assert not r.flags & dns.flags.TC
            assert len(r.answer[0]) == 6
            # Without prefer_udp the truncated answer goes back as it came.
            r = srv.query("big.other.", "TXT", use_edns=0, payload=4096)
            assert r.flags & dns.flags.TC
    finally:
        up.stop()


def metric(text, name, labels=""):
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape("{%s}" % labels if labels else "")),
                  text, re.M)
    return float(m.group(1)) if m else 0.0


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2) as r:
        return r.read().decode()


def wait_metric(port, pred, timeout, step=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred(scrape(port)):
            return time.monotonic()
        time.sleep(step)
    return None


def test_failover_under_load(tmp_path):
    """dnsperf at 2000 qps while upstream u2 is killed by PID and started again.

    A query u2 had received but not answered when it died is retried on u1
    after read_timeout (2s), so dnsperf waits up to 5s before calling it lost.
    """
    ups = upstreams(tmp_path, 2)
    u1, u2 = ups
    mport = free_port()
    corefile = """.:@PORT@ {
  bind 127.0.0.1
  prometheus 127.0.0.1:%d
  forward . %s %s
}
""" % (mport, u1.addr, u2.addr)
    names = tmp_path / "names.txt"
    names.write_text("".join("n%d.example. TXT\n" % k for k in range(1000)))
    try:
        with Warpdns(tmp_path / "w", corefile) as srv:
            perf = subprocess.Popen(
                ["dnsperf", "-s", "127.0.0.1", "-p", str(srv.port), "-d", str(names),
                 "-l", "15", "-Q", "2000", "-t", "5"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            to2 = 'to="%s"' % u2.addr
            # Both upstreams take traffic first.
            assert wait_metric(mport, lambda t: metric(t, "coredns_forward_requests_total", to2) > 100, 5)
            killed = time.monotonic()
            u2.kill()
            # Marked down: three fails (> max_fails 2), from probes and refused queries.
            down = wait_metric(
                mport, lambda t: metric(t, "coredns_forward_healthcheck_failures_total", to2) >= 3, 5)
            assert down is not None
            before = metric(scrape(mport), "coredns_forward_requests_total", to2)
            time.sleep(2)
            # Marked down means no more attempts on it.
            assert metric(scrape(mport), "coredns_forward_requests_total", to2) == before
            u2.restart()
            back = time.monotonic()
            up = wait_metric(
                mport, lambda t: metric(t, "coredns_forward_requests_total", to2) > before, 5)
            assert up is not None
            out, _ = perf.communicate(timeout=30)
    finally:
        for u in ups:
            u.stop()
    sent = int(re.search(r"Queries sent:\s+(\d+)", out).group(1))
    lost = int(re.search(r"Queries lost:\s+(\d+)", out).group(1))
    servfail = re.search(r"SERVFAIL (\d+)", out)
    servfail = int(servfail.group(1)) if servfail else 0
    print("failover: sent %d, lost %d, SERVFAIL %d; u2 marked down %.3fs after the kill, "
          "back up %.3fs after it answered again" % (sent, lost, servfail, down - killed, up - back))
    assert servfail == 0 and lost == 0
    assert down - killed < 1.0
    assert up - back < 2


def test_all_upstreams_down_servfail_quickly(tmp_path):
    ups = upstreams(tmp_path, 2)
    mport = free_port()
    corefile = """.:@PORT@ {
  bind 127.0.0.1
  prometheus 127.0.0.1:%d
  forward . %s %s
}
""" % (mport, ups[0].addr, ups[1].addr)
    try:
        with Warpdns(tmp_path / "w", corefile) as srv:
            assert txt(srv.query("a.example.", "TXT")) in ("u1", "u2")
            for u in ups:
                u.kill()
            start = time.monotonic()
            # Before the probes mark them down: one refused exchange with each is the answer.
            assert srv.query("b.example.", "TXT", timeout=6).rcode() == dns.rcode.SERVFAIL
            first = time.monotonic() - start
            # Far below the 2 s read timeout: nothing waited for one (room for CI's stalls).
            assert first < 0.5
            assert wait_metric(mport, lambda t: all(
                metric(t, "coredns_forward_healthcheck_failures_total", 'to="%s"' % u.addr) >= 3
                for u in ups), 5)
            times = []
            for k in range(20):
                t = time.monotonic()
                assert srv.query("c%d.example." % k, "TXT").rcode() == dns.rcode.SERVFAIL
                times.append(time.monotonic() - t)
            print("all down: first query %.3fs, then SERVFAIL in at most %.1f ms"
                  % (first, 1000 * max(times)))
            assert max(times) < 0.5
    finally:
        for u in ups:
            u.stop()


def test_all_upstreams_down_serve_stale(tmp_path):
    """Both upstreams killed: names the cache holds keep being answered past their
    expiry (immediate: at once with TTL 0; verify: after the upstreams failed),
    names it does not hold get SERVFAIL, and nothing waits for a timeout."""
    ups = upstreams(tmp_path, 2)
    mport = free_port()
    to = " ".join(u.addr for u in ups)
    corefile = """im.example:@PORT@ {
  bind 127.0.0.1
  prometheus 127.0.0.1:%d
  cache 1 {
    serve_stale 1h
  }
  forward . %s
}
ve.example:@PORT@ {
  bind 127.0.0.1
  cache 1 {
    serve_stale 1h verify
  }
  forward . %s
}
""" % (mport, to, to)
    try:
        with Warpdns(tmp_path / "w", corefile) as srv:
            held = {"a.im.example.": txt(srv.query("a.im.example.", "TXT")),
                    "a.ve.example.": txt(srv.query("a.ve.example.", "TXT"))}
            assert set(held.values()) <= {"u1", "u2"}
            for u in ups:
                u.kill()
            # Query through the 1 s expiry and well past it: every answer is the held one.
            start = time.monotonic()
            worst, stale_ttls = 0.0, set()
            while time.monotonic() - start < 2.5:
                for name, want in held.items():
                    t = time.monotonic()
                    r = srv.query(name, "TXT", timeout=3)
                    worst = max(worst, time.monotonic() - t)
                    assert r.rcode() == dns.rcode.NOERROR and txt(r) == want, (name, r)
                    stale_ttls.add(r.answer[0].ttl)
                time.sleep(0.05)
            assert stale_ttls <= {0, 1}
            served = differential.metric(scrape(mport), "coredns_cache_served_stale_total",
                                         zones="im.example.")
            # A name the cache never held: SERVFAIL, not a hang.
            t = time.monotonic()
            assert srv.query("new.im.example.", "TXT", timeout=6).rcode() == dns.rcode.SERVFAIL
            miss = time.monotonic() - t
            print("all down with serve_stale: held names answered in at most %.1f ms, "
                  "%d stale replies counted, an unheld name SERVFAIL in %.3f s"
                  % (1000 * worst, served, miss))
            assert served > 0
            assert worst < 1.0  # never a read_timeout (2 s) on a held name
            assert miss < 3.0
    finally:
        for u in ups:
            u.stop()


def make_cert(tmp_path):
    """A self-signed certificate for dns.test and 127.0.0.1."""
    key, crt = tmp_path / "tls.key", tmp_path / "tls.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "2", "-subj", "/CN=dns.test",
                    "-addext", "subjectAltName=DNS:dns.test,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    return crt, key


def test_dot_upstream(tmp_path):
    crt, key = make_cert(tmp_path)
    up = Unbound(tmp_path, text="over-tls", label="dot", tls=(crt, key))
    try:
        corefile = """named.example:@PORT@ {
  bind 127.0.0.1
  forward . tls://127.0.0.1:%d {
    tls %s
    tls_servername dns.test
  }
}
byip.example:@PORT@ {
  bind 127.0.0.1
  forward . tls://127.0.0.1:%d {
    tls %s
  }
}
wrong.example:@PORT@ {
  bind 127.0.0.1
  forward . tls://127.0.0.1:%d {
    tls %s
    tls_servername other.test
  }
}
""" % (up.tls_port, crt, up.tls_port, crt, up.tls_port, crt)
        try:
            srv = Warpdns(tmp_path / "w", corefile)
        except RuntimeError as e:
            if "need a build with OpenSSL" in str(e):
                pytest.skip("this warpdns was built without OpenSSL")
            raise
        with srv:
            # The TLS port speaks only TLS: an answer means the session worked.
            assert txt(srv.query("a.named.example.", "TXT")) == "over-tls"
            assert txt(srv.query("b.named.example.", "TXT", tcp=True)) == "over-tls"
            assert txt(srv.query("c.byip.example.", "TXT")) == "over-tls"
            # A certificate for another name is refused (SERVFAIL once the
            # failing handshakes have marked the upstream down, about 1s).
            assert srv.query("d.wrong.example.", "TXT", timeout=4).rcode() == dns.rcode.SERVFAIL
    finally:
        up.stop()


def test_reply_opt_reflects_the_client_not_the_upstream(tmp_path):
    """CoreDNS's scrub writer: the reply's OPT carries the client's UDP size and DO bit,
    whatever the upstream advertised (Unbound says 1232), on a cache miss and a hit."""
    ups = upstreams(tmp_path, 1)
    corefile = """.:@PORT@ {
  bind 127.0.0.1
  forward . %s
}
cached.example:@PORT@ {
  bind 127.0.0.1
  cache 30
  forward . %s
}
""" % (ups[0].addr, ups[0].addr)
    try:
        with Warpdns(tmp_path / "w", corefile) as srv:
            for k, (payload, dnssec, tcp) in enumerate(
                    [(4096, False, False), (600, True, False), (512, False, True),
                     (8192, True, True)]):
                for zone in ("example.", "cached.example.", "cached.example."):
                    r = srv.query("q%d.%s" % (k, zone), "TXT", use_edns=0, payload=payload,
                                  want_dnssec=dnssec, tcp=tcp)
                    what = (zone, payload, dnssec, tcp)
                    assert txt(r) == "u1", what
                    assert r.edns == 0 and r.payload == payload, (what, r.payload)
                    assert bool(r.ednsflags & dns.flags.DO) == dnssec, what
            # No OPT in the query: none added.
            r = srv.query("plain.example.", "TXT", use_edns=False)
            assert txt(r) == "u1" and r.edns == -1
    finally:
        ups[0].stop()


def test_failover_rcodes_any_case_and_the_last_reply_when_all_fail(tmp_path):
    refusing = [Unbound(tmp_path, text="r%d" % k, label="r%d" % k,
                        local_zones=["bad.example. always_refuse"]) for k in (1, 2)]
    good = Unbound(tmp_path, text="u2", label="good")
    corefile = """one.example:@PORT@ {
  bind 127.0.0.1
  forward . %s %s {
    policy sequential
    failover refused servfail
  }
}
all.example:@PORT@ {
  bind 127.0.0.1
  forward . %s %s {
    policy sequential
    failover REFUSED
    next nxdomain
  }
}
""" % (refusing[0].addr, good.addr, refusing[0].addr, refusing[1].addr)
    # Both refuse names under bad.example; rewrite-free: ask them directly for such names.
    corefile = corefile.replace("one.example", "bad.example", 1).replace(
        "all.example", "x.bad.example", 1)
    try:
        with Warpdns(tmp_path / "w", corefile) as srv:
            # The first refuses, the second answers.
            assert txt(srv.query("a.bad.example.", "TXT")) == "u2"
            # Every upstream refuses: the last reply, at once (not a spin to the deadline).
            t = time.monotonic()
            r = srv.query("a.x.bad.example.", "TXT", timeout=6)
            took = time.monotonic() - t
            print("all upstreams answered a failover rcode: %s in %.3fs"
                  % (dns.rcode.to_text(r.rcode()), took))
            assert r.rcode() == dns.rcode.REFUSED
            assert took < 1.0
        # NOERROR is no failover rcode; neither is a made-up one.
        for bad, message in (("failover NOERROR", "NoError cannot be used in failover"),
                             ("failover noerror", "NoError cannot be used in failover"),
                             ("next nxdomainx", "nxdomainx is not a valid rcode")):
            text = ".:@PORT@ {\n  forward . %s {\n    %s\n  }\n}\n" % (good.addr, bad)
            w = Warpdns(tmp_path / ("bad-" + bad.replace(" ", "-")), text, expect_fail=True)
            assert w.wait_exit(10) == 1
            assert any(message in line for line in w.output()), w.output()
    finally:
        for u in refusing + [good]:
            u.stop()


def test_tls_files_are_read_at_setup_whatever_the_upstreams(tmp_path):
    text = ".:@PORT@ {\n  forward . 127.0.0.1:5300 {\n    tls %s/no-cert.pem %s/no-key.pem\n  }\n}\n" % (
        tmp_path, tmp_path)
    w = Warpdns(tmp_path / "w", text, expect_fail=True)
    assert w.wait_exit(10) == 1
    assert any("plugin/forward" in line for line in w.output()), w.output()
