"""CatchUp (apply the relay log, or a fenced source's last position) and Promote, against fake servers."""

from __future__ import annotations

import pytest

from dnsdr.domain.plan import failover_plan, switchover_plan
from dnsdr.domain.safety import Force
from dnsdr.domain.spec import DesignateDR
from dnsdr.engine.errors import Refused, StepFailed
from dnsdr.engine.steps.database import CatchUp, Promote
from tests.unit.engine.fakes import FakeCluster, VirtualClock, make_runtime, run_step


@pytest.fixture
def behind(cluster: FakeCluster) -> FakeCluster:
    """r1 is lost; r2 received up to 0-1-105 but applied only 0-1-100."""
    cluster["r1"].up = False
    cluster["r2"].as_replica(cluster["r1"].spec.endpoint, "0-1-100", received="0-1-105")
    return cluster


# ---------------------------------------------------------------- CatchUp


def test_catch_up_fails_when_the_candidate_is_unreachable(
        spec: DesignateDR, behind: FakeCluster, clock: VirtualClock) -> None:
    behind["r2"].up = False
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), behind)
    with pytest.raises(StepFailed, match=r"^r2's database became unreachable$"):
        CatchUp(rt, clock.context()).precondition(rt.plan.step("catch-up"))


def test_catch_up_applies_what_the_candidate_received(
        spec: DesignateDR, behind: FakeCluster, clock: VirtualClock) -> None:
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), behind)
    ctx = clock.context()
    handler, step = CatchUp(rt, ctx), rt.plan.step("catch-up")
    assert handler.check(step) == "relay log not yet confirmed applied"
    assert run_step(handler, step) == "IO thread stopped (was Yes); applied 0-1-105 after 0.2 s"
    r2 = behind["r2"]
    assert r2.calls == ["stop_io_thread", "catch_up(30, until=None)"]  # fenced first; the policy's timeout
    channel = r2.observe().channel  # still a replica (promote detaches it), with nothing left to apply
    assert r2.current_pos == "0-1-105" and channel is not None and channel.unapplied == 0
    assert ctx.risks == [] and handler.check(step) is None


def test_catch_up_refuses_on_a_relay_log_timeout(
        spec: DesignateDR, behind: FakeCluster, clock: VirtualClock) -> None:
    behind["r2"].applies_relay_log = False
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), behind)
    ctx = clock.context()
    handler, step = CatchUp(rt, ctx), rt.plan.step("catch-up")
    with pytest.raises(Refused) as refused:
        handler.act(step)
    assert str(refused.value) == ("r2 did not apply its relay log in time; still missing 0-1-101..105 "
                                  "(override with --force relay-log-timeout)")
    assert clock.now == 30.0  # waited the policy's timeout, in virtual time
    assert "catch-up" not in ctx.acted and handler.check(step) == "relay log not yet confirmed applied"


def test_a_forced_relay_log_timeout_passes_and_is_recorded_as_a_risk(
        spec: DesignateDR, behind: FakeCluster, clock: VirtualClock) -> None:
    behind["r2"].applies_relay_log = False
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), behind, forces=frozenset({Force.RELAY_TIMEOUT}))
    ctx = clock.context()
    detail = run_step(CatchUp(rt, ctx), rt.plan.step("catch-up"))
    assert detail == "IO thread stopped (was Yes); timed out after 30.0 s; still missing 0-1-101..105"
    assert ctx.risks == ["forced past: r2 did not apply its relay log in time; still missing 0-1-101..105"]


def test_a_switchover_catches_up_to_the_fenced_sources_last_position(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock) -> None:
    cluster["r1"].as_primary("0-1-107")
    cluster["r1"].read_only = True  # fenced by the previous step
    cluster["r2"].as_replica(cluster["r1"].spec.endpoint, "0-1-100", received="0-1-105")  # IO thread not there yet
    rt = make_runtime(spec, switchover_plan(spec, "r1", "r2"), cluster)
    assert run_step(CatchUp(rt, clock.context()), rt.plan.step("catch-up")) == "applied 0-1-107 after 0.2 s"
    assert cluster["r2"].calls == ["catch_up(30, until=0-1-107)"]
    assert cluster["r2"].current_pos == "0-1-107"


def test_a_switchover_fails_when_the_source_vanishes_before_the_catch_up(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock) -> None:
    rt = make_runtime(spec, switchover_plan(spec, "r1", "r2"), cluster)
    cluster["r1"].up = False
    with pytest.raises(StepFailed, match=r"^r1 became unreachable during the switchover$"):
        CatchUp(rt, clock.context()).act(rt.plan.step("catch-up"))
    assert cluster["r2"].calls == []


def test_catch_up_is_in_effect_once_the_candidate_is_no_replica(
        spec: DesignateDR, behind: FakeCluster, clock: VirtualClock) -> None:
    behind["r2"].as_primary("0-1-105")  # a resumed run: promoted already
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), behind)
    assert run_step(CatchUp(rt, clock.context()), rt.plan.step("catch-up")) == "already in effect"
    assert behind["r2"].calls == []


# ---------------------------------------------------------------- Promote


def test_promote_refuses_when_the_old_primary_is_writable_again(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock) -> None:
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), cluster)  # r1 came back writable
    with pytest.raises(StepFailed, match=r"^r1 is writable again: refusing to create a second primary$"):
        Promote(rt, clock.context()).precondition(rt.plan.step("promote"))
    assert cluster["r2"].calls == [] and cluster["r2"].read_only


@pytest.mark.parametrize("old", ["unreachable", "fenced"])
def test_promote_makes_the_candidate_a_writable_primary(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, old: str) -> None:
    if old == "unreachable":
        cluster["r1"].up = False
    else:
        cluster["r1"].read_only = True
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), cluster)
    handler, step = Promote(rt, clock.context()), rt.plan.step("promote")
    assert handler.check(step) == "still a read-only replica"
    assert run_step(handler, step) == "promoted: now a writable primary (write proven)"
    state = cluster["r2"].observe()
    assert state.writable and state.channel is None
    assert cluster["r2"].calls == ["promote(allow_unapplied=False)"]


def test_promote_refuses_to_discard_unapplied_transactions(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock) -> None:
    cluster["r1"].up = False
    cluster["r2"].as_replica(cluster["r1"].spec.endpoint, "0-1-100", received="0-1-105")
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), cluster)
    handler, step = Promote(rt, clock.context()), rt.plan.step("promote")
    with pytest.raises(StepFailed, match=r"received transactions are not applied yet \(0-1-101\.\.105\)"):
        handler.act(step)
    assert handler.check(step) == "still a read-only replica"

    forced = make_runtime(spec, failover_plan(spec, "r1", "r2"), cluster, forces=frozenset({Force.RELAY_TIMEOUT}))
    assert run_step(Promote(forced, clock.context()), step) == "promoted: now a writable primary (write proven)"
    assert cluster["r2"].calls[-1] == "promote(allow_unapplied=True)"


def test_promote_check_reports_an_unreachable_candidate(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock) -> None:
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), cluster)
    cluster["r2"].up = False
    check = Promote(rt, clock.context()).check(rt.plan.step("promote"))
    assert check == "unreachable: 127.0.2.1:3306: connection refused"


def test_a_resumed_run_finds_the_candidate_promoted_and_does_not_promote_again(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock) -> None:
    cluster["r1"].up = False
    cluster["r2"].as_primary("0-1-100")
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), cluster)
    assert run_step(Promote(rt, clock.context()), rt.plan.step("promote")) == "already in effect"
    assert cluster["r2"].calls == []


def test_a_switchover_refuses_to_promote_while_the_old_primary_is_writable_again(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock) -> None:
    rt = make_runtime(spec, switchover_plan(spec, "r1", "r2"), cluster)  # the fence was lifted after fence-database
    with pytest.raises(StepFailed, match="writable again"):
        Promote(rt, clock.context()).precondition(rt.plan.step("promote"))


def test_a_failover_with_the_old_primary_unreachable_fences_from_the_replica_side(
        spec: DesignateDR, behind: FakeCluster, clock: VirtualClock) -> None:
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), behind)
    detail = run_step(CatchUp(rt, clock.context()), rt.plan.step("catch-up"))
    r2 = behind["r2"]
    assert detail.startswith("IO thread stopped (was ") and r2.io_running == "No"
    assert r2.calls.index("stop_io_thread") < next(i for i, c in enumerate(r2.calls) if c.startswith("catch_up"))


def test_a_failover_with_the_old_primary_reachable_keeps_the_io_thread(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock) -> None:
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), cluster)
    run_step(CatchUp(rt, clock.context()), rt.plan.step("catch-up"))
    assert "stop_io_thread" not in cluster["r2"].calls
