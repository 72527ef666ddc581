"""Bring a lab back to the healthy two-region state between tests.

Healthy: no partition, nothing frozen, every component running, r1 the writable primary and r2 a
read-only GTID replica of it (both threads running, semi-sync ON, same GTID position), both regions'
Designate on r1's database, the pool as at start (four targets, each mastered by its own region's
mdns), the canary zone served by every target, and the monitor in r3 saying so; no controller runs
and none has memory (pause, cool-down) from an earlier test. Faults that only stop or cut things
are undone in place; anything else (roles reversed, databases diverged, pools rewritten) is rebuilt
from nothing, which is simple and sure.
"""

from __future__ import annotations

import shutil
import time
from typing import TYPE_CHECKING

from dnsdr.lab import dbsetup, region3
from dnsdr.lab.errors import LabError
from dnsdr.lab.layout import ALL_REGIONS, MDNS_PORT, MYSQL_PORT, POOL_ID, PRIMARY, REGIONS, Addresses

if TYPE_CHECKING:
    from dnsdr.lab.lab import Lab

REPLICA = "r2"


def expected_pool() -> set[tuple[str, str, int]]:
    """(target type, master host, master port) of the initial pool."""
    return {(t, Addresses(r).core, MDNS_PORT) for r in REGIONS for t in ("pdns4", "bind9")}


def pool_ok(lab: Lab) -> bool:
    pool_id = POOL_ID.replace("-", "")
    try:
        rows = dbsetup.query(
            lab.paths, PRIMARY,
            "SELECT t.type AS type, m.host AS host, m.port AS port FROM designate.pool_targets t "
            "JOIN designate.pool_target_masters m ON m.pool_target_id = t.id WHERE t.pool_id = %s",
            (pool_id,),
        )
        ns = dbsetup.query(
            lab.paths, PRIMARY, "SELECT COUNT(*) AS n FROM designate.pool_nameservers WHERE pool_id = %s", (pool_id,),
        )
    except LabError:
        return False
    got = [(str(r["type"]), str(r["host"]), int(r["port"])) for r in rows]
    return len(got) == 4 and set(got) == expected_pool() and int(ns[0]["n"]) == 4


def databases_ok(lab: Lab, timeout: float = 30.0) -> bool:
    """r1 primary, r2 replicating from it with semi-sync, r2 caught up (no divergence)."""
    deadline = time.monotonic() + timeout
    while True:
        p, r = dbsetup.role(lab.paths, PRIMARY), dbsetup.role(lab.paths, REPLICA)
        if not (p.reachable and r.reachable) or p.source_host is not None or p.read_only:
            return False  # wrong shape: waiting will not help
        if r.source_host != Addresses(PRIMARY).core or not r.read_only:
            return False
        if (r.io_running, r.sql_running) == ("Yes", "Yes") and p.semi_sync_master == "ON" \
                and p.gtid_current == r.gtid_current:
            return True
        if time.monotonic() > deadline:
            lab.progress(f"databases not back within {timeout:g} s: {REPLICA} IO {r.io_running}, SQL {r.sql_running}"
                         f" ({r.last_error or 'no error'}), {PRIMARY} semi-sync {p.semi_sync_master}, GTID "
                         f"{p.gtid_current} on {PRIMARY}, {r.gtid_current} on {REPLICA}")
            return False
        time.sleep(0.25)


def repair_roles(lab: Lab) -> None:
    """Cheap repairs of the initial roles: r1 fenced (read-only) or r2's replication stopped, while
    r2 still replicates from r1 and holds nothing r1 lacks. Anything else is left to a rebuild."""
    p, r = dbsetup.role(lab.paths, PRIMARY), dbsetup.role(lab.paths, REPLICA)
    if not (p.reachable and r.reachable) or p.source_host is not None:
        return
    if r.source_host != Addresses(PRIMARY).core:
        return
    if p.read_only:
        lab.progress(f"{PRIMARY} is read-only (fenced?): making it writable again")
        dbsetup.query(lab.paths, PRIMARY, "SET GLOBAL read_only = 0")
    if r.io_running != "Yes" or r.sql_running != "Yes":
        if r.sql_running != "Yes" and r.last_error:
            return  # an SQL error (divergence): rebuild
        dbsetup.query(lab.paths, REPLICA, "START SLAVE")
    if not r.read_only:
        dbsetup.query(lab.paths, REPLICA, "SET GLOBAL read_only = 1")


def designate_ok(lab: Lab) -> bool:
    return all(lab.db_target(r) == (Addresses(PRIMARY).core, MYSQL_PORT) for r in REGIONS)


def watched_ok(lab: Lab) -> bool:
    """The canary served everywhere and the monitor's verdict healthy (a restarted region needs both)."""
    try:
        lab.ensure_canary()
        region3.wait_monitor_healthy(lab)
    except LabError as exc:
        lab.progress(f"{exc.component}: {exc.message}")
        return False
    return True


def restore_healthy(lab: Lab) -> None:
    t0 = time.monotonic()
    if lab.cgroups.base.exists():
        # first: a controller left running would act on the faults being undone
        for name in region3.stop_all(lab):
            lab.progress(f"stopped {name}: no controller runs in the healthy lab")
    shutil.rmtree(lab.paths.controller_state, ignore_errors=True)
    lab.heal()
    for r in ALL_REGIONS:
        lab.cont(r)
    if lab.spec_path.exists():
        try:
            lab.up()
        except LabError as exc:
            lab.progress(f"restart failed ({exc.component}: {exc.message}); rebuilding")
    if lab.spec_path.exists():
        repair_roles(lab)
    healthy = designate_ok(lab) and pool_ok(lab) and databases_ok(lab) and watched_ok(lab)
    if not healthy:
        lab.progress("lab state differs from the initial one: rebuilding from nothing")
        lab.destroy()
        lab.up()
        if not (databases_ok(lab, timeout=60) and pool_ok(lab)):
            raise LabError("lab", "not healthy even after a rebuild")
        region3.wait_monitor_healthy(lab)
    lab.progress(f"lab healthy in {time.monotonic() - t0:.1f} s")
