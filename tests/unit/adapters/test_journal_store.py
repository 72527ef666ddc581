"""The journal store on a real file system: atomic round trips and a lock that excludes."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from dnsdr.adapters.journal_store import JournalStore, LockedError
from dnsdr.domain.journal import ClusterRecord, Journal, Outcome, StepRecord, StepStatus


def test_journal_round_trip_and_history(tmp_path: Path) -> None:
    store = JournalStore(tmp_path, "lab")
    journal = Journal("run1", "failover", "r1", "r2", "abc", 10.0,
                      steps=[StepRecord("assess", StepStatus.DONE, 10.0, 10.5, 1, "ok"), StepRecord("promote")])
    store.save_journal(journal)
    loaded = store.load_journal()
    assert loaded is not None and loaded.record("assess").seconds == 0.5
    assert loaded.record("promote").status is StepStatus.PENDING
    loaded.outcome = Outcome.SUCCEEDED
    store.save_journal(loaded)
    assert (tmp_path / "history" / "run1.json").exists()
    store.save_cluster(ClusterRecord(primary="r2", epoch=3, lost=["r1"]))
    assert store.load_cluster() == ClusterRecord(primary="r2", epoch=3, lost=["r1"])


def _try_lock(directory: str, queue: multiprocessing.Queue[str]) -> None:
    try:
        with JournalStore(Path(directory), "lab").lock():
            queue.put("acquired")
    except LockedError as exc:
        queue.put(str(exc))


def test_a_second_process_cannot_take_the_lock(tmp_path: Path) -> None:
    store = JournalStore(tmp_path, "lab")
    queue: multiprocessing.Queue[str] = multiprocessing.Queue()
    with store.lock():
        proc = multiprocessing.Process(target=_try_lock, args=(str(tmp_path), queue))
        proc.start()
        proc.join(30)
        assert "holds" in queue.get(timeout=5)
    proc = multiprocessing.Process(target=_try_lock, args=(str(tmp_path), queue))
    proc.start()
    proc.join(30)
    assert queue.get(timeout=5) == "acquired"


def test_unwritable_state_dir_is_a_clean_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = JournalStore(blocker / "sub", "lab")
    with pytest.raises(Exception, match="cannot create state directory"):
        store.save_cluster(ClusterRecord(primary="r1"))
