"""`make demo`: a region failover, end to end, on the local two-region lab.

1. pools.yml for the example spec, healthy and with r1 lost (pure rendering);
2. the lab up (MariaDB, RabbitMQ, Designate, PowerDNS, BIND per region) with a few zones;
3. region r1 crashes (SIGKILL of every process); `dnsdr promote --dry-run`, then the failover;
4. zone serials on r2's targets, then r1 restarted and rejoined as a replica of r2;
5. the lab taken down (set DNSDR_DEMO_KEEP=1 to keep it).
Each step runs the real `dnsdr` command line, so what scrolls by is what an operator sees.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "manifests" / "examples" / "designatedr.yaml"
LAB = ROOT / ".lab"
DNSDR = str(Path(sys.executable).parent / "dnsdr")


def banner(text: str) -> None:
    print(f"\n\033[1m==== {text} ====\033[0m", flush=True)


def run(*args: str, check: bool = True) -> int:
    print(f"$ dnsdr {' '.join(args)}", flush=True)
    code = subprocess.call([DNSDR, *args])
    if check and code != 0:
        print(f"demo: `dnsdr {' '.join(args)}` exited {code}", file=sys.stderr)
        sys.exit(code)
    return code


def main() -> int:
    banner("pools.yml for the example: healthy (r1 primary)")
    run("pools", "render", "-c", str(EXAMPLE))
    banner("pools.yml for the example: r1 lost, r2 promoted")
    run("pools", "render", "-c", str(EXAMPLE), "--primary", "r2", "--lost", "r1")
    if os.geteuid() != 0:
        print("\nThe lab part of the demo needs root (ports 53/953, cgroups, nftables); stopping here.")
        return 0

    spec = str(LAB / "designatedr.yaml")
    state = str(LAB / "state" / f"demo-{int(time.time())}")
    lab = ("lab", "--dir", str(LAB))
    banner("the two-region lab: up, healthy, with zones")
    run(*lab, "up")
    run(*lab, "restore")  # a previous demo may have left r2 primary: back to r1 primary, r2 replica
    run(*lab, "zones", "20")
    run("status", "-c", spec)
    try:
        banner("region r1 crashes")
        run(*lab, "kill", "r1")
        run("status", "-c", spec, "--state-dir", state, "--no-serials")
        banner("what a failover would do (dry run: changes nothing)")
        run("promote", "-c", spec, "--state-dir", state, "--region", "r2", "--dry-run")  # allowed: exit 0
        banner("failover to r2")
        run("promote", "-c", spec, "--state-dir", state, "--region", "r2", "--yes")
        banner("every zone on r2's targets")
        run("serials", "-c", spec, "--region", "r2", check=False)
        banner("r1 comes back and rejoins as a replica of r2")
        run(*lab, "start", "r1", check=False)
        run("rejoin", "-c", spec, "--state-dir", state, "--region", "r1", "--yes")
        run("status", "-c", spec, "--state-dir", state)
        run("history", "-c", spec, "--state-dir", state, "--no-steps")
    finally:
        if not os.environ.get("DNSDR_DEMO_KEEP"):
            banner("lab down")
            run(*lab, "down", check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
