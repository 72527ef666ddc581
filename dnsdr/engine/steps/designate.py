"""Designate steps: stop a region's services, repoint them, apply pools, restart the worker."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import yaml

from dnsdr.adapters.designate_db import read_zones
from dnsdr.adapters.designate_manage import DesignateManageError, ManageResult, pool_update
from dnsdr.adapters.service_control import ServiceControlError
from dnsdr.domain.plan import Operation, Step
from dnsdr.domain.pools import render_pools_yaml
from dnsdr.domain.pools_check import check_pools
from dnsdr.domain.spec import RegionSpec
from dnsdr.engine.errors import Skip, StepFailed
from dnsdr.engine.runtime import PoolUpdater, Runtime
from dnsdr.engine.steps.base import ActedOnce


def zone_names(rt: Runtime) -> list[str]:
    db = rt.database(rt.plan.final_state.primary)
    return [z.name for z in read_zones(db, rt.secret(db.password), pool_id=rt.spec.pool.id, resolver=rt.resolver)]


class StopDesignate(ActedOnce):
    def act(self, step: Step) -> str:
        try:
            self.rt.controller(step.region).stop()
        except ServiceControlError as exc:
            if self.rt.plan.operation is Operation.FAILOVER:
                self.ctx.add_risk(f"Designate services in {step.region} could not be stopped: {exc}")
                raise Skip(f"could not stop them ({exc}); they must stay down") from None
            raise StepFailed(str(exc)) from None
        self.ctx.acted.add(step.name)
        return f"stopped api, producer, worker, central, mdns in {step.region}"


class RepointDesignate(ActedOnce):
    def act(self, step: Step) -> str:
        target = self.rt.database(self.rt.plan.final_state.primary).endpoint
        try:
            self.rt.controller(step.region).repoint(target)
        except ServiceControlError as exc:
            raise StepFailed(str(exc)) from None
        self.ctx.acted.add(step.name)
        return f"Designate in {step.region} now uses {target} (restarted)"


class ApplyPools(ActedOnce):
    def _worker_regions(self) -> list[str]:
        lost = self.rt.plan.final_state.lost
        return [r.name for r in self.rt.spec.regions if r.designate is not None and r.name not in lost]

    def _manage(self, region: RegionSpec) -> Callable[..., ManageResult]:
        """designate-manage where it runs: here (the command driver), or as a Job in the region's cluster."""
        assert region.designate is not None
        if region.designate.control.driver == "kubernetes":
            controller = self.rt.controller(region.name)
            if not isinstance(controller, PoolUpdater):
                raise StepFailed(f"region {region.name}: its service controller cannot run designate-manage")
            return controller.pool_update
        return partial(pool_update, region.designate.manage_command)

    def act(self, step: Step) -> str:
        rt = self.rt
        state = rt.plan.final_state
        region = rt.region(state.primary)
        assert region.designate is not None
        text = render_pools_yaml(rt.spec, state, rt.secret)
        problems = check_pools(yaml.safe_load(text))
        if problems:
            raise StepFailed("rendered pools are invalid: " + "; ".join(problems))
        secrets = [rt.secret(b.credential) for r in rt.spec.regions for b in r.backends]
        # Stored without touching every zone where designate-manage allows it (see
        # dnsdr.adapters.designate_manage.WITHOUT_ZONES); the full update costs one central RPC per zone.
        timeout = 300.0 + 0.5 * len(zone_names(rt))
        manage = self._manage(region)
        if region.designate.control.driver != "kubernetes":
            manage = partial(manage, touch_zones=False)
        try:
            manage(text, secrets, dry_run=True)
            stored: ManageResult | None = None
            # Workers cache the pool and a restart drops the casts in flight (zones then sit PENDING
            # until Designate's recovery, minutes later): stop them now, so the re-pushes queue in
            # RabbitMQ, and start them (restart-worker steps) once the new pool is stored.
            for name in self._worker_regions():
                rt.controller(name).stop(["worker"])
            self.ctx.workers_stopped_at = self.ctx.wall()
            stored = manage(text, secrets, dry_run=False, timeout=timeout)
        except DesignateManageError as exc:
            raise StepFailed(str(exc)) from None
        except ServiceControlError as exc:
            raise StepFailed(f"could not stop designate-worker before the pool update: {exc}") from None
        self.ctx.acted.add(step.name)
        targets = sum(len(r.backends) for r in rt.spec.regions if r.name not in state.lost)
        how = "every zone re-pushed" if stored is None or stored.zones_touched else "zones left alone"
        return (f"pool {rt.spec.pool.name} updated ({state.describe()}, {targets} targets; {how}); "
                "dry run passed first")


class RestartWorker(ActedOnce):
    """Start (or restart) the worker after the pool update, so it loads the new pool."""

    def act(self, step: Step) -> str:
        try:
            self.rt.controller(step.region).restart(["worker"])
        except ServiceControlError as exc:
            raise StepFailed(str(exc)) from None
        self.ctx.acted.add(step.name)
        return f"designate-worker in {step.region} restarted (pool cache reloaded)"

