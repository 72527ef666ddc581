"""DNS server drivers, one file per server type, and their registration.

To support another server type (NSD, Knot, ...), add ``<type>.py`` with a :class:`BackendKind`
and a :class:`BackendDriver` subclass, and list the driver in ``DRIVERS`` below.
"""

from __future__ import annotations

from collections.abc import Mapping

from dnsdr.adapters.backends.base import BackendDriver
from dnsdr.adapters.backends.bind9 import Bind9Driver
from dnsdr.adapters.backends.pdns4 import Pdns4Driver
from dnsdr.domain.errors import InvalidInput
from dnsdr.domain.spec import BackendKind, BackendSpec

DRIVERS: dict[str, type[BackendDriver]] = {d.kind.type: d for d in (Pdns4Driver, Bind9Driver)}
KINDS: dict[str, BackendKind] = {name: d.kind for name, d in DRIVERS.items()}


def driver_class(backend: BackendSpec) -> type[BackendDriver]:
    try:
        return DRIVERS[backend.type]
    except KeyError:
        raise InvalidInput(f"backend {backend.name}: no driver for type {backend.type!r}") from None


def driver_for(backend: BackendSpec, credential: str, *, timeout: float = 30.0,
               workers: int | None = None, secrets: Mapping[str, str] | None = None) -> BackendDriver:
    """An unconnected driver for ``backend``; use it as a context manager. ``secrets`` are its resolved
    secret settings, by spec key."""
    return driver_class(backend)(backend, credential, timeout=timeout, workers=workers, secrets=secrets)


__all__ = ["DRIVERS", "KINDS", "BackendDriver", "driver_class", "driver_for"]
