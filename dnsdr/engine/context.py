"""What a step handler may know and do about the run it is part of, and nothing more.

Handlers get the run id (for canary names and the epoch record), may add a risk to the report and
record the epoch they wrote; time comes from an injected clock and sleep so that unit tests run
handlers in virtual time. The executor fills in ``run_id`` when it opens the journal and copies
``epoch`` into the journal after each step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class RunContext:
    clock: Callable[[], float] = time.monotonic  # for deadlines and durations
    wall: Callable[[], float] = time.time  # for values shown to people and written to servers
    sleep: Callable[[float], None] = time.sleep
    run_id: str = ""
    risks: list[str] = field(default_factory=list)
    epoch: int | None = None
    # Steps whose effect only this process can vouch for (a restart, a pool update): done in this run.
    acted: set[str] = field(default_factory=set)
    # Wall time the pool update last stopped Designate's workers in this run: a push still in flight
    # then died with its worker, so a zone changed before it and still PENDING waits for nobody.
    workers_stopped_at: float | None = None

    def add_risk(self, text: str) -> None:
        if text not in self.risks:
            self.risks.append(text)

    def record_epoch(self, epoch: int) -> None:
        self.epoch = epoch
