"""``lab zones N --fast``: thousands of zones in seconds, written where Designate and the targets keep them.

The API path (``lab zones N``) runs at about 3.5 zones/s. Here the healthy lab gets the same zones
straight in its stores (rows from :mod:`dnsdr.lab.seed`):
- Designate: ``zones``, ``recordsets`` and ``records`` rows on the primary in one transaction (r2
  gets them by replication), ACTIVE/NONE at the zone's serial, as the worker leaves an API-created
  zone once every target served it;
- each PowerDNS: the secondary zone (``domains``, type SLAVE, master = its region's mdns) with the
  records a transfer from mdns stores, then ``pdns_control rediscover`` (its zone cache);
- each BIND: the zone file under the name Designate's bind9 driver gives it, then ``rndc addzone``
  with that driver's config (secondary, masters = its region's mdns), so named loads the data
  instead of transferring it (the lab's named keeps secondaries as text: ``masterfile-format text``).
Then it proves what the API path proves: every target serves every zone at the database's serial.
"""

from __future__ import annotations

import random
import secrets as random_secrets
import sqlite3
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from dnsdr.adapters.dns_prober import ProbeOptions, sweep
from dnsdr.adapters.rndc import RndcClient, RndcError, RndcKey
from dnsdr.domain.serials import ExpectedZone, targets_from_spec
from dnsdr.domain.spec import Endpoint
from dnsdr.lab import dbsetup, keystone
from dnsdr.lab.errors import LabError
from dnsdr.lab.layout import MDNS_PORT, POOL_ID, PRIMARY, REGIONS, RNDC_PORT, Addresses
from dnsdr.lab.seed import (
    RECORD_COLUMNS,
    RECORDSET_COLUMNS,
    ZONE_COLUMNS,
    NsRecord,
    SeedZone,
    bind_addzone_config,
    bind_file_name,
    bind_zone_file,
    designate_rows,
    pdns_master,
    pdns_records,
    plan_zone,
)
from dnsdr.lab.zones import EMAIL, zone_names

if TYPE_CHECKING:
    from dnsdr.lab.lab import Lab

TTL = 300  # what the zone-file import of `lab zones` gives zone and recordsets
BATCH = 2000  # rows per INSERT statement


def seed(lab: Lab, n: int, prefix: str | None = None, timeout: float | None = None) -> list[str]:
    """Seed ``n`` zones into the healthy lab; return their names once every target serves them."""
    from dnsdr.lab.restore import pool_ok

    if n < 0:
        raise LabError("zones", "the number of zones cannot be negative")
    if not pool_ok(lab):
        raise LabError("zones", "--fast seeds the healthy lab only (r1 primary, the initial pool): "
                                "run `dnsdr lab restore` or the API path")
    prefix = prefix or f"f{random_secrets.token_hex(3)}"
    names = zone_names(n, prefix)
    ns = ns_records(lab)
    rng = random.Random(random_secrets.randbits(64))
    serial = int(time.time())
    zones = [plan_zone(name, EMAIL, TTL, serial, ns, rng, rrset_ttl=TTL) for name in names]
    t0 = time.monotonic()
    existing = dbsetup.query(lab.paths, PRIMARY, "SELECT COUNT(*) AS n FROM designate.zones WHERE name LIKE %s",
                             (f"{prefix}-%",))
    if int(existing[0]["n"]):
        raise LabError("zones", f"zones named {prefix}-* exist already: choose another --prefix")
    insert_designate(lab, zones)
    lab.progress(f"{n} zones written to Designate's database in {time.monotonic() - t0:.1f} s")
    with ThreadPoolExecutor(len(REGIONS) * 2) as pool:
        jobs = [pool.submit(seed_pdns, lab, r, zones) for r in REGIONS]
        jobs += [pool.submit(seed_bind, lab, r, zones) for r in REGIONS]
        for job in jobs:
            job.result()
    lab.progress(f"{n} zones on the four targets after {time.monotonic() - t0:.1f} s")
    wait_served(lab, zones, time.monotonic() + (timeout if timeout is not None else 120 + n * 0.02))
    lab.progress(f"{n} zones served at the database's serial by every target after {time.monotonic() - t0:.1f} s")
    return names


def ns_records(lab: Lab) -> list[NsRecord]:
    """The pool's NS records, in the order central reads them (``pool_ns_records``)."""
    rows = dbsetup.query(lab.paths, PRIMARY, "SELECT hostname, priority FROM designate.pool_ns_records "
                         "WHERE pool_id = %s ORDER BY created_at, id", (POOL_ID.replace("-", ""),))
    return [NsRecord(str(r["hostname"]), int(r["priority"])) for r in rows]


def _insert(cur: object, table: str, columns: Sequence[str], rows: Sequence[tuple[object, ...]]) -> None:
    sql = (f"INSERT INTO designate.{table} ({', '.join(columns)}) VALUES "
           f"({', '.join(['%s'] * len(columns))})")
    for i in range(0, len(rows), BATCH):
        cur.executemany(sql, rows[i : i + BATCH])  # type: ignore[attr-defined]


def insert_designate(lab: Lab, zones: Sequence[SeedZone]) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    # the lab user's project (Lab.api's), as Keystone names it: the API lists the zones there
    project = keystone.project_id(lab.paths, lab.secrets(), keystone.LAB_PROJECT)
    zone_rows, rs_rows, rec_rows = designate_rows(zones, project, POOL_ID, now)
    with dbsetup.root(lab.paths, PRIMARY, timeout=30) as cur:
        cur.execute("START TRANSACTION")
        _insert(cur, "zones", ZONE_COLUMNS, zone_rows)
        _insert(cur, "recordsets", RECORDSET_COLUMNS, rs_rows)
        _insert(cur, "records", RECORD_COLUMNS, rec_rows)
        cur.execute("COMMIT")


def masters(region: str) -> list[tuple[str, int]]:
    """Each target's masters in the healthy pool: its own region's mdns."""
    return [(Addresses(region).core, MDNS_PORT)]


def seed_pdns(lab: Lab, region: str, zones: Sequence[SeedZone]) -> None:
    directory = lab.paths.component(region, "pdns")
    master = pdns_master(masters(region))
    checked = int(time.time())
    try:
        with sqlite3.connect(directory / "pdns.sqlite3", timeout=60) as conn:
            for z in zones:
                cur = conn.execute("INSERT INTO domains (name, master, last_check, type, account) "
                                   "VALUES (?, ?, ?, 'SLAVE', '')", (z.name.rstrip("."), master, checked))
                conn.executemany("INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled, auth) "
                                 "VALUES (?, ?, ?, ?, ?, ?, 0, 1)",
                                 [(cur.lastrowid, name, rtype, content, ttl, prio)
                                  for name, rtype, ttl, content, prio in pdns_records(z)])
    except sqlite3.Error as exc:
        raise LabError(f"{region}/pdns", f"cannot write its database: {exc}") from None
    # PowerDNS 4.7 keeps a zone cache that direct inserts bypass
    proc = subprocess.run(["pdns_control", f"--socket-dir={directory}", "rediscover"], capture_output=True,
                          text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise LabError(f"{region}/pdns", f"pdns_control rediscover failed: {proc.stderr.strip()[-300:]}")


def seed_bind(lab: Lab, region: str, zones: Sequence[SeedZone]) -> None:
    directory = lab.paths.component(region, "bind")
    for z in zones:
        (directory / bind_file_name(z)).write_text(bind_zone_file(z), encoding="utf-8")
    key = RndcKey.parse(lab.paths.rndc_key(region).read_text(encoding="utf-8"))
    ms = masters(region)
    by_name = {z.name: z for z in zones}
    with RndcClient(Endpoint(Addresses(region).bind, RNDC_PORT), key, timeout=60, connections=4) as client:
        results = client.map(lambda name: client.addzone(name, bind_addzone_config(by_name[name], ms)), list(by_name))
    errors = [r for r in results if isinstance(r, RndcError)]
    if errors:
        raise LabError(f"{region}/bind", f"{len(errors)} addzone errors, first: {errors[0]}")


def wait_served(lab: Lab, zones: Sequence[SeedZone], deadline: float) -> None:
    """Until every target serves every zone at its serial (named loads added zones in the background)."""
    expected = [ExpectedZone(id=z.hex_id, name=z.name, serial=z.serial) for z in zones]
    targets = targets_from_spec(lab.spec(), REGIONS)
    while True:
        report = sweep(expected, targets, ProbeOptions())
        laggards = report.laggards({z.name: z.serial for z in expected})
        if not laggards:
            return
        if time.monotonic() > deadline:
            raise LabError("zones", f"{len(laggards)} zone copies not served at the database's serial in time, "
                                    f"e.g. {laggards[:3]}")
        time.sleep(0.5)
