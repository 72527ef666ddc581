"""A rejoin over a divergence: the assessment lists what the primary lacks in DNS terms, and
``--force discard-divergence`` rebuilds the returning database (only when it diverged)."""

from __future__ import annotations

import pytest

from dnsdr.adapters.designate_db import DesignateDBError
from dnsdr.adapters.mysql import OperationRefused
from dnsdr.domain.divergence import Change, ChangeKind, Divergence, Value
from dnsdr.domain.plan import rejoin_plan
from dnsdr.domain.safety import Force
from dnsdr.domain.spec import DesignateDR
from dnsdr.engine.errors import Refused, Skip, StepFailed
from dnsdr.engine.steps.database import Assess, RebuildDatabase
from tests.unit.engine.fakes import FakeCluster, FakeRebuilder, VirtualClock, make_runtime, run_step

DISCARD = frozenset({Force.DISCARD_DIVERGENCE})
LOST = Divergence("r1", "r2", ("0-1-101",), "binlog", None, (
    Change(ChangeKind.RECORDSET_CREATED, "a.test.", "www.a.test.", "A", Value(300, ("192.0.2.7",)), None),))


@pytest.fixture
def diverged(cluster: FakeCluster) -> FakeCluster:
    """After a failover r2 took writes 101..105; r1 had committed 0-1-101, which never reached r2."""
    cluster["r2"].as_primary("0-1-100")
    cluster["r2"].client_write("0-2-105")
    cluster["r1"].as_primary("0-1-101")
    cluster["r1"].read_only = True
    return cluster


def test_assess_lists_the_designate_changes_the_primary_lacks(
        spec: DesignateDR, diverged: FakeCluster, clock: VirtualClock) -> None:
    rebuilder = FakeRebuilder(LOST)
    rt = make_runtime(spec, rejoin_plan(spec, "r1", "r2"), diverged, rebuilder=rebuilder)
    with pytest.raises(Refused) as refused:
        Assess(rt, clock.context()).precondition(rt.plan.step("assess"))
    assert [r.code for r in refused.value.verdict.refusals] == ["diverged", "designate-divergence"]
    assert "zone a.test. recordset www.a.test. A created: [192.0.2.7] ttl 300" in str(refused.value)
    assert rebuilder.calls == ["divergence r1 r2 0-1-101"] and rt.last_divergence is LOST
    assert diverged["r1"].calls == [] and diverged["r2"].calls == []  # observed, nothing changed


def test_a_clean_returning_region_is_not_compared(spec: DesignateDR, cluster: FakeCluster,
                                                   clock: VirtualClock) -> None:
    cluster["r2"].as_primary("0-1-100")
    cluster["r1"].as_primary("0-1-100")
    cluster["r1"].read_only = True
    rebuilder = FakeRebuilder(LOST)
    rt = make_runtime(spec, rejoin_plan(spec, "r1", "r2"), cluster, rebuilder=rebuilder)
    assert run_step(Assess(rt, clock.context()), rt.plan.step("assess")) == "gates passed for rejoin r1 -> r2"
    assert rebuilder.calls == []


def test_a_failed_comparison_refuses_and_the_force_records_what_it_overrode(
        spec: DesignateDR, diverged: FakeCluster, clock: VirtualClock) -> None:
    rebuilder = FakeRebuilder(DesignateDBError("cannot read Designate's data from r1 (127.0.1.1:3306): timed out"))
    rt = make_runtime(spec, rejoin_plan(spec, "r1", "r2"), diverged, rebuilder=rebuilder)
    with pytest.raises(Refused, match="cannot tell what r1's errant transactions changed in Designate"):
        Assess(rt, clock.context()).precondition(rt.plan.step("assess"))
    forced = make_runtime(spec, rejoin_plan(spec, "r1", "r2", discard=True), diverged, forces=DISCARD,
                          rebuilder=FakeRebuilder(LOST))
    ctx = clock.context()
    run_step(Assess(forced, ctx), forced.plan.step("assess"))
    assert any(r.startswith("forced past: r1's Designate database holds 1 change") for r in ctx.risks)


def test_the_rebuild_discards_the_divergence_once(spec: DesignateDR, diverged: FakeCluster,
                                                  clock: VirtualClock) -> None:
    rebuilder = FakeRebuilder()
    rt = make_runtime(spec, rejoin_plan(spec, "r1", "r2", discard=True), diverged, forces=DISCARD,
                      rebuilder=rebuilder)
    step, ctx = rt.plan.step("rebuild-r1"), clock.context()
    detail = run_step(RebuildDatabase(rt, ctx), step)
    assert detail.startswith("divergent writes discarded: copied designate, dnsdr (42 rows)")
    assert rebuilder.calls == ["rebuild 127.0.1.1:3306 from 127.0.2.1:3306"]
    assert diverged["r1"].binlog_state == "" and diverged["r1"].current_pos == "0-2-105"
    # Run again (a new process resuming): nothing left to discard.
    with pytest.raises(Skip, match="holds nothing r2 lacks: nothing to discard"):
        RebuildDatabase(rt, clock.context()).precondition(step)


def test_a_rebuild_left_half_done_is_redone_and_a_refused_one_fails_the_step(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock) -> None:
    cluster["r2"].as_primary("0-2-105")
    cluster["r1"].as_primary("")  # binlog already reset, but the replication position was never set
    cluster["r1"].read_only = True
    rebuilder = FakeRebuilder(left_interrupted=True)
    rt = make_runtime(spec, rejoin_plan(spec, "r1", "r2", discard=True), cluster, forces=DISCARD, rebuilder=rebuilder)
    step = rt.plan.step("rebuild-r1")
    run_step(RebuildDatabase(rt, clock.context()), step)
    assert rebuilder.calls == ["rebuild 127.0.1.1:3306 from 127.0.2.1:3306"]
    rebuilder.left_interrupted = True
    rebuilder.fail = OperationRefused("127.0.1.1:3306", "rebuilding from the primary is implemented for MariaDB only")
    with pytest.raises(StepFailed, match="MariaDB only"):
        RebuildDatabase(rt, clock.context()).act(step)


def test_the_rebuild_needs_both_databases(spec: DesignateDR, diverged: FakeCluster, clock: VirtualClock) -> None:
    rt = make_runtime(spec, rejoin_plan(spec, "r1", "r2", discard=True), diverged, forces=DISCARD)
    diverged["r2"].read_only = True
    with pytest.raises(StepFailed, match="r2 is not a writable primary"):
        RebuildDatabase(rt, clock.context()).precondition(rt.plan.step("rebuild-r1"))
    diverged["r1"].up = False
    with pytest.raises(StepFailed, match="r1's database is unreachable"):
        RebuildDatabase(rt, clock.context()).precondition(rt.plan.step("rebuild-r1"))
