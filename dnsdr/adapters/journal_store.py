"""Durable journal and cluster record on local disk, with a lock so two runs never overlap.

Writes are atomic (temporary file, fsync, rename, fsync of the directory): a crash leaves either
the old or the new journal, never half of one. The lock is an flock on a file in the same
directory, released by the kernel if the process dies.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dnsdr.domain.journal import ClusterRecord, Journal

DEFAULT_STATE_DIR = "/var/lib/dnsdr"


class LockedError(RuntimeError):
    """Another dnsdr run holds the lock."""


class StateStoreError(RuntimeError):
    """The state directory cannot be read or written."""


class JournalStore:
    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = name or "default"

    @property
    def _journal_path(self) -> Path:
        return self.directory / f"{self.name}.journal.json"

    @property
    def _cluster_path(self) -> Path:
        return self.directory / f"{self.name}.cluster.json"

    def _ensure_dir(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StateStoreError(f"cannot create state directory {self.directory}: {exc.strerror}") from None

    @contextmanager
    def lock(self) -> Iterator[None]:
        self._ensure_dir()
        path = self.directory / f"{self.name}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EACCES):
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                    raise LockedError(f"another dnsdr run (pid {holder}) holds {path}; wait for it to finish") from None
                raise
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            os.close(fd)

    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StateStoreError(f"cannot read {path}: {exc}") from None
        return data

    def _write(self, path: Path, data: dict[str, Any]) -> None:
        self._ensure_dir()
        tmp = path.with_name(path.name + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=2, sort_keys=True, default=str)
                handle.flush()
                os.fsync(handle.fileno())
            tmp.replace(path)
            dir_fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise StateStoreError(f"cannot write {path}: {exc.strerror}") from None

    def load_journal(self) -> Journal | None:
        data = self._read(self._journal_path)
        return Journal.from_dict(data) if data else None

    def save_journal(self, journal: Journal) -> None:
        self._write(self._journal_path, journal.to_dict())
        if journal.finished:
            (self.directory / "history").mkdir(exist_ok=True, mode=0o700)
            self._write(self.directory / "history" / f"{journal.run_id}.json", journal.to_dict())

    def load_cluster(self) -> ClusterRecord | None:
        data = self._read(self._cluster_path)
        return ClusterRecord.from_dict(data) if data else None

    def save_cluster(self, record: ClusterRecord) -> None:
        self._write(self._cluster_path, record.to_dict())
