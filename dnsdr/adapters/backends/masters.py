"""Point every secondary zone of one backend at new masters, idempotently, at scale, on any driver.

Zones already right are left alone, so a second run changes nothing. A retrieve/retransfer is then
queued for the zones asked for. A failure of the whole backend (unreachable, rejected credential,
answers that make no sense) is reported, never raised, so the caller can act on the other backends.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence

from dnsdr.adapters.backends import driver_for
from dnsdr.adapters.backends.base import MastersReport, ZoneOutcome, ZoneStatus, canonical
from dnsdr.adapters.shown import brief
from dnsdr.domain.errors import DnsdrError
from dnsdr.domain.spec import BackendSpec, Endpoint


def rewrite_masters(
    backend: BackendSpec,
    credential: str,
    zones: Sequence[str],
    masters: Sequence[Endpoint],
    retrieve: Collection[str] = (),
    retrieve_changed: bool = False,
    dry_run: bool = False,
    workers: int | None = None,
    timeout: float = 30.0,
    secrets: Mapping[str, str] | None = None,
) -> MastersReport:
    """Rewrite masters on ``zones`` of ``backend``, then queue a transfer for ``retrieve``.

    ``credential`` is the resolved credential (PowerDNS API key, rndc key material); ``secrets`` the
    backend's resolved secret settings (PowerDNS's ``databaseRef``).
    ``retrieve_changed`` adds every zone changed here to ``retrieve``. ``workers`` defaults to the
    driver's own (4 rndc connections, 8 HTTP connections).
    """
    if not masters:
        raise ValueError("refusing to set an empty masters list")
    shown = tuple(str(m) for m in masters)
    started = time.monotonic()
    try:
        with driver_for(backend, credential, timeout=timeout, workers=workers, secrets=secrets) as driver:
            outcomes = driver.set_masters(zones, masters, dry_run)
            rewrite_s = time.monotonic() - started
            wanted = {canonical(z) for z in retrieve}
            if retrieve_changed:
                wanted.update(canonical(o.zone) for o in outcomes if o.status is ZoneStatus.CHANGED)
            todo = [o.zone for o in outcomes if canonical(o.zone) in wanted and o.status is not ZoneStatus.MISSING]
            todo += sorted(wanted - {canonical(o.zone) for o in outcomes})
            failed: list[ZoneOutcome] = []
            done: list[str] = []
            if todo and not dry_run:
                try:
                    results: Sequence[object] = driver.retransfer(todo)
                except DnsdrError as exc:
                    results = [exc] * len(todo)
                for zone, res in zip(todo, results, strict=True):
                    if driver.is_error(res):
                        failed.append(ZoneOutcome(zone, ZoneStatus.FAILED, str(res)))
                    else:
                        done.append(zone)
    except DnsdrError as exc:
        return _failed(backend, shown, zones, str(exc), dry_run)
    except Exception as exc:  # one backend's surprise must not stop the others
        hidden = [credential, *(secrets or {}).values()]
        return _failed(backend, shown, zones, _unexpected(backend, hidden, exc), dry_run)
    return MastersReport(
        backend=backend.name, backend_type=backend.type, masters=shown, outcomes=tuple(outcomes), dry_run=dry_run,
        retrieved=tuple(done) if not dry_run else tuple(todo), retrieve_failed=tuple(failed),
        rewrite_seconds=rewrite_s, retrieve_seconds=time.monotonic() - started - rewrite_s,
    )


def _unexpected(backend: BackendSpec, hidden: Sequence[str], exc: Exception) -> str:
    """A driver bug or an answer no check foresaw: named, bounded, without the credential."""
    return brief(f"unexpected {type(exc).__name__} from the {backend.type} driver: {exc}", secrets=list(hidden))


def _failed(backend: BackendSpec, shown: tuple[str, ...], zones: Sequence[str], error: str,
            dry_run: bool) -> MastersReport:
    return MastersReport(
        backend=backend.name, backend_type=backend.type, masters=shown,
        outcomes=tuple(ZoneOutcome(z, ZoneStatus.FAILED, error) for z in zones), dry_run=dry_run, error=error,
    )


def create_missing(
    backend: BackendSpec, credential: str, zones: Sequence[tuple[str, str]], masters: Sequence[Endpoint],
    workers: int = 8, timeout: float = 30.0,
) -> tuple[tuple[str, ...], tuple[ZoneOutcome, ...]]:
    """Create secondary zones the backend lacks, as Designate would, and queue their first transfer.

    ``zones`` are (name, Designate zone id) pairs. Zones created while a region was away never
    reach some backends on their own (Designate's pdns4 driver has no ``update_zone``); rejoin
    needs this. Returns (created, failed).
    """
    if not zones or not masters:
        return (), ()
    names = [name for name, _ in zones]
    try:
        with driver_for(backend, credential, timeout=timeout, workers=workers) as driver:
            results = driver.create_secondary(zones, masters)
    except DnsdrError as exc:
        return (), tuple(ZoneOutcome(n, ZoneStatus.FAILED, str(exc)) for n in names)
    except Exception as exc:  # as in rewrite_masters
        return (), tuple(ZoneOutcome(n, ZoneStatus.FAILED, _unexpected(backend, [credential], exc)) for n in names)
    created: list[str] = []
    failed: list[ZoneOutcome] = []
    for name, res in zip(names, results, strict=True):
        # Designate's worker may have created it in the meantime: that is the same outcome.
        if isinstance(res, Exception) and "exist" not in str(res).lower():
            failed.append(ZoneOutcome(name, ZoneStatus.FAILED, str(res)))
        else:
            created.append(name)
    return tuple(created), tuple(failed)


def remove_zones(backend: BackendSpec, credential: str, zones: Sequence[str], workers: int | None = None,
                 timeout: float = 30.0) -> tuple[tuple[str, ...], tuple[ZoneOutcome, ...]]:
    """Remove ``zones`` from ``backend`` so it answers for none of them; returns (removed, failed)."""
    if not zones:
        return (), ()
    try:
        with driver_for(backend, credential, timeout=timeout, workers=workers) as driver:
            results = driver.remove(zones)
    except DnsdrError as exc:
        return (), tuple(ZoneOutcome(z, ZoneStatus.FAILED, str(exc)) for z in zones)
    removed = tuple(z for z, r in zip(zones, results, strict=True) if not isinstance(r, Exception))
    failed = tuple(ZoneOutcome(z, ZoneStatus.FAILED, str(r)) for z, r in zip(zones, results, strict=True)
                   if isinstance(r, Exception))
    return removed, failed


def control_answers(backend: BackendSpec, credential: str, timeout: float = 2.0) -> tuple[bool, str]:
    """Whether dnsdr can manage ``backend`` now (its API or rndc answers and takes the credential)."""
    try:
        with driver_for(backend, credential, timeout=timeout, workers=1) as driver:
            driver.probe()
    except DnsdrError as exc:
        return False, str(exc)
    return True, f"{backend.kind.label} control answers at {backend.control}"
