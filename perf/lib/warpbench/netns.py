"""Two network namespaces joined by a veth pair: the wire of the DPDK-mode rows.

    with Veth(tag) as net:
        net.server_address(True)    # 10.99.0.1/24 on the server end, for socket and XDP peers
        net.in_client(["kdig", ...])

The client end (net.client_if in net.client_ns) holds 10.99.0.2/24, with UDP TX checksum
offload off (veth would hand over partial checksums) and one queue each end (kxdpgun and
Knot start one thread per queue; AF_XDP binds queue 0). The server end has no kernel
address unless a peer needs one (NSD's sockets, Knot XDP's ARP). Everything made here is
removed by name on exit (`ip netns del` of the namespaces this object created); no process
is ever killed by name. Traffic stays inside the two namespaces.
"""

import json
import os
import subprocess

SERVER_IP = "10.99.0.1"
CLIENT_IP = "10.99.0.2"
PREFIX = 24


def _run(argv, check=True):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}): {(r.stderr or r.stdout).strip()}")
    return r


def available():
    """None when namespaces and veth can be made here, else why not."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for tool in ("ip", "ethtool"):
        if subprocess.run(["which", tool], stdout=subprocess.DEVNULL).returncode != 0:
            return f"{tool} not found"
    return None


class Veth:
    def __init__(self, tag):
        self.server_ns = f"wbs-{tag}"
        self.client_ns = f"wbc-{tag}"
        self.server_if = f"wbs{tag}"[:15]
        self.client_if = f"wbc{tag}"[:15]
        self._made = []
        self._server_addr = False

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
            self._made.append(ns)
        s, c = self.server_ns, self.client_ns
        _run(["ip", "link", "add", self.server_if, "netns", s, "type", "veth",
              "peer", "name", self.client_if, "netns", c])
        _run(["ip", "-n", c, "addr", "add", f"{CLIENT_IP}/{PREFIX}", "dev", self.client_if])
        for ns in (s, c):
            _run(["ip", "-n", ns, "link", "set", "lo", "up"])
        _run(["ip", "netns", "exec", s, "sysctl", "-q", "-w",
              f"net.ipv6.conf.{self.server_if}.disable_ipv6=1"], check=False)
        _run(["ip", "netns", "exec", c, "sysctl", "-q", "-w",
              f"net.ipv6.conf.{self.client_if}.disable_ipv6=1"], check=False)
        _run(["ip", "-n", s, "link", "set", self.server_if, "up"])
        _run(["ip", "-n", c, "link", "set", self.client_if, "up"])
        _run(["ip", "netns", "exec", c, "ethtool", "-K", self.client_if, "tx", "off"])
        for ns, ifname in ((s, self.server_if), (c, self.client_if)):
            r = _run(["ip", "netns", "exec", ns, "ethtool", "-L", ifname, "combined", "1"], check=False)
            if r.returncode != 0:
                _run(["ip", "netns", "exec", ns, "ethtool", "-L", ifname, "rx", "1", "tx", "1"], check=False)

    def server_address(self, on):
        """Gives (or takes) the server end the kernel address 10.99.0.1/24."""
        if on == self._server_addr:
            return
        _run(["ip", "-n", self.server_ns, "addr", "add" if on else "del", f"{SERVER_IP}/{PREFIX}",
              "dev", self.server_if])
        self._server_addr = on

    def xdp_off(self):
        """kxdpgun and knotd leave their XDP programs attached when they exit: both ends,
        between servers (never while a server's AF_XDP socket is in use)."""
        _run(["ip", "-n", self.server_ns, "link", "set", "dev", self.server_if, "xdp", "off"], check=False)
        self.client_xdp_off()

    def client_xdp_off(self):
        """The client end only: after every kxdpgun run."""
        _run(["ip", "-n", self.client_ns, "link", "set", "dev", self.client_if, "xdp", "off"], check=False)

    def forget_neighbour(self, ip=SERVER_IP):
        """Drops the client's entry for `ip`, permanent or learnt, so the next server's ARP
        is what counts."""
        _run(["ip", "-n", self.client_ns, "neigh", "del", ip, "dev", self.client_if], check=False)

    def neighbour_mac(self, ip=SERVER_IP):
        r = _run(["ip", "-j", "-n", self.client_ns, "neigh", "show", ip, "dev", self.client_if])
        entries = json.loads(r.stdout or "[]")
        return entries[0].get("lladdr") if entries else None

    def server_prefix(self):
        return ["ip", "netns", "exec", self.server_ns]

    def client_prefix(self):
        return ["ip", "netns", "exec", self.client_ns]

    def in_client(self, argv, timeout=30):
        return subprocess.run(self.client_prefix() + list(argv), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=timeout)

    def close(self):
        if self.server_ns in self._made or self.client_ns in self._made:
            self.xdp_off()
        for ns in reversed(self._made):
            _run(["ip", "netns", "del", ns], check=False)
        self._made = []
