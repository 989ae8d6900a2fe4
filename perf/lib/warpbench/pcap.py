"""Packet captures of DNS queries, written with struct (no scapy): the load of replay mode.

Each frame is Ethernet/IPv4/UDP with correct IPv4 header and UDP checksums, addressed to
the fast path's MAC, address and port, from clients spread over a /24 so that a frame
looks like what a NIC hands the fast path.
"""

import random
import struct

# net_pcap's first port takes this MAC ("pcap" and the port index, DPDK 22.11); the fast
# path answers only frames sent to its own MAC.
NET_PCAP0_MAC = "02:70:63:61:70:00"
CLIENT_MAC = "02:00:00:00:00:02"


def _mac(text):
    return bytes(int(x, 16) for x in text.split(":"))


def _ip(text):
    return bytes(int(x) for x in text.split("."))


def _csum(data, initial=0):
    if len(data) & 1:
        data += b"\0"
    s = initial + sum(struct.unpack(f">{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def dns_query(name, qid, qtype=1, rd=True):
    qname = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".") if l) + b"\0"
    return struct.pack(">HHHHHH", qid, 0x0100 if rd else 0, 1, 0, 0, 0) + qname + struct.pack(">HH", qtype, 1)


def udp4_frame(payload, src_ip, dst_ip, src_port, dst_port, src_mac, dst_mac, ip_id=0):
    udp_len = 8 + len(payload)
    src, dst = _ip(src_ip), _ip(dst_ip)
    ip = bytearray(struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, ip_id, 0x4000, 64, 17, 0, src, dst))
    struct.pack_into(">H", ip, 10, _csum(bytes(ip)))
    udp = bytearray(struct.pack(">HHHH", src_port, dst_port, udp_len, 0) + payload)
    c = _csum(src + dst + struct.pack(">BBH", 0, 17, udp_len) + bytes(udp))
    struct.pack_into(">H", udp, 6, c or 0xFFFF)
    return _mac(dst_mac) + _mac(src_mac) + b"\x08\x00" + bytes(ip) + bytes(udp)


def write(path, frames):
    """A classic pcap file (microsecond timestamps, Ethernet link type)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", i // 1000000, i % 1000000, len(fr), len(fr)))
            f.write(fr)
    return path


def query_capture(path, names, dst_ip, dst_port, dst_mac=NET_PCAP0_MAC, client_net="10.99.0.", seed=5):
    """One A query (RD set, no EDNS: what dnsperf and kxdpgun send by default) for each of
    `names`, shuffled, each from its own client address, port and ID."""
    rng = random.Random(seed)
    order = list(names)
    rng.shuffle(order)
    frames = []
    for name in order:
        frames.append(udp4_frame(dns_query(name, rng.randrange(65536)),
                                 f"{client_net}{rng.randrange(2, 250)}", dst_ip,
                                 rng.randrange(1024, 65536), dst_port, CLIENT_MAC, dst_mac,
                                 ip_id=rng.randrange(65536)))
    return write(path, frames)
