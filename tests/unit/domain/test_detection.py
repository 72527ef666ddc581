"""Region-loss decisions in virtual time: agreement for N rounds, any dissent is uncertain."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dnsdr.domain.detection import DetectorState, MonitorView, Sample, Verdict, decide

UP = MonitorView("r1", lost=False, healthy=True, evidence=("ns ok", "mdns ok", "api ok", "db ok"))
DOWN = MonitorView("r1", lost=True, healthy=False, evidence=("ns timeout", "mdns refused", "api refused", "db refused"))
HEALTHY = Sample(at=0.0, primary="r1", candidate="r2", primary_db_reachable=True, replica_sees_source=True, monitor=UP)
LOST = Sample(at=0.0, primary="r1", candidate="r2", primary_db_reachable=False, primary_db_error="refused",
              replica_sees_source=False, monitor=DOWN)


def run(samples: list[Sample], consecutive: int = 3) -> list[Verdict]:
    state, verdicts = DetectorState(), []
    for i, s in enumerate(samples):
        state, decision = decide(state, replace(s, at=float(i)), consecutive)
        verdicts.append(decision.verdict)
    return verdicts


def test_a_healthy_region_is_healthy() -> None:
    assert run([HEALTHY] * 5) == [Verdict.HEALTHY] * 5


def test_loss_needs_every_vantage_point_for_n_consecutive_rounds() -> None:
    assert run([LOST] * 4) == [Verdict.UNCERTAIN, Verdict.UNCERTAIN, Verdict.REGION_LOST, Verdict.REGION_LOST]


def test_a_blip_shorter_than_the_threshold_never_decides_loss() -> None:
    verdicts = run([LOST, LOST, HEALTHY, LOST, LOST, HEALTHY])
    assert Verdict.REGION_LOST not in verdicts


@pytest.mark.parametrize(("name", "sample"), [
    ("r1-r2 cut, r3 still sees r1", replace(LOST, primary_db_reachable=True, monitor=UP)),
    ("r1-r3 cut only", replace(LOST, replica_sees_source=True)),
    ("the monitor down", replace(LOST, monitor=None, monitor_error="connection refused")),
    ("candidate unreachable", replace(LOST, replica_sees_source=None)),
    ("only the controller cut off", replace(HEALTHY, primary_db_reachable=False)),
])
def test_any_dissent_or_missing_vantage_point_is_uncertain_for_ever(name: str, sample: Sample) -> None:
    verdicts = run([sample] * 10)
    assert set(verdicts) == {Verdict.UNCERTAIN}, name


def test_dissent_resets_the_count() -> None:
    dissent = replace(LOST, replica_sees_source=True)
    assert run([LOST, LOST, dissent, LOST, LOST, LOST])[-1] is Verdict.REGION_LOST
    assert run([LOST, LOST, dissent, LOST, LOST])[-1] is Verdict.UNCERTAIN


def test_the_decision_carries_every_vantage_points_evidence() -> None:
    state = DetectorState(agreeing_rounds=2, since=10.0)
    state, decision = decide(state, replace(LOST, at=12.0), 3)
    assert decision.verdict is Verdict.REGION_LOST and decision.agreeing_rounds == 3 and state.since == 10.0
    assert decision.reasons[0] == "every vantage point agrees r1 is down for 3 rounds"
    assert "controller cannot reach r1's database (refused)" in decision.reasons
    assert "monitor: ns timeout; mdns refused; api refused; db refused" in decision.reasons


def test_problems_without_loss_are_degraded() -> None:
    lagging = replace(HEALTHY, problems=("r2 lags 30 s behind",))
    assert run([lagging]) == [Verdict.DEGRADED]
    no_monitor = replace(HEALTHY, monitor=None, monitor_error="timed out")
    _, decision = decide(DetectorState(), no_monitor, 3)
    assert decision.verdict is Verdict.DEGRADED and "monitor unavailable (timed out)" in decision.reasons
