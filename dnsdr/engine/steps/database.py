"""Database steps: assess, fence, catch up, promote, bump the epoch, rebuild, replicate from the new primary."""

from __future__ import annotations

from dnsdr.adapters.mysql import DatabaseError, OperationRefused, repoint
from dnsdr.adapters.mysql.epoch import EpochRecord, read_epoch, write_epoch
from dnsdr.domain.plan import Operation, Step
from dnsdr.domain.replication import errant_transactions
from dnsdr.domain.safety import Force, catch_up_gate
from dnsdr.engine.errors import Refused, Skip, StepFailed
from dnsdr.engine.steps.base import ActedOnce, Handler


class Assess(ActedOnce):
    """Observe both databases and apply the gates; changes nothing, refuses before any change."""

    def precondition(self, step: Step) -> None:
        verdict = self.rt.verdict()
        if not verdict.allowed:
            raise Refused(verdict)
        for risk in verdict.risks:
            self.ctx.add_risk(risk)

    def act(self, step: Step) -> str:
        self.ctx.acted.add(step.name)
        plan = self.rt.plan
        return f"gates passed for {plan.operation.value} {plan.from_region} -> {plan.to_region}"


class FenceDatabase(Handler):
    def precondition(self, step: Step) -> None:
        state = self.rt.node(step.region).observe()
        if not state.reachable:
            if self.rt.plan.operation is Operation.FAILOVER:
                raise Skip(f"unreachable ({state.error}); it must come back read-only")
            raise StepFailed(f"{step.region}'s database is unreachable: {state.error}")

    def check(self, step: Step) -> str | None:
        if step.name in self.ctx.acted:
            return None
        state = self.rt.node(step.region).observe()
        if not state.reachable:
            # Only a failover may leave a lost primary unfenced (it must come back read-only); in a
            # switchover or rejoin an unreachable server is not proven fenced.
            return None if self.rt.plan.operation is Operation.FAILOVER else f"unreachable: {state.error}"
        return "still writable" if state.writable else "sessions not yet killed"

    def act(self, step: Step) -> str:
        result = self.rt.node(step.region).fence()
        if not result.write_refused:
            raise StepFailed(f"fence of {step.region} not proven: {result.proof}")
        self.ctx.acted.add(step.name)
        return result.message


class CatchUp(Handler):
    def precondition(self, step: Step) -> None:
        if not self.rt.node(step.region).observe().reachable:
            raise StepFailed(f"{step.region}'s database became unreachable")

    def check(self, step: Step) -> str | None:
        if step.name in self.ctx.acted:
            return None
        state = self.rt.node(step.region).observe()
        return None if not state.is_replica else "relay log not yet confirmed applied"

    def act(self, step: Step) -> str:
        rt, plan = self.rt, self.rt.plan
        until = None
        if plan.operation is Operation.SWITCHOVER:
            source = rt.node(plan.from_region).observe()
            if not source.reachable:
                raise StepFailed(f"{plan.from_region} became unreachable during the switchover")
            until = source.gtid_binlog_pos or source.position
        fenced = ""
        if plan.operation is Operation.FAILOVER and not rt.node(plan.from_region).observe().reachable:
            fenced = rt.node(step.region).stop_io_thread() + "; "
        result = rt.node(step.region).catch_up(rt.spec.policy.relay_log_timeout_seconds, until=until)
        verdict = catch_up_gate(step.region, result.applied, result.remaining, rt.forces)
        if not verdict.allowed:
            raise Refused(verdict)
        for risk in verdict.risks:
            self.ctx.add_risk(risk)
        self.ctx.acted.add(step.name)
        return fenced + result.message


class Promote(Handler):
    def precondition(self, step: Step) -> None:
        old = self.rt.node(self.rt.plan.from_region).observe()
        if old.writable:  # fenced earlier in this run, writable now: promoting would make two primaries
            raise StepFailed(f"{self.rt.plan.from_region} is writable again: refusing to create a second primary")

    def check(self, step: Step) -> str | None:
        state = self.rt.node(step.region).observe()
        if not state.reachable:
            return f"unreachable: {state.error}"
        return None if state.writable and not state.is_replica else "still a read-only replica"

    def act(self, step: Step) -> str:
        try:
            result = self.rt.node(step.region).promote(allow_unapplied=Force.RELAY_TIMEOUT in self.rt.forces)
        except OperationRefused as exc:
            raise StepFailed(str(exc)) from None
        return result.message


class BumpEpoch(Handler):
    def check(self, step: Step) -> str | None:
        record = read_epoch(self.rt.node(step.region))
        if record is not None and record.run_id == self.ctx.run_id:
            self.ctx.record_epoch(record.epoch)
            return None
        return "epoch not bumped by this run"

    def act(self, step: Step) -> str:
        node = self.rt.node(step.region)
        current = read_epoch(node)
        epoch = max(current.epoch if current else 0, self.rt.recorded_epoch) + 1
        write_epoch(node, EpochRecord(epoch, step.region, self.ctx.run_id))
        self.ctx.record_epoch(epoch)
        return f"epoch {epoch}, primary {step.region}"


class ReplicateFrom(Handler):
    def precondition(self, step: Step) -> None:
        if not self.rt.node(step.param("source")).observe().writable:
            raise StepFailed(f"{step.param('source')} is not a writable primary")

    def check(self, step: Step) -> str | None:
        state = self.rt.node(step.region).observe()
        source = self.rt.database(step.param("source")).endpoint
        ch = state.channel
        if ch is None or (ch.source_host, ch.source_port) != (source.host, source.port):
            return f"not replicating from {source}"
        if not (ch.io_ok and ch.sql_ok):
            return f"replication from {source} not running (IO {ch.io_running}, SQL {ch.sql_running})"
        if not state.read_only:
            return f"replicating from {source} but writable (read_only off)"
        return None

    def act(self, step: Step) -> str:
        try:
            source = step.param("source")
            result = repoint(self.rt.node(step.region), self.rt.database(source),
                             source_state=self.rt.node(source).observe(), resolver=self.rt.resolver)
        except (OperationRefused, DatabaseError) as exc:
            raise StepFailed(str(exc)) from None
        return result.message



class RebuildDatabase(Handler):
    """``--force discard-divergence``: a returning database holding writes the primary lacks becomes a copy of it.

    Skipped when it holds nothing the primary lacks (and no rebuild was left half-done); a rebuild
    killed part-way leaves its errant transactions, or its marker, in place, so it is simply redone.
    """

    def precondition(self, step: Step) -> None:
        source = step.param("source")
        back, prim = self.rt.node(step.region).observe(), self.rt.node(source).observe()
        if not back.reachable:
            raise StepFailed(f"{step.region}'s database is unreachable: {back.error}")
        if not prim.writable or prim.is_replica:
            raise StepFailed(f"{source} is not a writable primary")
        if step.name not in self.ctx.acted and not errant_transactions(back, prim) \
                and not self.rt.rebuilder.interrupted(self.rt.node(step.region)):
            raise Skip(f"holds nothing {source} lacks: nothing to discard")

    def check(self, step: Step) -> str | None:
        return None if step.name in self.ctx.acted else f"holds transactions {step.param('source')} lacks"

    def act(self, step: Step) -> str:
        try:
            result = self.rt.rebuilder.rebuild(self.rt.node(step.region), self.rt.node(step.param("source")))
        except (OperationRefused, DatabaseError) as exc:
            raise StepFailed(str(exc)) from None
        self.ctx.acted.add(step.name)
        return "divergent writes discarded: " + result.message
