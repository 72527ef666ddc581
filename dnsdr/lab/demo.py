"""`make demo`: a region lost and recovered by itself, end to end, on the local lab.

1. pools.yml for the example spec, healthy and with r1 lost (pure rendering);
2. the lab up: two Designate regions (MariaDB, RabbitMQ, the Designate services, PowerDNS, BIND)
   with zones, and the monitor in the third region; then the controller (`dnsdr run`) started
   beside it, with automatic failover on;
3. region r1 crashes (SIGKILL of every process): the monitor and the controller see it, every
   vantage point agrees for three rounds, and the controller fails over to r2 by itself; its
   timeline from `dnsdr history`;
4. verification: zone serials on every target, Designate clean;
5. r1 restarted and rejoined as a replica of r2 (by hand, as an operator would), status;
6. the lab taken down (set DNSDR_DEMO_KEEP=1 to keep it).
Each step runs the real `dnsdr` command line, so what scrolls by is what an operator sees.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "manifests" / "examples" / "designatedr.yaml"
LAB = ROOT / ".lab"
DNSDR = str(Path(sys.executable).parent / "dnsdr")
CONTROLLER = "http://127.0.3.1:9154"


def banner(text: str) -> None:
    print(f"\n\033[1m==== {text} ====\033[0m", flush=True)


def run(*args: str, check: bool = True) -> int:
    print(f"$ dnsdr {' '.join(args)}", flush=True)
    code = subprocess.call([DNSDR, *args])
    if check and code != 0:
        print(f"demo: `dnsdr {' '.join(args)}` exited {code}", file=sys.stderr)
        sys.exit(code)
    return code


def status() -> dict[str, Any]:
    try:
        with urllib.request.urlopen(CONTROLLER + "/status", timeout=5) as resp:
            doc = json.loads(resp.read())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def watch(what: str, done: Any, timeout: float = 600.0) -> None:
    """Print each new decision of the controller until ``done(status)``."""
    started, last = time.monotonic(), ""
    while True:
        doc = status()
        decision = doc.get("decision") or {}
        line = f"{decision.get('verdict', '?')}: {(decision.get('reasons') or [''])[0]}"
        if doc.get("outcome"):
            line += f" -> {doc['outcome']}"
        if line != last:
            print(f"  [{time.monotonic() - started:5.1f} s] controller: {line}", flush=True)
            last = line
        if done(doc):
            return
        if time.monotonic() - started > timeout:
            print(f"demo: timed out waiting for {what}", file=sys.stderr)
            sys.exit(1)
        time.sleep(0.25)


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
    banner("the lab: two Designate regions with zones, the monitor in r3")
    run(*lab, "up")
    run(*lab, "restore")  # a previous demo may have left r2 primary: back to r1 primary, r2 replica
    run(*lab, "zones", "20")
    run("status", "-c", spec, "--state-dir", state)
    try:
        banner("the controller in r3: automatic failover, 1 s rounds, 3 rounds of agreement")
        run(*lab, "controller", "start", "--state-dir", state, "--listen", CONTROLLER.removeprefix("http://"))
        watch("a healthy verdict", lambda d: (d.get("decision") or {}).get("verdict") == "healthy")
        banner("region r1 crashes; the controller decides and fails over by itself")
        run(*lab, "kill", "r1")
        # the round's outcome shows for one round only; the control record keeps the failover's time
        watch("the automatic failover", lambda d: "succeeded" in str(d.get("outcome", ""))
              or bool((d.get("control") or {}).get("last_auto_failover_at")))
        run("history", "-c", spec, "--state-dir", state)
        banner("verification: every zone on r2's targets (r1's are down), Designate clean")
        run("serials", "-c", spec, "--state-dir", state, "--region", "r2")
        banner("r1 comes back and rejoins as a replica of r2")
        run(*lab, "start", "r1", check=False)
        run("rejoin", "-c", spec, "--state-dir", state, "--region", "r1", "--yes")
        run("status", "-c", spec, "--state-dir", state)
        run("serials", "-c", spec, "--state-dir", state)
    finally:
        if not os.environ.get("DNSDR_DEMO_KEEP"):
            banner("lab down")
            run(*lab, "controller", "stop", check=False)
            run(*lab, "down", check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
