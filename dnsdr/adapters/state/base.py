"""Where dnsdr keeps what must outlive a process: the journal of the current run, the cluster
record (primary, epoch, lost regions), the history of runs (per spec name) and the operation lease.

One backend per file: ``file.py`` (a directory on local disk) and ``kubernetes.py`` (ConfigMaps plus a
``coordination.k8s.io`` Lease, changed by compare-and-swap). The lease, not a host-local lock,
is what keeps two runs apart, so two controllers on different hosts fit the same interface; across
regions the epoch recorded in the database stays the fencing token.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from dnsdr.domain.automation import ControlRecord
from dnsdr.domain.errors import NeedsOperator, RetryLater
from dnsdr.domain.journal import ClusterRecord, Journal
from dnsdr.domain.lease import Lease

DEFAULT_TTL = 60.0


class StateStoreError(RetryLater):
    """The state store cannot be read or written now."""


class CorruptStateError(NeedsOperator):
    """A state record exists but cannot be understood; the message names it and how to recover."""


class LockedError(RetryLater):
    """Another holder has the operation lease."""


class LeaseLostError(RetryLater):
    """Our lease expired or was taken over while we held it; stop acting."""


def holder_id(prefix: str = "dnsdr") -> str:
    """``prefix@host:pid:nonce``: unique per process, and a local holder's liveness can be checked."""
    return f"{prefix}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def local_holder_dead(holder: str) -> bool:
    """True when ``holder`` was a process on this host that no longer exists (it crashed)."""
    try:
        host, pid_text, _nonce = holder.rsplit("@", 1)[1].rsplit(":", 2)
        pid = int(pid_text)
    except (IndexError, ValueError):
        return False
    if host != socket.gethostname() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class StateStore(ABC):
    """The state of one DesignateDR (``name``) in one place (``location``, for messages)."""

    def __init__(self, name: str, clock: Callable[[], float] = time.time) -> None:
        self.name = name or "default"
        self.clock = clock

    @property
    @abstractmethod
    def location(self) -> str: ...

    # -- journal of the current (or last) run
    @abstractmethod
    def load_journal(self) -> Journal | None: ...

    @abstractmethod
    def save_journal(self, journal: Journal) -> None:
        """Durably, atomically; a finished journal is also added to the history."""

    # -- cluster record
    @abstractmethod
    def load_cluster(self) -> ClusterRecord | None: ...

    @abstractmethod
    def save_cluster(self, record: ClusterRecord) -> None: ...

    # -- the controller's memory: pause, cool-down, acknowledgements, retries, last semi-sync sample
    @abstractmethod
    def load_control(self) -> ControlRecord: ...

    @abstractmethod
    def save_control(self, record: ControlRecord) -> None: ...

    @abstractmethod
    def update_control(self, change: Callable[[ControlRecord], ControlRecord]) -> ControlRecord:
        """Read, change and write the controller record atomically (a person pausing while the
        controller records a sample must not lose either update)."""

    # -- history
    @abstractmethod
    def history(self, limit: int | None = None) -> list[Journal]:
        """Finished runs of this spec, newest first."""

    # -- lease
    @abstractmethod
    def acquire(self, holder: str, ttl: float = DEFAULT_TTL) -> Lease:
        """Take the lease or raise LockedError naming the holder and until when."""

    @abstractmethod
    def renew(self, lease: Lease, ttl: float = DEFAULT_TTL) -> Lease:
        """Extend our lease or raise LeaseLostError."""

    @abstractmethod
    def release(self, lease: Lease) -> None: ...

    @abstractmethod
    def current_lease(self) -> Lease | None: ...

    @abstractmethod
    def check_writable(self) -> None:
        """Raise StateStoreError unless a write would succeed now (preflight)."""

    @contextmanager
    def hold(self, holder: str | None = None, ttl: float = DEFAULT_TTL) -> Iterator[LeaseKeeper]:
        """Hold the lease for a block, renewed in the background every ``ttl / 3`` seconds."""
        keeper = LeaseKeeper(self, self.acquire(holder or holder_id(), ttl), ttl)
        keeper.start()
        try:
            yield keeper
        finally:
            keeper.stop()


class LeaseKeeper:
    """Renews a lease until stopped; ``lost`` tells the holder to stop acting."""

    def __init__(self, store: StateStore, lease: Lease, ttl: float) -> None:
        self.store = store
        self.lease = lease
        self.ttl = ttl
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)

    @property
    def token(self) -> int:
        return self.lease.token

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self.lease = self.store.renew(self.lease, self.ttl)
            except LeaseLostError as exc:
                self.lost = str(exc)
                return
            except RetryLater:
                continue  # the store is briefly unavailable; the lease is still ours until it expires

    def check(self) -> None:
        """Raise LeaseLostError if the lease was lost (called between steps)."""
        if self.lost is not None:
            raise LeaseLostError(self.lost)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self.lost is None:
            with contextlib.suppress(RetryLater):  # if the store is unavailable, the lease expires on its own
                self.store.release(self.lease)
