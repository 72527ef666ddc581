"""State records read strictly: whatever a journal, cluster or lease file holds (random JSON, a valid
record with one field replaced, truncated text, random bytes, a FIFO, 16 MiB), loading returns a
well-typed record or raises a DnsdrError naming the file; never anything else."""

from __future__ import annotations

import errno
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnsdr.adapters import files
from dnsdr.adapters.state import CorruptStateError, FileStateStore, StateStoreError
from dnsdr.adapters.state.records import shape_problem
from dnsdr.domain.errors import DnsdrError
from dnsdr.domain.journal import ClusterRecord, Journal, Outcome, StepRecord, StepStatus
from dnsdr.domain.lease import Lease

JOURNAL = Journal("0123456789ab", "failover", "r1", "r2", "fp", 1000.0, forces=["x"], notes=["n"], epoch=3,
                  steps=[StepRecord("assess", StepStatus.DONE, 1000.0, 1001.0, 1, "ok"), StepRecord("promote")],
                  outcome=Outcome.FAILED, finished_at=1002.0, spec_name="lab", lease_token=2).to_dict()
CLUSTER = ClusterRecord(primary="r2", epoch=3, lost=["r1"], last_run_id="0123456789ab").to_dict()
LEASE = Lease("a@elsewhere:1:n", 4, 1000.0, 1000.0, 1060.0).to_dict()
VALID = {"journal": JOURNAL, "cluster": CLUSTER, "lease": LEASE}


def _load(store: FileStateStore, kind: str) -> object:
    """Load the record of ``kind`` and use it the way front ends do (render times, dump JSON)."""
    if kind == "journal":
        journal = store.load_journal()
        runs = store.history()
        for j in ([journal] if journal else []) + runs:
            time.localtime(j.started_at)
            json.dumps(j.to_dict())
            _ = j.last_step, j.changed_anything, [s.seconds for s in j.steps]
        return journal
    if kind == "cluster":
        cluster = store.load_cluster()
        if cluster is not None:
            ",".join(cluster.lost)
            json.dumps(cluster.to_dict())
        return cluster
    lease = store.current_lease()
    if lease is not None:
        lease.live(time.time())
    store.release(Lease("me@here:1:n", 1, 0.0, 0.0, 1.0))  # reads the lease under the lock, may rewrite it
    return lease


def _check_any(directory: Path, kind: str, content: bytes) -> None:
    store = FileStateStore(directory, "lab")
    for name in ("lab.journal.json", "lab.cluster.json", "lab.lease.json"):
        (directory / name).unlink(missing_ok=True)
    (directory / f"lab.{kind}.json").write_bytes(content)
    if kind == "journal":
        history = directory / "history" / "lab"
        history.mkdir(parents=True, exist_ok=True)
        (history / "run.json").write_bytes(content)
    try:
        _load(store, kind)
    except DnsdrError as exc:
        message = str(exc)
        assert "\n" not in message and ("lab." in message or "history" in message), message
        assert len(message) < 1000


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
KIND = st.sampled_from(sorted(VALID))
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(kind=KIND, value=JSON)
def test_random_json_is_a_record_or_a_dnsdr_error(kind: str, value: Any) -> None:
    with tempfile.TemporaryDirectory() as directory:
        _check_any(Path(directory), kind, json.dumps(value).encode())


@FUZZ
@given(kind=KIND, data=st.data())
def test_a_valid_record_with_one_field_replaced_is_a_record_or_a_dnsdr_error(kind: str, data: st.DataObject) -> None:
    record = json.loads(json.dumps(VALID[kind]))
    target = record
    if kind == "journal" and data.draw(st.booleans()):
        target = record["steps"][0]
    key = data.draw(st.sampled_from(sorted(target)) | st.text(max_size=8))
    if data.draw(st.booleans()):
        target[key] = data.draw(JSON)
    else:
        target.pop(key, None)
    with tempfile.TemporaryDirectory() as directory:
        _check_any(Path(directory), kind, json.dumps(record).encode())


@FUZZ
@given(kind=KIND, data=st.data())
def test_truncated_or_random_bytes_are_a_dnsdr_error(kind: str, data: st.DataObject) -> None:
    text = json.dumps(VALID[kind], indent=2).encode()
    content = data.draw(st.binary(max_size=300) | st.integers(0, len(text) - 1).map(lambda n: text[:n]))
    with tempfile.TemporaryDirectory() as directory:
        _check_any(Path(directory), kind, content)


@pytest.mark.parametrize("kind", sorted(VALID))
def test_valid_records_load(tmp_path: Path, kind: str) -> None:
    (tmp_path / f"lab.{kind}.json").write_text(json.dumps(VALID[kind]))
    assert _load(FileStateStore(tmp_path, "lab"), kind) is not None


@pytest.mark.parametrize(("kind", "content", "expected"), [
    ("cluster", "{}", "(primary: missing); restore it from a backup, or move it aside"),
    ("cluster", '{"primary": "r1", "lost": "r1"}', "(lost: expected an array, got a string)"),
    ("cluster", '{"primary": ["r1"]}', "(primary: expected a string, got an array)"),
    ("cluster", '{"primary": "r1", "epoch": -1}', "(epoch: expected a count from 0 to 2^63-1)"),
    ("cluster", '{"primary": "r1", "epoch": true}', "(epoch: expected a whole number, got a boolean)"),
    ("cluster", '{"primary": "r1", "primary": "r2"}', "is not valid JSON (duplicate key 'primary')"),
    ("cluster", '{"primary": "r1", "epoch": NaN}', "is not valid JSON (NaN is not a number)"),
    ("cluster", "[" * 100_000 + "]" * 100_000, "is not valid JSON (nested too deeply)"),
    ("cluster", '{"primary": "r1", "epoch": ' + "9" * 5000 + "}", "is not valid JSON (Exceeds the limit"),
    ("journal", json.dumps({**JOURNAL, "run_id": "../../etc/cron.d/x"}), "(run_id: expected a plain name"),
    ("journal", json.dumps({**JOURNAL, "started_at": 1e300}), "(started_at: not a usable time)"),
    ("journal", json.dumps({**JOURNAL, "outcome": "won"}), "(outcome: expected one of running, succeeded"),
    ("journal", json.dumps({**JOURNAL, "steps": [{"status": "done"}]}), "(steps[0].name: missing)"),
    ("journal", json.dumps({**JOURNAL, "steps": {"name": "x"}}), "(steps: expected an array, got an object)"),
    ("journal", "", "is not valid JSON (Expecting value: line 1 column 1 (char 0)); move it aside to start afresh"),
    ("lease", json.dumps({**LEASE, "released": "no"}), "(released: expected true or false, got a string)"),
    ("lease", json.dumps({**LEASE, "expires_at": "soon"}), "(expires_at: expected a time in seconds, got a string)"),
    ("lease", '"a lease"', "does not hold a JSON object; move it aside when no dnsdr run is active"),
])
def test_each_kind_of_damage_is_named_with_the_way_out(tmp_path: Path, kind: str, content: str, expected: str) -> None:
    path = tmp_path / f"lab.{kind}.json"
    path.write_text(content)
    with pytest.raises(CorruptStateError) as caught:
        _load(FileStateStore(tmp_path, "lab"), kind)
    message = str(caught.value)
    assert message.startswith(str(path)) and expected in message and "\n" not in message, message


@pytest.mark.parametrize("kind", sorted(VALID))
def test_a_fifo_a_device_link_or_a_huge_file_is_refused_at_once(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"lab.{kind}.json"
    os.mkfifo(path)
    started = time.monotonic()
    with pytest.raises(CorruptStateError, match="a FIFO"):
        _load(FileStateStore(tmp_path, "lab"), kind)
    path.unlink()
    path.symlink_to("/dev/zero")
    with pytest.raises(CorruptStateError, match=r"a character device, not a regular file; .*move it aside"):
        _load(FileStateStore(tmp_path, "lab"), kind)
    path.unlink()
    with path.open("wb") as handle:
        handle.truncate(16 * 1024 * 1024 + 1)  # sparse: no 16 MiB written
    with pytest.raises(CorruptStateError, match="larger than 16 MiB, the limit for a state record"):
        _load(FileStateStore(tmp_path, "lab"), kind)
    assert time.monotonic() - started < 2.0


def test_a_state_record_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    (tmp_path / "lab.cluster.json").write_bytes(b'{"primary": "r\xe9"}')
    with pytest.raises(CorruptStateError, match=r"lab\.cluster\.json: not UTF-8 text \(byte 14\)"):
        FileStateStore(tmp_path, "lab").load_cluster()


def test_a_read_only_state_directory_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def read_only(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(files.tempfile, "mkstemp", read_only)
    store = FileStateStore(tmp_path, "lab")
    with pytest.raises(StateStoreError) as caught:
        store.save_cluster(ClusterRecord(primary="r2"))
    assert str(caught.value) == (f"cannot write {tmp_path}/lab.cluster.json: Read-only file system "
                                 "(the state directory must be writable by dnsdr)")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a mode 0500 directory")
def test_a_directory_without_write_permission_is_one_clear_error(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(StateStoreError, match="Permission denied"):
            FileStateStore(tmp_path, "lab").save_cluster(ClusterRecord(primary="r2"))
    finally:
        tmp_path.chmod(0o700)


def test_an_unreadable_record_is_retry_later_not_corrupt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "lab.cluster.json").write_text(json.dumps(CLUSTER))
    real_open = os.open

    def denied(path: Any, *args: Any, **kwargs: Any) -> int:
        if str(path).endswith("lab.cluster.json"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(files.os, "open", denied)
    with pytest.raises(StateStoreError, match=r"cannot read state record .*lab\.cluster\.json: Permission denied$"):
        FileStateStore(tmp_path, "lab").load_cluster()


def test_writes_never_follow_a_planted_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    (tmp_path / "lab.cluster.json").symlink_to(victim)
    (tmp_path / "lab.cluster.json.tmp").symlink_to(tmp_path / "trap")  # the old fixed temporary name
    store = FileStateStore(tmp_path, "lab")
    store.save_cluster(ClusterRecord(primary="r2"))
    assert victim.read_text() == "keep\n" and not (tmp_path / "trap").exists()
    assert not (tmp_path / "lab.cluster.json").is_symlink()
    assert store.load_cluster() == ClusterRecord(primary="r2")


def test_every_record_field_type_has_a_shape_rule() -> None:
    for kind, cls in (("journal", Journal), ("cluster", ClusterRecord), ("lease", Lease)):
        assert shape_problem(VALID[kind], cls) is None
