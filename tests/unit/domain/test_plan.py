"""Plans as data: order, targets, determinism, and refusal of nonsense operations."""

from __future__ import annotations

import pytest
import yaml

from dnsdr.adapters.backends import KINDS
from dnsdr.domain.plan import Operation, PlanError, StepKind, failover_plan, rejoin_plan, switchover_plan
from dnsdr.domain.spec import DesignateDR
from dnsdr.domain.spec_parse import parse_designatedr
from tests.conftest import EXAMPLE


@pytest.fixture(scope="module")
def spec() -> DesignateDR:
    return parse_designatedr(yaml.safe_load(EXAMPLE.read_text()), KINDS)


def kinds(plan_steps: tuple[object, ...]) -> list[StepKind]:
    return [s.kind for s in plan_steps]  # type: ignore[attr-defined]


def test_failover_order_follows_the_design(spec: DesignateDR) -> None:
    plan = failover_plan(spec, "r1", "r2")
    order = kinds(plan.steps)
    expected = [StepKind.ASSESS, StepKind.FENCE_DATABASE, StepKind.STOP_DESIGNATE, StepKind.CATCH_UP,
                StepKind.PROMOTE, StepKind.BUMP_EPOCH, StepKind.REPOINT_DESIGNATE, StepKind.REWRITE_MASTERS,
                StepKind.REWRITE_MASTERS, StepKind.VERIFY_SERIALS, StepKind.VERIFY_WRITE, StepKind.APPLY_POOLS,
                StepKind.RESTART_WORKER, StepKind.VERIFY_CLEAN]
    assert order == expected
    assert plan.final_state.primary == "r2" and plan.final_state.lost == frozenset({"r1"})
    # Nothing after the fence touches the lost region.
    after_fence = plan.steps[3:]
    assert all(s.region != "r1" for s in after_fence)
    assert [s.param("backend") for s in plan.steps if s.kind is StepKind.REWRITE_MASTERS] == ["r2-pdns", "r2-bind"]
    assert "127.0.2.1:5354" in plan.step("rewrite-masters-r2-pdns").changes


def test_switchover_keeps_both_regions_and_replicates_the_old_primary(spec: DesignateDR) -> None:
    plan = switchover_plan(spec, "r1", "r2")
    assert plan.operation is Operation.SWITCHOVER
    replicate = plan.step("replicate-r1")
    assert replicate.kind is StepKind.REPLICATE_FROM and replicate.param("source") == "r2"
    assert {s.name for s in plan.steps} >= {"repoint-designate-r1", "repoint-designate-r2", "restart-worker-r1"}
    assert len([s for s in plan.steps if s.kind is StepKind.REWRITE_MASTERS]) == 4
    assert kinds(plan.steps).index(StepKind.CATCH_UP) < kinds(plan.steps).index(StepKind.PROMOTE)


def test_rejoin_fences_before_replicating(spec: DesignateDR) -> None:
    plan = rejoin_plan(spec, "r1", "r2")
    order = [s.name for s in plan.steps]
    assert order.index("fence-database") < order.index("replicate-r1") < order.index("repoint-designate-r1")
    # The returning targets lack zones created meanwhile: the pool (and the worker) come before the proof.
    assert order.index("apply-pools") < order.index("rewrite-masters-r1-pdns") < order.index("verify-serials")
    assert order[-2:] == ["verify-write", "verify-clean"]
    assert plan.final_state.lost == frozenset()


def test_discarding_a_divergence_rebuilds_the_returning_database_before_it_replicates(spec: DesignateDR) -> None:
    plan = rejoin_plan(spec, "r1", "r2", discard=True)
    order = [s.name for s in plan.steps]
    assert order.index("stop-designate-r1") < order.index("rebuild-r1") < order.index("replicate-r1")
    step = plan.step("rebuild-r1")
    assert step.kind is StepKind.REBUILD_DATABASE and step.param("source") == "r2" and "DISCARDED" in step.changes
    assert "rebuild-r1" not in [s.name for s in rejoin_plan(spec, "r1", "r2").steps]
    assert plan.fingerprint != rejoin_plan(spec, "r1", "r2").fingerprint  # a resumed run keeps its choice


def test_plans_are_deterministic(spec: DesignateDR) -> None:
    assert failover_plan(spec, "r1", "r2").fingerprint == failover_plan(spec, "r1", "r2").fingerprint
    assert failover_plan(spec, "r1", "r2").fingerprint != switchover_plan(spec, "r1", "r2").fingerprint


@pytest.mark.parametrize(
    ("build", "old", "new", "message"),
    [
        (failover_plan, "r1", "r1", "already the primary"),
        (failover_plan, "r1", "r3", "has no database"),
        (failover_plan, "r1", "r9", "unknown candidate region"),
        (switchover_plan, "r2", "r2", "already the primary"),
        (rejoin_plan, "r2", "r2", "nothing to rejoin"),
    ],
)
def test_nonsense_operations_are_refused(spec: DesignateDR, build: object, old: str, new: str, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        build(spec, old, new)  # type: ignore[operator]
