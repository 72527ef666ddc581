"""Point every secondary zone of one backend at new masters, idempotently, at scale.

Designate's pdns4 driver never updates masters on existing zones and its bind9 ``update_zone``
only runs per zone on the next change, so after a failover dnsdr rewrites them itself: PowerDNS
through its API (one zone listing, then a ``PUT`` per zone that differs), BIND through native
rndc (``showzone``, then ``modzone`` keeping every other clause, ``file`` included, in
Designate's ``type slave; masters { H port P; };`` dialect). Zones already right are left alone,
so a second run changes nothing. Masters compare as sets of (address, port): Designate shuffles
them and PowerDNS drops ``:53``. A retrieve/retransfer is then queued for the zones asked for.
"""

from __future__ import annotations

import re
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from dnsdr.adapters.pdns_api import PdnsClient, PdnsError, PdnsNotFound, PdnsZone
from dnsdr.adapters.rndc import RndcClient, RndcError, RndcKey, is_not_found
from dnsdr.domain.spec import Backend, Bind9Backend, Endpoint

HostPort = tuple[str, int]


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
    """``ip``, ``ip:port``, ``[v6]:port`` or a bare IPv6 address (PowerDNS' masters syntax)."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host.lower(), int(rest[1:]) if rest.startswith(":") else default_port
    if text.count(":") == 1:
        host, port = text.split(":")
        return host.lower(), int(port)
    return text.lower(), default_port


def pdns_masters(masters: Sequence[Endpoint]) -> list[str]:
    return [str(m) for m in masters]


def bind_masters_clause(masters: Sequence[Endpoint]) -> str:
    """Designate's wording (impl_bind9.py): ``masters { H1 port P1; H2 port P2;}``."""
    entries = "; ".join(f"{m.host} port {m.port}" for m in masters)
    return "masters { " + entries + ";}"


_BIND_ENTRY = re.compile(r"([0-9A-Fa-f.:]+)(?:\s+port\s+(\d+))?")


def split_statements(body: str) -> list[str]:
    """Top-level ``;``-terminated statements of a named.conf block body (braces nest)."""
    out, depth, start, in_quote = [], 0, 0, False
    for i, ch in enumerate(body):
        if ch == '"':
            in_quote = not in_quote
        elif in_quote:
            continue
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == ";" and depth == 0:
            stmt = body[start:i].strip()
            if stmt:
                out.append(stmt)
            start = i + 1
    return out


@dataclass(frozen=True)
class BindZoneConfig:
    """The pieces of ``rndc showzone`` output that matter here."""

    type: str
    masters: frozenset[HostPort]
    statements: tuple[str, ...]  # every clause of the zone block, masters included

    @classmethod
    def parse(cls, showzone: str) -> BindZoneConfig:
        start, end = showzone.find("{"), showzone.rfind("}")
        if start < 0 or end < start:
            raise ValueError(f"unexpected showzone output: {showzone[:200]!r}")
        statements = split_statements(showzone[start + 1 : end])
        ztype, masters = "", set()
        for stmt in statements:
            word = stmt.split(None, 1)[0]
            if word == "type":
                ztype = stmt.split()[1]
            elif word in ("masters", "primaries"):
                head, _, inner = stmt.partition("{")
                list_port = re.search(r"port\s+(\d+)", head)
                default = int(list_port.group(1)) if list_port else 53
                for entry in split_statements(inner.rsplit("}", 1)[0]):
                    m = _BIND_ENTRY.match(entry)
                    if m:
                        masters.add((m.group(1).lower(), int(m.group(2)) if m.group(2) else default))
        return cls(ztype, frozenset(masters), tuple(statements))

    def with_masters(self, masters: Sequence[Endpoint]) -> str:
        """The modzone config: every clause kept, masters/primaries replaced by Designate's form."""
        kept = [s for s in self.statements if s.split(None, 1)[0] not in ("masters", "primaries")]
        kept.insert(1 if kept and kept[0].startswith("type") else 0, bind_masters_clause(masters))
        return "{ " + " ".join(s + ";" for s in kept) + " };"


def _want(masters: Sequence[Endpoint]) -> frozenset[HostPort]:
    return frozenset((m.host.lower(), m.port) for m in masters)


def _rewrite_pdns(
    client: PdnsClient, zones: Sequence[str], masters: Sequence[Endpoint], dry_run: bool
) -> list[ZoneOutcome]:
    have: dict[str, PdnsZone] = {canonical(z.name): z for z in client.list_zones()}
    want = _want(masters)
    outcomes: dict[str, ZoneOutcome] = {}
    todo: list[str] = []
    for name in zones:
        zone = have.get(canonical(name))
        if zone is None:
            outcomes[name] = ZoneOutcome(name, ZoneStatus.MISSING, "not on this backend")
        elif zone.kind.lower() not in ("slave", "secondary"):
            outcomes[name] = ZoneOutcome(name, ZoneStatus.FAILED, f"kind {zone.kind}, not a secondary")
        elif frozenset(parse_hostport(m) for m in zone.masters) == want:
            outcomes[name] = ZoneOutcome(name, ZoneStatus.UNCHANGED)
        else:
            outcomes[name] = ZoneOutcome(name, ZoneStatus.CHANGED, "was " + ",".join(zone.masters))
            todo.append(name)
    if not dry_run:
        new = pdns_masters(masters)
        for name, res in zip(todo, client.map(lambda z: client.set_masters(z, new), todo), strict=True):
            if isinstance(res, PdnsNotFound):
                outcomes[name] = ZoneOutcome(name, ZoneStatus.MISSING, "deleted meanwhile")
            elif isinstance(res, PdnsError):
                outcomes[name] = ZoneOutcome(name, ZoneStatus.FAILED, str(res))
    return [outcomes[z] for z in zones]


def _rewrite_bind(
    client: RndcClient, zones: Sequence[str], masters: Sequence[Endpoint], dry_run: bool
) -> list[ZoneOutcome]:
    want = _want(masters)

    def one(name: str) -> ZoneOutcome:
        try:
            config = BindZoneConfig.parse(client.showzone(name))
        except RndcError as exc:
            if is_not_found(exc):
                return ZoneOutcome(name, ZoneStatus.MISSING, "not on this backend")
            raise
        if config.type not in ("slave", "secondary"):
            return ZoneOutcome(name, ZoneStatus.FAILED, f"type {config.type}, not a secondary")
        if config.masters == want:
            return ZoneOutcome(name, ZoneStatus.UNCHANGED)
        was = "was " + ",".join(f"{h} port {p}" for h, p in sorted(config.masters))
        if not dry_run:
            client.modzone(name, config.with_masters(masters))
        return ZoneOutcome(name, ZoneStatus.CHANGED, was)

    results = client.map(one, zones)
    return [
        r if isinstance(r, ZoneOutcome) else ZoneOutcome(z, ZoneStatus.FAILED, str(r))
        for z, r in zip(zones, results, strict=True)
    ]


def rewrite_masters(
    backend: Backend,
    credential: str,
    zones: Sequence[str],
    masters: Sequence[Endpoint],
    retrieve: Collection[str] = (),
    retrieve_changed: bool = False,
    dry_run: bool = False,
    workers: int | None = None,
    timeout: float = 30.0,
) -> MastersReport:
    """Rewrite masters on ``zones`` of ``backend``, then queue a transfer for ``retrieve``.

    ``credential`` is the resolved PowerDNS API key or rndc key material (a ``key`` clause or bare
    base64). ``retrieve_changed`` adds every zone changed here to ``retrieve``. A backend-wide
    failure (unreachable, rejected credential) is reported in ``error`` with every zone FAILED;
    nothing is raised, so the caller can act on the other backends. ``workers`` defaults to 4 rndc
    connections (named runs modzone in exclusive mode, more buys nothing) or 8 HTTP connections.
    """
    if not masters:
        raise ValueError("refusing to set an empty masters list")
    shown = tuple(str(m) for m in masters)
    started = time.monotonic()
    client: PdnsClient | RndcClient
    try:
        if isinstance(backend, Bind9Backend):
            key = RndcKey.parse(credential)
            client = RndcClient(backend.rndc, key, timeout=timeout, connections=workers or 4)
        else:
            client = PdnsClient(backend.api, credential, backend.api_scheme, timeout=timeout, workers=workers or 8)
    except RndcError as exc:
        return _failed(backend, shown, zones, str(exc), dry_run)
    with client:
        try:
            if isinstance(client, RndcClient):
                client.login()
                outcomes = _rewrite_bind(client, zones, masters, dry_run)
            else:
                outcomes = _rewrite_pdns(client, zones, masters, dry_run)
        except (PdnsError, RndcError) as exc:
            return _failed(backend, shown, zones, str(exc), dry_run)
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
                fn = client.retransfer if isinstance(client, RndcClient) else client.axfr_retrieve
                results: Sequence[object] = client.map(fn, todo)
            except (PdnsError, RndcError) as exc:
                results = [exc] * len(todo)
            for zone, res in zip(todo, results, strict=True):
                if isinstance(res, PdnsError | RndcError):
                    failed.append(ZoneOutcome(zone, ZoneStatus.FAILED, str(res)))
                else:
                    done.append(zone)
    return MastersReport(
        backend=backend.name,
        backend_type=backend.type.value,
        masters=shown,
        outcomes=tuple(outcomes),
        dry_run=dry_run,
        retrieved=tuple(done) if not dry_run else tuple(todo),
        retrieve_failed=tuple(failed),
        rewrite_seconds=rewrite_s,
        retrieve_seconds=time.monotonic() - started - rewrite_s,
    )


def _failed(backend: Backend, shown: tuple[str, ...], zones: Sequence[str], error: str, dry_run: bool) -> MastersReport:
    return MastersReport(
        backend=backend.name,
        backend_type=backend.type.value,
        masters=shown,
        outcomes=tuple(ZoneOutcome(z, ZoneStatus.FAILED, error) for z in zones),
        dry_run=dry_run,
        error=error,
    )


def create_missing(
    backend: Backend, credential: str, zones: Sequence[tuple[str, str]], masters: Sequence[Endpoint],
    workers: int = 8, timeout: float = 30.0,
) -> tuple[tuple[str, ...], tuple[ZoneOutcome, ...]]:
    """Create secondary zones the backend lacks, as Designate would, and queue their first transfer.

    ``zones`` are (name, Designate zone id) pairs. Designate's pdns4 driver has no ``update_zone``, so
    zones created while a region was away never reach its PowerDNS on their own (rejoin needs this).
    Returns (created, failed).
    """
    if not zones or not masters:
        return (), ()
    created: list[str] = []
    failed: list[ZoneOutcome] = []
    names = [name for name, _ in zones]
    ids = dict(zones)
    try:
        if isinstance(backend, Bind9Backend):
            with RndcClient(backend.rndc, RndcKey.parse(credential), timeout=timeout, connections=workers) as rc:
                rc.login()
                clause = bind_masters_clause(masters)

                def add(name: str) -> str:
                    zone = canonical(name)
                    return rc.addzone(name, f'{{ type slave; {clause}; file "slave.{zone}{ids[name]}"; }};')

                results: Sequence[object] = rc.map(add, names)
        else:
            with PdnsClient(backend.api, credential, backend.api_scheme, timeout=timeout, workers=workers) as pc:

                def create(name: str) -> None:
                    pc.create_secondary(name, pdns_masters(masters))
                    pc.axfr_retrieve(name)

                results = pc.map(create, names)
    except (PdnsError, RndcError) as exc:
        return (), tuple(ZoneOutcome(n, ZoneStatus.FAILED, str(exc)) for n in names)
    for name, res in zip(names, results, strict=True):
        # Designate's worker may have created it in the meantime: that is the same outcome.
        if isinstance(res, PdnsError | RndcError) and "exist" not in str(res).lower():
            failed.append(ZoneOutcome(name, ZoneStatus.FAILED, str(res)))
        else:
            created.append(name)
    return tuple(created), tuple(failed)
