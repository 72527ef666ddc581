"""Parse and validate a DesignateDR document (the YAML one would ``kubectl apply``).

:func:`parse_designatedr` returns a valid :class:`DesignateDR` or raises :class:`SpecError` with
every problem found, each with its path. It never touches the network or the file system.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Mapping
from typing import Any

from dnsdr.domain.errors import InvalidInput
from dnsdr.domain.fields import NAME, Node, Problems, is_hostname
from dnsdr.domain.spec import (
    API_VERSION,
    KIND,
    BackendKind,
    BackendSpec,
    DatabaseFlavour,
    DatabaseSpec,
    DesignateDR,
    DesignateSpec,
    Endpoint,
    FailoverMode,
    NsRecord,
    PolicySpec,
    PoolSpec,
    RegionSpec,
    SecretRef,
    ServiceControl,
)

ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
CONTROL_DRIVERS = ("command", "kubernetes")
COMMAND_NAMES = ("start", "stop", "restart", "repoint", "status")


class SpecError(InvalidInput):
    """The document is not a valid DesignateDR; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def parse_designatedr(document: Any, kinds: Mapping[str, BackendKind]) -> DesignateDR:
    """The valid spec in ``document``; backends may be of any type in ``kinds`` (the drivers' declarations)."""
    problems = Problems()
    root = Node(document, "", problems)
    if not root.mapping({"apiVersion", "kind", "metadata", "spec", "status"}):
        raise SpecError(list(problems))
    api = root.require("apiVersion")
    if api is not None and api.value != API_VERSION:
        problems.add("apiVersion", f"must be {API_VERSION}, got {api.value!r}")
    kind = root.require("kind")
    if kind is not None and kind.value != KIND:
        problems.add("kind", f"must be {KIND}, got {kind.value!r}")
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
    allowed = {"primaryRegion", "regions", "pool", "monitor", "policy"}
    if not node.mapping(allowed):
        return None
    regions_node = node.require("regions")
    regions = [_region(r, kinds) for r in regions_node.items()] if regions_node else []
    pool_node = node.get("pool")
    pool = _pool(pool_node) if pool_node else PoolSpec()
    policy_node = node.get("policy")
    policy = _policy(policy_node) if policy_node else PolicySpec()
    monitor_region = None
    monitor_node = node.get("monitor")
    if monitor_node is not None and monitor_node.mapping({"region"}):
        region_node = monitor_node.require("region")
        monitor_region = region_node.string() if region_node else None
    primary_node = node.require("primaryRegion")
    primary = primary_node.string() if primary_node else None

    valid_regions = [r for r in regions if r is not None]
    _cross_checks(node, valid_regions, primary, monitor_region)
    if node.problems or primary is None or pool is None or policy is None:
        return None
    if len(valid_regions) != len(regions):
        return None
    return DesignateDR(
        name=name,
        namespace=namespace,
        primary_region=primary,
        regions=tuple(valid_regions),
        pool=pool,
        policy=policy,
        monitor_region=monitor_region,
    )


def _cross_checks(
    node: Node, regions: list[RegionSpec], primary: str | None, monitor: str | None
) -> None:
    problems = node.problems
    names = Counter(r.name for r in regions)
    for i, r in enumerate(regions):
        if names[r.name] > 1:
            problems.add(f"spec.regions[{i}].name", f"duplicate region name {r.name!r}")
    backend_names: Counter[str] = Counter(b.name for r in regions for b in r.backends)
    for i, r in enumerate(regions):
        for j, b in enumerate(r.backends):
            if backend_names[b.name] > 1:
                problems.add(f"spec.regions[{i}].backends[{j}].name", f"duplicate backend name {b.name!r}")
    _check_unique_endpoints(problems, regions)
    _check_region_addresses_disjoint(problems, regions)
    db_regions = [r.name for r in regions if r.database is not None]
    if len(db_regions) < 2:
        problems.add("spec.regions", f"needs at least two regions with a database, found {len(db_regions)}")
    if primary is not None:
        if primary not in names:
            problems.add("spec.primaryRegion", f"unknown region {primary!r}")
        elif primary not in db_regions:
            problems.add("spec.primaryRegion", f"region {primary!r} holds no database")
    if monitor is not None:
        if monitor not in names:
            problems.add("spec.monitor.region", f"unknown region {monitor!r}")
        elif monitor in db_regions:
            problems.add(
                "spec.monitor.region",
                f"region {monitor!r} holds a database; the monitor must watch from a third region",
            )
    for i, r in enumerate(regions):
        if r.database is not None and r.designate is None:
            problems.add(f"spec.regions[{i}].designate", "is required in a region with a database")
        if r.database is not None and not r.backends:
            problems.add(f"spec.regions[{i}].backends", "a region with a database needs at least one backend")


def _endpoints_of(region: RegionSpec) -> list[tuple[str, Endpoint]]:
    """Listening endpoints that must be unique across the deployment (protocol, endpoint)."""
    found: list[tuple[str, Endpoint]] = []
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
    return found


def _check_unique_endpoints(problems: Problems, regions: list[RegionSpec]) -> None:
    seen: dict[tuple[str, Endpoint], str] = {}
    for r in regions:
        for key in _endpoints_of(r):
            owner = seen.get(key)
            if owner is not None:
                where = "twice in region " + r.name if owner == r.name else f"in regions {owner} and {r.name}"
                problems.add("spec.regions", f"duplicate address {key[1]} ({where})")
            else:
                seen[key] = r.name


def _check_region_addresses_disjoint(problems: Problems, regions: list[RegionSpec]) -> None:
    """A host shared by two regions cannot be cut off with one of them: refuse it."""
    owners: dict[str, str] = {}
    for r in regions:
        for host in sorted(r.addresses()):
            other = owners.setdefault(host, r.name)
            if other != r.name:
                problems.add("spec.regions", f"address {host} is used by regions {other} and {r.name}")


def _endpoint(
    node: Node | None, default_port: int | None = None, check_keys: bool = True
) -> Endpoint | None:
    """Read ``host``/``port``; ``check_keys=False`` when the mapping holds other keys too."""
    if node is None:
        return None
    if not node.mapping({"host", "port"} if check_keys else None):
        return None
    host_node = node.require("host")
    host = host_node.host() if host_node else None
    port_node = node.get("port")
    if port_node is None and default_port is None:
        node.require("port")
        return None
    port = port_node.integer(1, 65535) if port_node else default_port
    if host is None or port is None:
        return None
    return Endpoint(host, port)


def _secret_ref(node: Node | None) -> SecretRef | None:
    if node is None:
        return None
    if not node.mapping({"secretKeyRef", "file", "env"}):
        return None
    given = [k for k in ("secretKeyRef", "file", "env") if node.get(k) is not None]
    if len(given) != 1:
        node.problems.add(node.path, "must name exactly one of secretKeyRef, file, env")
        return None
    if (f := node.get("file")) is not None:
        path = f.string()
        if path is not None and not path.startswith("/"):
            f.problems.add(f.path, "must be an absolute path")
            return None
        return SecretRef(file=path) if path else None
    if (e := node.get("env")) is not None:
        var = e.string(ENV_VAR, "environment variable name")
        return SecretRef(env=var) if var else None
    ref = node.get("secretKeyRef")
    assert ref is not None
    if not ref.mapping({"name", "key"}):
        return None
    n, k = ref.require("name"), ref.require("key")
    name = n.string(NAME, "Secret name") if n else None
    key = k.string(SECRET_KEY, "Secret key") if k else None
    if name is None or key is None:
        return None
    return SecretRef(secret_name=name, secret_key=key)


def _region(node: Node, kinds: Mapping[str, BackendKind]) -> RegionSpec | None:
    allowed = {"name", "database", "designate", "backends", "nameservers", "monitor"}
    if not node.mapping(allowed):
        return None
    before = len(node.problems.items)
    name_node = node.require("name")
    name = name_node.string(NAME, "region name") if name_node else None
    db_node = node.get("database")
    database = _database(db_node) if db_node else None
    des_node = node.get("designate")
    designate = _designate(des_node) if des_node else None
    backends_node = node.get("backends")
    backends = [_backend(b, kinds) for b in backends_node.items()] if backends_node else []
    ns_node = node.get("nameservers")
    nameservers = [_endpoint(n, 53) for n in ns_node.items()] if ns_node else []
    mon_node = node.get("monitor")
    monitor = _endpoint(mon_node) if mon_node else None
    if len(node.problems.items) != before or name is None:
        return None
    return RegionSpec(
        name=name,
        database=database,
        designate=designate,
        backends=tuple(b for b in backends if b is not None),
        nameservers=tuple(n for n in nameservers if n is not None),
        monitor=monitor,
    )


def _database(node: Node) -> DatabaseSpec | None:
    allowed = {"flavour", "host", "port", "user", "passwordRef", "replicationUser",
               "replicationPasswordRef", "schema"}
    if not node.mapping(allowed):
        return None
    flavour_node = node.require("flavour")
    flavour = flavour_node.choice(tuple(f.value for f in DatabaseFlavour)) if flavour_node else None
    endpoint = _endpoint(node, 3306, check_keys=False)
    user_node = node.require("user")
    user = user_node.string() if user_node else None
    password = _secret_ref(node.require("passwordRef"))
    repl_user_node = node.require("replicationUser")
    repl_user = repl_user_node.string() if repl_user_node else None
    repl_password = _secret_ref(node.require("replicationPasswordRef"))
    schema_node = node.get("schema")
    schema = schema_node.string(re.compile(r"^[A-Za-z0-9_]{1,64}$"), "schema name") if schema_node else "designate"
    if None in (flavour, endpoint, user, password, repl_user, repl_password, schema):
        return None
    assert flavour and endpoint and user and password and repl_user and repl_password and schema
    return DatabaseSpec(DatabaseFlavour(flavour), endpoint, user, password, repl_user, repl_password, schema)


def _designate(node: Node) -> DesignateSpec | None:
    if not node.mapping({"api", "mdns", "notifySources", "control", "manageCommand"}):
        return None
    api_node = node.require("api")
    api = None
    scheme = "http"
    if api_node is not None and api_node.mapping({"host", "port", "scheme"}):
        scheme_node = api_node.get("scheme")
        scheme = scheme_node.choice(("http", "https")) or "http" if scheme_node else "http"
        stripped = {k: v for k, v in api_node.value.items() if k != "scheme"}
        api = _endpoint(Node(stripped, api_node.path, api_node.problems))
    mdns_node = node.require("mdns")
    mdns = [_endpoint(m, 5354) for m in mdns_node.items()] if mdns_node else []
    if mdns_node is not None and not mdns:
        node.problems.add(mdns_node.path, "must list at least one mdns endpoint")
    sources_node = node.get("notifySources")
    sources = [s.host() for s in sources_node.items()] if sources_node else []
    control = _control(node.require("control"))
    manage_node = node.get("manageCommand")
    manage: list[str | None] = [m.string() for m in manage_node.items()] if manage_node else ["designate-manage"]
    if api is None or control is None or None in mdns or None in sources or None in manage or not mdns:
        return None
    return DesignateSpec(
        api=api,
        mdns=tuple(m for m in mdns if m),
        notify_sources=tuple(s for s in sources if s),
        control=control,
        manage_command=tuple(m for m in manage if m),
        api_scheme=scheme,
    )


def _control(node: Node | None) -> ServiceControl | None:
    if node is None or not node.mapping({"driver", "commands", "namespace"}):
        return None
    driver_node = node.require("driver")
    driver = driver_node.choice(CONTROL_DRIVERS) if driver_node else None
    commands: list[tuple[str, str]] = []
    cmds_node = node.get("commands")
    if cmds_node is not None and cmds_node.mapping(set(COMMAND_NAMES)):
        for key in COMMAND_NAMES:
            c = cmds_node.get(key)
            value = c.string() if c else None
            if value:
                commands.append((key, value))
    if driver == "command":
        for key in ("stop", "start", "repoint"):
            if key not in dict(commands):
                node.problems.add(f"{node.path}.commands.{key}", "is required by the command driver")
    ns_node = node.get("namespace")
    namespace = ns_node.string(NAME, "namespace") if ns_node else None
    if driver is None:
        return None
    return ServiceControl(driver=driver, commands=tuple(commands), namespace=namespace)


def _backend(node: Node, kinds: Mapping[str, BackendKind]) -> BackendSpec | None:
    """A backend of any registered type, read as its kind declares (see :class:`BackendKind`)."""
    if not node.mapping():
        return None
    type_node = node.require("type")
    kind_name = type_node.choice(tuple(kinds)) if type_node else None
    if kind_name is None:
        return None
    kind = kinds[kind_name]
    node.mapping({"type", "name", "dns", kind.control_key, kind.credential_key, *kind.settings})
    name_node = node.require("name")
    name = name_node.string(NAME, "backend name") if name_node else None
    dns = _endpoint(node.require("dns"), 53)
    control, scheme = _control_endpoint(node.require(kind.control_key), kind)
    credential = _secret_ref(node.require(kind.credential_key))
    settings: list[tuple[str, str]] = []
    for key in kind.settings:
        value_node = node.get(key)
        value = value_node.string() if value_node else None
        if value is not None:
            settings.append((key, value))
    if name is None or dns is None or control is None or credential is None:
        return None
    return BackendSpec(name=name, kind=kind, dns=dns, control=control, credential=credential, scheme=scheme,
                       settings=tuple(settings))


def _control_endpoint(node: Node | None, kind: BackendKind) -> tuple[Endpoint | None, str]:
    """The endpoint dnsdr manages the backend through, with its scheme when the kind has one."""
    if node is None:
        return None, ""
    if not kind.schemes:
        return _endpoint(node, kind.control_port), ""
    if not node.mapping({"host", "port", "scheme"}):
        return None, ""
    scheme_node = node.get("scheme")
    scheme = (scheme_node.choice(kind.schemes) or kind.schemes[0]) if scheme_node else kind.schemes[0]
    stripped = {k: v for k, v in node.value.items() if k != "scheme"}
    return _endpoint(Node(stripped, node.path, node.problems), kind.control_port), scheme


def _pool(node: Node) -> PoolSpec | None:
    if not node.mapping({"name", "id", "description", "attributes", "nsRecords", "alsoNotifies"}):
        return None
    before = len(node.problems.items)
    name_node = node.get("name")
    name = name_node.string() if name_node else "default"
    if name is not None and len(name) > 50:
        node.problems.add(f"{node.path}.name", "must be at most 50 characters")
    pool_id = None
    if (id_node := node.get("id")) is not None:
        pool_id = id_node.string()
        if pool_id is not None:
            try:
                uuid.UUID(pool_id)
            except ValueError:
                node.problems.add(id_node.path, f"{pool_id!r} is not a UUID")
    description = None
    if (d := node.get("description")) is not None:
        description = d.string()
        if description is not None and len(description) > 160:
            node.problems.add(d.path, "must be at most 160 characters")
    attributes: list[tuple[str, str]] = []
    if (a := node.get("attributes")) is not None and a.mapping():
        for key, value in a.value.items():
            path = f"{a.path}.{key}"
            if not isinstance(key, str) or not 0 < len(key) <= 50:
                node.problems.add(path, "attribute names must be 1..50 characters")
            elif not isinstance(value, (str, int)) or isinstance(value, bool) or len(str(value)) > 50:
                node.problems.add(path, "attribute values must be strings of at most 50 characters")
            else:
                attributes.append((key, str(value)))
    ns_records = []
    if (ns := node.get("nsRecords")) is not None:
        for item in ns.items():
            if not item.mapping({"hostname", "priority"}):
                continue
            h, p = item.require("hostname"), item.require("priority")
            hostname = h.string() if h else None
            if hostname is not None and (not hostname.endswith(".") or not is_hostname(hostname)):
                item.problems.add(
                    f"{item.path}.hostname", f"{hostname!r} must be a fully qualified name ending with '.'"
                )
                hostname = None
            priority = p.integer(1, 10000) if p else None
            if hostname and priority:
                ns_records.append(NsRecord(hostname, priority))
    if ns is None or not ns_records:
        node.problems.add(f"{node.path}.nsRecords", "must list at least one NS record")
    also = []
    if (an := node.get("alsoNotifies")) is not None:
        also = [_endpoint(x, 53) for x in an.items()]
    if len(node.problems.items) != before or name is None:
        return None
    return PoolSpec(
        name=name,
        id=pool_id,
        description=description,
        attributes=tuple(sorted(attributes)),
        ns_records=tuple(ns_records),
        also_notifies=tuple(x for x in also if x),
    )


def _policy(node: Node) -> PolicySpec | None:
    allowed = {"failover", "probeIntervalSeconds", "consecutiveFailures", "maxLagSeconds",
               "cooldownSeconds", "semiSyncRequired", "relayLogTimeoutSeconds"}
    if not node.mapping(allowed):
        return None
    before = len(node.problems.items)
    default = PolicySpec()
    f = node.get("failover")
    mode = f.choice(tuple(m.value for m in FailoverMode)) if f else default.failover.value

    def num(key: str, low: float, high: float, fallback: float) -> float:
        n = node.get(key)
        got = n.number(low, high) if n else fallback
        return fallback if got is None else got

    interval = num("probeIntervalSeconds", 0.1, 3600, default.probe_interval_seconds)
    lag = num("maxLagSeconds", 0, 86400, default.max_lag_seconds)
    cooldown = num("cooldownSeconds", 0, 30 * 86400, default.cooldown_seconds)
    relay = num("relayLogTimeoutSeconds", 1, 3600, default.relay_log_timeout_seconds)
    c = node.get("consecutiveFailures")
    failures = c.integer(1, 100) if c else default.consecutive_failures
    s = node.get("semiSyncRequired")
    semi = s.boolean() if s else default.semi_sync_required
    if len(node.problems.items) != before or mode is None or failures is None or semi is None:
        return None
    return PolicySpec(
        failover=FailoverMode(mode),
        probe_interval_seconds=interval,
        consecutive_failures=failures,
        max_lag_seconds=lag,
        cooldown_seconds=cooldown,
        semi_sync_required=semi,
        relay_log_timeout_seconds=relay,
    )
