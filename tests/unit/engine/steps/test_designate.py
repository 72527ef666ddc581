"""StopDesignate, RepointDesignate, ApplyPools and RestartWorker against a recording service controller."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import pytest
import yaml

from dnsdr.adapters.designate_manage import DesignateManageError, ManageResult
from dnsdr.adapters.service_control import STOP_ORDER
from dnsdr.domain.plan import Plan, failover_plan, rejoin_plan, switchover_plan
from dnsdr.domain.serials import ExpectedZone
from dnsdr.domain.spec import DatabaseSpec, DesignateDR, RegionSpec, SecretRef, ServiceControl
from dnsdr.engine.errors import Skip, StepFailed
from dnsdr.engine.steps import designate as designate_steps
from dnsdr.engine.steps.designate import ApplyPools, RepointDesignate, RestartWorker, StopDesignate
from tests.unit.engine.fakes import (
    FakeCluster,
    FakeController,
    FakeControllers,
    VirtualClock,
    make_runtime,
    run_step,
)

NO_ROUTE = "ssh: connect to host designate-r1 port 22: No route to host"
SECRETS = ["pw:r1-pdns-api-key", "pw:r1-rndc-key", "pw:r2-pdns-api-key", "pw:r2-rndc-key"]


H = TypeVar("H", StopDesignate, RepointDesignate, ApplyPools, RestartWorker)


def _ctx_handler(cls: type[H], spec: DesignateDR, plan: Plan, cluster: FakeCluster, controllers: FakeControllers,
                 clock: VirtualClock) -> H:
    return cls(make_runtime(spec, plan, cluster, controllers), clock.context())


# ---------------------------------------------------------------- StopDesignate


def test_stop_designate_stops_every_service_of_the_old_region(
        spec: DesignateDR, cluster: FakeCluster, controllers: FakeControllers, clock: VirtualClock) -> None:
    plan = failover_plan(spec, "r1", "r2")
    handler, step = _ctx_handler(StopDesignate, spec, plan, cluster, controllers, clock), plan.step("stop-designate-r1")
    assert handler.check(step) == "not done in this run yet"
    assert run_step(handler, step) == "stopped api, producer, worker, central, mdns in r1"
    assert controllers.calls == [("r1", "stop", STOP_ORDER)]


def test_a_failover_records_a_risk_and_skips_when_the_old_region_cannot_be_stopped(
        spec: DesignateDR, cluster: FakeCluster, controllers: FakeControllers, clock: VirtualClock) -> None:
    controllers.fail[("r1", "stop")] = NO_ROUTE
    plan = failover_plan(spec, "r1", "r2")
    rt = make_runtime(spec, plan, cluster, controllers)
    ctx = clock.context()
    handler, step = StopDesignate(rt, ctx), plan.step("stop-designate-r1")
    with pytest.raises(Skip, match=r"^could not stop them \(stop in r1 failed .*No route to host\); "
                                   r"they must stay down$"):
        handler.act(step)
    assert ctx.risks == [f"Designate services in r1 could not be stopped: stop in r1 failed (exit 255): {NO_ROUTE}"]
    assert handler.check(step) == "not done in this run yet"


@pytest.mark.parametrize("operation", ["rejoin", "switchover"])
def test_outside_a_failover_a_failed_stop_fails_the_step(
        spec: DesignateDR, cluster: FakeCluster, controllers: FakeControllers, clock: VirtualClock,
        operation: str) -> None:
    controllers.fail[("r1", "stop")] = NO_ROUTE
    plan = rejoin_plan(spec, "r1", "r2") if operation == "rejoin" else switchover_plan(spec, "r1", "r2")
    rt = make_runtime(spec, plan, cluster, controllers)
    ctx = clock.context()
    step = rejoin_plan(spec, "r1", "r2").step("stop-designate-r1")  # a switchover plan has no such step
    with pytest.raises(StepFailed, match=r"^stop in r1 failed \(exit 255\): ssh: connect"):
        StopDesignate(rt, ctx).act(step)
    assert ctx.risks == [] and ctx.acted == set()


# ---------------------------------------------------------------- RepointDesignate


@pytest.mark.parametrize(("operation", "step_name", "region"), [
    ("failover", "repoint-designate-r2", "r2"),
    ("switchover", "repoint-designate-r1", "r1"),
    ("rejoin", "repoint-designate-r1", "r1"),
])
def test_repoint_designate_points_the_region_at_the_new_primary(
        spec: DesignateDR, cluster: FakeCluster, controllers: FakeControllers, clock: VirtualClock,
        operation: str, step_name: str, region: str) -> None:
    plan = {"failover": failover_plan, "switchover": switchover_plan, "rejoin": rejoin_plan}[operation](
        spec, "r1", "r2")
    handler, step = _ctx_handler(RepointDesignate, spec, plan, cluster, controllers, clock), plan.step(step_name)
    assert handler.check(step) == "not done in this run yet"
    assert run_step(handler, step) == f"Designate in {region} now uses 127.0.2.1:3306 (restarted)"
    assert controllers.calls == [(region, "repoint", ("127.0.2.1:3306",))]


def test_a_failed_repoint_fails_the_step(
        spec: DesignateDR, cluster: FakeCluster, controllers: FakeControllers, clock: VirtualClock) -> None:
    controllers.fail[("r2", "repoint")] = "ansible-playbook: 1 host unreachable"
    plan = failover_plan(spec, "r1", "r2")
    handler, step = _ctx_handler(RepointDesignate, spec, plan, cluster, controllers, clock), plan.step(
        "repoint-designate-r2")
    with pytest.raises(StepFailed, match=r"^repoint in r2 failed \(exit 255\): ansible-playbook: 1 host unreachable$"):
        handler.act(step)
    assert handler.check(step) == "not done in this run yet"


# ---------------------------------------------------------------- RestartWorker


def test_restart_worker_restarts_only_the_worker(
        spec: DesignateDR, cluster: FakeCluster, controllers: FakeControllers, clock: VirtualClock) -> None:
    plan = switchover_plan(spec, "r1", "r2")
    handler, step = _ctx_handler(RestartWorker, spec, plan, cluster, controllers, clock), plan.step(
        "restart-worker-r1")
    assert run_step(handler, step) == "designate-worker in r1 restarted (pool cache reloaded)"
    assert controllers.calls == [("r1", "restart", ("worker",))]

    controllers.fail[("r2", "restart")] = "Job for designate-worker.service failed"
    failing = plan.step("restart-worker-r2")
    with pytest.raises(StepFailed, match=r"^restart in r2 failed \(exit 255\): Job for designate-worker"):
        handler.act(failing)
    assert handler.check(failing) == "not done in this run yet"


# ---------------------------------------------------------------- ApplyPools


@dataclass
class Manage:
    """designate-manage `pool update`; writes into the controllers' log so the order is visible."""

    log: list[str]
    fail: dict[bool, str] = field(default_factory=dict)  # dry_run -> error
    texts: list[str] = field(default_factory=list)
    secrets: list[list[str]] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)  # read_zones calls (for the update's timeout)

    def __call__(self, manage_command: Sequence[str], pools_yaml: str, secrets: Iterable[str], dry_run: bool,
                 timeout: float = 180.0, touch_zones: bool = True) -> ManageResult:
        assert not touch_zones  # dnsdr set every backend's masters itself: the zones are left alone
        self.log.append(f"pool update dry_run={dry_run} timeout={timeout:g} via {manage_command[0]}")
        self.texts.append(pools_yaml)
        self.secrets.append(list(secrets))
        if dry_run in self.fail:
            raise DesignateManageError(self.fail[dry_run])
        return ManageResult(dry_run, "")


@pytest.fixture
def manage(monkeypatch: pytest.MonkeyPatch, controllers: FakeControllers) -> Manage:
    fake = Manage(controllers.log)
    monkeypatch.setattr(designate_steps, "pool_update", fake)
    zones = tuple(ExpectedZone(f"id-{i}", f"z{i}.example.", 100) for i in range(4))
    def read_zones(db: DatabaseSpec, password: str | None = None, *, timeout: float = 5.0,
                   pool_id: str | None = None, resolver: Any = None) -> tuple[ExpectedZone, ...]:
        fake.reads.append(f"{db.endpoint} {password} {pool_id}")
        return zones

    monkeypatch.setattr(designate_steps, "read_zones", read_zones)
    return fake


def test_apply_pools_dry_runs_then_stops_workers_then_updates_the_pool(
        spec: DesignateDR, cluster: FakeCluster, controllers: FakeControllers, clock: VirtualClock,
        manage: Manage) -> None:
    plan = failover_plan(spec, "r1", "r2")
    handler, step = _ctx_handler(ApplyPools, spec, plan, cluster, controllers, clock), plan.step("apply-pools")
    assert handler.check(step) == "not done in this run yet"
    assert run_step(handler, step) == ("pool default updated (primary=r2 lost=r1, 2 targets; zones left alone); "
                                       "dry run passed first")
    assert controllers.log == [
        "pool update dry_run=True timeout=180 via designate-manage",
        "stop r2 worker",  # only surviving regions; r1 is lost
        "pool update dry_run=False timeout=302 via designate-manage",  # 300 s + 0.5 s for each of 4 zones
    ]
    assert manage.reads == ["127.0.2.1:3306 pw:r2-db-password 794ccc2c-d751-44fe-b57f-8894c9f5c842"]
    assert handler.ctx.workers_stopped_at == clock.wall()  # verify-clean re-pushes what was in flight then
    dry, applied = manage.texts
    assert dry == applied
    pool = yaml.safe_load(applied)[0]
    assert [t["options"]["host"] for t in pool["targets"]] == ["127.0.2.2", "127.0.2.3"]
    assert {m["host"] for t in pool["targets"] for m in t["masters"]} == {"127.0.2.1"}
    assert pool["targets"][0]["options"]["api_token"] == "pw:r2-pdns-api-key"
    assert manage.secrets == [SECRETS, SECRETS]  # every credential is scrubbed from designate-manage's output


def test_a_switchover_stops_the_workers_of_every_region_before_the_update(
        spec: DesignateDR, cluster: FakeCluster, controllers: FakeControllers, clock: VirtualClock,
        manage: Manage) -> None:
    plan = switchover_plan(spec, "r1", "r2")
    detail = run_step(_ctx_handler(ApplyPools, spec, plan, cluster, controllers, clock), plan.step("apply-pools"))
    assert detail == "pool default updated (primary=r2 lost=none, 4 targets; zones left alone); dry run passed first"
    assert controllers.log[1:] == ["stop r1 worker", "stop r2 worker",
                                   "pool update dry_run=False timeout=302 via designate-manage"]


def test_a_failed_dry_run_leaves_the_workers_running(
        spec: DesignateDR, cluster: FakeCluster, controllers: FakeControllers, clock: VirtualClock,
        manage: Manage) -> None:
    manage.fail[True] = "designate-manage pool update (dry run) failed (exit 1):\nKeyError: 'options'"
    plan = failover_plan(spec, "r1", "r2")
    handler, step = _ctx_handler(ApplyPools, spec, plan, cluster, controllers, clock), plan.step("apply-pools")
    with pytest.raises(StepFailed, match=r"\(dry run\) failed \(exit 1\):\nKeyError: 'options'$"):
        handler.act(step)
    assert controllers.calls == [] and len(manage.texts) == 1
    assert handler.check(step) == "not done in this run yet"


def test_a_worker_that_cannot_be_stopped_prevents_the_update(
        spec: DesignateDR, cluster: FakeCluster, controllers: FakeControllers, clock: VirtualClock,
        manage: Manage) -> None:
    controllers.fail[("r2", "stop")] = "Failed to stop designate-worker.service: Access denied"
    plan = switchover_plan(spec, "r1", "r2")
    handler, step = _ctx_handler(ApplyPools, spec, plan, cluster, controllers, clock), plan.step("apply-pools")
    with pytest.raises(StepFailed, match=r"^could not stop designate-worker before the pool update: stop in r2 "
                                         r"failed \(exit 255\): Failed to stop"):
        handler.act(step)
    assert [t for t in controllers.log if t.startswith("pool update")] == [
        "pool update dry_run=True timeout=180 via designate-manage"]
    assert controllers.calls == [("r1", "stop", ("worker",))]  # stays stopped until a restart-worker step


def test_a_failed_update_fails_the_step_after_the_workers_were_stopped(
        spec: DesignateDR, cluster: FakeCluster, controllers: FakeControllers, clock: VirtualClock,
        manage: Manage) -> None:
    manage.fail[False] = "designate-manage pool update (update) failed (exit 1):\nMessagingTimeout"
    plan = failover_plan(spec, "r1", "r2")
    handler, step = _ctx_handler(ApplyPools, spec, plan, cluster, controllers, clock), plan.step("apply-pools")
    with pytest.raises(StepFailed, match="MessagingTimeout"):
        handler.act(step)
    assert controllers.calls == [("r2", "stop", ("worker",))]
    assert handler.check(step) == "not done in this run yet"


def test_apply_pools_refuses_invalid_rendered_pools(
        spec: DesignateDR, cluster: FakeCluster, controllers: FakeControllers, clock: VirtualClock,
        manage: Manage, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = ("- name: default\n  ns_records: [{hostname: ns1.example.org., priority: 1}]\n"
           "  targets: [{type: powerdns, masters: [{host: 127.0.2.1, port: 5354}], options: {}}]\n")
    monkeypatch.setattr(designate_steps, "render_pools_yaml", lambda *args: bad)
    plan = failover_plan(spec, "r1", "r2")
    handler, step = _ctx_handler(ApplyPools, spec, plan, cluster, controllers, clock), plan.step("apply-pools")
    with pytest.raises(StepFailed, match=r"^rendered pools are invalid: .*powerdns"):
        handler.act(step)
    assert manage.texts == [] and controllers.calls == []


class JobControllers(FakeControllers):
    """Controllers of the kubernetes driver: they also run designate-manage (as a Job in the region's cluster)."""

    def factory(self, region: RegionSpec) -> FakeController:
        return JobController(self, region.name)


class JobController(FakeController):
    def pool_update(self, pools_yaml: str, secrets: Iterable[str], dry_run: bool,
                    timeout: float = 180.0) -> ManageResult:
        self.owner.log.append(f"job pool update in {self.region} dry_run={dry_run} timeout={timeout:g}")
        return ManageResult(dry_run, "")


def _kubernetes(spec: DesignateDR, name: str) -> DesignateDR:
    regions = []
    for region in spec.regions:
        if region.name == name and region.designate is not None:
            control = ServiceControl("kubernetes", namespace="designate", kubeconfig=SecretRef(file="/k", multiline=True))
            region = replace(region, designate=replace(region.designate, control=control))
        regions.append(region)
    return replace(spec, regions=tuple(regions))


def test_with_the_kubernetes_driver_the_pool_update_runs_as_the_regions_job(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, manage: Manage) -> None:
    spec = _kubernetes(spec, "r2")
    controllers = JobControllers(manage.log)
    plan = failover_plan(spec, "r1", "r2")
    run_step(_ctx_handler(ApplyPools, spec, plan, cluster, controllers, clock), plan.step("apply-pools"))
    assert manage.log == ["job pool update in r2 dry_run=True timeout=180", "stop r2 worker",
                          "job pool update in r2 dry_run=False timeout=302"]
    assert manage.texts == []  # designate-manage never ran here


def test_a_kubernetes_region_whose_controller_cannot_run_jobs_fails_the_step(
        spec: DesignateDR, cluster: FakeCluster, controllers: FakeControllers, clock: VirtualClock,
        manage: Manage) -> None:
    spec = _kubernetes(spec, "r2")
    plan = failover_plan(spec, "r1", "r2")
    with pytest.raises(StepFailed, match="region r2: its service controller cannot run designate-manage"):
        _ctx_handler(ApplyPools, spec, plan, cluster, controllers, clock).act(plan.step("apply-pools"))
