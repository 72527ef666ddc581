"""Base classes for step handlers: the runtime and the run context at hand, and effects only this
process can vouch for."""

from __future__ import annotations

from dnsdr.domain.plan import Step
from dnsdr.engine.context import RunContext
from dnsdr.engine.runtime import Runtime


class Handler:
    """A step handler with no precondition unless it overrides one."""

    def __init__(self, rt: Runtime, ctx: RunContext) -> None:
        self.rt = rt
        self.ctx = ctx

    def precondition(self, step: Step) -> None:
        """Nothing to check before the step by default."""


class ActedOnce(Handler):
    """Effects proven by the action itself (a restart, a pool update, a verification round, a rewrite
    that compares before it changes): in effect once done in this process; after a crash they are
    redone, which is safe because every action is idempotent."""

    def check(self, step: Step) -> str | None:
        return None if step.name in self.ctx.acted else "not done in this run yet"
