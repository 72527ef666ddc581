"""VerifySerials and VerifyWrite in virtual time: deadlines, nudges and waits cost no real time."""

from __future__ import annotations

from typing import Any

import pytest

from dnsdr.domain.plan import Step, failover_plan, switchover_plan
from dnsdr.domain.serials import ExpectedZone
from dnsdr.domain.spec import DatabaseSpec, DesignateDR
from dnsdr.engine.errors import StepFailed
from dnsdr.engine.steps import dns as dns_steps
from dnsdr.engine.steps.dns import NUDGE_EVERY, VerifySerials, VerifyWrite
from tests.unit.engine.fakes import RUN_ID, WALL0, FakeCluster, VirtualClock, make_runtime, run_step
from tests.unit.engine.steps.dns_fakes import NEVER, FakeDataPlane, FakeDesignate, install_designate


def _serials(spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, timeout: float = 180.0,
             switchover: bool = False) -> tuple[VerifySerials, Step]:
    plan = (switchover_plan if switchover else failover_plan)(spec, "r1", "r2")
    rt = make_runtime(spec, plan, cluster, verify_timeout=timeout)
    return VerifySerials(rt, clock.context()), rt.plan.step("verify-serials")


# ---------------------------------------------------------------- VerifySerials


def test_converged_targets_pass_in_one_round(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, plane: FakeDataPlane) -> None:
    handler, step = _serials(spec, cluster, clock)
    assert handler.check(step) == "not done in this run yet"
    assert run_step(handler, step) == ("3 zones on 2 targets at the database's serial or later "
                                       "(round 1, last sweep 0.01 s)")
    assert plane.sweeps == 1 and plane.rewrites == [] and clock.sleeps == []
    assert handler.ctx.risks == []


def test_a_switchover_verifies_the_targets_of_both_regions(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, plane: FakeDataPlane) -> None:
    handler, step = _serials(spec, cluster, clock, switchover=True)
    assert run_step(handler, step).startswith("3 zones on 4 targets")


def test_a_laggard_is_nudged_and_the_step_passes_once_the_transfer_lands(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, plane: FakeDataPlane) -> None:
    plane.served[("r2-bind", "b.example.")] = 150
    plane.transfer_delay = 2.0
    handler, step = _serials(spec, cluster, clock)
    assert run_step(handler, step) == ("3 zones on 2 targets at the database's serial or later "
                                       "(round 5, last sweep 0.01 s)")
    assert [(c.at, c.backend, c.zones, c.retrieve, c.dry_run) for c in plane.rewrites] == [
        (0.0, "r2-bind", ("b.example.",), ("b.example.",), False)]
    assert clock.now == 2.0 and set(clock.sleeps) == {0.5}
    assert plane.served[("r2-bind", "b.example.")] == 200


def test_a_stuck_laggard_is_nudged_every_few_seconds_and_fails_the_step_at_the_deadline(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, plane: FakeDataPlane) -> None:
    plane.served[("r2-bind", "b.example.")] = 150
    plane.transfer_delay = NEVER
    handler, step = _serials(spec, cluster, clock, timeout=12.0)
    with pytest.raises(StepFailed) as failed:
        handler.act(step)
    assert str(failed.value) == ("1 zone copies did not converge within 12 s: "
                                 "b.example. on r2-bind: 150, want >= 200")
    assert NUDGE_EVERY == 5.0
    assert [c.at for c in plane.rewrites] == [0.0, 5.0, 10.0]  # not every 0.5 s round
    assert {(c.backend, c.zones) for c in plane.rewrites} == {("r2-bind", ("b.example.",))}
    assert clock.now == 12.5 and plane.sweeps == 26  # one round past the deadline, none in real time
    assert handler.check(step) == "not done in this run yet"


def test_an_unreachable_target_is_a_laggard_but_not_nudged(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, plane: FakeDataPlane) -> None:
    plane.unreachable.add("r2-pdns")
    handler, step = _serials(spec, cluster, clock, timeout=3.0)
    with pytest.raises(StepFailed, match=r"^3 zone copies did not converge within 3 s: a\.example\. on r2-pdns: "
                                         r"timeout, want >= 200; b\.example\. on r2-pdns: timeout"):
        handler.act(step)
    assert plane.rewrites == []


def test_copies_ahead_of_the_database_are_reported_as_a_risk(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, plane: FakeDataPlane) -> None:
    plane.served[("r2-pdns", "a.example.")] = 250  # served a write the new primary never got
    handler, step = _serials(spec, cluster, clock)
    assert run_step(handler, step).endswith("(round 1, last sweep 0.01 s)")
    assert handler.ctx.risks == ["1 zone copies are ahead of the database (writes lost with the old primary, "
                                 "or clock skew), e.g. a.example. on r2-pdns"]
    assert len(plane.reads) == 2  # "ahead" is judged against the database's serials read again


def test_copies_the_database_has_caught_up_with_are_no_risk(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, plane: FakeDataPlane,
        monkeypatch: pytest.MonkeyPatch) -> None:
    plane.served[("r2-pdns", "a.example.")] = 250

    def read_then_write(db: DatabaseSpec, password: str | None = None, *, timeout: float = 5.0,
                        pool_id: str | None = None, resolver: Any = None) -> tuple[ExpectedZone, ...]:
        zones = plane.read_zones(db, password, pool_id=pool_id)
        plane.set_db_serial("a.example.", 260)  # a write through the new primary right after the first read
        return zones

    monkeypatch.setattr(dns_steps, "read_zones", read_then_write)
    handler, step = _serials(spec, cluster, clock)
    run_step(handler, step)
    assert handler.ctx.risks == []


def test_copies_ahead_are_nudged_while_waiting_for_laggards(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, plane: FakeDataPlane) -> None:
    plane.served[("r2-pdns", "a.example.")] = 250
    plane.served[("r2-bind", "b.example.")] = 150
    plane.transfer_delay = 1.0
    handler, step = _serials(spec, cluster, clock)
    assert "(round 3," in run_step(handler, step)
    assert sorted((c.backend, c.retrieve) for c in plane.rewrites) == [
        ("r2-bind", ("b.example.",)), ("r2-pdns", ("a.example.",))]
    assert plane.served[("r2-pdns", "a.example.")] == 200  # retransferred back to the database's serial
    assert handler.ctx.risks == []


# ---------------------------------------------------------------- VerifyWrite

CANARY = f"verify-{RUN_ID}.dnsdr-canary-example.test."


@pytest.fixture
def designate(clock: VirtualClock, monkeypatch: pytest.MonkeyPatch) -> FakeDesignate:
    return install_designate(monkeypatch, FakeDesignate(clock))


def _write(spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, timeout: float = 180.0,
           switchover: bool = False) -> tuple[VerifyWrite, Step]:
    plan = (switchover_plan if switchover else failover_plan)(spec, "r1", "r2")
    rt = make_runtime(spec, plan, cluster, verify_timeout=timeout)
    return VerifyWrite(rt, clock.context()), rt.plan.step("verify-write")


def test_the_canary_is_written_through_the_surviving_api_and_served_by_every_target(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, designate: FakeDesignate) -> None:
    handler, step = _write(spec, cluster, clock)
    assert handler.check(step) == "not done in this run yet"
    assert run_step(handler, step) == f"TXT {CANARY} written via the API and served by 2 targets after 0.00 s"
    assert designate.opened == ["r2 auth=applicationCredential"] and designate.closed == 1
    assert list(designate.zones) == ["dnsdr-canary-example.test."]
    ((_, rs),) = designate.recordsets
    assert (rs.name, rs.type, rs.records) == (CANARY, "TXT", (f'"dnsdr {RUN_ID} {int(WALL0)}"',))
    assert sorted({(h, p) for h, p, _ in designate.lookups}) == [("127.0.2.2", 53), ("127.0.2.3", 53)]


def test_verify_write_waits_for_the_slowest_target(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, designate: FakeDesignate) -> None:
    designate.delay["127.0.2.3"] = 3.0
    handler, step = _write(spec, cluster, clock)
    assert run_step(handler, step).endswith("served by 2 targets after 3.00 s")
    assert clock.sleeps == [0.25] * 12
    # A target that served the canary is not asked again.
    assert sum(1 for h, _, _ in designate.lookups if h == "127.0.2.2") == 1


def test_verify_write_fails_when_a_target_never_serves_the_canary(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, designate: FakeDesignate) -> None:
    designate.delay["127.0.2.3"] = NEVER
    handler, step = _write(spec, cluster, clock, timeout=10.0)
    with pytest.raises(StepFailed) as failed:
        handler.act(step)
    assert str(failed.value) == f"the canary {CANARY} was not served by r2-bind within 10 s"
    assert clock.now == 10.25
    assert handler.check(step) == "not done in this run yet"


def test_a_switchover_waits_for_the_targets_of_both_regions(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, designate: FakeDesignate) -> None:
    designate.delay["127.0.1.2"] = 1.0
    handler, step = _write(spec, cluster, clock, switchover=True)
    assert run_step(handler, step).endswith("served by 4 targets after 1.00 s")
    assert {h for h, _, _ in designate.lookups} == {"127.0.1.2", "127.0.1.3", "127.0.2.2", "127.0.2.3"}


def test_a_resumed_run_reuses_its_canary_instead_of_writing_another(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, designate: FakeDesignate) -> None:
    zone = designate.add_zone("dnsdr-canary-example.test.")
    designate.add_recordset(zone, CANARY, [f'"dnsdr {RUN_ID} 1799999000"'], at=-60.0)
    designate.add_recordset(zone, "verify-other-run.dnsdr-canary-example.test.", ['"dnsdr other 1"'], at=-600.0)
    clock.now = 5.0
    handler, step = _write(spec, cluster, clock)
    assert run_step(handler, step).endswith("served by 2 targets after 0.00 s")
    assert list(designate.zones) == ["dnsdr-canary-example.test."] and len(designate.recordsets) == 2


def test_a_refused_canary_write_fails_the_step_and_closes_the_client(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, designate: FakeDesignate) -> None:
    designate.fail_create = "Unable to communicate with central"
    handler, step = _write(spec, cluster, clock)
    with pytest.raises(StepFailed, match=r"^the Designate API in r2 refused the canary write: HTTP 503 "
                                         r"service_unavailable: Unable to communicate with central$"):
        handler.act(step)
    assert designate.closed == 1 and designate.lookups == []
