"""What a step handler raises: a refusal, a failure to resume from, or a reasoned skip."""

from __future__ import annotations

from dnsdr.domain.errors import IncompleteError, NeedsOperator, RefusedError
from dnsdr.domain.safety import Verdict


class Refused(RefusedError):
    """A safety gate refused; ``verdict`` says why and what --force could override."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__("; ".join(r.render() for r in verdict.refusals))
        self.verdict = verdict


class StepFailed(IncompleteError):
    """A step's action failed or its check could not prove the effect; the run resumes from it."""


class EngineError(NeedsOperator):
    """The engine cannot be set up (a credential, a driver, a plan that does not fit the journal)."""


class Superseded(EngineError):
    """Another run changed the recorded primary since this operation was planned: it must not run again."""


class Skip(Exception):
    """The step does not apply (e.g. the server to fence is unreachable); the reason is journaled."""
