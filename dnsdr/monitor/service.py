"""The witness's probe loop: every interval, probe each database region in parallel and keep the verdict.

Runs in the third region. Probes are bounded (:mod:`dnsdr.adapters.probes`), so a round lasts about
one probe timeout however many servers hang; rounds start on a fixed schedule and a round that
overruns skips the missed starts instead of bunching up. The latest :class:`Snapshot` is kept with
the monotonic time it completed, so its age is measured on this host when served and consumers on
other hosts need no clock agreement.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import partial
from typing import Any

from dnsdr.adapters.probes import probe
from dnsdr.domain.canary import canary_zone
from dnsdr.domain.spec import DesignateDR
from dnsdr.domain.witness import (
    STALE_INTERVALS,
    ProbeResult,
    ProbeTarget,
    RegionState,
    Snapshot,
    Witness,
    probe_plan,
    split_threshold,
)
from dnsdr.monitor.metrics import MonitorMetrics

log = logging.getLogger("dnsdr.monitor")

MAX_WORKERS = 32
# A probe whose thread has not returned this long after its own deadline is written off (the
# probes bound every wait, so this only guards against a bug there).
GRACE_SECONDS = 1.0


def default_timeout(interval: float) -> float:
    """Per-probe timeout: half the interval, at most 2 s (Route 53 allows 2 s for an answer after connect)."""
    return max(0.1, min(2.0, interval / 2))


Prober = Callable[[ProbeTarget, str, float], ProbeResult]


class Monitor:
    """The witness for one spec: runs rounds, keeps the latest snapshot, serves its views."""

    def __init__(self, spec: DesignateDR, *, timeout: float | None = None, prober: Prober | None = None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 tls: ssl.SSLContext | None = None) -> None:
        self.spec = spec
        self.interval = spec.policy.probe_interval_seconds
        self.timeout = timeout if timeout is not None else default_timeout(self.interval)
        if self.timeout >= self.interval:
            log.warning("probe timeout %g s is not shorter than the interval %g s: rounds will overrun",
                        self.timeout, self.interval)
        self.zone = canary_zone(spec)
        self.targets = probe_plan(spec)
        regions = tuple(r.name for r in spec.database_regions)
        self.witness = Witness(regions, self.zone, self.interval, split_threshold(spec.policy))
        self.metrics = MonitorMetrics(regions)
        self._prober: Prober = prober or partial(probe, tls=tls)  # the API's HTTPS checked with the spec's CA
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._completed: float | None = None  # monotonic time of the last completed round
        self._started = clock()
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(MAX_WORKERS, len(self.targets))),
                                        thread_name_prefix="dnsdr-probe")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def run_round(self) -> Snapshot:
        """Probe every target once, in parallel, and account the round."""
        started = self._clock()
        futures: list[tuple[ProbeTarget, Future[ProbeResult]]] = [
            (t, self._pool.submit(self._prober, t, self.zone, self.timeout)) for t in self.targets]
        results: list[ProbeResult] = []
        for target, future in futures:
            try:
                results.append(future.result(timeout=max(0.0, started + self.timeout + GRACE_SECONDS - self._clock())))
            except FutureTimeout:
                results.append(ProbeResult(target, False, "probe did not return in time", self._clock() - started))
            except Exception as exc:  # the prober never raises; if it does, it is this probe's failure
                results.append(ProbeResult(target, False, f"{type(exc).__name__}: {exc}", self._clock() - started))
        snapshot = self.witness.record(self._wall(), results, self._clock() - started)
        with self._lock:
            previous, self._snapshot, self._completed = self._snapshot, snapshot, self._clock()
        self.metrics.update(snapshot)
        _log_changes(previous, snapshot)
        return snapshot

    def run(self, stop: threading.Event) -> None:
        """Run rounds every interval until ``stop`` is set."""
        next_start = self._clock()
        while not stop.is_set():
            try:
                self.run_round()
            except Exception:  # keep probing; /healthz turns 503 if rounds stop completing
                log.exception("probe round failed")
            next_start += self.interval
            now = self._clock()
            if next_start < now:
                skipped = int((now - next_start) // self.interval) + 1
                log.warning("a round overran the interval of %g s; skipping %d start(s)", self.interval, skipped)
                next_start += skipped * self.interval
            stop.wait(next_start - now)

    # --- what the HTTP endpoints serve ----------------------------------------------------------------

    def verdict(self) -> tuple[int, dict[str, Any]]:
        with self._lock:
            snapshot, completed = self._snapshot, self._completed
        now = self._wall()
        if snapshot is None or completed is None:
            return 503, {"ready": False, "monitor_time": now, "interval_seconds": self.interval,
                         "error": "no probe round completed yet"}
        extra = {"spec": self.spec.name, "monitor_region": self.spec.monitor_region, "timeout_seconds": self.timeout}
        return 200, snapshot.to_dict(age=self._clock() - completed, now=now, **extra)

    def healthz(self) -> tuple[int, dict[str, Any]]:
        """Alive while the last round (or, before the first, the start) is younger than 3 intervals."""
        with self._lock:
            completed = self._completed
        since = completed if completed is not None else self._started
        age = self._clock() - since
        alive = age < STALE_INTERVALS * self.interval
        return (200 if alive else 503), {"alive": alive, "seconds_since_last_round": round(age, 3),
                                         "rounds": self.witness.rounds}

    def readyz(self) -> tuple[int, dict[str, Any]]:
        with self._lock:
            ready = self._snapshot is not None
        return (200 if ready else 503), {"ready": ready}


def _log_changes(previous: Snapshot | None, current: Snapshot) -> None:
    """One log line per change of a region's state or of the split-brain flag, not per round."""
    for verdict in current.regions:
        before = None
        if previous is not None:
            before = next((v.state for v in previous.regions if v.region == verdict.region), None)
        if before is verdict.state:
            continue
        level = logging.INFO if verdict.state is RegionState.HEALTHY else logging.WARNING
        log.log(level, "region %s is %s: %s", verdict.region, verdict.state.value, "; ".join(verdict.evidence),
                extra={"region": verdict.region})
    was = previous.split_brain.flagged if previous is not None else False
    if current.split_brain.flagged != was:
        if current.split_brain.flagged:
            log.error("%s", "; ".join(current.split_brain.evidence))
        else:
            log.warning("DNS split-brain no longer flagged (the answering nameservers agree, or too few answer)")
