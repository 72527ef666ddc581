"""The state store in a local directory: JSON files written atomically, a lease file changed under flock.

Writes go through ``write_private`` (a fresh 0600 temporary file, fsynced, renamed over the old
one, the directory fsynced): a crash leaves the old or the new record, never half of one, and a
symlink planted in the directory is never written through. Reads are bounded (16 MiB, regular
files only) and strict; a record that cannot be used is a CorruptStateError naming the file and
the way out, never a traceback. The lease file is read and rewritten
under an exclusive ``flock`` held only for that compare-and-swap. A holder on this host that died
(crashed, killed) loses its lease at once, so a re-run resumes immediately; a holder on another host
keeps it until it expires.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dnsdr.adapters.files import (
    STATE_LIMIT,
    MissingFile,
    UnreadableFile,
    UnusableFile,
    UnwritableFile,
    read_text_bounded,
    write_private,
)
from dnsdr.adapters.state import records
from dnsdr.adapters.state.base import (
    DEFAULT_TTL,
    CorruptStateError,
    LeaseLostError,
    LockedError,
    StateStore,
    StateStoreError,
    local_holder_dead,
)
from dnsdr.domain.automation import ControlRecord
from dnsdr.domain.journal import ClusterRecord, Journal
from dnsdr.domain.lease import Lease, next_lease

DEFAULT_STATE_DIR = "/var/lib/dnsdr"


class FileStateStore(StateStore):
    def __init__(self, directory: Path, name: str, clock: Callable[[], float] = time.time) -> None:
        super().__init__(name, clock)
        self.directory = directory

    @property
    def location(self) -> str:
        return str(self.directory)

    def _path(self, what: str) -> Path:
        return self.directory / f"{self.name}.{what}"

    @property
    def _history_dir(self) -> Path:
        return self.directory / "history" / self.name

    def _ensure_dir(self, directory: Path | None = None) -> None:
        directory = directory or self.directory
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StateStoreError(f"cannot create state directory {directory}: {exc.strerror}") from None

    def _recovery(self, path: Path) -> str:
        """How an operator gets past a record that cannot be used (``dnsdr journal abandon`` needs a readable one)."""
        if path.parent == self._history_dir:
            return "move it aside; it only records a past run"
        if path == self._path("journal.json"):
            return ("move it aside to start afresh (the run it records can then not be resumed or abandoned; "
                    "check `dnsdr status` first)")
        if path == self._path("cluster.json"):
            return ("restore it from a backup, or move it aside (dnsdr then assumes spec.primaryRegion until the "
                    "next operation; check `dnsdr status` first)")
        return "move it aside when no dnsdr run is active"

    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            text = read_text_bounded(path, STATE_LIMIT, "state record")
        except MissingFile:
            return None
        except UnusableFile as exc:
            raise CorruptStateError(f"{exc}; {self._recovery(path)}") from None
        except UnreadableFile as exc:  # permissions, I/O: the store cannot be read now
            raise StateStoreError(str(exc)) from None
        return records.parse(text, str(path), self._recovery(path))

    def _write(self, path: Path, data: dict[str, Any]) -> None:
        self._ensure_dir(path.parent)
        try:
            write_private(path, json.dumps(data, indent=2, sort_keys=True, default=str))
        except UnwritableFile as exc:
            raise StateStoreError(f"{exc} (the state directory must be writable by dnsdr)") from None

    def _decode(self, path: Path, data: dict[str, Any] | None, cls: type[records.R]) -> records.R | None:
        return None if data is None else records.decode(data, cls, str(path), self._recovery(path))

    # -- journal
    def load_journal(self) -> Journal | None:
        path = self._path("journal.json")
        return self._decode(path, self._read(path), Journal)

    def save_journal(self, journal: Journal) -> None:
        self._write(self._path("journal.json"), journal.to_dict())
        if journal.finished:
            self._write(self._history_dir / f"{journal.run_id}.json", journal.to_dict())

    # -- cluster record
    def load_cluster(self) -> ClusterRecord | None:
        path = self._path("cluster.json")
        return self._decode(path, self._read(path), ClusterRecord)

    def save_cluster(self, record: ClusterRecord) -> None:
        self._write(self._path("cluster.json"), record.to_dict())

    # -- controller record
    def load_control(self) -> ControlRecord:
        path = self._path("control.json")
        return self._decode(path, self._read(path), ControlRecord) or ControlRecord()

    def save_control(self, record: ControlRecord) -> None:
        self._write(self._path("control.json"), record.to_dict())

    def update_control(self, change: Callable[[ControlRecord], ControlRecord]) -> ControlRecord:
        with self._lease_file():  # the same short flock that serialises the lease's compare-and-swap
            record = change(self.load_control())
            self.save_control(record)
            return record

    # -- history
    def history(self, limit: int | None = None) -> list[Journal]:
        try:
            paths = list(self._history_dir.glob("*.json"))
        except OSError as exc:
            raise StateStoreError(f"cannot list {self._history_dir}: {exc.strerror}") from None
        runs: list[Journal] = []
        for path in paths:
            run = self._decode(path, self._read(path), Journal)
            if run is not None:
                runs.append(run)
        runs.sort(key=lambda j: j.started_at, reverse=True)
        return runs[:limit] if limit is not None else runs

    # -- lease
    @contextmanager
    def _lease_file(self) -> Iterator[Path]:
        self._ensure_dir()
        path = self._path("lock")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StateStoreError(f"cannot open {path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield self._path("lease.json")
        finally:
            os.close(fd)

    def current_lease(self) -> Lease | None:
        path = self._path("lease.json")
        return self._decode(path, self._read(path), Lease)

    def acquire(self, holder: str, ttl: float = DEFAULT_TTL) -> Lease:
        with self._lease_file():
            current = self.current_lease()
            now = self.clock()
            if current is not None and current.live(now) and local_holder_dead(current.holder):
                current = current.release(now)
            lease = next_lease(current, holder, now, ttl)
            if lease is None:
                assert current is not None
                left = current.expires_at - now
                raise LockedError(f"another dnsdr run ({current.holder}) holds the operation lease in "
                                  f"{self.location} for {left:.0f} s more; wait for it to finish")
            self._write(self._path("lease.json"), lease.to_dict())
            return lease

    def renew(self, lease: Lease, ttl: float = DEFAULT_TTL) -> Lease:
        with self._lease_file():
            current = self.current_lease()
            now = self.clock()
            if current is None or current.holder != lease.holder or current.token != lease.token \
                    or not current.live(now):
                raise LeaseLostError(f"the operation lease in {self.location} was lost "
                                     f"(now {current.holder if current else 'nobody'}, token "
                                     f"{current.token if current else '-'}); stopping")
            renewed = current.renewed(now, ttl)
            self._write(self._path("lease.json"), renewed.to_dict())
            return renewed

    def release(self, lease: Lease) -> None:
        with self._lease_file():
            current = self.current_lease()
            if current is not None and current.holder == lease.holder and current.token == lease.token:
                self._write(self._path("lease.json"), current.release(self.clock()).to_dict())

    def check_writable(self) -> None:
        self._ensure_dir()
        probe = self.directory / f".{self.name}.probe.{os.getpid()}"
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
            probe.unlink()
        except OSError as exc:
            raise StateStoreError(f"state directory {self.directory} is not writable: {exc.strerror}") from None
