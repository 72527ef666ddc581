"""Detection benchmark on the lab: how fast the controller decides region loss, and that it never
fires on a blip, a partial cut or a missing witness.

Brings the lab (``.lab``) to the healthy state with N zones, runs the monitor (the lab does) and a
controller in r3 (1 s interval, 3 rounds), then plays the scenarios in order, each ending healthy:

1. r1 frozen (SIGSTOP) for less than the threshold, then thawed;
2. r1 and r2 cut from each other while r3 still sees r1;
3. r1 and r3 cut from each other only;
4. the monitor down (and nothing else);
5. r1 killed (SIGKILL of every process): the one scenario that must fail over.

``detect_s`` is from the kill to the start of the failover the controller's region-lost decision
began (the journal's ``started_at``: the decision is the round that starts it), and ``recovered_s``
to the end of the failover's serial verification (every zone served by r2's targets, from the
journal). ``false_failovers`` counts failovers during scenarios 1-4. The RSS of the controller and
the monitor is sampled all along: the maximum is reported, and the growth while watching (the
highest sample of the last third before the kill less that of the first third; the failover's own
allocations are not a leak). This is a benchmark, not a test; the last output line is JSON.

    .venv/bin/python tests/bench/detection.py [--zones 1000]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from dnsdr.adapters.state import FileStateStore
from dnsdr.lab import Lab
from dnsdr.lab.region3 import MONITOR

ROOT = Path(__file__).resolve().parents[2]


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def get(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            body = resp.read().decode()
    except OSError:
        return None
    return json.loads(body) if body[:1] in "{[" else body


def rounds(url: str) -> float:
    text = get(url + "/metrics") or ""
    for line in str(text).splitlines():
        if line.startswith("dnsdr_controller_rounds_total "):
            return float(line.split()[1])
    return -1.0


def wait(what: str, check: Any, timeout: float = 300.0, every: float = 0.1) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(every)
    return time.monotonic() - start


def wait_rounds(url: str, n: int) -> None:
    start = rounds(url)
    wait(f"{n} controller rounds", lambda: rounds(url) >= start + n)


def rss_mb(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Sampler:
    """Samples the RSS of the controller and the monitor every half second."""

    def __init__(self, lab: Lab, controller_pid: int | None) -> None:
        self.lab, self.controller_pid = lab, controller_pid
        self.samples: dict[str, list[tuple[float, float]]] = {"controller": [], "monitor": []}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def monitor_pid(self) -> int | None:
        pids = self.lab.cgroups.pids("r3", MONITOR)
        return pids[0] if pids else None

    def run(self) -> None:
        while not self.stop.wait(0.5):
            for name, pid in (("controller", self.controller_pid), ("monitor", self.monitor_pid())):
                value = rss_mb(pid)
                if value:
                    self.samples[name].append((time.time(), value))

    def peak(self, name: str) -> float:
        return round(max((v for _, v in self.samples[name]), default=0.0), 1)

    def growth(self, name: str, until: float) -> float:
        """Growth while watching: the samples before ``until`` (wall clock), last third against first."""
        s = [v for t, v in self.samples[name] if t < until]
        if len(s) < 6:
            return 0.0
        third = len(s) // 3
        return round(max(s[-third:]) - max(s[:third]), 1)


def failovers(state: Path) -> int:
    return sum(1 for j in FileStateStore(state, "lab").history() if j.operation == "failover")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zones", type=int, default=1000)
    parser.add_argument("--dir", default=str(ROOT / ".lab"))
    args = parser.parse_args()
    lab = Lab(Path(args.dir), progress=log)
    lab.up()
    lab.restore_healthy()
    have = len(lab.api("r1").list_zones())  # the lab project's zones, whichever bench created them
    if have < args.zones:
        t0 = time.monotonic()
        lab.create_zones(args.zones - have, prefix=f"det{int(time.time()) % 100000}")
        log(f"{args.zones - have} zones in {time.monotonic() - t0:.0f} s")
    state = Path(args.dir) / "state" / f"detection-{int(time.time())}"
    spawned = lab.start_controller("bench", state_dir=state)
    url = spawned.url or ""
    wait("the controller's first healthy verdict",
         lambda: (get(url + "/status") or {}).get("decision", {}).get("verdict") == "healthy")
    sampler = Sampler(lab, spawned.pid)
    sampler.thread.start()
    result: dict[str, Any] = {"zones": args.zones, "scenarios": 0}

    def settle() -> None:
        lab.heal()
        wait("healthy again", lambda: (get(url + "/status") or {}).get("decision", {}).get("verdict") == "healthy")

    log("scenario 1: r1 frozen for 1.5 s (threshold: 3 rounds of 1 s)")
    lab.stop("r1")
    time.sleep(1.5)  # the fault's duration is the scenario
    lab.cont("r1")
    wait_rounds(url, 5)
    settle()
    log("scenario 2: r1 and r2 cut, r3 sees both")
    lab.partition("r1", "r2")
    wait_rounds(url, 8)
    settle()
    log("scenario 3: r1 and r3 cut only")
    lab.partition("r1", "r3")
    wait_rounds(url, 8)
    settle()
    log("scenario 4: the monitor down")
    lab.stop_component("r3", MONITOR)
    wait_rounds(url, 8)
    lab.start("r3")
    settle()
    false = failovers(state)
    log("scenario 5: r1 killed")
    killed_wall = time.time()
    lab.kill("r1")
    wait("the automatic failover", lambda: failovers(state) > false, timeout=600)
    run = FileStateStore(state, "lab").history(1)[0]
    verified = run.record("verify-serials").finished_at
    result.update({
        "scenarios": 5, "detect_s": round(run.started_at - killed_wall, 2),
        "recovered_s": round((verified or time.time()) - killed_wall, 2),
        "failovers": failovers(state), "false_failovers": false,
    })
    wait_rounds(url, 5)
    result["failovers"] = failovers(state)
    sampler.stop.set()
    sampler.thread.join()
    result.update({
        "controller_rss_mb": sampler.peak("controller"), "monitor_rss_mb": sampler.peak("monitor"),
        "controller_rss_growth_mb": sampler.growth("controller", killed_wall),
        "monitor_rss_growth_mb": sampler.growth("monitor", killed_wall),
        "steps": {s.name: s.seconds for s in run.steps},
    })
    lab.stop_controller("bench")
    print(json.dumps(result))
    return 0 if result["failovers"] == 1 and false == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
