"""Reload against the real binary: SIGUSR1 and the reload plugin swap in a
new configuration without dropping queries; a broken Corefile keeps the old
one serving."""
import re
import signal
import subprocess
import threading
import urllib.request

import dns.rcode

from harness import Warpdns, free_port

ZONE = """$ORIGIN example.org.
$TTL 300
@ IN SOA ns.example.org. admin.example.org. %d 7200 3600 1209600 300
@ IN NS ns.example.org.
ns IN A 192.0.2.1
www IN A %s
"""

COREFILE = """
example.org:@PORT@ {
    bind 127.0.0.1
    prometheus 127.0.0.1:%d
    file @DIR@/db.example.org {
        reload 0
    }
}
"""


def www(s):
    r = s.query("www.example.org.", "A")
    assert r.rcode() == dns.rcode.NOERROR
    return r.answer[0][0].address


def rewrite_corefile(s, text):
    s.corefile.write_text(text.replace("@PORT@", str(s.port)).replace("@DIR@", str(s.dir)))


def test_sigusr1_reload_under_load_loses_nothing(tmp_path):
    mport = free_port()
    corefile = COREFILE % mport
    with Warpdns(tmp_path, corefile, files={"db.example.org": ZONE % (1, "192.0.2.10")}) as s:
        assert www(s) == "192.0.2.10"
        queries = tmp_path / "q.txt"
        queries.write_text("www.example.org A\nns.example.org A\n")
        result = {}

        def load():
            result["out"] = subprocess.run(
                ["dnsperf", "-s", "127.0.0.1", "-p", str(s.port), "-d", str(queries), "-l", "4",
                 "-Q", "5000", "-c", "2"], capture_output=True, text=True, timeout=60).stdout

        t = threading.Thread(target=load)
        t.start()
        for i in range(3):
            (s.dir / "db.example.org").write_text(ZONE % (2 + i, "192.0.2.%d" % (20 + i)))
            start = len(s.output())
            s.proc.send_signal(signal.SIGUSR1)
            s.wait_for_line(lambda l: "SIGUSR1: Reloading complete" in l, start=start)
            assert www(s) == "192.0.2.%d" % (20 + i)
        t.join()
        out = result["out"]
        lost = int(re.search(r"Queries lost:\s+(\d+)", out).group(1))
        completed = int(re.search(r"Queries completed:\s+(\d+)", out).group(1))
        assert completed > 1000 and lost == 0, out


def test_broken_corefile_keeps_the_running_configuration(tmp_path):
    mport = free_port()
    corefile = COREFILE % mport
    with Warpdns(tmp_path, corefile, files={"db.example.org": ZONE % (1, "192.0.2.10")}) as s:
        rewrite_corefile(s, corefile + "\nbroken.example {\n    nosuchplugin\n}\n")
        start = len(s.output())
        s.proc.send_signal(signal.SIGUSR1)
        line = s.wait_for_line(lambda l: "reload failed" in l, start=start)
        assert line.startswith("[ERROR] SIGUSR1: Corefile changed but reload failed: ")
        assert "%s:11 - Error during parsing: Unknown directive 'nosuchplugin'" % s.corefile in line
        assert www(s) == "192.0.2.10"
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=5) as r:
            text = r.read().decode()
        assert "coredns_reload_failed_total 1" in text
        # A setup error (a zone file that cannot be read) is rejected the same way.
        rewrite_corefile(s, corefile.replace("db.example.org {", "db.missing {"))
        start = len(s.output())
        s.proc.send_signal(signal.SIGUSR1)
        s.wait_for_line(lambda l: "reload failed" in l and "plugin/file" in l, start=start)
        assert www(s) == "192.0.2.10"


def test_reload_plugin_picks_up_a_new_block_on_a_new_port(tmp_path):
    mport = free_port()
    corefile = (COREFILE % mport).replace("bind 127.0.0.1", "bind 127.0.0.1\n    reload 2s 1s")
    with Warpdns(tmp_path, corefile, files={"db.example.org": ZONE % (1, "192.0.2.10")}) as s:
        port2 = free_port()
        rewrite_corefile(s, corefile + "\n.:%d {\n    bind 127.0.0.1\n    whoami\n}\n" % port2)
        start = len(s.output())
        # Checked every 2-3 s: bounded wait on the log line, no fixed sleep.
        s.wait_for_line(lambda l: l == "[INFO] Reloading complete", start=start, timeout=15)
        import dns.message
        import dns.query
        r = dns.query.udp(dns.message.make_query("x.test.", "A"), "127.0.0.1", port=port2, timeout=3)
        assert r.rcode() == dns.rcode.NOERROR and len(r.additional) == 2
        assert www(s) == "192.0.2.10"
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=5) as r:
            text = r.read().decode()
        assert re.search(r'coredns_reload_version_info\{hash="sha512",value="[0-9a-f]{128}"\} 1', text)


def test_reload_hashes_the_parsed_corefile_as_coredns(tmp_path):
    """CoreDNS hashes json.Marshal of Caddy's parsed server blocks: the start-up line names
    that SHA512 (between the listener and the version lines), a comment that moves no token
    is no change, a new directive is."""
    import hashlib
    import json
    import time

    text = ("# the test's server\nexample.org:@PORT@ {\n    bind 127.0.0.1\n"
            "    reload 2s 1s\n    whoami # answers everything\n}\n")
    with Warpdns(tmp_path, text) as s:
        path = str(s.corefile)

        def tokens(line, *words):
            return [{"File": path, "Line": line, "Text": w} for w in words]
        blocks = [{"Keys": ["example.org:%d" % s.port],
                   "Tokens": {"bind": tokens(3, "bind", "127.0.0.1"),
                              "reload": tokens(4, "reload", "2s", "1s"),
                              "whoami": tokens(5, "whoami")}}]
        want = hashlib.sha512(json.dumps(blocks, separators=(",", ":")).encode()).hexdigest()
        out = s.output()
        banner = next(i for i, l in enumerate(out) if l.startswith("warpdns-"))
        running = [i for i, l in enumerate(out)
                   if l == "[INFO] plugin/reload: Running configuration SHA512 = " + want]
        assert running and running[0] < banner, out
        assert out[running[0] - 1] == "example.org.:%d" % s.port, out

        # A comment and blank space: the same tokens, no reload. Nothing signals "checked
        # and unchanged", so this waits out one longest period (2 s + 1 s jitter).
        start = len(s.output())
        rewrite_corefile(s, text.replace("whoami #", "whoami   # still") + "# more\n\n")
        time.sleep(3.5)
        assert not any("Reloading" in l for l in s.output()[start:]), s.output()[start:]
        # A real change is one.
        rewrite_corefile(s, text.replace("    whoami", "    log\n    whoami"))
        s.wait_for_line(lambda l: l == "[INFO] Reloading complete", start=start, timeout=15)
        line = s.wait_for_line(lambda l: "Running configuration SHA512" in l, start=start)
        assert want not in line
