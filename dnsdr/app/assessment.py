"""What still runs in a region a failover treats as lost, and what becomes of it.

Losing a database, a Designate service or a network path is far more common than losing a whole
region: a failover first asks every component of the old primary region whether it answers (the
database, the Designate API, mdns, each backend's DNS and control), so the plan keeps or fences
the backends that still answer instead of forgetting them while they serve stale data. A backend
whose DNS answers but whose control dnsdr cannot reach can be neither re-pointed nor fenced: the
report names it as a risk with what to do; so is a backend that answers no one here, since in a
real partition it may still answer clients.
"""

from __future__ import annotations

import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from dnsdr.adapters.backends.masters import control_answers
from dnsdr.adapters.dns_reach import dns_answers
from dnsdr.adapters.mysql import Timeouts, adapter_for
from dnsdr.adapters.probes import probe
from dnsdr.adapters.tls import client_context
from dnsdr.domain.canary import canary_zone
from dnsdr.domain.errors import DnsdrError
from dnsdr.domain.spec import BackendSpec, DesignateDR, SecretLookup
from dnsdr.domain.witness import ProbeKind, ProbeTarget


@dataclass(frozen=True)
class Component:
    name: str
    answers: bool
    detail: str
    treatment: str  # lost | kept | fenced | risk | stopped | fenced-database

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "answers": self.answers, "detail": self.detail, "treatment": self.treatment}


@dataclass(frozen=True)
class Assessment:
    region: str
    components: tuple[Component, ...]
    kept: frozenset[str]
    fenced: frozenset[str]
    risks: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"region": self.region, "components": [c.to_dict() for c in self.components],
                "kept": sorted(self.kept), "fenced": sorted(self.fenced), "risks": list(self.risks)}


def _backend(spec: DesignateDR, b: BackendSpec, resolver: SecretLookup, keep: bool,
             timeout: float) -> tuple[Component, str | None]:
    dns_ok, dns_detail = dns_answers(b.dns.host, b.dns.port, canary_zone(spec), timeout)
    if not dns_ok:
        return (Component(f"backend {b.name}", False, f"DNS {b.dns}: {dns_detail}", "lost"),
                f"{b.name} ({b.dns}) did not answer dnsdr: in a real partition it may still answer clients with "
                "stale data; make sure it is down, or remove its zones when it is reachable")
    try:
        control_ok, control_detail = control_answers(b, resolver(b.credential), timeout)
    except DnsdrError as exc:
        control_ok, control_detail = False, str(exc)
    if not control_ok:
        return (Component(f"backend {b.name}", True, f"DNS {dns_detail}; control: {control_detail}", "risk"),
                f"{b.name} ({b.dns}) still answers DNS but dnsdr cannot manage it ({control_detail}): it serves the "
                "lost region's stale data; stop it, or remove its zones by hand")
    return Component(f"backend {b.name}", True, f"DNS {dns_detail}; {control_detail}",
                     "kept" if keep else "fenced"), None


def assess_lost_region(spec: DesignateDR, region: str, resolver: SecretLookup, timeout: float = 1.5) -> Assessment:
    """Probe every component of ``region`` in parallel, each within ``timeout`` seconds."""
    r = spec.region(region)
    keep = spec.policy.surviving_backends == "keep"
    zone = canary_zone(spec)
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="assess") as pool:
        db_future = pool.submit(_database, r.database, resolver, timeout) if r.database else None
        api_future = (pool.submit(probe, ProbeTarget(region, ProbeKind.API, "api", r.designate.api.host,
                                                     r.designate.api.port, r.designate.api_scheme), zone, timeout,
                                  _tls(spec, resolver))
                      if r.designate else None)
        mdns_futures = [pool.submit(dns_answers, m.host, m.port, zone, timeout)
                        for m in (r.designate.mdns if r.designate else ())]
        backend_futures = [pool.submit(_backend, spec, b, resolver, keep, timeout) for b in r.backends]
        components: list[Component] = []
        if db_future is not None:
            ok, detail = db_future.result()
            components.append(Component("database", ok, detail, "fenced-database" if ok else "lost"))
        if api_future is not None:
            result = api_future.result()
            components.append(Component("designate-api", result.ok, result.detail, "stopped" if result.ok else "lost"))
        for m, answered in zip(r.designate.mdns if r.designate else (), mdns_futures, strict=True):
            ok, detail = answered.result()
            components.append(Component(f"mdns {m}", ok, detail, "stopped" if ok else "lost"))
        risks: list[str] = []
        for assessed in backend_futures:
            component, risk = assessed.result()
            components.append(component)
            if risk:
                risks.append(risk)
    kept = frozenset(c.name.removeprefix("backend ") for c in components if c.treatment == "kept")
    fenced = frozenset(c.name.removeprefix("backend ") for c in components if c.treatment == "fenced")
    return Assessment(region, tuple(components), kept, fenced, tuple(risks))


def _tls(spec: DesignateDR, resolver: SecretLookup) -> ssl.SSLContext | None:
    """The context the API probe checks the certificate with (None when the CA cannot be loaded: the probe
    then uses the system's store and says why it failed)."""
    try:
        return client_context(spec.tls, resolver)
    except DnsdrError:
        return None


def _database(db: Any, resolver: SecretLookup, timeout: float) -> tuple[bool, str]:
    try:
        state = adapter_for(db, resolver=resolver, timeouts=Timeouts(connect=timeout, read=timeout,
                                                                      write=timeout)).observe()
    except DnsdrError as exc:
        return False, str(exc)
    return state.reachable, (f"answers ({'writable' if state.writable else 'read-only'})" if state.reachable
                             else state.error or "unreachable")
