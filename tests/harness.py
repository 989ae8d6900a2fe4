"""Starts the real warpdns binary for integration tests and talks to it.

Readiness is the listening banner (".:PORT" lines then "warpdns-VERSION"),
printed only after every listener is bound: tests never sleep to wait.
"""
import os
import pathlib
import signal
import socket
import subprocess
import threading
import time

import dns.message
import dns.query

REPO = pathlib.Path(__file__).resolve().parent.parent
BIN = os.environ.get("WARPDNS_BIN", str(REPO / "build" / "control" / "warpdns"))


# Every process started here, so that a test that fails half-way still
# leaves nothing running (see conftest.py).
STARTED = []


_GIVEN_PORTS = set()


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1 right now, and never handed out
    before in this run (the socket is closed before the caller binds it, so two calls
    could otherwise return the same port)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            if port in _GIVEN_PORTS:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _GIVEN_PORTS.add(port)
            return port
    raise RuntimeError("no free port")


class Warpdns:
    """One warpdns process. `corefile` may contain @PORT@ (the DNS port) and
    @DIR@ (the temp directory holding `files`).

    `prefix` is argv words run before the binary, e.g. ["ip", "netns",
    "exec", NS]: it must exec the binary in place (as `ip netns exec`
    does), so that self.proc.pid is warpdns's own PID and stop()/kill()
    signal only it."""

    def __init__(self, tmp_path, corefile, files=None, args=(), env=None, expect_fail=False,
                 prefix=()):
        self.dir = pathlib.Path(tmp_path)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        for name, text in (files or {}).items():
            (self.dir / name).write_text(text)
        self.corefile = self.dir / "Corefile"
        self.corefile.write_text(corefile.replace("@PORT@", str(self.port)).replace("@DIR@", str(self.dir)))
        self.lines = []
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(
            [*prefix, BIN, "-conf", str(self.corefile), *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, **(env or {})}, cwd=str(self.dir))
        STARTED.append(self)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not expect_fail:
            self.wait_for_line(lambda l: l.startswith("warpdns-"), timeout=20)

    def _read(self):
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for_line(self, pred, timeout=10, start=0):
        """Waits until an output line (index >= start) satisfies pred; returns it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines[start:]:
                    if pred(line):
                        return line
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise RuntimeError("warpdns exited %s:\n%s" % (self.proc.returncode, "\n".join(self.lines)))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no matching line; output:\n" + "\n".join(self.lines))
                self._cond.wait(left)

    def wait_exit(self, timeout=10):
        rc = self.proc.wait(timeout)
        self._reader.join(timeout)
        return rc

    def output(self):
        with self._cond:
            return list(self.lines)

    def query(self, qname, rdtype="A", tcp=False, want_dnssec=False, use_edns=None, payload=1232,
              rdclass="IN", timeout=3, port=None, **kw):
        q = dns.message.make_query(qname, rdtype, rdclass, want_dnssec=want_dnssec,
                                   use_edns=use_edns, payload=payload, **kw)
        return self.send(q, tcp=tcp, timeout=timeout, port=port)

    def send(self, q, tcp=False, timeout=3, port=None):
        """To the @PORT@ listener, or to `port` (another block's)."""
        port = port or self.port
        if tcp:
            return dns.query.tcp(q, "127.0.0.1", port=port, timeout=timeout)
        return dns.query.udp(q, "127.0.0.1", port=port, timeout=timeout, ignore_trailing=True)

    @property
    def pid(self):
        return self.proc.pid

    def kill(self):
        """SIGKILL to this PID only."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5)
        return self.proc.returncode

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
