"""The kubernetes plugin in the real binary against the stand-in API server:
the conformance table, the seed Corefile, churn, an API outage, 410 Gone,
serving before the first sync, TLS and bearer tokens, selectors, pods."""
import base64
import json
import os
import pathlib
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import dns.flags
import dns.rcode
import dns.rdatatype
import pytest

import differential
from harness import Warpdns, free_port
from peers import Unbound

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from fake_apiserver import FakeApiServer  # noqa: E402

CLUSTER = json.loads((HERE / "cluster.json").read_text())
TABLE = json.loads((HERE / "conformance.json").read_text())
SERVICES = "/api/v1/services"


def local_ipv4():
    """A non-loopback IPv4 address of this host (what the plugin sees as its own)."""
    out = subprocess.run(["ip", "-o", "-4", "addr", "show", "scope", "global"],
                         capture_output=True, text=True).stdout
    m = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", out)
    return m.group(1) if m else None


def cluster_for_this_host():
    """cluster.json with the kube-dns endpoint moved to this host's address, so
    that the apex NS and ns.dns name kube-dns as they do for the table."""
    ip = local_ipv4()
    text = json.dumps(CLUSTER)
    return json.loads(text.replace('"%s"' % TABLE["local_ip"], '"%s"' % ip)) if ip else CLUSTER


def corefile(api, options="", extra="", plugins=""):
    return (".:@PORT@ {\n%s    kubernetes cluster.local in-addr.arpa ip6.arpa {\n"
            "        endpoint %s\n%s    }\n}\n%s" % (plugins, api.url, options, extra))


@pytest.fixture
def api():
    server = FakeApiServer(bookmark_interval=0.5)
    server.load(cluster_for_this_host())
    server.start()
    yield server
    server.stop()


def rr_texts(section):
    return sorted("%s %d IN %s %s" % (rrset.name.to_text(), rrset.ttl, dns.rdatatype.to_text(rrset.rdtype),
                                       rd.to_text())
                  for rrset in section for rd in rrset)


def matches(want, got):
    w, g = want.split(), got.split()
    return len(w) == len(g) and all(a == "*" or a == b for a, b in zip(w, g))


def diff(want, got):
    got = list(got)
    out = []
    for w in want:
        hit = next((g for g in got if matches(w, g)), None)
        if hit is None:
            out.append("missing " + w)
        else:
            got.remove(hit)
    return out + ["unexpected " + g for g in got]


def poll(fn, timeout=15, interval=0.02):
    """Calls fn until it returns a true value; returns it (bounded wait)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in %ss" % timeout)
        time.sleep(interval)


def http_status(url):
    """The status of a GET, error statuses (503 until ready) included."""
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


def rcode(w, name, rdtype="A"):
    return dns.rcode.to_text(w.query(name, rdtype).rcode())


def answers(w, name, rdtype="A"):
    return sorted(rd.to_text() for rrset in w.query(name, rdtype).answer for rd in rrset)


def service(namespace, name, ip, port_name="http", port=80, labels=None):
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {"app": name}},
            "spec": {"type": "ClusterIP", "clusterIP": ip, "clusterIPs": [ip],
                     "ports": [{"name": port_name, "port": port, "protocol": "TCP"}]}}


def test_conformance_table(api, tmp_path):
    """Every case of conformance.json (the spec's examples as CoreDNS answers
    them), exactly as the GoogleTest checks the lookup itself, through both
    paths: a block whose log format has {local} keeps its queries on the
    chain; the plain block answers them from the fast path's table once the
    first sight is memoized (or prebuilt), and the answers are the same."""
    extra = "example.net:@PORT@ {\n    hosts {\n        %s ext.example.net\n    }\n}\n" % \
        TABLE["upstream"]["ext.example.net."]
    slow, metrics = free_port(), free_port()
    extra += extra.replace("@PORT@", str(slow))  # ExternalName targets resolve on both listeners
    extra += (".:%d {\n    prometheus 127.0.0.1:%d\n    log . \"{local} {name}\"\n"
              "    kubernetes cluster.local in-addr.arpa ip6.arpa {\n        endpoint %s\n"
              "        pods insecure\n    }\n}\n" % (slow, metrics, api.url))
    local = local_ipv4()
    with Warpdns(tmp_path, corefile(api, "        pods insecure\n", extra)) as w:
        cases = [c for c in TABLE["cases"]
                 # no address of this host to put in the kube-dns endpoints
                 if not (c.get("needs_local_ip") and not local)]
        rounds = {"slow path": [w.query(c["name"], c["type"], port=slow) for c in cases],
                  "first sight": [w.query(c["name"], c["type"]) for c in cases]}
        differential.wait_publisher(lambda: differential.scrape(metrics))
        fast_label = {"kind": "answered", "worker": "socket dns://:%d" % w.port}
        before = differential.metric(differential.scrape(metrics), "warpdns_fastpath_packets_total",
                                     **fast_label)
        rounds["fast path"] = [w.query(c["name"], c["type"]) for c in cases]
        fast = differential.metric(differential.scrape(metrics), "warpdns_fastpath_packets_total",
                                   **fast_label) - before
        failures = []
        for path, replies in rounds.items():
            for case, r in zip(cases, replies):
                label = "%s: %s %s" % (path, case["name"], case["type"])
                if dns.rcode.to_text(r.rcode()) != case["rcode"]:
                    failures.append("%s: rcode %s" % (label, dns.rcode.to_text(r.rcode())))
                if not r.flags & dns.flags.AA:
                    failures.append("%s: not authoritative" % label)
                for section in ("answer", "authority", "additional"):
                    for d in diff(case.get(section, []), rr_texts(getattr(r, section))):
                        failures.append("%s %s: %s" % (label, section, d))
        print("conformance: %d cases, %d answered by the fast path in the last round"
              % (len(cases), fast))
        assert failures == []
        assert len(cases) >= 70
        # All but the answers that name another chain's data (ExternalName
        # targets resolved through the server) come from the table.
        assert fast >= len(cases) * 0.8


@pytest.mark.skipif(os.geteuid() != 0, reason="an upstream on port 53 needs root")
def test_seed_corefile(api, tmp_path):
    """The 2017 deployment's Corefile as written: `log stdout`, `health`, `kubernetes
    cluster.local { cidrs 10.3.0.0/24 }`, `proxy . /etc/resolv.conf`, `cache 30`. The
    resolv.conf is the test's own (its nameserver an Unbound on 127.53.x.y:53, resolv.conf
    having no port), and the API endpoint is the stand-in's: `host kubernetes` and
    `host 10.3.0.10` from a pod, and a name outside the cluster through proxy."""
    ip = "127.53.%d.%d" % (random.randint(0, 255), random.randint(1, 254))
    upstream = Unbound(tmp_path, text="outside", label="seed-upstream", ip=ip, port=53)
    health = free_port()
    text = (".:@PORT@ {\n    errors\n    log stdout\n    health 127.0.0.1:%d\n"
            "    kubernetes cluster.local {\n        cidrs 10.3.0.0/24\n        endpoint %s\n    }\n"
            "    proxy . @DIR@/resolv.conf\n    cache 30\n}\n" % (health, api.url))
    files = {"resolv.conf": "# the test's own\nsearch default.svc.cluster.local\nnameserver %s\n" % ip}
    try:
        with Warpdns(tmp_path, text, files=files) as w:
            assert answers(w, "kubernetes.default.svc.cluster.local") == ["10.3.0.1"]
            r = w.query("10.0.3.10.in-addr.arpa", "PTR")
            assert rr_texts(r.answer) == ["10.0.3.10.in-addr.arpa. 5 IN PTR kube-dns.kube-system.svc.cluster.local."]
            assert rcode(w, "nothere.default.svc.cluster.local") == "NXDOMAIN"
            # Outside the cluster domain and the service CIDR: proxy's upstream.
            r = w.query("www.example.", "TXT")
            assert [b"".join(rd.strings).decode() for rrset in r.answer for rd in rrset] == ["outside"]
            with urllib.request.urlopen("http://127.0.0.1:%d/health" % health, timeout=3) as resp:
                assert resp.status == 200 and resp.read() == b"OK"
            # `log stdout` logs every query (2017: stdout was the output file).
            w.wait_for_line(lambda l: l.startswith("[INFO] 127.0.0.1:") and
                            '"TXT IN www.example. udp ' in l)
            w.wait_for_line(lambda l: '"A IN kubernetes.default.svc.cluster.local. udp ' in l)
    finally:
        upstream.stop()


KUBEADM_COREFILE = """\
.:@PORT@ {
    errors
    health 127.0.0.1:%(health)d {
       lameduck 5s
    }
    ready 127.0.0.1:%(ready)d
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       endpoint %(api)s
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus 127.0.0.1:%(metrics)d
    forward . @DIR@/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="an upstream on port 53 needs root")
def test_kubeadm_corefile(api, tmp_path):
    """kubeadm's default Corefile, its listen addresses and the API endpoint aside, and a
    resolv.conf of the test's own: cluster names, reverse lookups inside and outside the
    service CIDR (fallthrough to forward), names outside the cluster, health, ready, and
    cluster answers from the fast path with every query counted."""
    ip = "127.53.%d.%d" % (random.randint(0, 255), random.randint(1, 254))
    upstream = Unbound(tmp_path, text="outside", label="kubeadm-upstream", ip=ip, port=53,
                       local_zones=["2.0.192.in-addr.arpa. static"],
                       local_data=["1.2.0.192.in-addr.arpa. 60 IN PTR outside.example."])
    ports = {"health": free_port(), "ready": free_port(), "metrics": free_port(), "api": api.url}
    files = {"resolv.conf": "nameserver %s\n" % ip}
    try:
        with Warpdns(tmp_path, KUBEADM_COREFILE % ports, files=files) as w:
            poll(lambda: http_status("http://127.0.0.1:%d/ready" % ports["ready"]) == 200)
            with urllib.request.urlopen("http://127.0.0.1:%d/health" % ports["health"],
                                        timeout=3) as resp:
                assert resp.read() == b"OK"
            r = w.query("kubernetes.default.svc.cluster.local", "A")
            assert rr_texts(r.answer) == ["kubernetes.default.svc.cluster.local. 30 IN A 10.3.0.1"]
            r = w.query("10.0.3.10.in-addr.arpa", "PTR")
            assert rr_texts(r.answer) == [
                "10.0.3.10.in-addr.arpa. 30 IN PTR kube-dns.kube-system.svc.cluster.local."]
            # A reverse name the cluster does not have falls through to forward.
            r = w.query("1.2.0.192.in-addr.arpa", "PTR")
            assert rr_texts(r.answer) == ["1.2.0.192.in-addr.arpa. 30 IN PTR outside.example."]  # cache 30
            r = w.query("www.example.", "TXT")
            assert [b"".join(rd.strings).decode() for rrset in r.answer for rd in rrset] == ["outside"]
            # Cluster answers come from the fast path once memoized (a cache hit is
            # memoized on its way out), counted all the same.
            differential.wait_publisher(lambda: differential.scrape(ports["metrics"]))
            text = differential.scrape(ports["metrics"])
            fast = differential.metric(text, "warpdns_fastpath_packets_total", kind="answered")
            requests = differential.metric(text, "coredns_dns_requests_total")
            sent = 0
            deadline = time.monotonic() + 10
            while True:
                for _ in range(10):
                    assert w.query("kubernetes.default.svc.cluster.local", "A").answer
                sent += 10
                text = differential.scrape(ports["metrics"])
                now = differential.metric(text, "warpdns_fastpath_packets_total", kind="answered")
                if now >= fast + 5:
                    break
                assert time.monotonic() < deadline, "no answer from the fast path"
            assert differential.metric(text, "coredns_dns_requests_total") == requests + sent
    finally:
        upstream.stop()


def test_churn_never_answers_a_deleted_service(api, tmp_path):
    """Services come and go while clients query them: no name flips back
    after the server has answered its newer state, and every add and delete
    reaches the answers quickly (event to answer, polled)."""
    metrics = free_port()
    extra = "metrics.invalid:@PORT@ {\n    prometheus 127.0.0.1:%d\n    whoami\n}\n" % metrics
    with Warpdns(tmp_path, corefile(api, extra=extra)) as w:
        def fast_answers():
            return differential.metric(differential.scrape(metrics),
                                       "warpdns_fastpath_packets_total", kind="answered")

        def until_fast(qname, want):
            """Queries until the fast path gives `want` (a query between two
            scrapes of its answer count); returns when that answer came."""
            deadline = time.monotonic() + 15
            while True:
                before = fast_answers()
                got = rcode(w, qname)
                at = time.monotonic()
                if fast_answers() > before:
                    assert got == want, "the fast path answered %s for %s" % (got, qname)
                    return at
                assert at < deadline, "%s never reached the fast path" % qname

        # Latency: one change at a time, polled until answered (by either
        # path, then by the fast path's table).
        latencies, to_fast = [], []
        for i in range(60):
            name = "lat%d" % i
            qname = name + ".testns.svc.cluster.local"
            api.apply(service("testns", name, "10.4.0.%d" % (i + 1)))
            t0 = api.store.changed_at[("services", "testns", name)]
            poll(lambda: rcode(w, qname) == "NOERROR", interval=0)
            latencies.append(time.monotonic() - t0)
            to_fast.append(until_fast(qname, "NOERROR") - t0)
            api.delete("services", "testns", name)
            t0 = api.store.changed_at[("services", "testns", name)]
            poll(lambda: rcode(w, qname) == "NXDOMAIN", interval=0)
            latencies.append(time.monotonic() - t0)
            to_fast.append(until_fast(qname, "NXDOMAIN") - t0)
        latencies.sort()
        to_fast.sort()
        p50, p99 = statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]
        f50, f99 = statistics.median(to_fast), to_fast[int(len(to_fast) * 0.99) - 1]
        print("watch event to answer: p50 %.2f ms, p99 %.2f ms, max %.2f ms; to a fast-path "
              "answer (a scrape's time included): p50 %.2f ms, p99 %.2f ms" %
              (p50 * 1e3, p99 * 1e3, latencies[-1] * 1e3, f50 * 1e3, f99 * 1e3))
        # The target is a p99 of 10 ms (met here, see docs/benchmarks.md). CI shares two cores
        # with the stand-in API server (Python) and everything else, so the test holds the
        # median to the target and the p99 to what only a relist or a reconnect would exceed.
        assert p50 < 0.01 and f50 < 0.01
        assert p99 < 0.2 and f99 < 0.2

        # Churn: 1000 services added and removed while three clients query them.
        count = 1000
        names = ["churn%d" % i for i in range(count)]
        ip = {n: "10.5.%d.%d" % (i // 250, i % 250 + 1) for i, n in enumerate(names)}
        deleted_at = {}
        results = []  # (name, sent, received, address or rcode)
        stop = threading.Event()

        errors = []

        def client(seed):
            rnd = random.Random(seed)
            local = []
            try:
                while not stop.is_set():
                    n = rnd.choice(names)
                    sent = time.monotonic()
                    r = w.query(n + ".testns.svc.cluster.local", "A")
                    got = r.answer[0][0].address if r.answer else dns.rcode.to_text(r.rcode())
                    local.append((n, sent, time.monotonic(), got))
            except Exception as e:  # reported below, not lost with the thread
                errors.append(repr(e))
            results.extend(local)

        clients = [threading.Thread(target=client, args=(s,)) for s in range(3)]
        for c in clients:
            c.start()
        # dnsperf loads the server with the same names meanwhile (its answers are only
        # counted: the clients above check each one).
        qfile = tmp_path / "churn-queries.txt"
        qfile.write_text("".join("%s.testns.svc.cluster.local A\n" % n for n in names))
        perf = subprocess.Popen(["dnsperf", "-s", "127.0.0.1", "-p", str(w.port), "-d", str(qfile),
                                 "-l", "60", "-Q", "5000"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        alive = []
        for n in names:
            api.apply(service("testns", n, ip[n]))
            alive.append(n)
            if len(alive) > 100:  # about 100 live at a time, the oldest going first
                gone = alive.pop(0)
                deleted_at[gone] = time.monotonic()
                api.delete("services", "testns", gone)
            time.sleep(0.001)  # pace the churn over a few seconds of queries
        for n in alive:
            deleted_at[n] = time.monotonic()
            api.delete("services", "testns", n)
        poll(lambda: rcode(w, names[-1] + ".testns.svc.cluster.local") == "NXDOMAIN")
        stop.set()
        for c in clients:
            c.join()
        perf.send_signal(signal.SIGINT)  # dnsperf prints its statistics on SIGINT
        perf_out, _ = perf.communicate(timeout=30)

        by_name = {}
        for n, sent, received, got in results:
            by_name.setdefault(n, []).append((sent, received, got))
        violations = []
        for n, rows in by_name.items():
            for sent, received, got in rows:
                if got not in (ip[n], "NXDOMAIN"):
                    violations.append("%s answered %s" % (n, got))
            # Once an NXDOMAIN sent after the delete came back, the delete was
            # processed: no later query may see the service again.
            gone = [received for sent, received, got in rows if got == "NXDOMAIN" and sent > deleted_at[n]]
            if gone and any(sent > min(gone) and got == ip[n] for sent, received, got in rows):
                violations.append("%s answered after its delete" % n)
            # Likewise an answered add never reverts before its delete.
            seen = [received for sent, received, got in rows if got == ip[n]]
            if seen and any(min(seen) < sent and received < deleted_at[n] and got == "NXDOMAIN"
                            for sent, received, got in rows):
                violations.append("%s disappeared before its delete" % n)
        sent = int(re.search(r"Queries sent:\s+(\d+)", perf_out).group(1))
        lost = int(re.search(r"Queries lost:\s+(\d+)", perf_out).group(1))
        codes = re.search(r"Response codes:\s+(.*)", perf_out)
        rcodes = dict(re.findall(r"(\w+) (\d+) \(", codes.group(1))) if codes else {}
        print("churn: %d services, %d queries checked, dnsperf sent %d lost %d rcodes %s"
              % (count, len(results), sent, lost, rcodes))
        assert sent > 1000 and lost <= sent // 1000, perf_out
        assert set(rcodes) <= {"NOERROR", "NXDOMAIN"}, perf_out
        assert errors == []
        assert len(results) > 1000
        assert violations == []


def test_api_outage_keeps_answers_and_resumes_the_watch(api, tmp_path):
    with Warpdns(tmp_path, corefile(api)) as w:
        assert answers(w, "svc1.testns.svc.cluster.local") == ["10.3.0.100"]
        watches_before = len(api.watch_requests(SERVICES))
        lists_before = len(api.list_requests(SERVICES))
        api.stop()
        # Changes while the plugin cannot see them.
        api.apply(service("testns", "added-meanwhile", "10.3.0.77"))
        api.delete("services", "other", "svc1")
        # Thirty seconds without an API server: answers continue from the last data.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert answers(w, "svc1.testns.svc.cluster.local") == ["10.3.0.100"]
            assert answers(w, "svc1.other.svc.cluster.local") == ["10.3.0.200"]
            time.sleep(0.05)
        api.start()
        poll(lambda: answers(w, "added-meanwhile.testns.svc.cluster.local") == ["10.3.0.77"])
        poll(lambda: rcode(w, "svc1.other.svc.cluster.local") == "NXDOMAIN")
        # The watch resumed from its resourceVersion: no relist was needed.
        assert len(api.watch_requests(SERVICES)) > watches_before
        assert len(api.list_requests(SERVICES)) == lists_before
        assert any(l.startswith("[ERROR] plugin/kubernetes: Failed to watch *v1.Service: ")
                   for l in w.output())


def test_dropped_watch_resumes_and_410_relists(api, tmp_path):
    with Warpdns(tmp_path, corefile(api)) as w:
        lists_before = len(api.list_requests(SERVICES))
        api.drop_watches()
        api.apply(service("testns", "after-drop", "10.3.0.78"))
        poll(lambda: answers(w, "after-drop.testns.svc.cluster.local") == ["10.3.0.78"])
        assert len(api.list_requests(SERVICES)) == lists_before
        # History gone: the next watch from the old resourceVersion is 410.
        api.stop()
        api.apply(service("testns", "after-compact", "10.3.0.79"))
        api.delete("services", "testns", "after-drop")
        api.compact()
        api.start()
        poll(lambda: answers(w, "after-compact.testns.svc.cluster.local") == ["10.3.0.79"])
        poll(lambda: rcode(w, "after-drop.testns.svc.cluster.local") == "NXDOMAIN")
        assert len(api.list_requests(SERVICES)) > lists_before
        w.wait_for_line(lambda l: l.startswith(
            "[INFO] plugin/kubernetes: watch of *v1.Service ended with: too old resource version"))


def test_servfail_until_the_first_sync(tmp_path):
    api = FakeApiServer(port=free_port())  # not started yet: nothing answers
    api.load(CLUSTER)
    try:
        with Warpdns(tmp_path, corefile(api, "        startup_timeout 1s\n")) as w:
            w.wait_for_line(lambda l: l == "[WARNING] plugin/kubernetes: starting server with "
                                           "unsynced Kubernetes API")
            r = w.query("svc1.testns.svc.cluster.local", "A")
            assert r.rcode() == dns.rcode.SERVFAIL
            assert [x.rdtype for x in r.authority] == [dns.rdatatype.SOA]
            api.start()
            poll(lambda: answers(w, "svc1.testns.svc.cluster.local") == ["10.3.0.100"])
            # Services may be listed before Namespaces and EndpointSlices: names
            # that do not exist turn NXDOMAIN once every resource has synced.
            poll(lambda: rcode(w, "svc0.testns.svc.cluster.local") == "NXDOMAIN")
    finally:
        api.stop()


def make_pki(d):
    """A CA, a server certificate for 127.0.0.1 and a client certificate."""
    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
        "-subj", "/CN=test-ca", "-keyout", "ca.key", "-out", "ca.crt")
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth")):
        run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj",
            "/CN=" + name, "-keyout", name + ".key", "-out", name + ".csr")
        (d / (name + ".ext")).write_text(ext + "\n")
        run("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", name + ".ext", "-out", name + ".crt")


def test_https_with_client_certificate_and_with_kubeconfig_token(tmp_path):
    pki = tmp_path / "pki"
    pki.mkdir()
    make_pki(pki)
    api = FakeApiServer(certfile=pki / "server.crt", keyfile=pki / "server.key", client_ca=pki / "ca.crt")
    api.load(CLUSTER)
    with api:
        text = (".:@PORT@ {\n    kubernetes cluster.local {\n        endpoint %s\n"
                "        tls %s %s %s\n    }\n}\n" % (api.url, pki / "client.crt", pki / "client.key",
                                                     pki / "ca.crt"))
        with Warpdns(tmp_path / "cert", text) as w:
            assert answers(w, "svc1.testns.svc.cluster.local") == ["10.3.0.100"]

    api = FakeApiServer(certfile=pki / "server.crt", keyfile=pki / "server.key", token="s3cr3t")
    api.load(CLUSTER)
    with api:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n"
            "    certificate-authority-data: %s\n    server: %s\n  name: test\n"
            "contexts:\n- context:\n    cluster: test\n    user: robot\n  name: robot@test\n"
            "current-context: robot@test\nusers:\n- name: robot\n  user:\n    token: s3cr3t\n"
            % (base64.b64encode((pki / "ca.crt").read_bytes()).decode(), api.url))
        text = ".:@PORT@ {\n    kubernetes cluster.local {\n        kubeconfig %s\n    }\n}\n" % kubeconfig
        with Warpdns(tmp_path / "token", text) as w:
            assert answers(w, "svc1.testns.svc.cluster.local") == ["10.3.0.100"]
        # A wrong token is refused by the server, and said so.
        kubeconfig.write_text(kubeconfig.read_text().replace("s3cr3t", "wrong"))
        text = text.replace("    }\n}", "        startup_timeout 0s\n    }\n}")
        with Warpdns(tmp_path / "bad", text) as w:
            w.wait_for_line(lambda l: l.startswith("[ERROR] plugin/kubernetes: Failed to list") and
                            "Unauthorized" in l)


def test_label_selectors_filter_on_the_server(api, tmp_path):
    api.apply(service("testns", "labelled", "10.3.0.90", labels={"tier": "web"}))
    options = "        labels tier in (web, db)\n        namespace_labels env=test\n"
    with Warpdns(tmp_path, corefile(api, options)) as w:
        assert answers(w, "labelled.testns.svc.cluster.local") == ["10.3.0.90"]
        assert rcode(w, "svc1.testns.svc.cluster.local") == "NXDOMAIN"  # no tier label
        assert rcode(w, "other.svc.cluster.local") == "NXDOMAIN"  # namespace not selected
        # An object leaving the selection is gone; one entering it appears.
        api.apply(service("testns", "labelled", "10.3.0.90", labels={"tier": "cache"}))
        poll(lambda: rcode(w, "labelled.testns.svc.cluster.local") == "NXDOMAIN")
        api.apply(service("testns", "svc1", "10.3.0.100", labels={"tier": "db"}))
        poll(lambda: answers(w, "svc1.testns.svc.cluster.local") == ["10.3.0.100"])
        q = api.list_requests(SERVICES)[0]
        assert q["labelSelector"] == "tier in (db,web)"


def test_ptr_names_cluster_ips_only(api, tmp_path):
    """A reverse lookup finds a service by its cluster IPs; external and load balancer
    IPs are k8s_external's (CoreDNS indexes them apart), so they are NXDOMAIN here."""
    svc = service("testns", "lb", "10.3.0.77")
    svc["spec"].update(type="LoadBalancer", externalIPs=["192.0.2.10"])
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": "198.51.100.7"}]}}
    api.apply(svc)
    with Warpdns(tmp_path, corefile(api)) as w:
        r = poll(lambda: (lambda r: r.answer and r)(w.query("77.0.3.10.in-addr.arpa", "PTR")))
        assert rr_texts(r.answer) == ["77.0.3.10.in-addr.arpa. 5 IN PTR lb.testns.svc.cluster.local."]
        for name in ("10.2.0.192.in-addr.arpa", "7.100.51.198.in-addr.arpa"):
            assert rcode(w, name, "PTR") == "NXDOMAIN", name


def test_pods_verified_follow_the_pods_and_metrics(api, tmp_path):
    metrics = free_port()
    with Warpdns(tmp_path, corefile(api, "        pods verified\n",
                                    plugins="    prometheus 127.0.0.1:%d\n" % metrics)) as w:
        assert answers(w, "10-2-0-30.testns.pod.cluster.local") == ["10.2.0.30"]
        assert rcode(w, "1-2-3-4.testns.pod.cluster.local") == "NXDOMAIN"
        pod = json.loads(json.dumps(CLUSTER["pods"][1]))
        pod["metadata"]["name"] = "new-pod"
        pod["status"]["podIP"] = "1.2.3.4"
        api.apply(pod)
        poll(lambda: answers(w, "1-2-3-4.testns.pod.cluster.local") == ["1.2.3.4"])
        api.delete("pods", "testns", "new-pod")
        poll(lambda: rcode(w, "1-2-3-4.testns.pod.cluster.local") == "NXDOMAIN")
        # A pod that ran to completion (or failed) has no record: CoreDNS watches pods with
        # a field selector leaving those phases out, so entering one is a deletion.
        pod["metadata"]["name"] = "job-pod"
        api.apply(pod)
        poll(lambda: answers(w, "1-2-3-4.testns.pod.cluster.local") == ["1.2.3.4"])
        pod["status"]["phase"] = "Succeeded"
        api.apply(pod)
        poll(lambda: rcode(w, "1-2-3-4.testns.pod.cluster.local") == "NXDOMAIN")
        assert all(q.get("fieldSelector") ==
                   "status.phase!=Succeeded,status.phase!=Failed,status.phase!=Unknown"
                   for p, q in api.requests if p == "/api/v1/pods")

        # A headless service's endpoints change: the programming latency is observed.
        hdls = json.loads(json.dumps(CLUSTER["endpointslices"][3]))
        hdls["metadata"]["annotations"] = {"endpoints.kubernetes.io/last-change-trigger-time":
                                           time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        hdls["endpoints"][4]["conditions"]["ready"] = True
        api.apply(hdls)
        poll(lambda: "10.2.0.9" in answers(w, "hdls1.testns.svc.cluster.local"))

        def scrape():
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics, timeout=3) as resp:
                return resp.read().decode()
        host = api.url.split("://")[1]
        text = scrape()
        requests = re.search(r'coredns_kubernetes_rest_client_requests_total\{code="200",host="%s",'
                             r'method="GET"\} (\d+)' % re.escape(host), text)
        assert requests and int(requests.group(1)) >= 8  # a list and a watch per resource
        assert 'coredns_kubernetes_rest_client_request_duration_seconds_count{host="%s",verb="GET"}' % host in text
        assert re.search(r'coredns_kubernetes_dns_programming_duration_seconds_count'
                         r'\{service_kind="headless_with_selector"\} [1-9]', text)
