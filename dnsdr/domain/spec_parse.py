"""Parse and validate a DesignateDR document (the YAML one would ``kubectl apply``).

:func:`parse_designatedr` returns a valid :class:`DesignateDR` or raises :class:`SpecError` with
every problem found, each with its path. It never touches the network or the file system.

Regions are read by :mod:`dnsdr.domain.spec_region` and the pool by :mod:`dnsdr.domain.spec_pool`;
this module checks what spans regions. Those checks run over whatever could be read and stay silent
where a problem already reported would decide them, so one mistake is reported once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from dnsdr.domain.errors import InvalidInput
from dnsdr.domain.fields import NAME, Node, Problems, host_key, quote, shorten
from dnsdr.domain.spec import (
    API_VERSION,
    KIND,
    AuthSpec,
    BackendKind,
    DesignateDR,
    FailoverMode,
    PolicySpec,
    PoolSpec,
    TlsSpec,
)
from dnsdr.domain.spec_auth import read_auth, read_canary_zone, read_tls
from dnsdr.domain.spec_keys import (
    DOCUMENT_KEYS,
    MAX_ITEMS,
    MONITOR_KEYS,
    POLICY_KEYS,
    POLICY_LIMITS,
    SPEC_KEYS,
    SURVIVING_BACKENDS,
)
from dnsdr.domain.spec_pool import read_pool
from dnsdr.domain.spec_region import RegionDraft, read_region


class SpecError(InvalidInput):
    """The document is not a valid DesignateDR; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def parse_designatedr(document: Any, kinds: Mapping[str, BackendKind]) -> DesignateDR:
    """The valid spec in ``document``; backends may be of any type in ``kinds`` (the drivers' declarations)."""
    problems = Problems()
    root = Node(document, "", problems)
    if not root.mapping(set(DOCUMENT_KEYS)):
        raise SpecError(list(problems))
    api = root.require("apiVersion")
    if api is not None and api.value != API_VERSION:
        problems.add("apiVersion", f"must be {API_VERSION}, got {quote(api.value)}")
    kind = root.require("kind")
    if kind is not None and kind.value != KIND:
        problems.add("kind", f"must be {KIND}, got {quote(kind.value)}")
    name, namespace = _metadata(root.require("metadata"))
    spec_node = root.require("spec")
    result = _spec(spec_node, name, namespace, kinds) if spec_node is not None else None
    if problems or result is None:
        raise SpecError(list(problems) or ["spec: is required"])
    return result


def _metadata(node: Node | None) -> tuple[str, str | None]:
    if node is None or not node.mapping():
        return "", None
    name_node = node.require("name")
    name = name_node.string(NAME, "resource name") if name_node else None
    ns_node = node.get("namespace")
    namespace = ns_node.string(NAME, "namespace") if ns_node else None
    return name or "", namespace


def _spec(node: Node, name: str, namespace: str | None, kinds: Mapping[str, BackendKind]) -> DesignateDR | None:
    if not node.mapping(set(SPEC_KEYS)):
        return None
    tls_node = node.get("tls")
    tls = read_tls(tls_node, TlsSpec()) if tls_node else TlsSpec()
    auth_node = node.get("auth")
    auth = read_auth(auth_node, tls or TlsSpec()) if auth_node else AuthSpec()
    regions_node = node.require("regions")
    region_nodes = regions_node.items(MAX_ITEMS["regions"]) if regions_node else []
    drafts = [read_region(r, i, kinds, tls) for i, r in enumerate(region_nodes)]
    pool_node = node.get("pool")
    pool = read_pool(pool_node) if pool_node else PoolSpec()
    policy_node = node.get("policy")
    policy = _policy(policy_node) if policy_node else PolicySpec()
    monitor_region = canary = None
    monitor_node = node.get("monitor")
    if monitor_node is not None and monitor_node.mapping(set(MONITOR_KEYS)):
        region_node = monitor_node.require("region")
        monitor_region = region_node.string() if region_node else None
        canary_node = monitor_node.get("canaryZone")
        canary = read_canary_zone(canary_node) if canary_node else None
    primary_node = node.require("primaryRegion")
    primary = primary_node.string() if primary_node else None

    known = [d for d in drafts if d is not None]
    if regions_node is not None and isinstance(regions_node.value, list):
        _cross_checks(node.problems, known, len(drafts) - len(known), primary, monitor_region)
    if node.problems or primary is None or pool is None or policy is None or tls is None or auth is None:
        return None
    return DesignateDR(
        name=name,
        namespace=namespace,
        primary_region=primary,
        regions=tuple(d.parts for d in known),
        pool=pool,
        policy=policy,
        monitor_region=monitor_region,
        auth=auth,
        tls=tls,
        canary_zone=canary,
    )


def _cross_checks(
    problems: Problems, drafts: list[RegionDraft], unreadable: int, primary: str | None, monitor: str | None
) -> None:
    """Checks across regions, over what could be read; ``unreadable`` regions were not mappings at all."""
    named = {d.name: d for d in drafts if d.name is not None}
    names = Counter(d.name for d in drafts if d.name is not None)
    for d in drafts:
        if d.name is not None and names[d.name] > 1:
            problems.add(f"spec.regions[{d.index}].name", f"duplicate region name {d.name!r}")
    backend_names = Counter(b.name for d in drafts for b in d.parts.backends)
    for d in drafts:
        for j, b in zip(d.backend_indexes, d.parts.backends, strict=True):
            if backend_names[b.name] > 1:
                problems.add(f"spec.regions[{d.index}].backends[{j}].name", f"duplicate backend name {b.name!r}")
    shared = _check_unique_endpoints(problems, drafts)
    _check_region_addresses_disjoint(problems, drafts, shared)
    with_database = [d for d in drafts if d.database_given]
    if len(with_database) + unreadable < 2:
        problems.add("spec.regions", f"needs at least two regions with a database, found {len(with_database)}")
    # A region whose name could not be read may be the one primaryRegion or monitor.region names.
    names_known = unreadable == 0 and all(d.name is not None for d in drafts)
    if primary is not None:
        if primary not in named:
            if names_known:
                problems.add("spec.primaryRegion", f"unknown region {quote(primary)}")
        elif not named[primary].database_given:
            problems.add("spec.primaryRegion", f"region {primary!r} holds no database")
    if monitor is not None:
        if monitor not in named:
            if names_known:
                problems.add("spec.monitor.region", f"unknown region {quote(monitor)}")
        elif named[monitor].database_given:
            problems.add(
                "spec.monitor.region",
                f"region {monitor!r} holds a database; the monitor must watch from a third region",
            )
    for d in drafts:
        if d.database_given and not d.designate_given:
            problems.add(f"spec.regions[{d.index}].designate", "is required in a region with a database")
        if d.database_given and not d.backends_given:
            problems.add(f"spec.regions[{d.index}].backends", "a region with a database needs at least one backend")


def _endpoints_of(draft: RegionDraft) -> list[tuple[str, str, int, str]]:
    """Listening endpoints that must be unique across the deployment: (protocol, host key, port, as written)."""
    region = draft.parts
    found = []
    if region.database:
        found.append(("tcp", region.database.endpoint))
    if region.designate:
        found.append(("tcp", region.designate.api))
        found.extend(("dns", m) for m in region.designate.mdns)
    for b in region.backends:
        found.append(("dns", b.dns))
        found.append(("tcp", b.control))
    if region.monitor:
        found.append(("tcp", region.monitor))
    return [(proto, host_key(e.host), e.port, str(e)) for proto, e in found]


def _check_unique_endpoints(problems: Problems, drafts: list[RegionDraft]) -> set[str]:
    """Report endpoints listed twice; return the hosts so found in two regions (reported already)."""
    seen: dict[tuple[str, str, int], str] = {}
    shared: set[str] = set()
    for d in drafts:
        for proto, key, port, written in _endpoints_of(d):
            owner = seen.get((proto, key, port))
            if owner is None:
                seen[(proto, key, port)] = d.label
            elif owner == d.label:
                problems.add("spec.regions", f"duplicate address {shorten(written)} (twice in region {d.label})")
            else:
                problems.add("spec.regions", f"duplicate address {shorten(written)} (in regions {owner} and {d.label})")
                shared.add(key)
    return shared


def _check_region_addresses_disjoint(problems: Problems, drafts: list[RegionDraft], reported: set[str]) -> None:
    """A host shared by two regions cannot be cut off with one of them: refuse it (once per host)."""
    owners: dict[str, str] = {}
    for d in drafts:
        for key in sorted({host_key(h) for h in d.parts.addresses()}):
            other = owners.setdefault(key, d.label)
            if other != d.label and key not in reported:
                problems.add("spec.regions", f"address {shorten(key)} is used by regions {other} and {d.label}")


def _policy(node: Node) -> PolicySpec | None:
    if not node.mapping(set(POLICY_KEYS)):
        return None
    before = len(node.problems.items)
    default = PolicySpec()
    f = node.get("failover")
    mode = f.choice(tuple(m.value for m in FailoverMode)) if f else default.failover.value

    def num(key: str, fallback: float) -> float:
        n = node.get(key)
        limit = POLICY_LIMITS[key]
        got = n.number(limit.low, limit.high) if n else fallback
        return fallback if got is None else got

    interval = num("probeIntervalSeconds", default.probe_interval_seconds)
    lag = num("maxLagSeconds", default.max_lag_seconds)
    cooldown = num("cooldownSeconds", default.cooldown_seconds)
    relay = num("relayLogTimeoutSeconds", default.relay_log_timeout_seconds)
    c = node.get("consecutiveFailures")
    failures_limit = POLICY_LIMITS["consecutiveFailures"]
    failures = c.integer(int(failures_limit.low), int(failures_limit.high)) if c else default.consecutive_failures
    s = node.get("semiSyncRequired")
    semi = s.boolean() if s else default.semi_sync_required
    a = node.get("acceptDataLoss")
    loss = a.boolean() if a else default.accept_data_loss
    sb = node.get("survivingBackends")
    surviving = sb.choice(SURVIVING_BACKENDS) if sb else default.surviving_backends
    if len(node.problems.items) != before or mode is None or failures is None or semi is None or loss is None \
            or surviving is None:
        return None
    return PolicySpec(
        failover=FailoverMode(mode),
        probe_interval_seconds=interval,
        consecutive_failures=failures,
        max_lag_seconds=lag,
        cooldown_seconds=cooldown,
        semi_sync_required=semi,
        relay_log_timeout_seconds=relay,
        accept_data_loss=loss,
        surviving_backends=surviving,
    )
