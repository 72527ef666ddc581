"""Past runs of a spec, and dropping an unfinished one knowingly."""

from __future__ import annotations

import time

from dnsdr.adapters.state import StateStore
from dnsdr.domain.errors import InvalidInput
from dnsdr.domain.journal import Journal, Outcome


def history(store: StateStore, limit: int | None = None) -> list[Journal]:
    """Finished runs, newest first."""
    return store.history(limit)


def unfinished(store: StateStore) -> Journal | None:
    journal = store.load_journal()
    if journal is None or journal.outcome not in (Outcome.RUNNING, Outcome.FAILED):
        return None
    return journal


def abandon(store: StateStore, run_id: str | None = None) -> Journal:
    """Mark the unfinished run abandoned (kept in the history), under the lease so no run is active.

    What the run already changed stays changed: the caller tells the operator to check the state.
    """
    with store.hold():
        journal = unfinished(store)
        if journal is None:
            raise InvalidInput(f"no unfinished run is journaled in {store.location}")
        if run_id is not None and run_id != journal.run_id:
            raise InvalidInput(f"the unfinished run is {journal.run_id}, not {run_id}")
        journal.outcome, journal.finished_at = Outcome.ABANDONED, time.time()
        journal.notes.append("abandoned by an operator: steps it completed stay in effect")
        store.save_journal(journal)
        return journal
