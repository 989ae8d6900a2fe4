"""The file plugin against NSD, query by query, on the same zone files.

Two zones: diff.test (unsigned: CNAME chains, wildcards, empty non-terminals,
delegations with glue, DNAME, mixed case) and sec.test (signed here with
ldns-keygen + ldns-signzone, NSEC). Every name is asked for every type, with
DO off and on, over UDP with EDNS; rcode, AA, TC and the answer, authority
and additional sections (as sets of RRsets, TTLs included) must match.

NSD runs with its defaults (minimal-responses: no), which, like CoreDNS,
put the apex NS RRset in the authority section of positive answers. Where
CoreDNS's file plugin (plugin/file/lookup.go) answers differently from NSD,
the NSD reply is rewritten into CoreDNS's answer by one of the narrow
normalizations below, each stating its condition and the CoreDNS code it
follows; nothing else is adjusted.

Not asked: qtype ANY (lookup.go has no ANY case: CoreDNS answers NODATA,
NSD the RRsets; covered by zone_test.cc), and NSEC/RRSIG at a CNAME owner
(lookup.go chases the CNAME for every qtype but CNAME, NSD returns the
owner's own NSEC/RRSIG; covered by zone_test.cc).
"""
import itertools
import subprocess

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import pytest

from harness import Warpdns
from peers import Nsd

DIFF_ZONE = """\
$TTL 300
$ORIGIN diff.test.
@           IN SOA   ns1 HostMaster ( 2024010101 3600 900 604800 300 )
            IN NS    ns1
            IN NS    ns2.Elsewhere.example.
            IN MX    10 Mail
            IN A     192.0.2.1
            IN TXT   "apex"
ns1         IN A     192.0.2.53
            IN AAAA  2001:db8::53
Mail        IN A     192.0.2.25
            IN AAAA  2001:db8::25
WWW         IN CNAME Web
web         IN CNAME host
host        IN A     192.0.2.80
            IN AAAA  2001:db8::80
            IN TXT   "host"
alias       IN CNAME HOST.diff.test.
dangling    IN CNAME nothere
ext         IN CNAME www.elsewhere.example.
srv         IN SRV   0 5 443 host
_sip._tcp   IN SRV   10 5 5060 Mail
mx2         IN MX    5 mail
            IN MX    20 mx.elsewhere.example.
*.wild      IN A     192.0.2.99
            IN TXT   "wild"
*.Mixed.Wild IN MX   10 mail
deep.wild   IN TXT   "deep"
*.cwild     IN CNAME host
a.b.c.ent   IN A     192.0.2.10
x.ent       IN TXT   "x"
sub         IN NS    ns.sub
            IN NS    ns2.elsewhere.example.
ns.sub      IN A     192.0.2.200
            IN AAAA  2001:db8::200
Caps.Sub2   IN NS    ns.caps.sub2
ns.caps.sub2 IN A    192.0.2.201
dname       IN DNAME dtarget.diff.test.
www.dtarget IN A     192.0.2.81
txt         IN TXT   "hello world" "second"
caa         IN CAA   0 issue "ca.example"
multi       IN A     192.0.2.11
            IN A     192.0.2.12
            IN A     192.0.2.13
"""

SEC_ZONE = """\
$TTL 300
$ORIGIN sec.test.
@           IN SOA   ns1 hostmaster ( 7 3600 900 604800 300 )
            IN NS    ns1
            IN NS    ns2.elsewhere.example.
            IN MX    10 mail
            IN A     192.0.2.1
ns1         IN A     192.0.2.53
            IN AAAA  2001:db8::53
mail        IN A     192.0.2.25
www         IN CNAME host
host        IN A     192.0.2.80
            IN TXT   "host"
*.wild      IN TXT   "wild"
            IN A     192.0.2.99
deep.wild   IN TXT   "deep"
a.b.ent     IN A     192.0.2.10
Mixed       IN A     192.0.2.77
srv         IN SRV   0 0 80 host
sub         IN NS    ns.sub
ns.sub      IN A     192.0.2.200
secure      IN NS    ns.secure
            IN DS    12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns.secure   IN A     192.0.2.201
zz          IN A     192.0.2.90
"""
# The SOA TTL equals the SOA minimum, so NSD's negative-answer SOA TTL
# (min of the two, RFC 2308) is the stored TTL that CoreDNS returns.

# Relative names asked in each zone ("" is the apex): existing names,
# mixed-case spellings, wildcard matches and blocks, empty non-terminals,
# names at and below delegations, and names that do not exist.
NAMES = {
    "diff.test.": [
        "", "ns1", "mail", "MAIL", "www", "WWW", "web", "host", "alias", "dangling", "ext", "srv",
        "_sip._tcp", "mx2", "foo.wild", "a.b.wild", "deep.wild", "x.deep.wild", "foo.mixed.wild",
        "FOO.Mixed.wild", "foo.cwild", "ent", "c.ent", "b.c.ent", "a.b.c.ent", "x.ent", "y.ent",
        "z.c.ent", "sub", "foo.sub", "ns.sub", "caps.sub2", "x.caps.sub2", "dname", "www.dname",
        "x.dname", "www.dtarget", "txt", "caa", "multi", "nx", "a.nx",
    ],
    "sec.test.": [
        "", "ns1", "mail", "www", "host", "Mixed", "mixed", "foo.wild", "a.b.wild", "deep.wild",
        "x.deep.wild", "ent", "b.ent", "a.b.ent", "x.ent", "x.b.ent", "sub", "foo.sub", "ns.sub",
        "secure", "foo.secure", "ns.secure", "srv", "zz", "zzz", "nx", "a", "0", "b",
    ],
}
TYPES = {
    "diff.test.": ["A", "AAAA", "MX", "TXT", "NS", "SOA", "CNAME", "SRV", "DS", "CAA", "DNAME"],
    "sec.test.": ["A", "AAAA", "MX", "TXT", "NS", "SOA", "CNAME", "SRV", "DS", "DNSKEY", "NSEC",
                  "RRSIG"],
}
CNAME_OWNERS = {"sec.test.": {"www"}, "diff.test.": {"www", "web", "alias", "dangling", "ext"}}

COREFILE = """\
diff.test:@PORT@ {
    file @DIR@/diff.test.zone
}
sec.test:@PORT@ {
    file @DIR@/sec.test.zone.signed
}
"""


def sign(directory):
    (directory / "sec.test.zone").write_text(SEC_ZONE)
    keys = []
    for extra in (["-k"], []):
        out = subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256", *extra, "sec.test"],
                             cwd=directory, check=True, capture_output=True, text=True)
        keys.append(out.stdout.strip())
    subprocess.run(["ldns-signzone", "-e", "20380101000000", "-i", "20240101000000", "-f",
                    "sec.test.zone.signed", "sec.test.zone", *keys], cwd=directory, check=True)
    signed = (directory / "sec.test.zone.signed").read_text()
    assert " NSEC " in signed and "NSEC3" not in signed
    return signed


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    d = tmp_path_factory.mktemp("file_differential")
    signed = sign(d)
    (d / "diff.test.zone").write_text(DIFF_ZONE)
    nsd = Nsd(d, {"diff.test.": d / "diff.test.zone", "sec.test.": d / "sec.test.zone.signed"})
    try:
        w = Warpdns(d / "warpdns", COREFILE,
                    files={"diff.test.zone": DIFF_ZONE, "sec.test.zone.signed": signed})
    except Exception:
        nsd.stop()
        raise
    yield w, nsd
    w.stop()
    nsd.stop()


class Reply:
    """A reply reduced to what is compared: rcode, AA, TC and each section
    as a set of RRsets (owner lowercased, class, type, covered type, TTL,
    canonical RDATA)."""

    def __init__(self, msg):
        self.rcode = msg.rcode()
        self.aa = bool(msg.flags & dns.flags.AA)
        self.tc = bool(msg.flags & dns.flags.TC)
        self.answer = {self.key(r) for r in msg.answer}
        self.authority = {self.key(r) for r in msg.authority}
        self.additional = {self.key(r) for r in msg.additional}
        self.rrsets = {self.key(r): r for r in msg.answer + msg.authority + msg.additional}

    @staticmethod
    def key(rrset):
        return (rrset.name.canonicalize(), rrset.rdclass, rrset.rdtype, rrset.covers, rrset.ttl,
                frozenset(rd.to_digestable() for rd in rrset))

    def copy(self):
        c = Reply.__new__(Reply)
        c.__dict__.update({k: (set(v) if isinstance(v, set) else dict(v) if isinstance(v, dict)
                               else v) for k, v in self.__dict__.items()})
        return c

    def state(self):
        return (self.rcode, self.aa, self.tc, self.answer, self.authority, self.additional)

    def text(self):
        lines = ["%s aa=%s tc=%s" % (dns.rcode.to_text(self.rcode), self.aa, self.tc)]
        for section in ("answer", "authority", "additional"):
            for k in sorted(getattr(self, section), key=repr):
                lines.append("  %s: %s" % (section, self.rrsets[k].to_text().replace("\n", " | ")))
        return "\n".join(lines)


def rtype(k):
    return k[2]


def covers(k):
    return k[3]


def owner(k):
    return k[0]


class Apex:
    """Facts about a zone's apex, read from NSD once: the NS RRset and its
    RRSIG, and the in-zone name server names."""

    def __init__(self, nsd, origin):
        self.name = dns.name.from_text(origin)
        plain = Reply(nsd.query(origin, "NS", use_edns=0))
        signed = Reply(nsd.query(origin, "NS", want_dnssec=True))
        self.ns = {k for k in plain.answer if rtype(k) == dns.rdatatype.NS}
        self.ns_signed = set(signed.answer)
        self.rrsets = signed.rrsets
        self.ns_targets = {rd.target.canonicalize() for k in self.ns for rd in plain.rrsets[k]
                           if rd.target.is_subdomain(self.name)}

    def set_ns_authority(self, r, do):
        r.authority = set(self.ns_signed if do else self.ns)
        r.rrsets.update(self.rrsets)


def normalize(r, qname, qtype, do, apex):
    """Rewrites NSD's reply `r` into what CoreDNS's file plugin answers."""
    qname = dns.name.from_text(qname).canonicalize()
    has_apex_ns = bool(apex.ns & r.authority)

    # 1. CoreDNS puts the apex NS RRset in the authority section of every
    #    NOERROR answer that follows a CNAME (lookup.go externalLookup returns
    #    z.ns(do); a DNAME-synthesised CNAME for qtype CNAME returns
    #    ap.ns(do)), and no additional section. NSD answers for the end of the
    #    chain instead: the SOA (and NSEC) when it has no data of qtype,
    #    nothing when it leaves the zone or comes from a DNAME.
    #    The exception: externalLookup resolves the first CNAME target of an
    #    NS question through the server; if that target is an in-zone name
    #    that is not a CNAME itself, the server's NODATA makes CoreDNS return
    #    z.authority(NoData), the SOA and its RRSIG only (no NSEC). (No other
    #    CNAME in these zones points at a name the server answers NODATA for.)
    cnames = [k for k in r.answer if rtype(k) == dns.rdatatype.CNAME]
    if r.rcode == dns.rcode.NOERROR and cnames:
        targets = [rd.target for k in cnames for rd in r.rrsets[k]]
        if (qtype == "NS" and len(targets) == 1 and targets[0].is_subdomain(apex.name)
                and not any(rtype(k) == dns.rdatatype.NS for k in r.answer)):
            r.authority = {k for k in r.authority
                           if dns.rdatatype.SOA in (rtype(k), covers(k))}
        else:
            apex.set_ns_authority(r, do)
            has_apex_ns = True
        r.additional = set()

    # 2. NSD leaves the authority section empty in DNSKEY and DS answers;
    #    CoreDNS answers them like any other type, with the apex NS RRset.
    if (qtype in ("DNSKEY", "DS") and r.rcode == dns.rcode.NOERROR and not r.authority
            and any(owner(k) == qname and rtype(k) == dns.rdatatype.from_text(qtype)
                    for k in r.answer)):
        apex.set_ns_authority(r, do)
        has_apex_ns = True

    # 3. NSD (minimal-responses: no) adds the addresses of in-zone apex name
    #    servers to the additional section whenever the apex NS RRset is in
    #    the authority section. CoreDNS adds addresses only for MX, SRV, SVCB
    #    and HTTPS targets in the answer (additionalProcessing) and, for the
    #    apex NS question itself, for the name servers (Glue).
    if has_apex_ns and not (qname == apex.name and qtype == "NS"):
        targets = set()
        for k in r.answer:
            for rd in r.rrsets[k]:
                if rd.rdtype in (dns.rdatatype.MX, dns.rdatatype.SRV):
                    targets.add((rd.exchange if rd.rdtype == dns.rdatatype.MX
                                 else rd.target).canonicalize())
        r.additional = {k for k in r.additional
                        if owner(k) not in apex.ns_targets or owner(k) in targets}

    # 4. CoreDNS keeps the apex SOA and NS RRsets and their RRSIGs outside its
    #    tree (zone.Insert), so an RRSIG question at the apex returns the
    #    other signatures only.
    if qtype == "RRSIG" and qname == apex.name:
        r.answer = {k for k in r.answer
                    if covers(k) not in (dns.rdatatype.SOA, dns.rdatatype.NS)}

    # 5. A CoreDNS referral carries the NS RRset, plus DS and its RRSIG with
    #    DO (lookup.go Delegation); NSD also proves the absence of a DS with
    #    the delegation's NSEC.
    if do and not r.aa and r.rcode == dns.rcode.NOERROR and not r.answer:
        r.authority = {k for k in r.authority
                       if rtype(k) != dns.rdatatype.NSEC and covers(k) != dns.rdatatype.NSEC}

    # 6. A wildcard NODATA from CoreDNS carries only the wildcard's NSEC
    #    (lookup.go: "needs closest encloser proof as well? This is the wrong
    #    answer"); NSD adds the NSEC covering qname.
    wild = [owner(k) for k in r.authority
            if rtype(k) == dns.rdatatype.NSEC and owner(k).labels[0] == b"*"
            and qname.is_subdomain(owner(k).parent()) and qname != owner(k)]
    if do and wild and r.rcode == dns.rcode.NOERROR and not r.answer:
        r.authority = {k for k in r.authority
                       if not ((rtype(k) == dns.rdatatype.NSEC or covers(k) == dns.rdatatype.NSEC)
                               and owner(k) != wild[0])}
    return r


def queries(origin):
    for label in NAMES[origin]:
        qname = (label + "." if label else "") + origin
        for qtype in TYPES[origin]:
            if qtype in ("NSEC", "RRSIG") and label.lower() in CNAME_OWNERS[origin]:
                continue
            yield qname, qtype


def test_query_count():
    n = sum(2 for origin in NAMES for _ in queries(origin))
    assert n >= 200, n


@pytest.mark.parametrize("origin,label", [(o, l) for o in NAMES for l in NAMES[o]],
                         ids=lambda v: v if v else "@")
def test_file_matches_nsd(servers, origin, label):
    w, nsd = servers
    apex = Apex(nsd, origin)
    qname_l = (label + "." if label else "") + origin
    mismatches = []
    for (qname, qtype), do in itertools.product(
            [q for q in queries(origin) if q[0] == qname_l], (False, True)):
        got = Reply(w.query(qname, qtype, want_dnssec=do, use_edns=0))
        raw = Reply(nsd.query(qname, qtype, want_dnssec=do, use_edns=0))
        want = normalize(raw.copy(), qname, qtype, do, apex)
        if got.state() != want.state():
            mismatches.append("%s %s do=%s\n-- warpdns\n%s\n-- nsd (normalized)\n%s" % (
                qname, qtype, do, got.text(), want.text()))
    assert not mismatches, "\n".join(mismatches)

