"""Everything a run needs at hand: the spec, the plan, adapters built lazily, the safety verdict.

Adapters are built on first use so that a dry run or a refusal touches only what it observes.
Factories for database nodes and service controllers can be injected, so step handlers run in
unit tests against fakes and in production against the real servers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from dnsdr.adapters.control.kubernetes import KubernetesController
from dnsdr.adapters.designate_manage import ManageResult
from dnsdr.adapters.designate_snapshot import read_divergence
from dnsdr.adapters.kube import KubeconfigError
from dnsdr.adapters.mysql import DatabaseAdapter, adapter_for
from dnsdr.adapters.mysql.rebuild import RebuildResult, interrupted, rebuild_from
from dnsdr.adapters.secrets import SecretError, resolve
from dnsdr.adapters.service_control import CommandController, ServiceControlError
from dnsdr.adapters.tls import TlsError
from dnsdr.domain.divergence import Divergence
from dnsdr.domain.errors import DnsdrError
from dnsdr.domain.plan import Operation, Plan
from dnsdr.domain.replication import ReplicationState, errant_transactions, self_written, to_view
from dnsdr.domain.safety import DatabaseView, Force, Verdict, failover_gates, rejoin_gates, switchover_gates
from dnsdr.domain.spec import DatabaseSpec, DesignateDR, Endpoint, RegionSpec, SecretRef
from dnsdr.engine.errors import EngineError

Resolver = Callable[[SecretRef], str]


class ServiceController(Protocol):
    def stop(self, services: Any = ...) -> None: ...
    def start(self, services: Any = ...) -> None: ...
    def restart(self, services: Any) -> None: ...
    def repoint(self, database: Endpoint) -> None: ...


@runtime_checkable
class PoolUpdater(Protocol):
    """A controller that runs ``designate-manage pool update`` where Designate runs (the kubernetes driver's Job)."""

    def pool_update(self, pools_yaml: str, secrets: Iterable[str], dry_run: bool,
                    timeout: float = ...) -> ManageResult: ...


NodeFactory = Callable[[DatabaseSpec, Resolver], DatabaseAdapter]
ControllerFactory = Callable[[RegionSpec], ServiceController]


class Rebuilder(Protocol):
    """Compare and rebuild databases across regions (the real one works over the nodes' connections)."""

    def divergence(self, old: DatabaseAdapter, new: DatabaseAdapter, old_state: ReplicationState,
                   new_state: ReplicationState, returning: str, primary: str,
                   errant: tuple[str, ...]) -> Divergence: ...

    def interrupted(self, node: DatabaseAdapter) -> bool: ...

    def rebuild(self, node: DatabaseAdapter, source: DatabaseAdapter) -> RebuildResult: ...


class DatabaseRebuilder:
    def __init__(self, spec: DesignateDR) -> None:
        self.spec = spec

    def divergence(self, old: DatabaseAdapter, new: DatabaseAdapter, old_state: ReplicationState,
                   new_state: ReplicationState, returning: str, primary: str, errant: tuple[str, ...]) -> Divergence:
        db = self.spec.region(returning).database
        assert db is not None
        return read_divergence(old.connector, new.connector, old_state, new_state, returning, primary, db.schema,
                               self.spec.pool.id, errant)

    def interrupted(self, node: DatabaseAdapter) -> bool:
        return interrupted(node.connector)

    def rebuild(self, node: DatabaseAdapter, source: DatabaseAdapter) -> RebuildResult:
        return rebuild_from(node.connector, source.connector, node.flavour)


def default_node(spec: DatabaseSpec, resolver: Resolver) -> DatabaseAdapter:
    return adapter_for(spec, resolver=resolver)


def default_controller(region: RegionSpec, resolver: Resolver = resolve) -> ServiceController:
    """The region's driver: commands, or Deployments in its cluster (reached through the kubeconfig its spec names,
    resolved like any credential)."""
    if region.designate is not None and region.designate.control.driver == "kubernetes":
        return KubernetesController.for_region(region, resolver)
    return CommandController(region)


class Runtime:
    def __init__(self, spec: DesignateDR, plan: Plan, forces: frozenset[Force], *,
                 secrets_dir: Path | None = None, resolver: Resolver | None = None, verify_timeout: float = 180.0,
                 recorded_epoch: int = 0,
                 node_factory: NodeFactory = default_node,
                 controller_factory: ControllerFactory | None = None,
                 rebuilder: Rebuilder | None = None) -> None:
        self.spec = spec
        self.plan = plan
        self.forces = forces
        self.resolver: Resolver = resolver or partial(resolve, directory=secrets_dir)
        self.verify_timeout = verify_timeout
        # The epoch in the state store's cluster record: a new epoch exceeds both it and the database's.
        self.recorded_epoch = recorded_epoch
        self._node_factory = node_factory
        self._controller_factory = controller_factory or partial(default_controller, resolver=self.resolver)
        self._nodes: dict[str, DatabaseAdapter] = {}
        self._controllers: dict[str, ServiceController] = {}
        self.rebuilder: Rebuilder = rebuilder or DatabaseRebuilder(spec)
        # What the last rejoin verdict found the returning region holds that the primary lacks.
        self.last_divergence: Divergence | None = None

    # ------------------------------------------------------------ adapters

    def region(self, name: str) -> RegionSpec:
        return self.spec.region(name)

    def database(self, name: str) -> DatabaseSpec:
        db = self.region(name).database
        if db is None:
            raise EngineError(f"region {name} has no database")
        return db

    def node(self, name: str) -> DatabaseAdapter:
        if name not in self._nodes:
            try:
                self._nodes[name] = self._node_factory(self.database(name), self.resolver)
            except SecretError as exc:
                raise EngineError(f"cannot resolve a database credential: {exc}") from None
            except TlsError as exc:
                raise EngineError(f"region {name}'s database: {exc}") from None
        return self._nodes[name]

    def controller(self, name: str) -> ServiceController:
        if name not in self._controllers:
            try:
                self._controllers[name] = self._controller_factory(self.region(name))
            except ServiceControlError as exc:
                raise EngineError(str(exc)) from None
            except (SecretError, KubeconfigError) as exc:
                raise EngineError(f"region {name}: cannot reach its cluster: {exc}") from None
        return self._controllers[name]

    def secret(self, ref: SecretRef) -> str:
        try:
            return self.resolver(ref)
        except SecretError as exc:
            raise EngineError(f"cannot resolve a credential: {exc}") from None

    def close(self) -> None:
        self._nodes.clear()
        for controller in self._controllers.values():
            if isinstance(controller, KubernetesController):
                controller.close()
        self._controllers.clear()

    # ------------------------------------------------------------ safety

    def view(self, name: str, errant_against: ReplicationState | None = None) -> tuple[DatabaseView, ReplicationState]:
        state = self.node(name).observe()
        errant: tuple[str, ...] = ()
        if state.reachable and errant_against is not None and errant_against.reachable:
            errant = errant_transactions(state, errant_against)
        elif state.reachable:
            errant = self_written(state)
        return to_view(name, state, errant), state

    def verdict(self) -> Verdict:
        """Observe both databases now and apply the gates of this plan's operation."""
        plan = self.plan
        if plan.operation is Operation.FAILOVER:
            old_view, old_state = self.view(plan.from_region)
            cand_view, _ = self.view(plan.to_region, errant_against=old_state if old_state.reachable else None)
            return failover_gates(old_view, cand_view, self.forces)
        if plan.operation is Operation.SWITCHOVER:
            old_view, old_state = self.view(plan.from_region)
            cand_view, _ = self.view(plan.to_region, errant_against=old_state)
            return switchover_gates(old_view, cand_view, self.spec.policy.max_lag_seconds)
        prim_view, prim_state = self.view(plan.to_region)
        back_view, back_state = self.view(plan.from_region, errant_against=prim_state)
        unknown, self.last_divergence = "", None
        if back_view.errant and prim_view.reachable:
            try:
                self.last_divergence = self.rebuilder.divergence(
                    self.node(plan.from_region), self.node(plan.to_region), back_state, prim_state,
                    plan.from_region, plan.to_region, back_view.errant)
            except DnsdrError as exc:
                unknown = str(exc)
        return rejoin_gates(back_view, prim_view, self.forces, self.last_divergence, unknown)
