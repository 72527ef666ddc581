"""The failover's look at the lost region: which components answer, and what the plan does with them."""

from __future__ import annotations

from pathlib import Path

import pytest

from dnsdr.adapters.state import FileStateStore
from dnsdr.app import assessment as assessment_mod
from dnsdr.app.assessment import assess_lost_region
from dnsdr.app.operations import OperationRequest, plan_for
from dnsdr.app.settings import load_spec
from dnsdr.domain.journal import Journal, Outcome
from dnsdr.domain.plan import Operation
from dnsdr.domain.spec import DesignateDR
from dnsdr.domain.witness import ProbeResult
from tests.conftest import EXAMPLE


@pytest.fixture(scope="module")
def spec() -> DesignateDR:
    return load_spec(str(EXAMPLE))


def partial_loss(monkeypatch: pytest.MonkeyPatch, dns_up: set[str], control_up: set[str]) -> None:
    """r1's database and Designate are gone; the backends answer DNS/control as told."""
    monkeypatch.setattr(assessment_mod, "_database", lambda db, r, t: (False, "connection refused"))
    monkeypatch.setattr(assessment_mod, "probe",
                        lambda target, zone, t, tls=None: ProbeResult(target, False, "connection refused", 0.0))
    hosts = {"127.0.1.2": "r1-pdns", "127.0.1.3": "r1-bind"}
    monkeypatch.setattr(assessment_mod, "dns_answers",
                        lambda host, port, zone, t: (hosts.get(host) in dns_up, "answers (REFUSED)"
                                                     if hosts.get(host) in dns_up else "refused (nothing listens)"))
    monkeypatch.setattr(assessment_mod, "control_answers",
                        lambda b, cred, t: (b.name in control_up, "ok" if b.name in control_up else "refused"))


def test_backends_that_answer_are_kept_by_default(spec: DesignateDR, monkeypatch: pytest.MonkeyPatch) -> None:
    partial_loss(monkeypatch, {"r1-pdns", "r1-bind"}, {"r1-pdns", "r1-bind"})
    found = assess_lost_region(spec, "r1", lambda ref: "secret")
    assert found.kept == frozenset({"r1-pdns", "r1-bind"}) and not found.fenced and not found.risks
    treatments = {c.name: c.treatment for c in found.components}
    assert treatments == {"database": "lost", "designate-api": "lost", "mdns 127.0.1.1:5354": "lost",
                          "backend r1-pdns": "kept", "backend r1-bind": "kept"}


def test_the_policy_can_fence_them_instead(spec: DesignateDR, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    partial_loss(monkeypatch, {"r1-pdns", "r1-bind"}, {"r1-pdns", "r1-bind"})
    fencing = replace(spec, policy=replace(spec.policy, surviving_backends="fence"))
    found = assess_lost_region(fencing, "r1", lambda ref: "secret")
    assert found.fenced == frozenset({"r1-pdns", "r1-bind"}) and not found.kept


def test_a_backend_answering_dns_that_dnsdr_cannot_manage_is_a_risk(spec: DesignateDR,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    partial_loss(monkeypatch, {"r1-pdns", "r1-bind"}, {"r1-bind"})
    found = assess_lost_region(spec, "r1", lambda ref: "secret")
    assert found.kept == frozenset({"r1-bind"})
    assert len(found.risks) == 1 and found.risks[0].startswith("r1-pdns (127.0.1.2:53) still answers DNS but dnsdr "
                                                               "cannot manage it")


def test_a_silent_backend_is_lost_with_a_partition_warning(spec: DesignateDR, monkeypatch: pytest.MonkeyPatch) -> None:
    partial_loss(monkeypatch, set(), set())
    found = assess_lost_region(spec, "r1", lambda ref: "secret")
    assert not found.kept and not found.fenced and len(found.risks) == 2
    assert all("in a real partition it may still answer clients" in r for r in found.risks)


def test_the_plan_comes_from_the_assessment_or_from_the_journaled_run(spec: DesignateDR, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    partial_loss(monkeypatch, {"r1-pdns"}, {"r1-pdns"})
    store = FileStateStore(tmp_path, spec.name)
    request = OperationRequest(Operation.FAILOVER, "r2")
    plan, found = plan_for(spec, request, store, lambda ref: "secret")
    assert found is not None and found.kept == frozenset({"r1-pdns"})
    assert not isinstance(plan, str) and plan.final_state.kept == frozenset({"r1-pdns"})  # type: ignore[union-attr]
    # A run of that plan crashed; meanwhile r1-pdns died too. The resumed run keeps what it started with.
    store.save_journal(Journal("run1", "failover", "r1", "r2", "f", 1.0, outcome=Outcome.RUNNING, kept=["r1-pdns"]))
    partial_loss(monkeypatch, set(), set())
    again, found_again = plan_for(spec, request, store, lambda ref: "secret")
    assert found_again is None and again.fingerprint == plan.fingerprint  # type: ignore[union-attr]




def test_serials_drift_counts_fenced_servers_only_when_they_answer() -> None:
    from dnsdr.app.serials import SerialSweep
    from dnsdr.domain.serials import ExpectedZone, Observation, Target, build_report

    zones = (ExpectedZone(id="1", name="a.example.", serial=5, status="ACTIVE", action="NONE", pool_id="p",
                          type="PRIMARY"),)
    targets = (Target("r2-pdns", "r2", "127.0.2.2"), Target("r1-bind", "r1", "127.0.1.3"))
    quiet = build_report(zones, targets, [[Observation(serial=5)], [Observation(rcode="REFUSED")]])
    assert not SerialSweep("r2", quiet, fenced=frozenset({"r1-bind"})).drift
    assert SerialSweep("r2", quiet).drift  # not fenced: a missing zone is drift
    answering = build_report(zones, targets, [[Observation(serial=5)], [Observation(serial=4)]])
    assert SerialSweep("r2", answering, fenced=frozenset({"r1-bind"})).drift  # a fenced server serving again
