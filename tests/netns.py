"""Two network namespaces joined by a veth pair, for fast-path tests.

    with VethPair() as net:
        # the server end (net.server_if) has no kernel address: a DPDK vdev
        # (net_af_xdp0,iface=..., net_af_packet0,iface=...) in net.server_ns
        # answers for net.server_ip / net.server_ip6
        net.client(["kdig", "@" + net.server_ip, "www.example.org"])

The client end (net.client_if, in net.client_ns) holds 10.99.0.2/24 and
fd00:99::2/64. Names carry this process's PID and a counter, so parallel
test processes and several pairs in one process never collide. Everything
made here is removed by name on exit (`ip netns del` of the two namespaces
it created), and every client process started through client_popen() is
stopped by its own PID: nothing is ever killed by name. Test traffic stays
inside the two namespaces.
"""
import ctypes
import itertools
import json
import os
import socket
import subprocess
import threading

_counter = itertools.count()
_available = None
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def socket_in(ns, family=socket.AF_INET, type=socket.SOCK_DGRAM):
    """A socket created in network namespace `ns` (a socket keeps the
    namespace it was made in; use it from any thread). Made on a throwaway
    thread that setns()es itself, so this process's own namespace is
    untouched."""
    out = {}

    def make():
        try:
            fd = os.open("/run/netns/" + ns, os.O_RDONLY)
            try:
                if _libc.setns(fd, _CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, "setns(%s): %s" % (ns, os.strerror(err)))
            finally:
                os.close(fd)
            out["sock"] = socket.socket(family, type)
        except BaseException as e:  # handed to the caller
            out["error"] = e

    t = threading.Thread(target=make)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["sock"]


def _run(argv, check=True, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("text", True)
    r = subprocess.run(argv, **kw)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(argv), r.returncode,
                                                   (r.stderr or r.stdout or "").strip()))
    return r


def available():
    """(True, "") when this process can make namespaces and a veth pair
    (root, `ip netns` works, veth creatable), else (False, why). Checked
    once, by making and removing a real pair."""
    global _available
    if _available is not None:
        return _available
    if os.geteuid() != 0:
        _available = (False, "needs root to create network namespaces")
        return _available
    try:
        with VethPair():
            pass
        _available = (True, "")
    except FileNotFoundError as e:
        _available = (False, "missing tool: %s" % e)
    except (RuntimeError, OSError) as e:
        _available = (False, "cannot create namespaces/veth: %s" % e)
    return _available


class VethPair:
    server_ip = "10.99.0.1"
    client_ip = "10.99.0.2"
    server_ip6 = "fd00:99::1"
    client_ip6 = "fd00:99::2"
    prefix_len = 24
    prefix_len6 = 64

    def __init__(self):
        n = next(_counter)
        pid = os.getpid()
        tag = "%d-%d" % (pid, n)
        self.tag = tag
        self.server_ns = "wsrv-" + tag
        self.client_ns = "wcli-" + tag
        # Interface names: at most 15 characters ("wvs" + pid + "-" + n).
        self.server_if = ("wvs" + tag)[:15]
        self.client_if = ("wvc" + tag)[:15]
        self._made_ns = []
        self._procs = []

    # --- setup / teardown -------------------------------------------------

    def __enter__(self):
        try:
            self._setup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def _setup(self):
        for ns in (self.server_ns, self.client_ns):
            _run(["ip", "netns", "add", ns])
            self._made_ns.append(ns)
        _run(["ip", "link", "add", self.server_if, "netns", self.server_ns, "type", "veth",
              "peer", "name", self.client_if, "netns", self.client_ns])
        c, s = self.client_ns, self.server_ns
        _run(["ip", "-n", c, "addr", "add", "%s/%d" % (self.client_ip, self.prefix_len),
              "dev", self.client_if])
        _run(["ip", "-n", c, "-6", "addr", "add", "%s/%d" % (self.client_ip6, self.prefix_len6),
              "dev", self.client_if, "nodad"])
        for ns in (s, c):
            _run(["ip", "-n", ns, "link", "set", "lo", "up"])
        # The server end has no kernel address: the fast path owns it (with
        # net_af_packet, warpdns itself keeps the kernel off the interface).
        _run(["ip", "-n", s, "link", "set", self.server_if, "up"])
        _run(["ip", "-n", c, "link", "set", self.client_if, "up"])
        # veth hands over partial UDP checksums unless TX offload is off on
        # the sender.
        _run(["ip", "netns", "exec", c, "ethtool", "-K", self.client_if, "tx", "off"])
        # One queue each (kxdpgun starts one thread per queue; AF_XDP binds
        # queue 0). Not every kernel lets veth change this: ignore failure.
        # veth reports separate rx/tx channels (already 1 each) on some
        # kernels, combined ones on others.
        for ns, ifname in ((s, self.server_if), (c, self.client_if)):
            r = _run(["ip", "netns", "exec", ns, "ethtool", "-L", ifname, "combined", "1"],
                     check=False)
            if r.returncode != 0:
                _run(["ip", "netns", "exec", ns, "ethtool", "-L", ifname, "rx", "1", "tx", "1"],
                     check=False)

    def close(self):
        for p in self._procs:
            if p.poll() is None:
                p.terminate()  # this PID only
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self._procs = []
        if self.server_ns in self._made_ns:
            _run(["ip", "-n", self.server_ns, "link", "set", "dev", self.server_if, "xdp", "off"],
                 check=False)
        if self.client_ns in self._made_ns:
            _run(["ip", "-n", self.client_ns, "link", "set", "dev", self.client_if, "xdp", "off"],
                 check=False)
        for ns in reversed(self._made_ns):
            _run(["ip", "netns", "del", ns], check=False)
        self._made_ns = []

    # --- running things ---------------------------------------------------

    def server_prefix(self):
        """argv words that run a command in the server namespace."""
        return ["ip", "netns", "exec", self.server_ns]

    def client_prefix(self):
        return ["ip", "netns", "exec", self.client_ns]

    def client(self, argv, **kw):
        """subprocess.run(argv) in the client namespace (text output captured
        unless told otherwise)."""
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        kw.setdefault("text", True)
        return subprocess.run(self.client_prefix() + list(argv), **kw)

    def server(self, argv, **kw):
        """subprocess.run(argv) in the server namespace."""
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        kw.setdefault("text", True)
        return subprocess.run(self.server_prefix() + list(argv), **kw)

    def client_popen(self, argv, **kw):
        """subprocess.Popen(argv) in the client namespace; stopped by its PID
        on exit if still running."""
        p = subprocess.Popen(self.client_prefix() + list(argv), **kw)
        self._procs.append(p)
        return p

    def server_popen(self, argv, **kw):
        p = subprocess.Popen(self.server_prefix() + list(argv), **kw)
        self._procs.append(p)
        return p

    def client_socket(self, family=socket.AF_INET, type=socket.SOCK_DGRAM):
        """A socket in the client namespace (the caller closes it)."""
        return socket_in(self.client_ns, family, type)

    def client_query(self, q, where=None, tcp=False, timeout=2.0, port=53):
        """Sends dns.message `q` from the client namespace to `where`
        (default: server_ip) and returns the reply message. Raises
        dns.exception.Timeout when nothing comes back."""
        import dns.query
        where = where or self.server_ip
        family = socket.AF_INET6 if ":" in where else socket.AF_INET
        if tcp:
            with self.client_socket(family, socket.SOCK_STREAM) as sk:
                sk.settimeout(timeout)
                sk.connect((where, port))
                sk.setblocking(False)
                return dns.query.tcp(q, where, timeout=timeout, port=port, sock=sk)
        with self.client_socket(family, socket.SOCK_DGRAM) as sk:
            sk.setblocking(False)
            return dns.query.udp(q, where, timeout=timeout, port=port, sock=sk,
                                 ignore_trailing=True)

    # --- inspecting -------------------------------------------------------

    def _link(self, ns, ifname):
        r = _run(["ip", "-j", "-n", ns, "link", "show", "dev", ifname])
        return json.loads(r.stdout)[0]

    def server_mac(self):
        return self._link(self.server_ns, self.server_if)["address"]

    def client_mac(self):
        return self._link(self.client_ns, self.client_if)["address"]

    def neighbour(self, ip):
        """The client's neighbour entry for ip: {"lladdr": ..., "state": [...]} or None."""
        r = _run(["ip", "-j", "-n", self.client_ns, "neigh", "show", ip, "dev", self.client_if])
        entries = json.loads(r.stdout or "[]")
        return entries[0] if entries else None

    def add_neighbour(self, ip, mac):
        """A permanent neighbour entry on the client (for tools that send
        before ARP/ND could answer)."""
        _run(["ip", "-n", self.client_ns, "neigh", "replace", ip, "lladdr", mac,
              "dev", self.client_if, "nud", "permanent"])
