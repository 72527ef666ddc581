"""The real two-region lab: Designate to four backends, replication, faults, and a clean down.

Deadlines are generous and only bound the wait; nothing asserts on speed.
"""

from __future__ import annotations

import json
import stat
import subprocess
import time

import pymysql
import pytest

from dnsdr.adapters.secrets import resolve
from dnsdr.adapters.service_control import CommandController
from dnsdr.domain.spec import Endpoint
from dnsdr.lab import Lab, dbsetup, keystone, region3
from dnsdr.lab.layout import ALL_REGIONS, KINDS, REGIONS, Addresses
from dnsdr.lab.proc import port_open, tcp_listeners
from dnsdr.lab.zones import soa_serial
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration



def db_serial(lab: Lab, zone_name: str) -> int:
    """zones.serial read with the dnsdr account, as the tool would."""
    spec = lab.spec()
    db = spec.region("r1").database
    assert db is not None
    conn = pymysql.connect(host=db.endpoint.host, port=db.endpoint.port, user=db.user,
                           password=resolve(db.password), database="designate", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT serial FROM zones WHERE name = %s AND deleted = '0'", (zone_name,))
            row = cur.fetchone()
    finally:
        conn.close()
    assert row is not None, zone_name
    return int(row[0])


def test_status_lists_every_component_running(healthy_lab: Lab) -> None:
    rows = healthy_lab.status()
    assert {(r["region"], r["kind"]) for r in rows} == ({(r, k) for r in REGIONS for k in KINDS}
                                                        | {("r3", "monitor"), ("r3", "keystone")})
    for row in rows:
        assert row["state"] == "running", row
        assert isinstance(row["pid"], int)
        assert row["host"].startswith(f"127.0.{row['region'][1]}.")
    out = subprocess.run([str(healthy_lab.paths.dnsdr), "lab", "--dir", str(healthy_lab.root), "status", "-o", "json"],
                         capture_output=True, text=True, check=True).stdout
    assert len(json.loads(out)) == len(rows)


def test_spec_describes_the_lab(healthy_lab: Lab) -> None:
    spec = healthy_lab.spec()
    assert spec.primary_region == "r1"
    for name in REGIONS:
        region = spec.region(name)
        assert region.database is not None and region.designate is not None
        assert region.database.endpoint.host == Addresses(name).core
        kinds = {b.type for b in region.backends}
        assert kinds == {"pdns4", "bind9"}
    for secret in healthy_lab.paths.secrets.iterdir():
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret


def test_zone_and_recordset_reach_all_four_targets_with_the_db_serial(healthy_lab: Lab) -> None:
    api = healthy_lab.api("r1")
    name = f"serial-{int(time.time() * 1000)}.lab.example."
    zone = api.create_zone(name, "hostmaster@example.org", ttl=300)
    api.create_recordset(zone.id, f"www.{name}", "A", ["192.0.2.80"])
    assert eventually(lambda: api.get_zone(zone.id).status == "ACTIVE"
                      and all(r.status == "ACTIVE" for r in api.list_recordsets(zone.id)))
    targets = [(b.dns.host, b.dns.port) for r in healthy_lab.spec().regions for b in r.backends]
    assert len(targets) == 4

    def all_served() -> bool:
        serial = db_serial(healthy_lab, name)
        return all(soa_serial(name, host, port) == serial for host, port in targets)

    assert eventually(all_served)
    assert db_serial(healthy_lab, name) == api.get_zone(zone.id).serial


def test_r2_replicates_with_semi_sync(healthy_lab: Lab) -> None:
    primary, replica = dbsetup.role(healthy_lab.paths, "r1"), dbsetup.role(healthy_lab.paths, "r2")
    assert not primary.read_only and primary.source_host is None
    assert primary.semi_sync_master == "ON"
    assert replica.read_only and replica.source_host == "127.0.1.1"
    assert (replica.io_running, replica.sql_running) == ("Yes", "Yes")
    assert replica.semi_sync_slave == "ON"


def test_partition_stops_r2_io_thread_and_heal_resumes_it(healthy_lab: Lab) -> None:
    # The replica connects from 127.0.0.1 (the kernel's choice on loopback): a rule on source
    # ranges would never match; the lab cuts by cgroup, which this test proves.
    healthy_lab.partition("r1", "r2")
    try:
        assert healthy_lab.partitions() == {("r1", "r2")}
        assert eventually(lambda: dbsetup.role(healthy_lab.paths, "r2").io_running != "Yes", timeout=60)
        # The tool (outside both regions) still reaches both databases.
        assert dbsetup.role(healthy_lab.paths, "r1").reachable
    finally:
        healthy_lab.heal()
    assert healthy_lab.partitions() == set()
    assert eventually(lambda: dbsetup.role(healthy_lab.paths, "r2").io_running == "Yes", timeout=60)
    assert eventually(lambda: dbsetup.role(healthy_lab.paths, "r1").semi_sync_master == "ON", timeout=60)


def test_partition_cuts_notify_and_transfer_between_regions(healthy_lab: Lab) -> None:
    """r1's worker cannot NOTIFY or poll r2's backends: a zone created in r1 stays PENDING."""
    api = healthy_lab.api("r1")
    healthy_lab.partition("r1", "r2")
    try:
        zone = api.create_zone(f"cut-{int(time.time() * 1000)}.lab.example.", "hostmaster@example.org")
        time.sleep(5)
        assert api.get_zone(zone.id).status == "PENDING"
    finally:
        healthy_lab.heal()


def test_kill_r1_closes_its_ports(healthy_lab: Lab) -> None:
    healthy_lab.kill("r1")
    endpoints = {e for kind in KINDS for e in Addresses("r1").listeners(kind)}
    assert endpoints
    assert eventually(lambda: not any(port_open(h, p) for h, p in endpoints), timeout=30)
    assert not healthy_lab.cgroups.pids("r1")
    states = {r["kind"]: r["state"] for r in healthy_lab.status() if r["region"] == "r1"}
    assert set(states.values()) == {"down"}
    # r2 still runs.
    assert all(r["state"] == "running" for r in healthy_lab.status() if r["region"] == "r2")


def test_stop_and_cont_freeze_a_region(healthy_lab: Lab) -> None:
    healthy_lab.stop("r2")
    try:
        assert {r["state"] for r in healthy_lab.status() if r["region"] == "r2"} == {"stopped"}
    finally:
        healthy_lab.cont("r2")
    assert eventually(lambda: all(r["state"] == "running" for r in healthy_lab.status()), timeout=60)


def test_spec_control_commands_drive_the_lab(healthy_lab: Lab) -> None:
    region = healthy_lab.spec().region("r2")
    before = {r["kind"]: r["pid"] for r in healthy_lab.status() if r["region"] == "r2"}
    CommandController(region).restart(["worker"])
    after = {r["kind"]: r["pid"] for r in healthy_lab.status() if r["region"] == "r2"}
    assert after["designate-worker"] != before["designate-worker"]
    assert after["designate-central"] == before["designate-central"]
    CommandController(region).repoint(Endpoint("127.0.1.1", 3306))
    assert healthy_lab.db_target("r2") == ("127.0.1.1", 3306)
    conf = healthy_lab.paths.designate_conf("r2").read_text()
    assert "@127.0.1.1:3306/designate" in conf
    assert all(r["state"] == "running" for r in healthy_lab.status())


def test_create_zones_waits_until_served_everywhere(healthy_lab: Lab) -> None:
    names = healthy_lab.create_zones(20, prefix=f"many{int(time.time())}")
    assert len(names) == 20
    for name in names[:3]:
        serial = db_serial(healthy_lab, name)
        assert soa_serial(name, Addresses("r2").bind, 53) == serial


def test_start_brings_a_killed_region_back_with_its_data(healthy_lab: Lab) -> None:
    name = healthy_lab.create_zones(1, prefix=f"keep{int(time.time())}")[0]
    healthy_lab.kill("r2")
    healthy_lab.start("r2")
    assert all(r["state"] == "running" for r in healthy_lab.status())
    assert eventually(lambda: dbsetup.healthy_pair(healthy_lab.paths, "r1", "r2"), timeout=60)
    assert dbsetup.role(healthy_lab.paths, "r2").read_only
    assert eventually(lambda: soa_serial(name, Addresses("r2").pdns, 53) == db_serial(healthy_lab, name))


def test_restore_healthy_rebuilds_after_a_promotion(healthy_lab: Lab) -> None:
    """What a failover test leaves: r2 promoted and writable, r1 fenced, r2's Designate on r2's DB."""
    dbsetup.query(healthy_lab.paths, "r2", "STOP SLAVE")
    dbsetup.query(healthy_lab.paths, "r2", "RESET SLAVE ALL")
    dbsetup.query(healthy_lab.paths, "r2", "SET GLOBAL read_only = 0")
    dbsetup.query(healthy_lab.paths, "r1", "SET GLOBAL read_only = 1")
    healthy_lab.repoint("r2", "127.0.2.1", 3306)
    healthy_lab.restore_healthy()
    assert dbsetup.healthy_pair(healthy_lab.paths, "r1", "r2")
    assert all(healthy_lab.db_target(r) == ("127.0.1.1", 3306) for r in REGIONS)
    assert all(r["state"] == "running" for r in healthy_lab.status())
    assert healthy_lab.api("r2").ping()


def test_restore_healthy_unfences_r1(healthy_lab: Lab) -> None:
    dbsetup.query(healthy_lab.paths, "r1", "SET GLOBAL read_only = 1")
    dbsetup.query(healthy_lab.paths, "r2", "STOP SLAVE")
    healthy_lab.restore_healthy()
    assert dbsetup.healthy_pair(healthy_lab.paths, "r1", "r2")


def test_down_leaves_no_process_and_no_listener(lab: Lab) -> None:
    lab.up()
    lab.start_controller()
    pids = [p for r in ALL_REGIONS for p in lab.cgroups.pids(r)]
    # r3 runs the monitor, the controller and Keystone (gunicorn: a master and its worker)
    assert len(lab.cgroups.pids("r3", region3.MONITOR)) == 1 and len(lab.cgroups.pids("r3", region3.CONTROLLER)) == 1
    assert len(lab.cgroups.pids("r3", keystone.KEYSTONE)) == 2
    lab.down()
    # down forgets the controller: `up` starts none
    assert sorted(r["kind"] for r in lab.status() if r["region"] == "r3") == sorted([keystone.KEYSTONE, region3.MONITOR])
    assert not any(_alive(p) for p in pids)
    lab_hosts = {Addresses(r).core for r in ALL_REGIONS} | {Addresses(r).pdns for r in REGIONS} | {
        Addresses(r).bind for r in REGIONS}
    assert not {e for e in tcp_listeners() if e[0] in lab_hosts}
    ss = subprocess.run(["ss", "-Htlnup"], capture_output=True, text=True, check=True).stdout
    assert not [line for line in ss.splitlines() if any(f"{h}:" in line for h in lab_hosts)], ss
    # and the next test gets a lab again
    lab.up()


def _alive(pid: int) -> bool:
    from dnsdr.lab.proc import alive

    return alive(pid)

