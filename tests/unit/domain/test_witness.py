"""The witness's bookkeeping in virtual time: per-region verdicts, streaks, split-brain, bounded memory,
and the controller's parser of the served verdict."""

from __future__ import annotations

import json

import pytest
import yaml

from dnsdr.adapters.backends import KINDS
from dnsdr.domain.canary import canary_zone
from dnsdr.domain.spec_parse import parse_designatedr
from dnsdr.domain.witness import (
    RECENT_ROUNDS,
    MonitorUnavailable,
    ProbeKind,
    ProbeResult,
    ProbeTarget,
    RegionState,
    Snapshot,
    Witness,
    parse_verdict,
    probe_plan,
    split_threshold,
)
from tests.conftest import EXAMPLE

ZONE = "dnsdr-canary-example.test."
T0 = 1_800_000_000.0


def targets(region: str, nameservers: int = 2) -> list[ProbeTarget]:
    host = f"127.0.{region[1:]}.1"
    return [*(ProbeTarget(region, ProbeKind.DNS, f"{region}-ns{i}", host, 53) for i in range(nameservers)),
            ProbeTarget(region, ProbeKind.MDNS, "mdns", host, 5354),
            ProbeTarget(region, ProbeKind.API, "api", host, 9001, "http"),
            ProbeTarget(region, ProbeKind.DATABASE, "database", host, 3306)]


R1, R2 = targets("r1"), targets("r2")


def results(ts: list[ProbeTarget], ok: bool = True, serial: int = 100,
            serials: dict[str, int] | None = None, failing: tuple[str, ...] = ()) -> list[ProbeResult]:
    out = []
    for t in ts:
        good = ok and t.name not in failing
        s = (serials or {}).get(t.name, serial) if good and t.kind in (ProbeKind.DNS, ProbeKind.MDNS) else None
        out.append(ProbeResult(t, good, f"SOA serial {s}" if s is not None else ("ok" if good else "timed out"),
                               0.01, s))
    return out


def witness(interval: float = 2.0, threshold: float = 6.0) -> Witness:
    return Witness(("r1", "r2"), ZONE, interval, threshold)


def test_canary_zone_is_named_after_the_spec() -> None:
    spec = parse_designatedr(yaml.safe_load(EXAMPLE.read_text()), KINDS)
    assert canary_zone(spec) == ZONE


def test_probe_plan_covers_every_database_region_and_nothing_else() -> None:
    spec = parse_designatedr(yaml.safe_load(EXAMPLE.read_text()), KINDS)
    plan = probe_plan(spec)
    assert {t.region for t in plan} == {"r1", "r2"}  # r3 is the monitor's own region
    assert [(t.kind.value, t.name, t.endpoint) for t in plan if t.region == "r1"] == [
        ("dns", "r1-pdns", "127.0.1.2:53"), ("dns", "r1-bind", "127.0.1.3:53"), ("mdns", "mdns", "127.0.1.1:5354"),
        ("api", "api", "127.0.1.1:9001"), ("database", "database", "127.0.1.1:3306")]
    assert split_threshold(spec.policy) == 6.0  # maxLagSeconds 5, but at least 3 intervals of 2 s


def test_healthy_degraded_lost_with_streaks_since_and_last_good() -> None:
    w = witness()
    snap = w.record(T0, results(R1) + results(R2))
    assert snap.region("r1").state is RegionState.HEALTHY
    assert snap.region("r1").evidence == ("every probe of r1 succeeded (5 probes)",)
    snap = w.record(T0 + 2, results(R1, failing=("api",)) + results(R2))
    r1 = snap.region("r1")
    assert (r1.state, r1.lost, r1.healthy) == (RegionState.DEGRADED, False, False)
    assert r1.evidence == ("1 of 5 probes of r1 failed", "api api 127.0.1.1:9001: timed out")
    for i in range(3):
        snap = w.record(T0 + 4 + 2 * i, results(R1, ok=False) + results(R2))
    r1 = snap.region("r1")
    assert (r1.state, r1.consecutive_failures, r1.since) == (RegionState.LOST, 3, T0 + 4)
    assert (r1.last_good, r1.last_seen) == (T0, T0 + 2)
    assert r1.evidence[0].startswith("every probe of r1 failed, 3 rounds in a row since 2027-01-15T08:00:04")
    api = next(p for p in r1.probes if p.result.target.name == "api")
    assert (api.consecutive_failures, api.failing_since, api.last_ok) == (4, T0 + 2, T0)
    assert r1.evidence[4] == "api api 127.0.1.1:9001: timed out (failing 4 rounds)"
    assert snap.region("r2").healthy
    # One probe answering again ends "lost" and resets the streak.
    snap = w.record(T0 + 10, results(R1, ok=False)[:-1] + results(R1[-1:]) + results(R2))
    r1 = snap.region("r1")
    assert (r1.state, r1.consecutive_failures, r1.since, r1.last_seen) == (RegionState.DEGRADED, 0, T0 + 10, T0 + 10)


def test_a_region_without_results_is_neither_lost_nor_healthy() -> None:
    snap = witness().record(T0, results(R1))
    assert snap.region("r2").state is RegionState.DEGRADED
    assert snap.region("r2").evidence == ("nothing to probe in r2",)


def test_divergence_becomes_split_brain_only_after_the_threshold() -> None:
    w = witness(threshold=6.0)
    assert not w.record(T0, results(R1) + results(R2)).split_brain.divergent
    stale = {"r2-ns0": 90, "r2-ns1": 90, "mdns": 90}
    seen = [w.record(T0 + 2 + 2 * i, results(R1, serial=100) + results(R2, serials=stale)).split_brain
            for i in range(5)]
    assert [s.divergent for s in seen] == [True] * 5
    assert [s.flagged for s in seen] == [False, False, False, False, True]  # 0, 2, 4, 6 (not > 6), 8 s
    split = seen[-1]
    assert split.since == T0 + 2
    assert split.regions == ("r1", "r2")
    assert split.evidence[0].startswith(f"DNS split-brain on {ZONE} for 8.0 s (since 2027-01-15T08:00:02.000Z")
    assert "90 on r2/r2-ns0, r2/r2-ns1; 100 on r1/r1-ns0, r1/r1-ns1" in split.evidence[0]
    assert split.to_dict()["serials"] == {"r1": {"r1-ns0": 100, "r1-ns1": 100}, "r2": {"r2-ns0": 90, "r2-ns1": 90}}
    assert split.to_dict()["mdns_serials"] == {"r1": {"mdns": 100}, "r2": {"mdns": 90}}
    assert "mdns (each region's database) serves r1/mdns 100; r2/mdns 90" in split.evidence[1]
    # Agreement again clears it at once, and a new divergence starts a new clock.
    assert not w.record(T0 + 12, results(R1) + results(R2)).split_brain.flagged
    again = w.record(T0 + 14, results(R1) + results(R2, serial=101)).split_brain
    assert (again.divergent, again.flagged, again.since) == (True, False, T0 + 14)


def test_one_regions_nameservers_disagreeing_is_split_brain_too() -> None:
    w = witness(threshold=6.0)
    for i in range(5):
        split = w.record(T0 + 2 * i, results(R1, serials={"r1-ns1": 99}) + results(R2, ok=False)).split_brain
    assert split.flagged
    assert split.regions == ("r1",)


def test_a_silent_nameserver_is_no_vote() -> None:
    w = witness(threshold=6.0)
    for i in range(6):
        split = w.record(T0 + 2 * i, results(R1) + results(R2, failing=("r2-ns0",))).split_brain
    assert not split.divergent


def test_memory_is_bounded_however_long_it_runs() -> None:
    w = witness()
    for i in range(1000):
        snap = w.record(T0 + 2 * i, results(R1, ok=i % 3 != 0, serial=i) + results(R2, serial=i + i % 2))
    assert len(snap.recent) == RECENT_ROUNDS
    assert [r.round for r in snap.recent] == list(range(991, 1001))
    assert len(w._memory.probes) == len(R1) + len(R2)
    assert len(w._memory.verdicts) == 2


def served(snap: Snapshot, age: float = 0.5) -> dict[str, object]:
    doc = snap.to_dict(age=age, now=snap.at + age, spec="example")
    return dict(json.loads(json.dumps(doc)))  # what goes over the wire


def test_verdict_document_round_trips_into_monitor_views() -> None:
    w = witness()
    for i in range(4):
        snap = w.record(T0 + 2 * i, results(R1, ok=False) + results(R2), seconds=0.3)
    doc = served(snap, age=0.5)
    assert doc["age_seconds"] == 0.5
    assert doc["interval_seconds"] == 2.0
    assert doc["regions"]["r1"]["consecutive_failures"] == 4  # type: ignore[index]
    views = parse_verdict(doc, now=5000.0)
    assert set(views) == {"r1", "r2"}
    r1, r2 = views["r1"], views["r2"]
    assert (r1.lost, r1.healthy, r2.lost, r2.healthy) == (True, False, False, True)
    assert r1.at == 4999.5  # on the caller's clock: no clock agreement needed
    assert r1.evidence[0].startswith("every probe of r1 failed, 4 rounds in a row")
    assert len(r1.evidence) == 6


def test_split_brain_evidence_reaches_the_regions_views() -> None:
    w = witness(threshold=6.0)
    for i in range(5):
        snap = w.record(T0 + 2 * i, results(R1, serial=100) + results(R2, serial=90))
    views = parse_verdict(served(snap), now=0.0)
    assert views["r2"].healthy
    assert views["r2"].evidence[-2].startswith("DNS split-brain on")


@pytest.mark.parametrize(("age", "usable"), [(5.9, True), (6.0, True), (6.1, False)])
def test_a_verdict_older_than_three_intervals_is_unavailable(age: float, usable: bool) -> None:
    doc = served(witness().record(T0, results(R1) + results(R2)), age=age)
    if usable:
        assert parse_verdict(doc, now=0.0)["r1"].healthy
    else:
        with pytest.raises(MonitorUnavailable, match=r"6\.1 s old .* probe loop is stuck"):
            parse_verdict(doc, now=0.0)


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d.clear() or d.update({"ready": False, "error": "no probe round completed yet"}), "no verdict yet"),
    (lambda d: d.update(kind="something else"), "not a dnsdr monitor verdict"),
    (lambda d: d.pop("age_seconds"), "no valid 'age_seconds'"),
    (lambda d: d.update(age_seconds=float("nan")), "no valid 'age_seconds'"),
    (lambda d: d.update(interval_seconds=0), "no valid 'interval_seconds'"),
    (lambda d: d.update(regions=[]), "no valid 'regions'"),
    (lambda d: d["regions"]["r1"].update(lost="yes"), "verdict on 'r1' is malformed"),
    (lambda d: d["regions"]["r1"].update(lost=True, healthy=True), "verdict on 'r1' is malformed"),
])
def test_a_malformed_verdict_is_unavailable_with_a_reason(mutate: object, message: str) -> None:
    doc = served(witness().record(T0, results(R1) + results(R2)))
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(MonitorUnavailable, match=message):
        parse_verdict(doc, now=0.0)
    with pytest.raises(MonitorUnavailable):
        parse_verdict(["not", "a", "mapping"], now=0.0)


def test_hostile_evidence_is_clipped_and_bounded() -> None:
    doc = served(witness().record(T0, results(R1) + results(R2)))
    doc["regions"]["r1"]["evidence"] = ["x" * 10_000 + "\x1b[31m"] * 1000 + [42]  # type: ignore[index]
    view = parse_verdict(doc, now=0.0)["r1"]
    assert len(view.evidence) == 32
    assert all(len(e) == 500 and e.endswith("...") for e in view.evidence)
