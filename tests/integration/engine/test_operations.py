"""promote, switchover and rejoin end to end on the real lab, through the CLI an operator uses.

As in production: dnsdr's database account holds only the grants the README lists, every connection
is verified TLS, and the canary write authenticates to Keystone with an application credential.

Every test starts from the healthy lab (r1 primary, r2 replica, four targets) and checks effects
on the real servers: database roles, rows, Designate's pool, and what the DNS servers answer.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import dns.flags
import dns.message
import dns.query
import dns.rdatatype
import pytest

from dnsdr.adapters.designate_db import read_zones
from dnsdr.adapters.mysql import adapter_for
from dnsdr.adapters.mysql.epoch import read_epoch
from dnsdr.adapters.secrets import resolve
from dnsdr.domain.replication import ReplicationState
from dnsdr.domain.spec import DesignateDR
from dnsdr.lab import Lab, dbsetup
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

DNSDR = str(Path(sys.executable).parent / "dnsdr")



def dnsdr(lab: Lab, state_dir: Path, *args: str, env: dict[str, str] | None = None,
          debug: bool = False) -> subprocess.CompletedProcess[str]:
    """``debug``: with --debug --log-format json, the most dnsdr ever logs."""
    logs = ["--debug", "--log-format", "json"] if debug else []
    return subprocess.run([DNSDR, *logs, *args[:1], "-c", str(lab.spec_path), "--state-dir", str(state_dir), *args[1:]],
                          capture_output=True, text=True, timeout=900, env={**os.environ, **(env or {})})


def observe(spec: DesignateDR, region: str) -> ReplicationState:
    db = spec.region(region).database
    assert db is not None
    return adapter_for(db).observe()


# The test's own look at the databases goes through the lab's root over the Unix socket: dnsdr's account
# may read designate.zones only (least privilege), and must not be made stronger for a test's sake.

def zone_count(lab: Lab, region: str) -> tuple[int, int]:
    """(live zones, live recordsets) in ``region``'s Designate database."""
    # dnsdr's own canary zone (the verify-write step) is not user data.
    zones = dbsetup.query(lab.paths, region, "SELECT COUNT(*) AS n FROM designate.zones WHERE deleted = '0' "
                          "AND type != 'CATALOG' AND name NOT LIKE 'dnsdr-canary-%%'")[0]["n"]
    rrsets = dbsetup.query(lab.paths, region, "SELECT COUNT(*) AS n FROM designate.recordsets r JOIN designate.zones z "
                           "ON z.id = r.zone_id WHERE z.deleted = '0' AND z.name NOT LIKE 'dnsdr-canary-%%'")[0]["n"]
    return int(zones), int(rrsets)


def pool_targets(lab: Lab, region: str) -> set[tuple[str, str]]:
    rows = dbsetup.query(lab.paths, region, "SELECT t.type AS type, m.host AS host FROM designate.pool_targets t "
                         "JOIN designate.pool_target_masters m ON m.pool_target_id = t.id")
    return {(str(r["type"]), str(r["host"])) for r in rows}


def assert_clean_right_after(lab: Lab, state_dir: Path, primary: str, *regions: str) -> None:
    """The operation's contract, checked at once, not eventually: every zone ACTIVE in the new primary's
    Designate, and ``dnsdr serials`` exits 0: every target of ``regions`` (all when none: after a
    failover only the survivors', the lost region's do not answer) at the database's serial."""
    stuck = dbsetup.query(lab.paths, primary, "SELECT name, status, action FROM designate.zones "
                          "WHERE deleted = '0' AND status != 'ACTIVE'")
    assert not stuck, stuck
    serials = dnsdr(lab, state_dir, "serials", *(arg for region in regions for arg in ("--region", region)))
    assert serials.returncode == 0, serials.stdout + serials.stderr


def replicates_over_verified_tls(state: ReplicationState) -> bool:
    """The channel dnsdr's repoint made: TLS on, the source's certificate checked against its address."""
    return state.channel is not None and state.channel.tls is True and state.channel.tls_verified is True


def soa(host: str, port: int, zone: str) -> int | None:
    try:
        answer = dns.query.udp(dns.message.make_query(zone, dns.rdatatype.SOA), host, port=port, timeout=2)
    except Exception:
        return None
    if not answer.flags & dns.flags.AA or not answer.answer:
        return None
    return int(answer.answer[0][0].serial)


def backends(spec: DesignateDR, region: str) -> list[tuple[str, int]]:
    return [(b.dns.host, b.dns.port) for b in spec.region(region).backends]


def make_zones(lab: Lab, n: int) -> list[str]:
    return lab.create_zones(n, prefix=f"ops{int(time.time()) % 100000}")


def db_snapshot(lab: Lab) -> dict[str, Any]:
    spec = lab.spec()
    r1, r2 = observe(spec, "r1"), observe(spec, "r2")
    return {"r1_writable": r1.writable, "r2_replica": r2.is_replica, "r2_writable": r2.writable,
            "targets": pool_targets(lab, "r1")}


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


def test_dry_run_changes_nothing(healthy_lab: Lab, state_dir: Path) -> None:
    before = db_snapshot(healthy_lab)
    result = dnsdr(healthy_lab, state_dir, "promote", "--region", "r2", "--dry-run")
    assert result.returncode == 4, result.stderr  # the verdict is "refused": exit 4, nothing changed
    assert "Plan: failover r1 -> r2" in result.stdout and "would be REFUSED" in result.stdout
    assert "Dry run: nothing was changed." in result.stdout
    assert db_snapshot(healthy_lab) == before
    assert not (state_dir / "lab.journal.json").exists()


def test_promote_refuses_while_the_old_primary_is_healthy(healthy_lab: Lab, state_dir: Path) -> None:
    before = db_snapshot(healthy_lab)
    result = dnsdr(healthy_lab, state_dir, "promote", "--region", "r2", "--yes", "--force", "errant-transactions")
    assert result.returncode == 4
    assert "reachable and writable" in result.stderr and "cannot be forced" in result.stderr
    assert "Traceback" not in result.stderr
    assert db_snapshot(healthy_lab) == before


def test_promote_refuses_a_candidate_with_errant_transactions(healthy_lab: Lab, state_dir: Path) -> None:
    spec = healthy_lab.spec()
    for sql in ("SET GLOBAL read_only = 0", "CREATE DATABASE IF NOT EXISTS scratch",
                "CREATE TABLE IF NOT EXISTS scratch.errant (id INT PRIMARY KEY)", "INSERT INTO scratch.errant VALUES (1)",
                "SET GLOBAL read_only = 1"):
        dbsetup.query(healthy_lab.paths, "r2", sql)
    healthy_lab.kill("r1")
    result = dnsdr(healthy_lab, state_dir, "promote", "--region", "r2", "--yes")
    assert result.returncode == 4, result.stdout
    assert "errant" in result.stderr and "--force errant-transactions" in result.stderr
    after = observe(spec, "r2")
    assert after.is_replica and not after.writable


def test_failover_after_r1_is_killed_keeps_every_zone_and_serves_new_writes(healthy_lab: Lab, state_dir: Path) -> None:
    spec = healthy_lab.spec()
    zones = make_zones(healthy_lab, 5)
    before = zone_count(healthy_lab, "r1")
    assert eventually(lambda: zone_count(healthy_lab, "r2") == before, 60)
    healthy_lab.kill("r1")
    result = dnsdr(healthy_lab, state_dir, "promote", "--region", "r2", "--yes", "-o", "json")
    assert result.returncode == 0, result.stderr + result.stdout
    report = json.loads(result.stdout)
    assert report["outcome"] == "succeeded" and report["epoch"] == 1
    assert {s["name"] for s in report["steps"] if s["status"] == "skipped"} == {"fence-database"}
    assert_clean_right_after(healthy_lab, state_dir, "r2", "r2")
    r2 = observe(spec, "r2")
    assert r2.writable and not r2.is_replica
    assert zone_count(healthy_lab, "r2") == before  # every zone and recordset survived
    assert pool_targets(healthy_lab, "r2") == {("pdns4", "127.0.2.1"), ("bind9", "127.0.2.1")}
    db = spec.region("r2").database
    assert db is not None
    serials = {z.name: z.serial for z in read_zones(db, resolve(db.password))}
    for zone in zones:
        for host, port in backends(spec, "r2"):
            assert eventually(lambda: (soa(host, port, zone) or 0) >= serials[zone], 60), (zone, host)
    # A new write through r2's API reaches both of r2's targets.
    api = healthy_lab.api("r2")
    zone = api.find_zone(zones[0])
    assert zone is not None
    api.create_recordset(zone.id, f"after-failover.{zones[0]}", "A", ["192.0.2.99"])
    for host, port in backends(spec, "r2"):
        assert eventually(lambda: _a_record(host, port, f"after-failover.{zones[0]}") == "192.0.2.99", 90)
    epoch = read_epoch(adapter_for(db))
    assert epoch is not None and epoch.epoch == 1 and epoch.primary_region == "r2"


def _a_record(host: str, port: int, name: str) -> str | None:
    try:
        answer = dns.query.udp(dns.message.make_query(name, dns.rdatatype.A), host, port=port, timeout=2)
    except Exception:
        return None
    return answer.answer[0][0].address if answer.answer else None


def test_a_run_killed_after_each_step_resumes_to_exactly_one_promotion(healthy_lab: Lab, state_dir: Path) -> None:
    spec = healthy_lab.spec()
    healthy_lab.kill("r1")
    plan = dnsdr(healthy_lab, state_dir, "promote", "--region", "r2", "--dry-run", "-o", "json")
    steps = [s["name"] for s in json.loads(plan.stdout)["plan"]]
    for step in steps[:-1]:
        # Killed right after each step is journaled; the promotion itself also between act and journal.
        moment = "after-act" if step == "promote" else "after-done"
        crashed = dnsdr(healthy_lab, state_dir, "promote", "--region", "r2", "--yes",
                        env={"DNSDR_FAULT_CRASH": f"{moment}:{step}"})
        assert crashed.returncode == 137, (step, crashed.stdout, crashed.stderr)
    final = dnsdr(healthy_lab, state_dir, "promote", "--region", "r2", "--yes", "-o", "json")
    assert final.returncode == 0, final.stderr + final.stdout
    report = json.loads(final.stdout)
    assert report["outcome"] == "succeeded"
    assert_clean_right_after(healthy_lab, state_dir, "r2", "r2")
    db = spec.region("r2").database
    assert db is not None
    epoch = read_epoch(adapter_for(db))
    assert epoch is not None and epoch.epoch == 1  # one bump: one promotion, whatever the crashes
    assert observe(spec, "r2").writable
    history = list((state_dir / "history" / "lab").glob("*.json"))
    assert len(history) == 1  # one run, resumed each time


def lab_secrets(lab: Lab) -> set[str]:
    """Every credential of the lab: passwords, keys, the application credential secret, rndc secrets."""
    found = set()
    for path in lab.paths.secrets.iterdir():
        text = path.read_text(encoding="utf-8").strip()
        found.update(re.findall(r'secret "([^"]+)"', text) or [text])
    return {v for v in found if len(v) >= 8}


def assert_no_secret_anywhere(lab: Lab, outputs: dict[str, str], state_dir: Path) -> None:
    """No credential and no Keystone token (fernet tokens start gAAAAA) in what dnsdr printed or logged,
    in its journal and history, nor in any log of the lab (Designate, Keystone, the databases, ...)."""
    places = dict(outputs)
    for path in [*state_dir.rglob("*"), *lab.root.glob("*/log/*")]:
        if path.is_file():
            places[str(path)] = path.read_text(encoding="utf-8", errors="replace")
    secrets = lab_secrets(lab)
    for where, text in places.items():
        leaked = [s for s in secrets if s in text]
        assert not leaked, f"{where} shows a credential"
        assert not re.search(r"gAAAAA[A-Za-z0-9_-]{40}", text), f"{where} shows a Keystone token"


def test_switchover_to_r2_and_back_loses_nothing(healthy_lab: Lab, state_dir: Path) -> None:
    """Also: the runs, at --debug with JSON logs, show no credential and no token anywhere."""
    spec = healthy_lab.spec()
    make_zones(healthy_lab, 3)
    before = zone_count(healthy_lab, "r1")
    there = dnsdr(healthy_lab, state_dir, "switchover", "--to", "r2", "--yes", debug=True)
    assert there.returncode == 0, there.stderr + there.stdout
    assert_clean_right_after(healthy_lab, state_dir, "r2")
    r1, r2 = observe(spec, "r1"), observe(spec, "r2")
    assert r2.writable and not r2.is_replica
    assert r1.is_replica and r1.channel is not None and r1.channel.source_host == "127.0.2.1"
    assert replicates_over_verified_tls(r1)  # dnsdr's repoint kept replication on verified TLS
    assert zone_count(healthy_lab, "r2") == before
    zones = make_zones(healthy_lab, 1)  # written through the API, now on r2's database
    assert eventually(lambda: zone_count(healthy_lab, "r1")[0] == before[0] + 1, 60)
    back = dnsdr(healthy_lab, state_dir, "switchover", "--to", "r1", "--yes", debug=True)
    assert back.returncode == 0, back.stderr + back.stdout
    assert_clean_right_after(healthy_lab, state_dir, "r1")
    assert '"step": "verify-write"' in there.stderr + back.stderr  # the canary went through Keystone both ways
    assert_no_secret_anywhere(healthy_lab, {"there": there.stdout + there.stderr, "back": back.stdout + back.stderr},
                              state_dir)
    r1, r2 = observe(spec, "r1"), observe(spec, "r2")
    assert r1.writable and r2.is_replica and r2.channel is not None and r2.channel.source_host == "127.0.1.1"
    assert zone_count(healthy_lab, "r1")[0] == before[0] + 1
    for host, port in backends(spec, "r1") + backends(spec, "r2"):
        assert eventually(lambda: soa(host, port, zones[0]) is not None, 90), host


def test_rejoin_r1_after_a_failover(healthy_lab: Lab, state_dir: Path) -> None:
    spec = healthy_lab.spec()
    zones = make_zones(healthy_lab, 2)
    healthy_lab.kill("r1")
    assert dnsdr(healthy_lab, state_dir, "promote", "--region", "r2", "--yes").returncode == 0
    healthy_lab.start("r1")
    result = dnsdr(healthy_lab, state_dir, "rejoin", "--region", "r1", "--yes")
    assert result.returncode == 0, result.stderr + result.stdout
    assert_clean_right_after(healthy_lab, state_dir, "r2")
    r1 = observe(spec, "r1")
    assert r1.is_replica and r1.channel is not None and r1.channel.source_host == "127.0.2.1" and r1.read_only
    assert replicates_over_verified_tls(r1)
    assert pool_targets(healthy_lab, "r2") == {(t, f"127.0.{n}.1") for t in ("pdns4", "bind9") for n in (1, 2)}
    for host, port in backends(spec, "r1"):
        assert eventually(lambda: soa(host, port, zones[0]) is not None, 90), host
