"""Masters comparison and BIND zone-config rewriting, without servers."""

from __future__ import annotations

from dnsdr.adapters.backends.base import MastersReport, ZoneOutcome, ZoneStatus, canonical, parse_hostport
from dnsdr.adapters.backends.bind9 import BindZoneConfig, bind_masters_clause, parse_zone_dump, split_statements
from dnsdr.domain.spec import Endpoint

# As named 9.18 prints a zone that Designate added (`rndc showzone`).
SHOWZONE = 'zone "example.org" { type slave; file "slave.example.org.0f2c"; masters { 127.0.1.5 port 5354; 127.0.1.6 port 5354; }; };\n'


def test_parse_hostport_forms() -> None:
    assert parse_hostport("192.0.2.1") == ("192.0.2.1", 53)
    assert parse_hostport("192.0.2.1:5354") == ("192.0.2.1", 5354)
    assert parse_hostport("[2001:DB8::1]:5354") == ("2001:db8::1", 5354)
    assert parse_hostport("2001:db8::1") == ("2001:db8::1", 53)


def test_showzone_parse() -> None:
    cfg = BindZoneConfig.parse(SHOWZONE)
    assert cfg.type == "slave"
    assert cfg.masters == {("127.0.1.5", 5354), ("127.0.1.6", 5354)}
    assert cfg.statements[1] == 'file "slave.example.org.0f2c"'


def test_primaries_synonym_list_port_and_keys() -> None:
    cfg = BindZoneConfig.parse('zone "x" { type secondary; primaries port 5300 { 192.0.2.1; 192.0.2.2 port 53 key "k"; }; };')
    assert cfg.type == "secondary"
    assert cfg.masters == {("192.0.2.1", 5300), ("192.0.2.2", 53)}


def test_with_masters_keeps_file_and_other_clauses_in_designate_form() -> None:
    cfg = BindZoneConfig.parse(SHOWZONE.replace("};\n", 'allow-notify { 10.0.0.1; }; };\n').replace("; }; allow", "; }; allow"))
    new = cfg.with_masters([Endpoint("127.0.2.5", 5354), Endpoint("127.0.2.6", 5354)])
    assert new.startswith("{ type slave; masters { 127.0.2.5 port 5354; 127.0.2.6 port 5354;}; ")
    assert 'file "slave.example.org.0f2c";' in new
    assert "127.0.1.5" not in new
    assert new.endswith(" };")
    again = BindZoneConfig.parse('zone "example.org" ' + new)
    assert again.masters == {("127.0.2.5", 5354), ("127.0.2.6", 5354)}
    assert again.statements[0] == "type slave"


def test_designate_clause_matches_impl_bind9() -> None:
    # impl_bind9.py: 'masters { %s;}' % '; '.join('%s port %s' % (host, port))
    assert bind_masters_clause([Endpoint("a", 1), Endpoint("b", 2)]) == "masters { a port 1; b port 2;}"


def test_split_statements_respects_quotes_and_braces() -> None:
    assert split_statements('a { b; c; }; file "x;y"; d;') == ["a { b; c; }", 'file "x;y"', "d"]


def test_report_counts_and_ok() -> None:
    outcomes = (
        ZoneOutcome("a.", ZoneStatus.CHANGED),
        ZoneOutcome("b.", ZoneStatus.UNCHANGED),
        ZoneOutcome("c.", ZoneStatus.UNCHANGED),
    )
    report = MastersReport("p", "pdns4", ("x:1",), outcomes)
    assert report.counts == {"changed": 1, "unchanged": 2, "missing": 0, "failed": 0}
    assert report.ok and report.zones(ZoneStatus.UNCHANGED) == ("b.", "c.")
    assert not MastersReport("p", "pdns4", ("x:1",), (*outcomes, ZoneOutcome("d.", ZoneStatus.MISSING))).ok
    assert canonical("Example.ORG") == "example.org."


def test_a_named_nzd2nzf_dump_gives_each_zone_its_config() -> None:
    dump = "\n".join([
        'zone "z1.example" { type slave; file "slave.z1.example.1"; masters { 10.0.0.9 port 5354; }; };',
        'zone "Z2.Example." IN { type secondary; primaries port 5354 { 10.0.0.8; }; also-notify { 10.1.1.1; }; };',
        'zone "z3.example" { type slave; file "x"; masters { 10.0.0.9 port 5354; };',  # cut short: not a block
        'zone "z4.example" { type slave; } { file "x"; };',  # two blocks
        'zone "z5.example" { type slave; file "a}b"; masters { 10.0.0.9; }; };',  # a brace in a quote is text
        'zone "v.example" in "internal" { type slave; };',  # another view: left to showzone
        "garbage",
        "",
    ])
    configs = parse_zone_dump(dump)
    assert set(configs) == {"z1.example.", "z2.example.", "z5.example."}
    assert configs["z1.example."].masters == {("10.0.0.9", 5354)}
    assert configs["z2.example."].type == "secondary" and configs["z2.example."].masters == {("10.0.0.8", 5354)}
    assert "also-notify { 10.1.1.1; }" in configs["z2.example."].with_masters([Endpoint("10.0.0.1", 5354)])
