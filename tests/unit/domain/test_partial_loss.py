"""A lost region's backends that still answer: kept in the pool (mastered by the primary's mdns) or
fenced (every zone removed), in the world state, the rendered pools and the failover plan."""

from __future__ import annotations

import pytest

from dnsdr.app.settings import load_spec
from dnsdr.domain.plan import StepKind, failover_plan
from dnsdr.domain.pools import StateError, WorldState, render_pools
from dnsdr.domain.serials import targets_of_state
from dnsdr.domain.spec import DesignateDR
from tests.conftest import EXAMPLE
from tests.support.designate_verdict import designate_accepts


@pytest.fixture(scope="module")
def spec() -> DesignateDR:
    return load_spec(str(EXAMPLE))


def test_kept_backends_stay_targets_mastered_by_the_primarys_mdns(spec: DesignateDR) -> None:
    state = WorldState("r2", frozenset({"r1"}), kept=frozenset({"r1-pdns"}))
    (pool,) = render_pools(spec, state, lambda ref: "t0ken")
    targets = {t["description"].split()[2]: t for t in pool["targets"]}
    assert set(targets) == {"r1-pdns", "r2-pdns", "r2-bind"}
    assert targets["r1-pdns"]["masters"] == [{"host": "127.0.2.1", "port": 5354}]
    assert {"host": "127.0.1.2", "port": 53} in pool["nameservers"]
    assert {"host": "127.0.1.3", "port": 53} not in pool["nameservers"]  # r1-bind is lost
    assert "kept=r1-pdns" in pool["description"]
    assert designate_accepts([pool]) == (True, "ok")


def test_fenced_backends_are_not_in_the_pool(spec: DesignateDR) -> None:
    state = WorldState("r2", frozenset({"r1"}), fenced=frozenset({"r1-pdns", "r1-bind"}))
    (pool,) = render_pools(spec, state)
    assert all(not t["description"].startswith("r1 ") for t in pool["targets"])
    assert all(ns["host"].startswith("127.0.2.") for ns in pool["nameservers"])


@pytest.mark.parametrize(("kept", "fenced", "message"), [
    ({"r2-pdns"}, set(), "only a lost region's backends"),
    ({"r1-pdns"}, {"r1-pdns"}, "both kept and fenced"),
    ({"nope"}, set(), "only a lost region's backends can be kept or fenced, not nope"),
])
def test_impossible_states_are_refused(spec: DesignateDR, kept: set[str], fenced: set[str], message: str) -> None:
    with pytest.raises(StateError, match=message):
        render_pools(spec, WorldState("r2", frozenset({"r1"}), frozenset(kept), frozenset(fenced)))


def test_the_plan_rewrites_kept_backends_and_fences_the_others(spec: DesignateDR) -> None:
    plan = failover_plan(spec, "r1", "r2", kept=frozenset({"r1-pdns"}), fenced=frozenset({"r1-bind"}))
    kinds = {s.name: s.kind for s in plan.steps}
    assert kinds["rewrite-masters-r1-pdns"] is StepKind.REWRITE_MASTERS
    assert kinds["fence-backend-r1-bind"] is StepKind.FENCE_BACKEND
    assert "r1-pdns" in plan.step("verify-serials").target and "r1-bind" not in plan.step("verify-serials").target
    assert plan.step("rewrite-masters-r1-pdns").changes.startswith("set masters of every secondary zone to "
                                                                   "127.0.2.1:5354")
    names = [s.name for s in plan.steps]
    assert names.index("fence-backend-r1-bind") < names.index("verify-serials")
    whole = failover_plan(spec, "r1", "r2")
    assert not any(s.region == "r1" and s.kind in (StepKind.REWRITE_MASTERS, StepKind.FENCE_BACKEND)
                   for s in whole.steps)
    assert plan.fingerprint != whole.fingerprint  # a resumed run must rebuild the same assessment


def test_the_serving_targets_of_a_state(spec: DesignateDR) -> None:
    names = {t.name for t in targets_of_state(spec, {"r1"}, {"r1-bind"})}
    assert names == {"r2-pdns", "r2-bind", "r1-bind"}


def test_with_kept_backends_the_pool_is_applied_before_the_canary(spec: DesignateDR) -> None:
    names = [s.name for s in failover_plan(spec, "r1", "r2", kept=frozenset({"r1-bind"})).steps]
    assert names.index("verify-serials") < names.index("apply-pools") < names.index("verify-write")
    whole = [s.name for s in failover_plan(spec, "r1", "r2").steps]
    assert whole.index("verify-write") < whole.index("apply-pools")  # unchanged: the write is proven first
