"""RewriteMasters: compare-and-set every zone's masters on one backend, create what is missing, re-read a sample."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dnsdr.domain.plan import Step, StepKind, failover_plan, switchover_plan
from dnsdr.domain.serials import ExpectedZone
from dnsdr.domain.spec import DesignateDR, SecretRef
from dnsdr.engine.errors import StepFailed
from dnsdr.engine.steps.dns import RewriteMasters
from tests.unit.engine.fakes import FakeCluster, VirtualClock, make_runtime, run_step
from tests.unit.engine.steps.dns_fakes import FakeDataPlane, RewriteCall, install_data_plane

ABC = ("a.example.", "b.example.", "c.example.")
NEW = ("127.0.2.1:5354",)  # r2's mdns: what r2's targets transfer from


def _handler(spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock,
             backend: str = "r2-pdns") -> tuple[RewriteMasters, Step]:
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), cluster)
    return RewriteMasters(rt, clock.context()), rt.plan.step(f"rewrite-masters-{backend}")


def test_rewrite_sets_new_masters_queues_retransfers_and_rereads_what_changed(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, plane: FakeDataPlane) -> None:
    handler, step = _handler(spec, cluster, clock)
    assert handler.check(step) == "not done in this run yet"
    assert run_step(handler, step) == ("3 zones: 3 changed, 0 already right, 0 created; "
                                       "3 retransfers queued (0.01 s rewrite, 3 re-read)")
    assert plane.rewrites == [
        RewriteCall(0.0, "r2-pdns", ABC, NEW, (), retrieve_changed=True, dry_run=False),
        RewriteCall(0.0, "r2-pdns", ABC, NEW, (), retrieve_changed=False, dry_run=True),
    ]
    assert plane.backend_zones["r2-pdns"] == dict.fromkeys(ABC, frozenset(NEW))
    assert plane.backend_zones["r2-bind"]["a.example."] == frozenset({"127.0.1.1:5354"})  # other backends untouched
    assert set(plane.pending) == {("r2-pdns", z) for z in ABC}
    # The zones come from the new primary's Designate database, for the spec's pool only.
    assert plane.reads == [("127.0.2.1:3306", "pw:r2-db-password", "794ccc2c-d751-44fe-b57f-8894c9f5c842")]


def test_a_powerdns_database_reference_reaches_the_driver_resolved(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, plane: FakeDataPlane) -> None:
    r2 = spec.region("r2")
    pdns = replace(r2.backends[0], secret_settings=(("databaseRef", SecretRef(secret_name="dr", secret_key="r2-pdns-db")),))
    spec = replace(spec, regions=tuple(replace(r, backends=(pdns, *r.backends[1:])) if r.name == "r2" else r
                                       for r in spec.regions))
    handler, step = _handler(spec, cluster, clock)
    run_step(handler, step)
    assert plane.secrets_given["r2-pdns"] == {"databaseRef": "pw:r2-pdns-db"}


def test_a_second_rewrite_changes_nothing_and_needs_no_reread(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, plane: FakeDataPlane) -> None:
    plane.backend_zones["r2-pdns"] = dict.fromkeys(ABC, frozenset(NEW))
    handler, step = _handler(spec, cluster, clock)
    assert run_step(handler, step) == ("3 zones: 0 changed, 3 already right, 0 created; "
                                       "0 retransfers queued (0.01 s rewrite, 0 re-read)")
    assert [c.dry_run for c in plane.rewrites] == [False]
    assert plane.pending == {}


def test_switchover_targets_get_their_own_regions_mdns(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, plane: FakeDataPlane) -> None:
    rt = make_runtime(spec, switchover_plan(spec, "r1", "r2"), cluster)
    run_step(RewriteMasters(rt, clock.context()), rt.plan.step("rewrite-masters-r1-bind"))
    assert {c.masters for c in plane.rewrites} == {("127.0.1.1:5354",)}
    assert [c.backend for c in plane.rewrites] == ["r1-bind"]  # already right: nothing to re-read


def test_a_backend_wide_error_fails_the_step(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, plane: FakeDataPlane) -> None:
    plane.backend_error["r2-pdns"] = "HTTP 401: Unauthorized (check the API key)"
    handler, step = _handler(spec, cluster, clock)
    with pytest.raises(StepFailed, match=r"^r2-pdns: HTTP 401: Unauthorized \(check the API key\)$"):
        handler.act(step)
    assert handler.check(step) == "not done in this run yet"
    assert len(plane.rewrites) == 1


def test_failed_zones_fail_the_step_without_a_reread(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, plane: FakeDataPlane) -> None:
    plane.failing["r2-bind"] = {"b.example."}
    handler, step = _handler(spec, cluster, clock, "r2-bind")
    with pytest.raises(StepFailed, match=r"^r2-bind: 1 zones failed, e\.g\. b\.example\.$"):
        handler.act(step)
    assert [c.dry_run for c in plane.rewrites] == [False]
    assert handler.check(step) == "not done in this run yet"


def test_zones_the_backend_lacks_are_created_and_reread(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, plane: FakeDataPlane) -> None:
    del plane.backend_zones["r2-pdns"]["c.example."]  # created while r2's backend was away
    handler, step = _handler(spec, cluster, clock)
    assert run_step(handler, step) == ("3 zones: 2 changed, 0 already right, 1 created; "
                                       "2 retransfers queued (0.01 s rewrite, 3 re-read)")
    assert plane.created == [("r2-pdns", (("c.example.", "id-c"),), NEW)]
    assert plane.backend_zones["r2-pdns"]["c.example."] == frozenset(NEW)
    assert plane.rewrites[-1].zones == ("a.example.", "b.example.", "c.example.") and plane.rewrites[-1].dry_run


def test_a_zone_that_cannot_be_created_fails_the_step(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, plane: FakeDataPlane) -> None:
    del plane.backend_zones["r2-pdns"]["c.example."]
    plane.create_fails["r2-pdns"] = {"c.example."}
    handler, step = _handler(spec, cluster, clock)
    with pytest.raises(StepFailed, match=r"^r2-pdns: 1 zones failed, e\.g\. c\.example\.$"):
        handler.act(step)
    assert handler.check(step) == "not done in this run yet"


def test_a_backend_that_acknowledges_but_does_not_keep_the_change_is_caught_by_the_reread(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, plane: FakeDataPlane) -> None:
    plane.forgetful.add("r2-pdns")
    handler, step = _handler(spec, cluster, clock)
    with pytest.raises(StepFailed, match=r"^r2-pdns: re-read after the rewrite: a\.example\., b\.example\., "
                                         r"c\.example\. still not on the new masters$"):
        handler.act(step)
    assert handler.check(step) == "not done in this run yet"


def test_the_reread_is_a_sample_of_the_changed_zones(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    zones = [ExpectedZone(f"id-{i}", f"z{i:02d}.example.", 200) for i in range(30)]
    plane = install_data_plane(monkeypatch, FakeDataPlane(clock, zones, ["r2-pdns"], ("127.0.1.1:5354",)))
    handler, step = _handler(spec, cluster, clock)
    assert run_step(handler, step).startswith("30 zones: 30 changed")
    full, sample = plane.rewrites
    assert len(full.zones) == 30 and not full.dry_run
    assert sample.dry_run and sample.zones == tuple(f"z{i:02d}.example." for i in range(RewriteMasters.SAMPLE))


def test_an_unknown_backend_fails_the_step(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, plane: FakeDataPlane) -> None:
    handler, _ = _handler(spec, cluster, clock)
    step = Step("rewrite-masters-gone", StepKind.REWRITE_MASTERS, "r2", "", "", (("backend", "gone"),))
    with pytest.raises(StepFailed, match=r"^unknown backend gone$"):
        handler.act(step)
    assert plane.rewrites == []
