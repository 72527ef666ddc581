"""Assess (the safety gates over live observations) and FenceDatabase, against fake servers."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dnsdr.domain.plan import Plan, failover_plan, rejoin_plan, switchover_plan
from dnsdr.domain.safety import Force
from dnsdr.domain.spec import DesignateDR
from dnsdr.engine.errors import Refused, Skip, StepFailed
from dnsdr.engine.steps.database import Assess, FenceDatabase
from tests.unit.engine.fakes import FakeCluster, VirtualClock, make_runtime, run_step

PlanMaker = Callable[[DesignateDR, str, str], Plan]
UNFENCED_RISK = ("r1 could not be fenced (unreachable); it must stay down or be rejoined, "
                 "and its database must start read-only")


def _lost_r1(cluster: FakeCluster) -> None:
    """r1 is gone and r2 no longer hears from it (the heartbeat is stale)."""
    cluster["r1"].up = False
    cluster["r2"].io_running, cluster["r2"].heartbeat_age = "Connecting", 30.0


# ---------------------------------------------------------------- Assess


def test_assess_passes_a_real_loss_and_records_the_unfenced_old_primary(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock) -> None:
    _lost_r1(cluster)
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), cluster)
    ctx = clock.context()
    handler, step = Assess(rt, ctx), rt.plan.step("assess")
    assert handler.check(step) == "not done in this run yet"
    assert run_step(handler, step) == "gates passed for failover r1 -> r2"
    assert ctx.risks == [UNFENCED_RISK]
    assert handler.check(step) is None
    assert cluster["r1"].calls == [] and cluster["r2"].calls == []  # observed only, nothing changed


def test_assess_refuses_a_failover_while_the_old_primary_is_writable(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock) -> None:
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), cluster, forces=frozenset(Force))
    ctx = clock.context()
    handler, step = Assess(rt, ctx), rt.plan.step("assess")
    with pytest.raises(Refused) as refused:
        handler.precondition(step)
    assert [r.code for r in refused.value.verdict.refusals] == ["old-primary-writable"]
    assert "old primary r1 is reachable and writable" in str(refused.value)
    assert str(refused.value).endswith("(cannot be forced)")
    assert ctx.risks == [] and handler.check(step) == "not done in this run yet"


def test_assess_refuses_a_partition_unless_forced_and_then_records_the_override(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock) -> None:
    cluster["r1"].up = False  # r2 still receives from r1: dnsdr is the one cut off
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), cluster)
    with pytest.raises(Refused, match=r"r2 still receives replication from it.*--force old-primary-alive"):
        Assess(rt, clock.context()).precondition(rt.plan.step("assess"))

    forced = make_runtime(spec, failover_plan(spec, "r1", "r2"), cluster,
                          forces=frozenset({Force.OLD_PRIMARY_ALIVE}))
    ctx = clock.context()
    Assess(forced, ctx).precondition(forced.plan.step("assess"))
    assert ctx.risks == [UNFENCED_RISK, "forced past: dnsdr cannot reach r1, but r2 still receives replication "
                         "from it: this looks like a partition, not a loss"]


def test_assess_refuses_a_candidate_with_its_own_writes(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock) -> None:
    _lost_r1(cluster)
    cluster["r2"].client_write("0-2-101")  # someone wrote on the replica
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), cluster)
    with pytest.raises(Refused) as refused:
        Assess(rt, clock.context()).precondition(rt.plan.step("assess"))
    (refusal,) = refused.value.verdict.refusals
    assert refusal.code == "errant-transactions" and refusal.force is Force.ERRANT
    assert "candidate r2 holds transactions its source never had: 0-2-101" in refusal.message


def test_assess_refuses_a_switchover_to_a_lagging_replica(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock) -> None:
    cluster["r2"].lag = 12.0
    rt = make_runtime(spec, switchover_plan(spec, "r1", "r2"), cluster)
    with pytest.raises(Refused, match=r"r2 lags 12 s \(maxLagSeconds 5\)"):
        Assess(rt, clock.context()).precondition(rt.plan.step("assess"))
    cluster["r2"].lag = 1.0
    ctx = clock.context()
    assert run_step(Assess(rt, ctx), rt.plan.step("assess")) == "gates passed for switchover r1 -> r2"
    assert ctx.risks == []


def test_assess_refuses_to_rejoin_a_region_that_holds_lost_writes(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock) -> None:
    # After the failover r2 took writes 101..105; r1 had committed 0-1-101 that never reached r2.
    cluster["r2"].as_primary("0-1-100")
    cluster["r2"].client_write("0-2-105")
    cluster["r1"].as_primary("0-1-101")
    cluster["r1"].read_only = True
    rt = make_runtime(spec, rejoin_plan(spec, "r1", "r2"), cluster)
    with pytest.raises(Refused) as refused:
        Assess(rt, clock.context()).precondition(rt.plan.step("assess"))
    (refusal,) = refused.value.verdict.refusals
    assert refusal.code == "diverged" and "r1 holds transactions r2 never had: 0-1-101" in refusal.message

    cluster["r1"].as_primary("0-1-100")
    cluster["r1"].read_only = True
    assert run_step(Assess(rt, clock.context()), rt.plan.step("assess")) == "gates passed for rejoin r1 -> r2"


# ---------------------------------------------------------------- FenceDatabase


def test_fence_skips_an_unreachable_old_primary_in_a_failover(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock) -> None:
    cluster["r1"].up = False
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), cluster)
    with pytest.raises(Skip, match=r"^unreachable \(127\.0\.1\.1:3306: connection refused\); it must come back "
                                   r"read-only$"):
        FenceDatabase(rt, clock.context()).precondition(rt.plan.step("fence-database"))
    assert cluster["r1"].calls == []


@pytest.mark.parametrize("plan", [switchover_plan, rejoin_plan])
def test_fence_fails_on_an_unreachable_server_outside_a_failover(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, plan: PlanMaker) -> None:
    cluster["r1"].up = False
    rt = make_runtime(spec, plan(spec, "r1", "r2"), cluster)
    with pytest.raises(StepFailed, match=r"^r1's database is unreachable: 127\.0\.1\.1:3306: connection refused$"):
        FenceDatabase(rt, clock.context()).precondition(rt.plan.step("fence-database"))


def test_fence_makes_the_old_primary_read_only_and_ends_its_sessions(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock) -> None:
    rt = make_runtime(spec, switchover_plan(spec, "r1", "r2"), cluster)
    handler, step = FenceDatabase(rt, clock.context()), rt.plan.step("fence-database")
    assert handler.check(step) == "still writable"
    assert run_step(handler, step) == "fenced: read-only, 3 client sessions killed"
    r1 = cluster["r1"]
    assert r1.read_only and r1.client_sessions == 0 and r1.calls == ["fence"]
    assert not r1.observe().writable
    assert cluster["r2"].calls == []


def test_a_resumed_run_fences_again_because_sessions_may_have_come_back(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock) -> None:
    r1 = cluster["r1"]
    r1.read_only, r1.client_sessions = True, 2  # fenced by a crashed run; clients reconnected since
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), cluster)
    handler, step = FenceDatabase(rt, clock.context()), rt.plan.step("fence-database")
    assert handler.check(step) == "sessions not yet killed"
    assert run_step(handler, step) == "fenced: read-only, 2 client sessions killed"
    assert r1.calls == ["fence"] and r1.client_sessions == 0


def test_a_fence_without_proof_of_refused_writes_fails(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock) -> None:
    cluster["r1"].fence_provable = False
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), cluster)
    ctx = clock.context()
    handler, step = FenceDatabase(rt, ctx), rt.plan.step("fence-database")
    with pytest.raises(StepFailed, match=r"^fence of r1 not proven: account 'repl' bypasses read_only"):
        handler.act(step)
    assert "fence-database" not in ctx.acted
    assert handler.check(step) == "sessions not yet killed"


def test_a_switchover_never_counts_an_unreachable_old_primary_as_fenced(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock) -> None:
    rt = make_runtime(spec, switchover_plan(spec, "r1", "r2"), cluster)
    handler, step = FenceDatabase(rt, clock.context()), rt.plan.step("fence-database")
    handler.precondition(step)  # reachable and writable here...
    cluster["r1"].up = False    # ...and gone a moment later (it may come back writable)
    assert handler.check(step) is not None
