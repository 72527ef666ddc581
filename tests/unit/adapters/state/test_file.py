"""The file state store on a real file system: atomic round trips, per-spec history, and a lease
that excludes another process, is renewed, survives nothing but its holder, and whose token grows."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dnsdr.adapters.state import CorruptStateError, FileStateStore, LeaseLostError, LockedError, StateStoreError
from dnsdr.domain.journal import ClusterRecord, Journal, Outcome, StepRecord, StepStatus


def test_journal_round_trip_and_history(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path, "lab")
    journal = Journal("run1", "failover", "r1", "r2", "abc", 10.0,
                      steps=[StepRecord("assess", StepStatus.DONE, 10.0, 10.5, 1, "ok"), StepRecord("promote")])
    store.save_journal(journal)
    loaded = store.load_journal()
    assert loaded is not None and loaded.record("assess").seconds == 0.5
    assert loaded.record("promote").status is StepStatus.PENDING
    loaded.outcome = Outcome.SUCCEEDED
    store.save_journal(loaded)
    assert (tmp_path / "history" / "lab" / "run1.json").exists()
    store.save_cluster(ClusterRecord(primary="r2", epoch=3, lost=["r1"]))
    assert store.load_cluster() == ClusterRecord(primary="r2", epoch=3, lost=["r1"])


def test_history_is_kept_per_spec_name_newest_first(tmp_path: Path) -> None:
    a, b = FileStateStore(tmp_path, "a"), FileStateStore(tmp_path, "b")
    for i, store in enumerate((a, b, a)):
        store.save_journal(Journal(f"run{i}", "failover", "r1", "r2", "f", 100.0 + i, outcome=Outcome.SUCCEEDED))
    assert [j.run_id for j in a.history()] == ["run2", "run0"]
    assert [j.run_id for j in b.history()] == ["run1"]
    assert [j.run_id for j in a.history(limit=1)] == ["run2"]


def _try_lease(directory: str, queue: multiprocessing.Queue[str]) -> None:
    try:
        with FileStateStore(Path(directory), "lab").hold():
            queue.put("acquired")
    except LockedError as exc:
        queue.put(str(exc))


def test_a_second_process_cannot_take_the_lease(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path, "lab")
    queue: multiprocessing.Queue[str] = multiprocessing.Queue()
    with store.hold():
        proc = multiprocessing.Process(target=_try_lease, args=(str(tmp_path), queue))
        proc.start()
        proc.join(30)
        assert "holds the operation lease" in queue.get(timeout=5)
    proc = multiprocessing.Process(target=_try_lease, args=(str(tmp_path), queue))
    proc.start()
    proc.join(30)
    assert queue.get(timeout=5) == "acquired"


def test_the_fencing_token_increases_with_every_new_holder(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path, "lab")
    tokens = []
    for holder in ("a@x:1:n", "b@x:2:n", "a@x:1:n"):
        lease = store.acquire(holder, ttl=30)
        tokens.append(lease.token)
        store.release(lease)
    assert tokens == [1, 2, 3]


def test_a_lease_expires_and_a_late_renewal_is_refused(tmp_path: Path) -> None:
    now = [1000.0]
    store = FileStateStore(tmp_path, "lab", clock=lambda: now[0])
    first = store.acquire("a@elsewhere:1:n", ttl=10)
    with pytest.raises(LockedError, match="a@elsewhere"):
        store.acquire("b@elsewhere:2:n", ttl=10)
    now[0] += 5
    first = store.renew(first, ttl=10)  # a renewal extends it
    now[0] += 8
    with pytest.raises(LockedError):
        store.acquire("b@elsewhere:2:n", ttl=10)
    now[0] += 3  # expired now
    second = store.acquire("b@elsewhere:2:n", ttl=10)
    assert second.token == first.token + 1
    with pytest.raises(LeaseLostError):
        store.renew(first, ttl=10)


def test_a_crashed_holder_on_this_host_frees_the_lease_at_once(tmp_path: Path) -> None:
    code = ("import sys, os, time; from pathlib import Path; from dnsdr.adapters.state import FileStateStore, holder_id;"
            "s = FileStateStore(Path(sys.argv[1]), 'lab'); s.acquire(holder_id(), ttl=600);"
            "print('held', flush=True); time.sleep(600)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[4])})
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    store = FileStateStore(tmp_path, "lab")
    with pytest.raises(LockedError):
        store.acquire("other@elsewhere:1:n")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert store.acquire("other@elsewhere:1:n").token == 2


def test_the_keeper_renews_a_short_lease_while_held(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path, "lab")
    with store.hold(ttl=0.6) as keeper:
        first = keeper.lease.expires_at
        deadline = time.monotonic() + 30
        while keeper.lease.expires_at == first and time.monotonic() < deadline:
            time.sleep(0.05)
        assert keeper.lease.expires_at > first
        keeper.check()
    lease = store.current_lease()
    assert lease is not None and lease.released


def test_unwritable_state_dir_is_a_clean_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = FileStateStore(blocker / "sub", "lab")
    with pytest.raises(StateStoreError, match="cannot create state directory"):
        store.save_cluster(ClusterRecord(primary="r1"))
    with pytest.raises(StateStoreError):
        store.check_writable()


def test_a_corrupt_record_names_the_file_and_the_way_out(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path, "lab")
    (tmp_path / "lab.cluster.json").write_text("{not json")
    with pytest.raises(CorruptStateError, match=r"lab\.cluster\.json.*move it aside"):
        store.load_cluster()
    (tmp_path / "lab.journal.json").write_text('{"run_id": 3}')
    with pytest.raises(CorruptStateError, match=r"lab\.journal\.json"):
        store.load_journal()


def test_the_controller_record_round_trips_and_defaults_when_absent(tmp_path: Path) -> None:
    from dnsdr.domain.automation import ControlRecord, SemiSyncSample

    store = FileStateStore(tmp_path, "lab")
    assert store.load_control() == ControlRecord()
    record = ControlRecord(paused=True, paused_reason="maintenance", last_auto_failover_at=5.0,
                           semi_sync=SemiSyncSample("r1", True, "AFTER_SYNC", 4.0))
    store.save_control(record)
    assert store.load_control() == record
    (tmp_path / "lab.control.json").write_text('{"paused": "yes"}')
    with pytest.raises(CorruptStateError, match=r"lab\.control\.json.*paused"):
        store.load_control()
