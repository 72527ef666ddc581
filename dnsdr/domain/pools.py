"""Render Designate's pools.yml for one state of the world, purely.

The state says which region holds the writable database and which regions are lost. A lost
region contributes nothing: no target, no polled nameserver, no master, no also-notify (a dead
nameserver in the pool turns every zone change into ERROR under the 100% threshold; a dead master
makes backends retry AXFR against nothing), except the backends of it that still answer and are
*kept*: they stay targets and polled nameservers, transferring from the primary region's mdns.
Output is byte-identical for the same input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from dnsdr.domain.errors import InvalidInput
from dnsdr.domain.fields import host_key
from dnsdr.domain.spec import BackendSpec, DesignateDR, Endpoint, RegionSpec, SecretLookup, SecretRef

DESCRIPTION_LIMIT = 160  # Designate's pool and target descriptions


def redacted(_: SecretRef) -> str:
    """A stand-in for secrets when pools are shown rather than applied."""
    return "REDACTED"


class StateError(InvalidInput):
    """The world state does not fit the spec (unknown region, lost primary, nothing left)."""


@dataclass(frozen=True)
class WorldState:
    """Who is primary, which regions are lost, and what became of a lost region's backends that
    still answer: ``kept`` in the pool (masters re-pointed at the primary's mdns) or ``fenced``
    (every zone of the pool removed from them, so they answer for none)."""

    primary: str
    lost: frozenset[str] = field(default_factory=frozenset)
    kept: frozenset[str] = field(default_factory=frozenset)
    fenced: frozenset[str] = field(default_factory=frozenset)

    def describe(self) -> str:
        lost = ",".join(sorted(self.lost)) or "none"
        text = f"primary={self.primary} lost={lost}"
        if self.kept:
            text += f" kept={','.join(sorted(self.kept))}"
        if self.fenced:
            text += f" fenced={','.join(sorted(self.fenced))}"
        return text


def kept_backends(spec: DesignateDR, state: WorldState) -> tuple[tuple[RegionSpec, BackendSpec], ...]:
    """The lost regions' backends that stay in the pool, with their regions, in spec order."""
    return tuple((r, b) for r in spec.regions if r.name in state.lost for b in r.backends if b.name in state.kept)


def check_state(spec: DesignateDR, state: WorldState) -> None:
    names = set(spec.region_names)
    unknown = sorted((state.lost | {state.primary}) - names)
    if unknown:
        raise StateError(f"unknown region(s): {', '.join(unknown)} (known: {', '.join(spec.region_names)})")
    if state.primary in state.lost:
        raise StateError(f"the primary region {state.primary} cannot also be lost")
    if spec.region(state.primary).database is None:
        raise StateError(f"region {state.primary} holds no database and cannot be primary")
    if not any(r.backends for r in live_regions(spec, state)):
        raise StateError("no backend would be left: every region with backends is lost")
    in_lost = {b.name for r in spec.regions if r.name in state.lost for b in r.backends}
    strays = sorted((state.kept | state.fenced) - in_lost)
    if strays:
        raise StateError(f"only a lost region's backends can be kept or fenced, not {', '.join(strays)}")
    if state.kept & state.fenced:
        raise StateError(f"a backend cannot be both kept and fenced: {', '.join(sorted(state.kept & state.fenced))}")


def live_regions(spec: DesignateDR, state: WorldState) -> tuple[RegionSpec, ...]:
    return tuple(r for r in spec.regions if r.name not in state.lost)


def masters_for(spec: DesignateDR, state: WorldState, region: RegionSpec) -> tuple[Endpoint, ...]:
    """The mdns servers a target in ``region`` may transfer from in this state.

    A target pulls from its own region's mdns (cheap, and it keeps serving AXFR from a replica
    when the other region is cut off); a region without Designate, and a kept backend of a lost
    region, pull from the primary's.
    """
    if region.designate is not None and region.name not in state.lost:
        return region.designate.mdns
    primary = spec.region(state.primary)
    assert primary.designate is not None  # guaranteed by spec validation
    return primary.designate.mdns


def _endpoint(e: Endpoint) -> dict[str, Any]:
    return {"host": e.host, "port": e.port}


def _target(
    backend: BackendSpec, region: RegionSpec, masters: tuple[Endpoint, ...], secret: SecretLookup,
) -> dict[str, Any]:
    options: dict[str, str] = {"host": backend.dns.host, "port": str(backend.dns.port)}
    options.update(backend.kind.pool_options(backend, secret))
    return {
        "type": backend.type,
        "description": f"{region.name} {backend.kind.label} {backend.name} (managed by dnsdr)"[:DESCRIPTION_LIMIT],
        "masters": [_endpoint(m) for m in masters],
        "options": options,
    }


def render_pools(spec: DesignateDR, state: WorldState, secret: SecretLookup = redacted) -> list[dict[str, Any]]:
    """The pools.yml document (a list of pools) as plain data."""
    check_state(spec, state)
    lost_hosts: set[str] = set()  # compared by host_key: 2001:DB8::1 is 2001:db8::1
    for r in spec.regions:
        if r.name in state.lost:
            lost_hosts |= {host_key(h) for h in r.addresses()}
    kept = kept_backends(spec, state)
    lost_hosts -= {host_key(h) for _, b in kept for h in (b.dns.host, b.control.host)}
    live = live_regions(spec, state)
    pool_spec = spec.pool
    pool: dict[str, Any] = {"name": pool_spec.name}
    if pool_spec.id:
        pool["id"] = pool_spec.id
    description = pool_spec.description or f"managed by dnsdr ({spec.name})"
    pool["description"] = f"{description} [{state.describe()}]"[:DESCRIPTION_LIMIT]
    pool["attributes"] = dict(pool_spec.attributes)
    pool["ns_records"] = [{"hostname": ns.hostname, "priority": ns.priority} for ns in pool_spec.ns_records]
    pool["nameservers"] = [_endpoint(ns) for r in live for ns in r.polled_nameservers]
    pool["nameservers"] += [_endpoint(b.dns) for _, b in kept]
    pool["targets"] = [
        _target(b, r, masters_for(spec, state, r), secret) for r in live for b in r.backends
    ]
    pool["targets"] += [_target(b, r, masters_for(spec, state, r), secret) for r, b in kept]
    pool["also_notifies"] = [_endpoint(a) for a in pool_spec.also_notifies if host_key(a.host) not in lost_hosts]
    return [pool]


def render_pools_yaml(spec: DesignateDR, state: WorldState, secret: SecretLookup = redacted) -> str:
    header = f"# pools.yml rendered by dnsdr for {spec.name}: {state.describe()}\n"
    body = yaml.safe_dump(
        render_pools(spec, state, secret), sort_keys=False, default_flow_style=False, width=1000
    )
    return header + body
