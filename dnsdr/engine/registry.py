"""Which handler runs which kind of step: the one place that knows every step module."""

from __future__ import annotations

from collections.abc import Mapping

from dnsdr.domain.plan import StepKind
from dnsdr.engine.context import RunContext
from dnsdr.engine.errors import EngineError
from dnsdr.engine.executor import StepHandler
from dnsdr.engine.runtime import Runtime
from dnsdr.engine.steps import clean, database, designate, dns
from dnsdr.engine.steps.base import Handler

HANDLERS: dict[StepKind, type[Handler]] = {
    StepKind.ASSESS: database.Assess,
    StepKind.FENCE_DATABASE: database.FenceDatabase,
    StepKind.CATCH_UP: database.CatchUp,
    StepKind.PROMOTE: database.Promote,
    StepKind.BUMP_EPOCH: database.BumpEpoch,
    StepKind.REPLICATE_FROM: database.ReplicateFrom,
    StepKind.REBUILD_DATABASE: database.RebuildDatabase,
    StepKind.STOP_DESIGNATE: designate.StopDesignate,
    StepKind.REPOINT_DESIGNATE: designate.RepointDesignate,
    StepKind.APPLY_POOLS: designate.ApplyPools,
    StepKind.RESTART_WORKER: designate.RestartWorker,
    StepKind.REWRITE_MASTERS: dns.RewriteMasters,
    StepKind.FENCE_BACKEND: dns.FenceBackend,
    StepKind.VERIFY_SERIALS: dns.VerifySerials,
    StepKind.VERIFY_WRITE: dns.VerifyWrite,
    StepKind.VERIFY_CLEAN: clean.VerifyClean,
}


def build_handlers(rt: Runtime, ctx: RunContext) -> Mapping[StepKind, StepHandler]:
    missing = set(StepKind) - set(HANDLERS)
    if missing:
        raise EngineError(f"no handler for {', '.join(sorted(missing))}")
    return {kind: cls(rt, ctx) for kind, cls in HANDLERS.items()}  # type: ignore[misc]
