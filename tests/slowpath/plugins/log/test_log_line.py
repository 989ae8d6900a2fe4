"""The default log line from the real binary, byte for byte against CoreDNS's
{common} format, for A, AAAA and MX over UDP and TCP from IPv4 and IPv6."""
import io
import re
import socket

import dns.message
import dns.query
import dns.rdatatype
import pytest

from harness import Warpdns

ZONE = """$ORIGIN example.org.
$TTL 300
@ IN SOA ns.example.org. admin.example.org. 1 7200 3600 1209600 300
@ IN NS ns.example.org.
@ IN MX 10 mail.example.org.
ns IN A 192.0.2.1
mail IN A 192.0.2.25
www IN A 192.0.2.10
www IN AAAA 2001:db8::10
"""


def uncompressed_len(msg):
    """miekg's Msg.Len() without compression: what CoreDNS logs as {rsize}."""
    n = 12
    for q in msg.question:
        n += len(q.name.to_wire()) + 4
    for section in (msg.answer, msg.authority, msg.additional):
        for rrset in section:
            for rd in rrset:
                f = io.BytesIO()
                rd.to_wire(f, None, None)
                n += len(rrset.name.to_wire()) + 10 + len(f.getvalue())
    if msg.edns >= 0:
        n += 11 + sum(4 + len(o.to_wire()) for o in msg.options)
    return n


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_default_log_line_byte_for_byte(tmp_path, family):
    if family == "ipv6" and not have_ipv6_loopback():
        pytest.skip("no IPv6 loopback on this host")
    addr = "127.0.0.1" if family == "ipv4" else "::1"
    corefile = """
example.org:@PORT@ {
    bind %s
    log
    file @DIR@/db.example.org
}
""" % addr
    with Warpdns(tmp_path, corefile, files={"db.example.org": ZONE}) as s:
        for qtype, name in (("A", "www.example.org."), ("AAAA", "www.example.org."), ("MX", "example.org.")):
            for tcp in (False, True):
                q = dns.message.make_query(name, qtype, use_edns=0, payload=4096, want_dnssec=(qtype == "MX"))
                sock = socket.socket(socket.AF_INET if family == "ipv4" else socket.AF_INET6,
                                     socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
                sock.bind((addr, 0))
                port = sock.getsockname()[1]
                start = len(s.output())
                if tcp:
                    sock.settimeout(3)
                    sock.connect((addr, s.port))
                    r = dns.query.tcp(q, addr, port=s.port, sock=sock, timeout=3)
                else:
                    r = dns.query.udp(q, addr, port=s.port, sock=sock, timeout=3)
                sock.close()
                remote = "%s:%d" % (addr if family == "ipv4" else "[::1]", port)
                line = s.wait_for_line(lambda l: l.startswith("[INFO] " + remote), start=start)
                flags = ",".join(f for f, bit in (("qr", 0x8000), ("aa", 0x400), ("tc", 0x200), ("rd", 0x100),
                                                  ("ra", 0x80), ("z", 0x40), ("ad", 0x20), ("cd", 0x10))
                                 if r.flags & bit)
                expected = '[INFO] %s - %d "%s IN %s %s %d %s %d" NOERROR %s %d ' % (
                    remote, q.id, qtype, name, "tcp" if tcp else "udp", len(q.to_wire()),
                    "true" if qtype == "MX" else "false", 65535 if tcp else 4096, flags,
                    uncompressed_len(r))
                assert line.startswith(expected), (line, expected)
                assert re.fullmatch(r"\d+\.\d+s", line[len(expected):]), line
