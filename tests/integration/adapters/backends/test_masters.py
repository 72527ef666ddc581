"""Masters rewrite against a real PowerDNS 4.7 and a real BIND 9.18, with a real new primary.

Throwaway servers on 127.0.11.x (away from the lab's ranges) started by a module fixture: the
old primary (127.0.11.14) does not exist, the new one (a named on 127.0.11.15) serves the zones.
After the rewrite the secondaries must show the new masters through their own interfaces and,
after the retrieve/retransfer, serve the new primary's serial. Waits poll with generous deadlines
so the tests do not depend on machine speed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
import pytest

from dnsdr.adapters.backends import bind9, pdns4
from dnsdr.adapters.backends.base import ZoneStatus
from dnsdr.adapters.backends.masters import rewrite_masters
from dnsdr.adapters.pdns_api import PdnsClient
from dnsdr.adapters.rndc import RndcClient, RndcError, RndcKey, rndc_conf, run_rndc_binary
from dnsdr.domain.spec import BackendSpec, Endpoint, SecretRef
from tests.support.backend_servers import BindServer, PdnsServer

pytestmark = pytest.mark.integration

OLD = Endpoint("127.0.11.14", 5354)  # the lost region's mdns: nothing listens there
NEW = Endpoint("127.0.11.15", 15355)
SERIAL = 2026112101
MOVE = ["m1.example.", "m2.example.", "m3.example."]
DRY = ["d1.example."]
ALL = MOVE + DRY
VIA_DB = ["p1.example.", "p2.example."]  # PowerDNS only: rewritten in its database
DUMPED = ["q1.example.", "q2.example."]  # BIND only: configs read from named's zone database in one go
SERVED = [*ALL, *VIA_DB, *DUMPED, "n1.example."]


@dataclass
class Servers:
    pdns: PdnsServer
    bind: BindServer
    primary: BindServer

    @property
    def pdns_backend(self) -> BackendSpec:
        p = self.pdns
        return pdns4.backend("pdns-t", Endpoint(p.address, p.dns_port), Endpoint(p.address, p.api_port), SecretRef(env="UNUSED"))

    @property
    def bind_backend(self) -> BackendSpec:
        b = self.bind
        return bind9.backend("bind-t", Endpoint(b.address, b.dns_port), Endpoint(b.address, b.rndc_port), SecretRef(file=str(b.key_file)))

    def rndc(self) -> RndcClient:
        return RndcClient(self.bind_backend.control, RndcKey.parse(self.bind.key_file.read_text()))


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    root: Path = tmp_path_factory.mktemp("backends")
    primary = BindServer(root / "primary", address=NEW.host, dns_port=NEW.port, rndc_port=19550)
    for zone in SERVED:
        primary.add_primary_zone(zone, SERIAL)
    pdns = PdnsServer(root / "pdns", address="127.0.11.12", dns_port=15353, api_port=18082)
    bind = BindServer(root / "bind", address="127.0.11.13", dns_port=15354, rndc_port=19531)
    pdns.prepare()
    pdns.seed(ALL + VIA_DB, str(OLD))
    bind.prepare()
    bind.seed(ALL + DUMPED, OLD.host, OLD.port)
    started: list[PdnsServer | BindServer] = []
    try:
        for server in (primary, pdns, bind):
            server.start()
            started.append(server)
        yield Servers(pdns, bind, primary)
    finally:
        for server in reversed(started):
            server.stop()


def soa_serial(host: str, port: int, zone: str) -> int | None:
    try:
        reply = dns.query.udp(dns.message.make_query(zone, dns.rdatatype.SOA), host, port=port, timeout=1)
    except Exception:
        return None
    for rrset in reply.answer:
        if rrset.rdtype == dns.rdatatype.SOA:
            return int(rrset[0].serial)
    return None


def wait_serial(host: str, port: int, zone: str, deadline_s: float = 60.0) -> int | None:
    end = time.monotonic() + deadline_s
    serial = None
    while time.monotonic() < end:
        serial = soa_serial(host, port, zone)
        if serial == SERIAL:
            break
        time.sleep(0.2)
    return serial


def test_rewrite_changes_masters_then_transfers_and_second_run_is_a_no_op(servers: Servers) -> None:
    key = servers.pdns.api_key
    pdns = rewrite_masters(servers.pdns_backend, key, MOVE, [NEW], retrieve_changed=True)
    bind_key = servers.bind.key_file.read_text()
    bind = rewrite_masters(servers.bind_backend, bind_key, MOVE, [NEW], retrieve_changed=True)
    for report in (pdns, bind):
        assert report.ok, report
        assert report.counts["changed"] == 3 and report.counts["unchanged"] == 0
        assert set(report.retrieved) == set(MOVE)

    api = PdnsClient(servers.pdns_backend.control, key)
    with servers.rndc() as rndc:
        for zone in MOVE:
            assert api.get_zone(zone).masters == (str(NEW),)
            shown = rndc.showzone(zone)
            assert f"{NEW.host} port {NEW.port};" in shown and OLD.host not in shown
            assert 'file "slave.' + zone.rstrip(".") in shown  # the zone file clause survived
    api.close()

    for zone in MOVE:  # the retrieve/retransfer really pulled from the new primary
        assert wait_serial(servers.pdns.address, servers.pdns.dns_port, zone) == SERIAL
        assert wait_serial(servers.bind.address, servers.bind.dns_port, zone) == SERIAL

    again = [
        rewrite_masters(servers.pdns_backend, key, MOVE, [NEW]),
        rewrite_masters(servers.bind_backend, bind_key, MOVE, [NEW]),
    ]
    for report in again:
        assert report.ok and report.counts["unchanged"] == 3 and report.counts["changed"] == 0
        assert report.retrieved == ()


def test_powerdns_masters_rewritten_in_its_database_are_the_ones_it_transfers_from(servers: Servers) -> None:
    key, database = servers.pdns.api_key, {pdns4.DATABASE: f"sqlite:///{servers.pdns.db}"}
    report = rewrite_masters(servers.pdns_backend, key, VIA_DB, [NEW], retrieve_changed=True, secrets=database)
    assert report.ok, report
    assert report.counts["changed"] == 2 and set(report.retrieved) == set(VIA_DB)
    with PdnsClient(servers.pdns_backend.control, key) as api:  # PowerDNS reads them back from its database
        for zone in VIA_DB:
            assert api.get_zone(zone).masters == (str(NEW),)
    for zone in VIA_DB:  # and the retrieve went to the new primary
        assert wait_serial(servers.pdns.address, servers.pdns.dns_port, zone) == SERIAL

    again = rewrite_masters(servers.pdns_backend, key, VIA_DB, [NEW], retrieve_changed=True, secrets=database)
    assert again.ok and again.counts["unchanged"] == 2 and again.retrieved == ()


def test_an_unreachable_powerdns_database_fails_the_backend_without_its_password(servers: Servers) -> None:
    database = {pdns4.DATABASE: "mysql://dnsdr:s3cret-pw@127.0.11.14:1/pdns"}
    report = rewrite_masters(servers.pdns_backend, servers.pdns.api_key, DRY, [NEW], secrets=database, timeout=5)
    assert report.error and "PowerDNS database 127.0.11.14:1/pdns: cannot connect" in report.error
    assert "s3cret-pw" not in report.error and report.counts["failed"] == 1
    with PdnsClient(servers.pdns_backend.control, servers.pdns.api_key) as api:
        assert api.get_zone(DRY[0]).masters == (str(OLD),)


def test_bind_masters_from_one_zone_dump_keep_every_clause_and_transfer_from_the_new_primary(
        servers: Servers) -> None:
    dump = f"named-nzd2nzf {servers.bind.directory / '_default.nzd'}"
    backend = replace(servers.bind_backend, settings=((bind9.ZONES_COMMAND, dump),))
    key = servers.bind.key_file.read_text()
    report = rewrite_masters(backend, key, DUMPED, [NEW], retrieve_changed=True)
    assert report.ok, report
    assert report.counts["changed"] == 2 and set(report.retrieved) == set(DUMPED)
    with servers.rndc() as rndc:
        for zone in DUMPED:
            shown = rndc.showzone(zone)
            assert f"{NEW.host} port {NEW.port};" in shown and OLD.host not in shown
            assert 'file "slave.' + zone.rstrip(".") in shown  # the dump's other clauses were kept
    for zone in DUMPED:
        assert wait_serial(servers.bind.address, servers.bind.dns_port, zone) == SERIAL
    again = rewrite_masters(backend, key, DUMPED, [NEW])
    assert again.ok and again.counts["unchanged"] == 2


def test_a_zone_dump_that_fails_falls_back_to_showzone(servers: Servers) -> None:
    backend = replace(servers.bind_backend, settings=((bind9.ZONES_COMMAND, "false"),))
    report = rewrite_masters(backend, servers.bind.key_file.read_text(), DRY, [NEW], dry_run=True)
    assert report.error is None and report.zones(ZoneStatus.CHANGED) == tuple(DRY)


def test_dry_run_reports_and_changes_nothing(servers: Servers) -> None:
    report = rewrite_masters(servers.pdns_backend, servers.pdns.api_key, DRY, [NEW], dry_run=True, retrieve_changed=True)
    assert report.zones(ZoneStatus.CHANGED) == tuple(DRY) and report.dry_run
    assert PdnsClient(servers.pdns_backend.control, servers.pdns.api_key).get_zone(DRY[0]).masters == (str(OLD),)
    report = rewrite_masters(servers.bind_backend, servers.bind.key_file.read_text(), DRY, [NEW], dry_run=True)
    assert report.zones(ZoneStatus.CHANGED) == tuple(DRY)
    with servers.rndc() as rndc:
        assert f"{OLD.host} port {OLD.port};" in rndc.showzone(DRY[0])


def test_missing_zones_bad_credentials_and_unreachable_backends(servers: Servers) -> None:
    for backend, cred in ((servers.pdns_backend, servers.pdns.api_key), (servers.bind_backend, servers.bind.key_file.read_text())):
        report = rewrite_masters(backend, cred, ["absent.example."], [NEW])
        assert report.zones(ZoneStatus.MISSING) == ("absent.example.",) and not report.ok and report.error is None

    bad = rewrite_masters(servers.pdns_backend, "wrong-key", DRY, [NEW])
    assert bad.error and "401" in bad.error and "wrong-key" not in bad.error and bad.counts["failed"] == 1
    wrong = RndcKey("other", "hmac-sha256", b"\x01" * 32)
    bad = rewrite_masters(servers.bind_backend, wrong.clause(), DRY, [NEW])
    assert bad.error and "wrong key" in bad.error and bad.counts["failed"] == 1

    dead = bind9.backend("dead", OLD, Endpoint(OLD.host, 19599), SecretRef(file="x"))
    report = rewrite_masters(dead, servers.bind.key_file.read_text(), DRY, [NEW], timeout=5)
    assert report.error and "cannot connect" in report.error
    with servers.rndc() as rndc:
        assert f"{OLD.host} port {OLD.port};" in rndc.showzone(DRY[0])


def test_native_rndc_commands_and_binary_fallback_agree(servers: Servers) -> None:
    key = RndcKey.parse(servers.bind.key_file.read_text())
    endpoint = servers.bind_backend.control
    config = f'{{ type slave; masters {{ {NEW.host} port {NEW.port};}}; file "slave.n1.example.abc"; }};'
    with servers.rndc() as rndc:
        assert "server is up and running" in rndc.status()
        rndc.addzone("n1.example.", config)
        with pytest.raises(RndcError, match="already exists"):
            rndc.addzone("n1.example", config)
        assert "slave.n1.example.abc" in rndc.showzone("n1.example")
        rndc.retransfer("n1.example")
        assert wait_serial(servers.bind.address, servers.bind.dns_port, "n1.example.") == SERIAL
        status = rndc.zonestatus("n1.example")
        assert "name: n1.example" in status and f"serial: {SERIAL}" in status
        with rndc_conf(key) as conf:
            assert run_rndc_binary(endpoint, conf, ["showzone", "n1.example"]).text.strip() == rndc.showzone("n1.example").strip()
        rndc.delzone("n1.example", clean=True)
        with pytest.raises(RndcError, match="not found"):
            rndc.showzone("n1.example")
