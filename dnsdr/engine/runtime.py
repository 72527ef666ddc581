"""Everything a run needs at hand: the spec, the plan, adapters built lazily, and step handlers.

Adapters are built on first use so that a dry run or a refusal touches only what it observes.
Handlers that cannot observe their effect from outside (a restart, a pool update) remember what
they did in this process (``acted``); after a crash they simply act again, which is safe because
every action is idempotent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dnsdr.adapters.journal_store import JournalStore
from dnsdr.adapters.mysql import DatabaseAdapter, adapter_for
from dnsdr.adapters.secrets import SecretError, resolve
from dnsdr.adapters.service_control import CommandController, ServiceControlError
from dnsdr.domain.plan import Operation, Plan, StepKind
from dnsdr.domain.replication import ReplicationState, errant_transactions, to_view
from dnsdr.domain.safety import DatabaseView, Force, Verdict, failover_gates, rejoin_gates, switchover_gates
from dnsdr.domain.spec import DatabaseSpec, DesignateDR, RegionSpec, SecretRef

if TYPE_CHECKING:
    from dnsdr.engine.executor import Executor, StepHandler


class EngineError(RuntimeError):
    """The engine cannot be set up (a credential, a driver); nothing was changed."""


def replica_errant(state: ReplicationState) -> tuple[str, ...]:
    """Errant transactions a replica can show without its source: GTIDs it wrote itself.

    With gtid_strict_mode, a replica's own server_id as the newest GTID of a domain in its binlog
    means a client wrote on it while it was a replica. Used when the source cannot be observed.
    """
    if not state.reachable or state.channel is None or state.server_id is None or state.flavour == "mysql":
        return ()
    errant = []
    for gtid in filter(None, (g.strip() for g in state.gtid_binlog_pos.split(","))):
        parts = gtid.split("-")
        if len(parts) == 3 and parts[1] == str(state.server_id):
            errant.append(gtid)
    return tuple(errant)


class Runtime:
    def __init__(self, spec: DesignateDR, plan: Plan, store: JournalStore, forces: frozenset[Force],
                 secrets_dir: Path | None = None, verify_timeout: float = 180.0) -> None:
        self.spec = spec
        self.plan = plan
        self.store = store
        self.forces = forces
        self.resolver: Callable[[SecretRef], str] = partial(resolve, directory=secrets_dir)
        self.verify_timeout = verify_timeout
        self.executor: Executor | None = None
        self.acted: set[str] = set()
        self._nodes: dict[str, DatabaseAdapter] = {}
        self.notes: list[str] = []
        try:
            for name in (plan.from_region, plan.to_region):
                self.node(name)
        except SecretError as exc:
            raise EngineError(f"cannot resolve a database credential: {exc}") from None

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
            self._nodes[name] = adapter_for(self.database(name), resolver=self.resolver)
        return self._nodes[name]

    def controller(self, name: str) -> CommandController:
        try:
            return CommandController(self.region(name))
        except ServiceControlError as exc:
            raise EngineError(str(exc)) from None

    def secret(self, ref: SecretRef) -> str:
        try:
            return self.resolver(ref)
        except SecretError as exc:
            raise EngineError(f"cannot resolve a credential: {exc}") from None

    def attach(self, executor: Executor) -> None:
        self.executor = executor

    def risk(self, text: str) -> None:
        if self.executor is not None and text not in self.executor.risks:
            self.executor.risks.append(text)

    def close(self) -> None:
        self._nodes.clear()

    # ------------------------------------------------------------ safety

    def view(self, name: str, errant_against: ReplicationState | None = None) -> tuple[DatabaseView, ReplicationState]:
        state = self.node(name).observe()
        errant: tuple[str, ...] = ()
        if state.reachable and errant_against is not None and errant_against.reachable:
            errant = errant_transactions(state, errant_against)
        elif state.reachable:
            errant = replica_errant(state)
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
        back_view, _ = self.view(plan.from_region, errant_against=prim_state)
        return rejoin_gates(back_view, prim_view)

    def preview(self) -> dict[str, Any]:
        verdict = self.verdict()
        return {"allowed": verdict.allowed, "refusals": [r.render() for r in verdict.refusals],
                "overridden": [r.render() for r in verdict.overridden], "risks": list(verdict.risks)}

    def preview_text(self) -> str:
        verdict = self.verdict()
        if verdict.allowed:
            lines = ["allowed"] + [f"  risk: {r}" for r in verdict.risks]
        else:
            lines = ["would be REFUSED"] + [f"  - {r.render()}" for r in verdict.refusals]
        return "\n".join(lines)

    # ------------------------------------------------------------ handlers

    def handlers(self) -> Mapping[StepKind, StepHandler]:
        from dnsdr.engine import steps_database, steps_designate, steps_dns

        table: dict[StepKind, StepHandler] = {}
        for module in (steps_database, steps_designate, steps_dns):
            table.update(module.handlers(self))
        missing = set(StepKind) - set(table)
        if missing:
            raise EngineError(f"no handler for {', '.join(sorted(missing))}")
        return table
