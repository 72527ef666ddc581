"""The base every DNS server driver implements, and the reports its operations return.

A driver is one file per server type (``pdns4.py``, ``bind9.py``) declaring its :class:`BackendKind`
(how the spec names its control endpoint and credential, what Designate's pool target options
are) and the three operations dnsdr needs on it: compare-and-set the masters of secondary zones,
force a retransfer, and create secondary zones it lacks. The orchestration around them (reports,
timing, retransfer of what changed) is shared in :func:`rewrite_masters` and :func:`create_missing`
of :mod:`dnsdr.adapters.backends`, so adding a server type touches its file and its registration.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from dnsdr.domain.errors import RetryLater
from dnsdr.domain.spec import BackendKind, BackendSpec, Endpoint

HostPort = tuple[str, int]


class BackendError(RetryLater):
    """A backend-wide failure a driver reports for one zone or the whole server."""


class ZoneStatus(StrEnum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    MISSING = "missing"  # the backend does not have the zone (Designate has not created it there)
    FAILED = "failed"


@dataclass(frozen=True)
class ZoneOutcome:
    zone: str
    status: ZoneStatus
    detail: str = ""


@dataclass(frozen=True)
class MastersReport:
    """What one backend did; ``outcomes`` follow the order of the zones asked for."""

    backend: str
    backend_type: str
    masters: tuple[str, ...]
    outcomes: tuple[ZoneOutcome, ...]
    dry_run: bool = False
    retrieved: tuple[str, ...] = ()
    retrieve_failed: tuple[ZoneOutcome, ...] = ()
    rewrite_seconds: float = 0.0
    retrieve_seconds: float = 0.0
    error: str | None = None  # the whole backend failed (unreachable, bad credential)
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        counts = {s.value: 0 for s in ZoneStatus}
        for o in self.outcomes:
            counts[o.status.value] += 1
        object.__setattr__(self, "counts", counts)

    def zones(self, status: ZoneStatus) -> tuple[str, ...]:
        return tuple(o.zone for o in self.outcomes if o.status is status)

    @property
    def ok(self) -> bool:
        """Every zone asked for now has the new masters, and every retrieve was queued."""
        return self.error is None and not self.retrieve_failed and all(
            o.status in (ZoneStatus.CHANGED, ZoneStatus.UNCHANGED) for o in self.outcomes
        )


def canonical(zone: str) -> str:
    return zone.rstrip(".").lower() + "."


def parse_hostport(text: str, default_port: int = 53) -> HostPort:
    """``ip``, ``ip:port``, ``[v6]:port`` or a bare IPv6 address (PowerDNS' masters syntax).

    ValueError for anything else (a port that is not a number in 1-65535), as servers may answer junk.
    """
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else str(default_port)
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, str(default_port)
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("not an address[:port]")
    return host.lower(), int(port)


def wanted_masters(masters: Sequence[Endpoint]) -> frozenset[HostPort]:
    """Masters compare as sets of (address, port): Designate shuffles them, PowerDNS drops ``:53``."""
    return frozenset((m.host.lower(), m.port) for m in masters)


class BackendDriver(ABC):
    """One connection set to one DNS server; use as a context manager.

    Per-zone methods return one result per zone, in order: a value or the exception that zone
    met, so one bad zone never stops the others. A failure of the whole server raises.
    """

    kind: ClassVar[BackendKind]
    default_workers: ClassVar[int] = 4

    def __init__(self, backend: BackendSpec, credential: str, *, timeout: float = 30.0,
                 workers: int | None = None, secrets: Mapping[str, str] | None = None) -> None:
        self.backend = backend
        self.credential = credential
        self.timeout = timeout
        self.workers = workers or self.default_workers
        # The backend's optional secret settings (``BackendKind.secret_settings``), resolved.
        self.secrets: dict[str, str] = dict(secrets or {})

    @property
    def hidden(self) -> list[str]:
        """What no message may show: the credential and every secret setting."""
        return [self.credential, *self.secrets.values()]

    def __enter__(self) -> BackendDriver:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def connect(self) -> None:
        """Open the connections and prove the credential; raise BackendError if the server refuses."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def set_masters(self, zones: Sequence[str], masters: Sequence[Endpoint], dry_run: bool) -> list[ZoneOutcome]:
        """Compare each zone's masters with ``masters`` and change those that differ (unless dry_run),
        keeping every other setting of the zone."""

    @abstractmethod
    def retransfer(self, zones: Sequence[str]) -> list[object]:
        """Queue a transfer from the masters for each zone."""

    @abstractmethod
    def create_secondary(self, zones: Sequence[tuple[str, str]], masters: Sequence[Endpoint]) -> list[object]:
        """Create each (name, Designate zone id) as a secondary of ``masters`` and queue its first transfer."""

    @abstractmethod
    def probe(self) -> None:
        """One cheap authenticated call: raise unless the server answers and takes the credential."""

    @abstractmethod
    def remove(self, zones: Sequence[str]) -> list[object]:
        """Remove each zone (fencing a backend that must stop answering for them); absent is success."""

    @staticmethod
    def is_error(result: object) -> bool:
        return isinstance(result, Exception)
