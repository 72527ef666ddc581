"""The third-region witness's bookkeeping: per-region verdicts and DNS split-brain, pure and typed.

The monitor in the third region probes each database region from outside (nameservers, mdns, API,
database) every interval. This module turns each round's probe results into what the controller
consumes: a region is *lost* only when every probe of it failed, *healthy* only when every probe
succeeded, anything between is *degraded*; each verdict carries its evidence, how many rounds in a
row it has been lost, since when, and when it was last good. It also flags DNS split-brain: the
nameservers serving different canary serials for longer than replication and transfer may take.

No I/O and no clock: each round comes in with its time, so everything is tested in virtual time.
Memory is bounded: per-probe streaks keyed by the spec's targets and a fixed ring of recent rounds.
:func:`parse_verdict` lives here too, because the controller (a sibling front end that may not
import :mod:`dnsdr.monitor`) turns the served JSON back into :class:`MonitorView` objects.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from dnsdr.domain.detection import MonitorView
from dnsdr.domain.errors import RetryLater
from dnsdr.domain.spec import DesignateDR, PolicySpec

RECENT_ROUNDS = 10  # the ring of round summaries served with the verdict
STALE_INTERVALS = 3  # a verdict whose last round is older than this many intervals is unavailable
MIN_SPLIT_INTERVALS = 3  # divergence shorter than this many intervals is never split-brain


class ProbeKind(StrEnum):
    DNS = "dns"  # a nameserver (a backend's DNS endpoint): what resolvers get
    MDNS = "mdns"  # designate-mdns: the region's own view, read from its database
    API = "api"  # the Designate API root
    DATABASE = "database"  # the MySQL/MariaDB server's greeting


class RegionState(StrEnum):
    HEALTHY = "healthy"  # every probe succeeded
    DEGRADED = "degraded"  # some failed, some succeeded
    LOST = "lost"  # every probe failed


@dataclass(frozen=True)
class ProbeTarget:
    """One thing probed each round; ``name`` is unique per region and kind (a backend's name)."""

    region: str
    kind: ProbeKind
    name: str
    host: str
    port: int
    scheme: str = ""  # for the API: http or https

    @property
    def endpoint(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.region, self.kind.value, self.name)


@dataclass(frozen=True)
class ProbeResult:
    """What one probe saw: ``ok``, a one-line ``detail`` (why it failed, or what answered), its
    duration, and the canary SOA serial for the DNS kinds."""

    target: ProbeTarget
    ok: bool
    detail: str
    seconds: float
    serial: int | None = None


@dataclass(frozen=True)
class ProbeStatus:
    """A probe's result with its memory: failed rounds in a row, since when, and its last success."""

    result: ProbeResult
    consecutive_failures: int = 0
    failing_since: float | None = None
    last_ok: float | None = None

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        return {
            "kind": r.target.kind.value, "name": r.target.name, "endpoint": r.target.endpoint, "ok": r.ok,
            "detail": r.detail, "seconds": round(r.seconds, 4), "serial": r.serial,
            "consecutive_failures": self.consecutive_failures, "failing_since": self.failing_since,
            "last_ok": self.last_ok,
        }


@dataclass(frozen=True)
class RegionVerdict:
    """The witness's verdict on one region after a round."""

    region: str
    state: RegionState
    since: float  # when the region entered ``state`` (first round of the streak)
    consecutive_failures: int  # rounds in a row in which every probe failed (0 unless lost)
    last_good: float | None  # last round in which every probe succeeded
    last_seen: float | None  # last round in which at least one probe succeeded
    probes: tuple[ProbeStatus, ...]
    evidence: tuple[str, ...]
    at: float

    @property
    def lost(self) -> bool:
        return self.state is RegionState.LOST

    @property
    def healthy(self) -> bool:
        return self.state is RegionState.HEALTHY

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value, "lost": self.lost, "healthy": self.healthy, "since": self.since,
            "consecutive_failures": self.consecutive_failures, "last_good": self.last_good,
            "last_seen": self.last_seen, "evidence": list(self.evidence),
            "probes": [p.to_dict() for p in self.probes],
        }


@dataclass(frozen=True)
class SplitBrain:
    """Whether the nameservers disagree on the canary serial, since when, and whether for too long."""

    flagged: bool = False
    divergent: bool = False  # they disagree this round
    since: float | None = None  # first round of the current disagreement
    threshold_seconds: float = 0.0
    serials: tuple[tuple[str, str, int], ...] = ()  # (region, nameserver, serial) of those that answered
    mdns_serials: tuple[tuple[str, str, int], ...] = ()  # each region's own view, for the evidence
    evidence: tuple[str, ...] = ()

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(sorted({r for r, _, _ in self.serials}))

    def to_dict(self) -> dict[str, Any]:
        return {
            "flagged": self.flagged, "divergent": self.divergent, "since": self.since,
            "threshold_seconds": self.threshold_seconds, "serials": _nested(self.serials),
            "mdns_serials": _nested(self.mdns_serials), "evidence": list(self.evidence),
        }


@dataclass(frozen=True)
class RoundSummary:
    """One line of the ring of recent rounds."""

    round: int
    at: float
    states: tuple[tuple[str, RegionState], ...]
    split_brain: bool
    failed_probes: int

    def to_dict(self) -> dict[str, Any]:
        return {"round": self.round, "at": self.at, "regions": {r: s.value for r, s in self.states},
                "split_brain": self.split_brain, "failed_probes": self.failed_probes}


@dataclass(frozen=True)
class Snapshot:
    """Everything one round concluded: what ``/verdict`` serves (plus its age, added at serve time)."""

    round: int
    at: float  # wall time the round completed, on the monitor's clock
    seconds: float  # how long the round took
    interval: float
    zone: str
    regions: tuple[RegionVerdict, ...]
    split_brain: SplitBrain
    recent: tuple[RoundSummary, ...] = ()

    def region(self, name: str) -> RegionVerdict:
        for v in self.regions:
            if v.region == name:
                return v
        raise KeyError(name)

    def to_dict(self, age: float, now: float, **extra: Any) -> dict[str, Any]:
        """The JSON document; ``age`` (seconds since the round completed) and ``now`` come from the server."""
        return {
            "kind": "dnsdr-monitor-verdict", "version": 1, **extra,
            "monitor_time": now, "monitor_time_utc": utc(now), "round": self.round, "round_at": self.at,
            "age_seconds": round(max(0.0, age), 3), "interval_seconds": self.interval,
            "round_seconds": round(self.seconds, 4), "canary_zone": self.zone,
            "regions": {v.region: v.to_dict() for v in self.regions},
            "split_brain": self.split_brain.to_dict(), "recent": [r.to_dict() for r in self.recent],
        }


def utc(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _nested(items: Iterable[tuple[str, str, int]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for region, name, serial in items:
        out.setdefault(region, {})[name] = serial
    return out


def probe_plan(spec: DesignateDR) -> tuple[ProbeTarget, ...]:
    """What the witness probes in each database region: every backend's nameserver and every mdns
    (canary SOA), the API root, and the database greeting."""
    targets: list[ProbeTarget] = []
    for region in spec.database_regions:
        name = region.name
        targets.extend(ProbeTarget(name, ProbeKind.DNS, b.name, b.dns.host, b.dns.port) for b in region.backends)
        if region.designate is not None:
            d = region.designate
            targets.extend(ProbeTarget(name, ProbeKind.MDNS, "mdns" if i == 0 else f"mdns-{i + 1}", m.host, m.port)
                           for i, m in enumerate(d.mdns))
            targets.append(ProbeTarget(name, ProbeKind.API, "api", d.api.host, d.api.port, d.api_scheme))
        if region.database is not None:
            ep = region.database.endpoint
            targets.append(ProbeTarget(name, ProbeKind.DATABASE, "database", ep.host, ep.port))
    return tuple(targets)


def split_threshold(policy: PolicySpec) -> float:
    """How long nameservers may disagree before it is split-brain: the expected lag, and never less
    than a few probe intervals (one slow transfer seen by two rounds is not a split)."""
    return max(policy.max_lag_seconds, MIN_SPLIT_INTERVALS * policy.probe_interval_seconds)


@dataclass
class _Memory:
    verdicts: dict[str, RegionVerdict] = field(default_factory=dict)
    probes: dict[tuple[str, str, str], ProbeStatus] = field(default_factory=dict)
    split_since: float | None = None


class Witness:
    """Feeds rounds of probe results in, gets :class:`Snapshot` objects out.

    ``regions`` are the database regions (in spec order); results for other regions are ignored.
    State kept between rounds is one entry per region and per probe target, plus a ring of
    :data:`RECENT_ROUNDS` summaries: the memory does not grow with time.
    """

    def __init__(self, regions: Sequence[str], zone: str, interval: float, threshold: float,
                 recent: int = RECENT_ROUNDS) -> None:
        self.regions = tuple(regions)
        self.zone = zone
        self.interval = interval
        self.threshold = threshold
        self.rounds = 0
        self._memory = _Memory()
        self._recent: deque[RoundSummary] = deque(maxlen=recent)

    def record(self, at: float, results: Iterable[ProbeResult], seconds: float = 0.0) -> Snapshot:
        """Account one completed round at ``at`` (the monitor's wall clock) and return its snapshot."""
        self.rounds += 1
        by_region: dict[str, list[ProbeStatus]] = {r: [] for r in self.regions}
        for result in results:
            if result.target.region in by_region:
                by_region[result.target.region].append(self._probe_status(at, result))
        verdicts = tuple(self._region_verdict(at, name, tuple(by_region[name])) for name in self.regions)
        split = self._split_brain(at, verdicts)
        self._memory.verdicts = {v.region: v for v in verdicts}
        self._recent.append(RoundSummary(self.rounds, at, tuple((v.region, v.state) for v in verdicts),
                                         split.flagged, sum(not p.result.ok for v in verdicts for p in v.probes)))
        return Snapshot(self.rounds, at, seconds, self.interval, self.zone, verdicts, split, tuple(self._recent))

    def _probe_status(self, at: float, result: ProbeResult) -> ProbeStatus:
        key = result.target.key
        before = self._memory.probes.get(key)
        if result.ok:
            status = ProbeStatus(result, 0, None, at)
        else:
            failures = (before.consecutive_failures if before else 0) + 1
            since = before.failing_since if before and before.failing_since is not None else at
            status = ProbeStatus(result, failures, since, before.last_ok if before else None)
        self._memory.probes[key] = status
        return status

    def _region_verdict(self, at: float, region: str, probes: tuple[ProbeStatus, ...]) -> RegionVerdict:
        before = self._memory.verdicts.get(region)
        ok = [p for p in probes if p.result.ok]
        if probes and not ok:
            state = RegionState.LOST
        elif probes and len(ok) == len(probes):
            state = RegionState.HEALTHY
        else:
            state = RegionState.DEGRADED  # includes "no probe at all": never healthy, never lost
        since = before.since if before is not None and before.state is state else at
        lost_rounds = 0
        if state is RegionState.LOST:
            lost_rounds = (before.consecutive_failures if before is not None else 0) + 1
        last_good = at if state is RegionState.HEALTHY else (before.last_good if before else None)
        last_seen = at if ok else (before.last_seen if before else None)
        verdict = RegionVerdict(region, state, since, lost_rounds, last_good, last_seen, probes, (), at)
        return replace(verdict, evidence=_region_evidence(verdict))

    def _split_brain(self, at: float, verdicts: Sequence[RegionVerdict]) -> SplitBrain:
        serials = tuple((v.region, p.result.target.name, p.result.serial) for v in verdicts for p in v.probes
                        if p.result.ok and p.result.serial is not None and p.result.target.kind is ProbeKind.DNS)
        mdns = tuple((v.region, p.result.target.name, p.result.serial) for v in verdicts for p in v.probes
                     if p.result.ok and p.result.serial is not None and p.result.target.kind is ProbeKind.MDNS)
        divergent = len({s for _, _, s in serials}) > 1
        mem = self._memory
        if not divergent:
            mem.split_since = None
            return SplitBrain(False, False, None, self.threshold, serials, mdns)
        if mem.split_since is None:
            mem.split_since = at
        lasted = at - mem.split_since
        flagged = lasted > self.threshold
        groups: dict[int, list[str]] = {}
        for region, name, serial in serials:
            groups.setdefault(serial, []).append(f"{region}/{name}")
        served = "; ".join(f"{serial} on {', '.join(names)}" for serial, names in sorted(groups.items()))
        head = ("DNS split-brain" if flagged else "nameservers disagree") + (
            f" on {self.zone} for {lasted:.1f} s (since {utc(mem.split_since)}; threshold {self.threshold:g} s)")
        evidence = [f"{head}: {served}"]
        if mdns:
            evidence.append("mdns (each region's database) serves " + "; ".join(
                f"{region}/{name} {serial}" for region, name, serial in mdns))
        return SplitBrain(flagged, True, mem.split_since, self.threshold, serials, mdns, tuple(evidence))


def _region_evidence(v: RegionVerdict) -> tuple[str, ...]:
    failed = [p for p in v.probes if not p.result.ok]
    if v.state is RegionState.HEALTHY:
        return (f"every probe of {v.region} succeeded ({len(v.probes)} probes)",)
    if not v.probes:
        return (f"nothing to probe in {v.region}",)
    if v.state is RegionState.LOST:
        head = (f"every probe of {v.region} failed, {v.consecutive_failures} round"
                f"{'s' if v.consecutive_failures != 1 else ''} in a row since {utc(v.since)}")
    else:
        head = f"{len(failed)} of {len(v.probes)} probes of {v.region} failed"
    lines = [head]
    for p in failed:
        t = p.result.target
        streak = f" (failing {p.consecutive_failures} rounds)" if p.consecutive_failures > 1 else ""
        lines.append(f"{t.kind.value} {t.name} {t.endpoint}: {p.result.detail}{streak}")
    return tuple(lines)


class MonitorUnavailable(RetryLater):
    """The monitor's verdict cannot be used: malformed, not ready, or stale (its probe loop is stuck)."""


_MAX_REGIONS = 64
_MAX_EVIDENCE = 32
_MAX_TEXT = 500


def _number(doc: Mapping[str, Any], key: str) -> float:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise MonitorUnavailable(f"the monitor's verdict has no valid {key!r}")
    return float(value)


def parse_verdict(doc: Any, now: float) -> dict[str, MonitorView]:
    """The monitor's ``/verdict`` JSON as one :class:`MonitorView` per region, for the controller.

    Freshness comes from ``age_seconds``, computed by the monitor when it served the document, so no
    clock agreement between hosts is needed; ``now`` is the caller's clock, and each view's ``at`` is
    ``now - age`` on that clock. A verdict older than :data:`STALE_INTERVALS` intervals, not ready,
    or malformed raises :class:`MonitorUnavailable` (the detector then has no monitor opinion).
    The document came over the network, so its strings are clipped and its sizes bounded.
    """
    if not isinstance(doc, Mapping):
        raise MonitorUnavailable("the monitor's verdict is not a JSON object")
    if doc.get("kind") != "dnsdr-monitor-verdict":
        raise MonitorUnavailable("the monitor has no verdict yet" if doc.get("ready") is False
                                 else "not a dnsdr monitor verdict")
    age = _number(doc, "age_seconds")
    interval = _number(doc, "interval_seconds")
    if interval <= 0:
        raise MonitorUnavailable("the monitor's verdict has no valid 'interval_seconds'")
    if age > STALE_INTERVALS * interval:
        raise MonitorUnavailable(f"the monitor's last round is {age:.1f} s old (more than {STALE_INTERVALS} "
                                 f"intervals of {interval:g} s): its probe loop is stuck")
    regions = doc.get("regions")
    if not isinstance(regions, Mapping) or len(regions) > _MAX_REGIONS:
        raise MonitorUnavailable("the monitor's verdict has no valid 'regions'")
    split = doc.get("split_brain")
    split_lines: list[str] = []
    split_regions: set[str] = set()
    if isinstance(split, Mapping) and split.get("flagged") is True:
        split_lines = [_clip(e) for e in _strings(split.get("evidence"))]
        serials = split.get("serials")
        split_regions = {str(r) for r in serials} if isinstance(serials, Mapping) else set()
    views: dict[str, MonitorView] = {}
    for name, body in regions.items():
        if not isinstance(name, str) or not isinstance(body, Mapping):
            raise MonitorUnavailable("the monitor's verdict has a malformed region")
        lost, healthy = body.get("lost"), body.get("healthy")
        if not isinstance(lost, bool) or not isinstance(healthy, bool) or (lost and healthy):
            raise MonitorUnavailable(f"the monitor's verdict on {_clip(name, 64)!r} is malformed")
        evidence = [_clip(e) for e in _strings(body.get("evidence"))]
        if name in split_regions:
            evidence += split_lines
        views[name] = MonitorView(name, lost, healthy, tuple(evidence[:_MAX_EVIDENCE]), now - age)
    return views


def _strings(value: Any) -> list[str]:
    return [v for v in value[:_MAX_EVIDENCE] if isinstance(v, str)] if isinstance(value, list) else []


def _clip(text: str, limit: int = _MAX_TEXT) -> str:
    text = "".join(c if c.isprintable() else "?" for c in text[: limit + 1])
    return text if len(text) <= limit else text[: limit - 3] + "..."
