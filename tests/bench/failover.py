"""Failover benchmark on the lab: RPO and RTO of `dnsdr promote` after region r1 crashes.

Brings the lab (``.lab``) to the healthy state with N zones, runs a steady write load through r1's
Designate API (recordset creates; every HTTP 201/202 is an acknowledged write), SIGKILLs every
process of r1, then times ``dnsdr promote --region r2 --yes`` from the command to:
- ``verified_s``: every live zone verified on r2's targets at the promoted database's serial or later;
- ``write_served_s``: a new write accepted by r2's API and served by r2's targets.
Lost writes are acknowledged recordsets missing from r2's database after the failover.
This is a benchmark, not a test: numbers depend on the machine; the last output line is JSON.

    .venv/bin/python tests/bench/failover.py [--zones 1000] [--load-seconds 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from dnsdr.adapters.designate_api import DesignateApiError
from dnsdr.lab import Lab, dbsetup

ROOT = Path(__file__).resolve().parents[2]
DNSDR = str(Path(sys.executable).parent / "dnsdr")


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def live_zone_count(lab: Lab, region: str) -> int:
    rows = dbsetup.query(lab.paths, region, "SELECT COUNT(*) AS n FROM designate.zones WHERE deleted = '0' "
                         "AND type = 'PRIMARY'")
    return int(rows[0]["n"])


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
    args = parser.parse_args()

    lab = Lab(Path(args.dir), progress=log)
    t = time.monotonic()
    lab.up()
    lab.restore_healthy()
    log(f"lab healthy in {time.monotonic() - t:.1f} s")
    have = live_zone_count(lab, "r1")
    if have < args.zones:
        t = time.monotonic()
        lab.create_zones(args.zones - have, prefix=f"bench{int(time.time()) % 100000}")
        log(f"created {args.zones - have} zones in {time.monotonic() - t:.1f} s")
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
    t0 = time.time()
    proc = subprocess.run([DNSDR, "promote", "-c", str(lab.spec_path), "--state-dir", str(state_dir),
                           "--region", "r2", "--yes", "-o", "json"], capture_output=True, text=True, timeout=1800)
    wall = time.time() - t0
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
        "promote_wall_s": round(wall, 2),
        "steps": steps,
        "masters_rewrite_s": round(sum(v or 0 for k, v in steps.items() if k.startswith("rewrite-masters")), 2),
        "epoch": report["epoch"],
        "goals": {"verified_s": 20, "write_served_s": 30, "lost_writes": 0},
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
