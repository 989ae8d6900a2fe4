"""The file plugin in the real binary: reload, CNAME targets resolved through
the server, fallthrough, startup errors."""
import dns.flags
import dns.rcode
import dns.rdatatype

from harness import Warpdns

ZONE = """\
$TTL 300
$ORIGIN example.org.
@    IN SOA ns1 hostmaster {serial} 3600 900 604800 300
     IN NS  ns1
ns1  IN A   192.0.2.53
www  IN A   {address}
ext  IN CNAME host.example.net.
gone IN CNAME nothing.example.net.
"""

NET_ZONE = """\
$TTL 300
$ORIGIN example.net.
@    IN SOA ns1 hostmaster 1 3600 900 604800 300
     IN NS  ns1
ns1  IN A   192.0.2.54
host IN A   198.51.100.7
"""


def rrsets(section):
    return {(r.name.to_text().lower(), dns.rdatatype.to_text(r.rdtype)) for r in section}


def test_reload_swaps_on_new_serial_and_survives_a_bad_file(tmp_path):
    corefile = "example.org:@PORT@ {\n  file @DIR@/db.example.org {\n    reload 1s\n  }\n}\n"
    with Warpdns(tmp_path, corefile,
                 files={"db.example.org": ZONE.format(serial=1, address="192.0.2.1")}) as w:
        assert w.query("www.example.org", "A").answer[0][0].address == "192.0.2.1"
        (tmp_path / "db.example.org").write_text(ZONE.format(serial=2, address="192.0.2.2"))
        w.wait_for_line(lambda l: l == '[INFO] plugin/file: Successfully reloaded zone '
                        '"example.org." in "%s" with 2 SOA serial' % (tmp_path / "db.example.org"))
        assert w.query("www.example.org", "A").answer[0][0].address == "192.0.2.2"
        (tmp_path / "db.example.org").write_text(
            ZONE.format(serial=3, address="192.0.2.3") + "bad IN A 1.2\n")
        w.wait_for_line(
            lambda l: l.startswith('[ERROR] plugin/file: Parsing zone "example.org.": '))
        assert w.query("www.example.org", "A").answer[0][0].address == "192.0.2.2"


def test_cname_target_in_another_zone_is_resolved_through_the_server(tmp_path):
    corefile = ("example.org:@PORT@ {\n  file @DIR@/db.example.org\n}\n"
                "example.net:@PORT@ {\n  file @DIR@/db.example.net\n}\n")
    files = {"db.example.org": ZONE.format(serial=1, address="192.0.2.1"),
             "db.example.net": NET_ZONE}
    with Warpdns(tmp_path, corefile, files=files) as w:
        r = w.query("ext.example.org", "A")
        assert r.rcode() == dns.rcode.NOERROR
        assert r.flags & dns.flags.AA
        assert rrsets(r.answer) == {("ext.example.org.", "CNAME"), ("host.example.net.", "A")}
        assert rrsets(r.authority) == {("example.org.", "NS")}
        # The target's NXDOMAIN becomes the answer's rcode, with this zone's SOA.
        r = w.query("gone.example.org", "A")
        assert r.rcode() == dns.rcode.NXDOMAIN
        assert rrsets(r.answer) == {("gone.example.org.", "CNAME")}
        assert rrsets(r.authority) == {("example.org.", "SOA")}


def test_fallthrough_passes_nxdomain_on(tmp_path):
    corefile = ("example.org:@PORT@ {\n  file @DIR@/db.example.org {\n    fallthrough\n  }\n"
                "  whoami\n}\n")
    with Warpdns(tmp_path, corefile,
                 files={"db.example.org": ZONE.format(serial=1, address="192.0.2.1")}) as w:
        assert w.query("www.example.org", "A").answer[0][0].address == "192.0.2.1"
        r = w.query("nope.example.org", "A")
        assert r.rcode() == dns.rcode.NOERROR
        assert {dns.rdatatype.to_text(x.rdtype) for x in r.additional} >= {"A", "SRV"}  # whoami


def test_unloadable_file_is_a_startup_error(tmp_path):
    corefile = "example.org:@PORT@ {\n  file @DIR@/db.example.org\n}\n"
    w = Warpdns(tmp_path, corefile, files={"db.example.org": "$ORIGIN example.org.\n@ IN NS ns\n"},
                expect_fail=True)
    assert w.wait_exit() != 0
    assert any('plugin/file: file "%s" has no SOA record for origin example.org.'
               % (tmp_path / "db.example.org") in l for l in w.output()), w.output()
