"""Failover benchmark on the lab: RPO and RTO of `dnsdr promote` after region r1 crashes.

Brings the lab (``.lab``) to the healthy state with N zones, runs a steady write load through r1's
Designate API (recordset creates; every HTTP 201/202 is an acknowledged write), SIGKILLs every
process of r1, then times ``dnsdr promote --region r2 --yes`` from the command to:
- ``verified_s``: every live zone verified on r2's targets at the promoted database's serial or later;
- ``write_served_s``: a new write accepted by r2's API and served by r2's targets;
- ``clean_s``: Designate clean (the end of the verify-clean step): every zone ACTIVE, every target
  at the database's serial; checked again independently once promote returned (``clean_after``).
Lost writes are acknowledged recordsets missing from r2's database after the failover. The zones
are seeded straight into the lab's stores (``--seed fast``, :mod:`dnsdr.lab.fastzones`) or created
through the API (``--seed api``, ~3.5 zones/s); either way the API must list every one of them.
``cpu_s`` is the CPU time of each lab component (its cgroup) and of dnsdr during the promote.
This is a benchmark, not a test: numbers depend on the machine; the last output line is JSON.

    .venv/bin/python tests/bench/failover.py [--zones 1000] [--load-seconds 5] [--seed fast|api]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

from dnsdr.adapters.designate_api import DesignateApiError
from dnsdr.adapters.designate_db import read_zones
from dnsdr.adapters.dns_prober import sweep
from dnsdr.domain.serials import targets_from_spec
from dnsdr.lab import Lab, dbsetup
from dnsdr.lab.layout import KINDS, REGIONS

ROOT = Path(__file__).resolve().parents[2]
DNSDR = str(Path(sys.executable).parent / "dnsdr")


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def live_zone_count(lab: Lab, region: str) -> int:
    rows = dbsetup.query(lab.paths, region, "SELECT COUNT(*) AS n FROM designate.zones WHERE deleted = '0' "
                         "AND type = 'PRIMARY'")
    return int(rows[0]["n"])


def api_listed(lab: Lab, prefix: str) -> int:
    """How many zones named ``prefix-*`` r1's API lists (pages of 1,000)."""
    api = lab.api("r1")
    try:
        return len(api.list_zones(name=f"{prefix}-*"))
    finally:
        api.close()


def cgroup_cpu(lab: Lab) -> dict[str, float]:
    """CPU seconds used so far by each lab component (cgroup v2 cpu.stat usage_usec)."""
    out: dict[str, float] = {}
    for region in REGIONS:
        for kind in KINDS:
            try:
                stat = (lab.cgroups.component(region, kind) / "cpu.stat").read_text()
            except OSError:
                continue
            usec = next(int(line.split()[1]) for line in stat.splitlines() if line.startswith("usage_usec"))
            out[f"{region}/{kind}"] = usec / 1e6
    return out


def clean_after(lab: Lab) -> dict[str, object]:
    """Independently of dnsdr: r2's zones all ACTIVE, and r2's targets serving each at the DB serial."""
    spec = lab.spec()
    db = spec.region("r2").database
    assert db is not None
    zones = read_zones(db, pool_id=spec.pool.id)
    report = sweep(zones, targets_from_spec(spec, ["r2"]))
    laggards = report.laggards({z.name: z.serial for z in zones})
    not_active = [z.name for z in zones if (z.status, z.action) != ("ACTIVE", "NONE")]
    return {"zones": len(zones), "not_active": len(not_active), "copies_behind": len(laggards),
            "clean": not not_active and not laggards, "example": (not_active or laggards or [None])[0]}


class WriteLoad:
    """Creates recordsets through one region's API until stopped; remembers what was acknowledged."""

    def __init__(self, lab: Lab, region: str, zone: str) -> None:
        self.api = lab.api(region)
        found = self.api.find_zone(zone)
        assert found is not None, zone
        self.zone = found
        self.acked: list[str] = []
        self.failed = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            i += 1
            try:
                rs = self.api.create_recordset(self.zone.id, f"load-{int(time.time())}-{i}.{self.zone.name}", "A",
                                               [f"192.0.2.{i % 250 + 1}"])
                self.acked.append(rs.id)
            except (DesignateApiError, OSError):
                self.failed += 1
                time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zones", type=int, default=1000)
    parser.add_argument("--load-seconds", type=float, default=5.0)
    parser.add_argument("--dir", default=str(ROOT / ".lab"))
    parser.add_argument("--seed", choices=["fast", "api"], default="fast",
                        help="zones seeded into the lab's stores (fast) or created through the API")
    args = parser.parse_args()

    lab = Lab(Path(args.dir), progress=log)
    t = time.monotonic()
    lab.up()
    lab.restore_healthy()
    log(f"lab healthy in {time.monotonic() - t:.1f} s")
    have = live_zone_count(lab, "r1")
    seeded: dict[str, object] = {"how": args.seed, "zones": 0}
    if have < args.zones:
        t = time.monotonic()
        prefix, count = f"bench{int(time.time()) % 100000}", args.zones - have
        if args.seed == "fast":
            lab.seed_zones(count, prefix=prefix)
        else:
            lab.create_zones(count, prefix=prefix)
        seeded.update(zones=count, seconds=round(time.monotonic() - t, 1), api_listed=api_listed(lab, prefix))
        log(f"seeded {count} zones ({args.seed}) in {seeded['seconds']} s; the API lists {seeded['api_listed']}")
        assert seeded["api_listed"] == count, seeded
    zones = live_zone_count(lab, "r1")
    load_zone = lab.create_zones(1, prefix=f"load{int(time.time()) % 100000}")[0]

    load = WriteLoad(lab, "r1", load_zone)
    load.thread.start()
    time.sleep(args.load_seconds)
    log(f"killing r1 after {len(load.acked)} acknowledged writes")
    lab.kill("r1")
    load.stop.set()
    load.thread.join(30)

    state_dir = Path(args.dir) / f"bench-state-{int(time.time())}"
    cpu0, kids0 = cgroup_cpu(lab), resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    proc = subprocess.run([DNSDR, "promote", "-c", str(lab.spec_path), "--state-dir", str(state_dir),
                           "--region", "r2", "--yes", "-o", "json"], capture_output=True, text=True, timeout=1800)
    wall = time.time() - t0
    cpu1, kids1 = cgroup_cpu(lab), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = {k: round(v - cpu0.get(k, 0.0), 1) for k, v in cpu1.items() if k.startswith("r2/") and v - cpu0.get(k, 0.0) >= 0.05}
    cpu["dnsdr"] = round(kids1.ru_utime + kids1.ru_stime - kids0.ru_utime - kids0.ru_stime, 1)
    if proc.returncode != 0:
        log(proc.stderr)
        print(json.dumps({"error": "promote failed", "exit": proc.returncode, "stdout": proc.stdout[-2000:]}))
        return 1
    report = json.loads(proc.stdout)
    steps = {s["name"]: s["seconds"] for s in report["steps"]}
    finished = {s["name"]: s["finished_at"] for s in report["steps"]}

    present = {str(r["id"]) for r in dbsetup.query(lab.paths, "r2", "SELECT id FROM designate.recordsets "
                                                   "WHERE zone_id = %s", (load.zone.id.replace("-", ""),))}
    lost = [rid for rid in load.acked if rid.replace("-", "") not in present]
    result = {
        "zones": zones,
        "acknowledged_writes": len(load.acked),
        "failed_writes_after_kill": load.failed,
        "lost_writes": len(lost),
        "verified_s": round(finished["verify-serials"] - t0, 2),
        "write_served_s": round(finished["verify-write"] - t0, 2),
        "clean_s": round(finished["verify-clean"] - t0, 2) if "verify-clean" in finished else None,
        "clean_detail": next((s.get("detail") for s in report["steps"] if s["name"] == "verify-clean"), None),
        "clean_after": clean_after(lab),
        "promote_wall_s": round(wall, 2),
        "cpu_s": cpu,
        "seeded": seeded,
        "steps": steps,
        "masters_rewrite_s": round(sum(v or 0 for k, v in steps.items() if k.startswith("rewrite-masters")), 2),
        "epoch": report["epoch"],
        "goals": {"verified_s": 20, "write_served_s": 30, "lost_writes": 0,
                  "clean_s": 120 if zones > 1000 else 30},
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
