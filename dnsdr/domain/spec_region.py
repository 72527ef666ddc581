"""Read one region of a DesignateDR spec: its database, Designate services, backends and endpoints.

A region is read as far as it can be, even when part of it is wrong: :class:`RegionDraft` keeps
what parsed and what was *given*, so the cross-region checks judge the document the operator meant
and do not pile consequences ("found 1 database region") onto a problem already reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from dnsdr.domain.fields import NAME, Node, host_key, quote, shorten, storable_problem
from dnsdr.domain.spec import (
    DEFAULT_CONNECTION,
    DEFAULT_DEPLOYMENT,
    BackendKind,
    BackendSpec,
    ConfigKeyRef,
    DatabaseFlavour,
    DatabaseSpec,
    DesignateSpec,
    Endpoint,
    RegionSpec,
    ServiceControl,
    TlsSpec,
)
from dnsdr.domain.spec_auth import KEYSTONE_NAME, SECRET_KEY, read_database_tls, secret_ref
from dnsdr.domain.spec_keys import (
    BACKEND_COMMON_KEYS,
    COMMAND_NAMES,
    CONFIG_KEY_REF_KEYS,
    CONTROL_KEYS,
    DATABASE_KEYS,
    DATABASE_PORT,
    DESIGNATE_KEYS,
    DNS_PORT,
    ENDPOINT_KEYS,
    KEY_REF_KEYS,
    KUBE_CONTROL_KEYS,
    MAX_ITEMS,
    MDNS_PORT,
    PORT,
    REGION_KEYS,
    REQUIRED_COMMANDS,
    SCHEMED_ENDPOINT_KEYS,
)

SCHEMA = re.compile(r"[A-Za-z0-9_]{1,64}")
CONTROL_DRIVERS = ("command", "kubernetes")
DESIGNATE_SERVICES = ("api", "central", "worker", "producer", "mdns")
# A Secret or ConfigMap name: a DNS subdomain.
SUBDOMAIN = re.compile(r"(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")
# Designate stores pool target options in VARCHAR(255) columns.
OPTION_LIMIT = 255


@dataclass(frozen=True)
class RegionDraft:
    """What could be read of ``spec.regions[index]``.

    ``parts`` holds every part that parsed (named ``regions[i]`` when the name did not): the region
    itself when the document has no problem.
    ``database_given``/``designate_given``/``backends_given`` record what the operator wrote,
    valid or not, for the checks that count regions with a database.
    """

    index: int
    name: str | None
    parts: RegionSpec
    backend_indexes: tuple[int, ...]  # where each of ``parts.backends`` stands in the document
    database_given: bool
    designate_given: bool
    backends_given: bool

    @property
    def label(self) -> str:
        return self.name or f"regions[{self.index}]"


def read_region(node: Node, index: int, kinds: Mapping[str, BackendKind],
                tls: TlsSpec | None = None) -> RegionDraft | None:
    """The draft of one region; None when it is not even a mapping (already reported). ``tls`` is the
    spec's default (``spec.tls``): a database's own section overrides it, and it decides the API's scheme."""
    tls = tls or TlsSpec()
    if not node.mapping(set(REGION_KEYS)):
        return None
    name_node = node.require("name")
    name = name_node.string(NAME, "region name") if name_node else None
    db_node = node.get("database")
    database = _database(db_node, tls) if db_node else None
    des_node = node.get("designate")
    designate = _designate(des_node, tls) if des_node else None
    backends_node = node.get("backends")
    backends = [_backend(b, kinds) for b in backends_node.items(MAX_ITEMS["backends"])] if backends_node else []
    ns_node = node.get("nameservers")
    nameservers = [endpoint(n, DNS_PORT, pool=True) for n in ns_node.items(MAX_ITEMS["nameservers"])] if ns_node else []
    if ns_node is not None:
        check_distinct(ns_node, nameservers, "nameserver")
    mon_node = node.get("monitor")
    monitor = endpoint(mon_node) if mon_node else None
    parts = RegionSpec(
        name=name or f"regions[{index}]",
        database=database,
        designate=designate,
        backends=tuple(b for b in backends if b is not None),
        nameservers=tuple(n for n in nameservers if n is not None),
        monitor=monitor,
    )
    indexes = tuple(i for i, b in enumerate(backends) if b is not None)
    given = backends_node is not None and (not isinstance(backends_node.value, list) or bool(backends_node.value))
    return RegionDraft(index=index, name=name, parts=parts, backend_indexes=indexes,
                       database_given=db_node is not None, designate_given=des_node is not None,
                       backends_given=given)


def check_distinct(list_node: Node, endpoints: list[Endpoint | None], what: str) -> None:
    """Designate keeps host and port unique in a pool's lists: a repeat fails `pool update`."""
    seen: dict[tuple[str, int], int] = {}
    for i, e in enumerate(endpoints):
        if e is None:
            continue
        first = seen.setdefault((host_key(e.host), e.port), i)
        if first != i:
            list_node.problems.add(f"{list_node.path}[{i}]",
                                   f"{what} {shorten(str(e))} is listed twice (also at [{first}])")


def endpoint(node: Node | None, default_port: int | None = None, check_keys: bool = True,
             pool: bool = False) -> Endpoint | None:
    """Read ``host``/``port``; ``check_keys=False`` when the mapping holds other keys too.

    ``pool`` endpoints end up in pools.yml, so their host follows Designate's rule.
    """
    if node is None:
        return None
    if not node.mapping(set(ENDPOINT_KEYS) if check_keys else None):
        return None
    host_node = node.require("host")
    host = None
    if host_node is not None:
        host = host_node.pool_host() if pool else host_node.host()
    port_node = node.get("port")
    if port_node is None and default_port is None:
        node.require("port")
        return None
    port = port_node.integer(int(PORT.low), int(PORT.high)) if port_node else default_port
    if host is None or port is None:
        return None
    return Endpoint(host, port)


def _database(node: Node, default_tls: TlsSpec) -> DatabaseSpec | None:
    if not node.mapping(set(DATABASE_KEYS)):
        return None
    flavour_node = node.require("flavour")
    flavour = flavour_node.choice(tuple(f.value for f in DatabaseFlavour)) if flavour_node else None
    address = endpoint(node, DATABASE_PORT, check_keys=False)
    user_node = node.require("user")
    user = user_node.string() if user_node else None
    password = secret_ref(node.require("passwordRef"))
    repl_user_node = node.require("replicationUser")
    repl_user = repl_user_node.string() if repl_user_node else None
    repl_password = secret_ref(node.require("replicationPasswordRef"))
    schema_node = node.get("schema")
    schema = schema_node.string(SCHEMA, "schema name") if schema_node else "designate"
    tls = read_database_tls(node.get("tls"), default_tls)
    if None in (flavour, address, user, password, repl_user, repl_password, schema, tls):
        return None
    assert flavour and address and user and password and repl_user and repl_password and schema and tls
    return DatabaseSpec(DatabaseFlavour(flavour), address, user, password, repl_user, repl_password, schema,
                        tls=tls[0], replica_ca_file=tls[1])


def _designate(node: Node, tls: TlsSpec) -> DesignateSpec | None:
    if not node.mapping(set(DESIGNATE_KEYS)):
        return None
    api_node = node.require("api")
    api = None
    scheme = "https" if tls.enabled else "http"
    if api_node is not None and api_node.mapping(set(SCHEMED_ENDPOINT_KEYS)):
        scheme_node = api_node.get("scheme")
        scheme = (scheme_node.choice(("http", "https")) or scheme) if scheme_node else scheme
        if scheme == "http" and tls.enabled and scheme_node is not None:
            node.problems.add(scheme_node.path, "plain HTTP would carry tokens in clear: use https, or set "
                                                "spec.tls.mode: disabled (a lab only)")
        stripped = {k: v for k, v in api_node.value.items() if k != "scheme"}
        api = endpoint(Node(stripped, api_node.path, api_node.problems))
    mdns_node = node.require("mdns")
    mdns = [endpoint(m, MDNS_PORT, pool=True) for m in mdns_node.items(MAX_ITEMS["mdns"])] if mdns_node else []
    if mdns_node is not None and isinstance(mdns_node.value, list) and not mdns:
        node.problems.add(mdns_node.path, "must list at least one mdns endpoint")
    sources_node = node.get("notifySources")
    sources = [s.host() for s in sources_node.items(MAX_ITEMS["notifySources"])] if sources_node else []
    control = _control(node.require("control"))
    manage_node = node.get("manageCommand")
    manage: list[str | None] = ([m.string() for m in manage_node.items(MAX_ITEMS["manageCommand"])] if manage_node
                                 else ["designate-manage"])
    region_node = node.get("regionName")
    region_name = region_node.string(KEYSTONE_NAME, "Keystone region name") if region_node else None
    if region_node is not None and region_name is None:
        return None
    if api is None or control is None or None in mdns or None in sources or None in manage or not mdns:
        return None
    return DesignateSpec(
        api=api,
        mdns=tuple(m for m in mdns if m),
        notify_sources=tuple(s for s in sources if s),
        control=control,
        manage_command=tuple(m for m in manage if m),
        api_scheme=scheme,
        region_name=region_name,
    )


def _control(node: Node | None) -> ServiceControl | None:
    kube_keys = KUBE_CONTROL_KEYS
    if node is None or not node.mapping(set(CONTROL_KEYS)):
        return None
    driver_node = node.require("driver")
    driver = driver_node.choice(CONTROL_DRIVERS) if driver_node else None
    commands: list[tuple[str, str]] = []
    cmds_node = node.get("commands")
    if cmds_node is not None and driver == "kubernetes":
        node.problems.add(cmds_node.path, "is only read by the command driver")
    elif cmds_node is not None and cmds_node.mapping(set(COMMAND_NAMES)):
        for key in COMMAND_NAMES:
            c = cmds_node.get(key)
            value = c.string() if c else None
            if value:
                commands.append((key, value))
    if driver == "command" and (cmds_node is None or isinstance(cmds_node.value, Mapping)):
        for key in REQUIRED_COMMANDS:
            if key not in dict(commands) and (cmds_node is None or cmds_node.get(key) is None):
                node.problems.add(f"{node.path}.commands.{key}", "is required by the command driver")
    if driver == "command":
        for key in kube_keys:
            if (given := node.get(key)) is not None:
                node.problems.add(given.path, "is only read by the kubernetes driver")
    ns_node = node.require("namespace") if driver == "kubernetes" else node.get("namespace")
    namespace = ns_node.string(NAME, "namespace") if ns_node else None
    if driver is None:
        return None
    if driver != "kubernetes":
        return ServiceControl(driver=driver, commands=tuple(commands), namespace=namespace)
    return _kubernetes_control(node, namespace)


def _kubernetes_control(node: Node, namespace: str | None) -> ServiceControl | None:
    """The kubernetes driver's fields: a kubeconfig reference, Deployment names, where the database connection is."""
    before = len(node.problems)
    kubeconfig = secret_ref(node.require("kubeconfigRef"), multiline=True)
    deployment = DEFAULT_DEPLOYMENT
    if (dep_node := node.get("deploymentName")) is not None:
        template = dep_node.string()
        if template is not None and "{service}" not in template:
            dep_node.problems.add(dep_node.path, "must contain {service} (the Designate service: api, central, ...)")
        elif template is not None:
            bad = [s for s in DESIGNATE_SERVICES if not _deployment_ok(template, s)]
            if bad:
                dep_node.problems.add(dep_node.path, f"{quote(template)} does not make a valid Deployment name for "
                                                     f"{bad[0]} (lower-case letters, digits and '-', at most 63)")
            else:
                deployment = template
    connection = DEFAULT_CONNECTION
    if (conn_node := node.get("databaseConnection")) is not None:
        connection = _config_key_ref(conn_node) or DEFAULT_CONNECTION
    if kubeconfig is None or namespace is None or len(node.problems) > before:
        return None
    return ServiceControl(driver="kubernetes", namespace=namespace, kubeconfig=kubeconfig, deployment=deployment,
                          connection=connection)


def _deployment_ok(template: str, service: str) -> bool:
    try:
        return NAME.fullmatch(template.format(service=service)) is not None
    except (KeyError, IndexError, ValueError):
        return False


def _config_key_ref(node: Node) -> ConfigKeyRef | None:
    """``{secretKeyRef: {name, key}}`` or ``{configMapKeyRef: {name, key}}``, as a container's env names them."""
    kinds = dict(zip(CONFIG_KEY_REF_KEYS, ("Secret", "ConfigMap"), strict=True))
    if not node.mapping(set(kinds)):
        return None
    given = [k for k in kinds if node.get(k) is not None]
    if len(given) != 1:
        node.problems.add(node.path, "must name exactly one of secretKeyRef, configMapKeyRef")
        return None
    ref = node.get(given[0])
    assert ref is not None
    if not ref.mapping(set(KEY_REF_KEYS)):
        return None
    n, k = ref.require("name"), ref.require("key")
    name = n.string(SUBDOMAIN, f"{kinds[given[0]]} name") if n else None
    key = k.string(SECRET_KEY, "key") if k else None
    if name is None or key is None:
        return None
    return ConfigKeyRef(kinds[given[0]], name, key)


def _backend(node: Node, kinds: Mapping[str, BackendKind]) -> BackendSpec | None:
    """A backend of any registered type, read as its kind declares (see :class:`BackendKind`)."""
    if not node.mapping():
        return None
    type_node = node.require("type")
    kind_name = type_node.choice(tuple(kinds)) if type_node else None
    if kind_name is None:
        return None
    kind = kinds[kind_name]
    node.mapping({*BACKEND_COMMON_KEYS, kind.control_key, kind.credential_key, *kind.settings, *kind.secret_settings})
    name_node = node.require("name")
    name = name_node.string(NAME, "backend name") if name_node else None
    dns = endpoint(node.require("dns"), DNS_PORT, pool=True)
    control, scheme = _control_endpoint(node.require(kind.control_key), kind)
    credential = secret_ref(node.require(kind.credential_key))
    settings: list[tuple[str, str]] = []
    for key in kind.settings:
        value_node = node.get(key)
        value = value_node.text(OPTION_LIMIT) if value_node else None
        if value is not None:
            settings.append((key, value))
    secret_settings = [(key, ref) for key in kind.secret_settings if (ref := secret_ref(node.get(key))) is not None]
    if name is None or dns is None or control is None or credential is None:
        return None
    backend = BackendSpec(name=name, kind=kind, dns=dns, control=control, credential=credential, scheme=scheme,
                          settings=tuple(settings), secret_settings=tuple(secret_settings))
    _check_pool_options(node, backend)
    return backend


def _check_pool_options(node: Node, backend: BackendSpec) -> None:
    """The target options this backend renders must fit Designate's columns (the secret is not known yet)."""
    options = backend.kind.pool_options(backend, lambda ref: "")
    for key, value in options.items():
        if len(value) > OPTION_LIMIT:
            node.problems.add(node.path, f"pools.yml option {key} would be {len(value)} characters "
                                         f"({quote(value)}); Designate stores at most {OPTION_LIMIT}")
        elif (problem := storable_problem(value)) is not None:
            node.problems.add(node.path, f"pools.yml option {key}: {problem}")


def _control_endpoint(node: Node | None, kind: BackendKind) -> tuple[Endpoint | None, str]:
    """The endpoint dnsdr manages the backend through, with its scheme when the kind has one."""
    if node is None:
        return None, ""
    if not kind.schemes:
        return endpoint(node, kind.control_port), ""
    if not node.mapping(set(SCHEMED_ENDPOINT_KEYS)):
        return None, ""
    scheme_node = node.get("scheme")
    scheme = (scheme_node.choice(kind.schemes) or kind.schemes[0]) if scheme_node else kind.schemes[0]
    stripped = {k: v for k, v in node.value.items() if k != "scheme"}
    return endpoint(Node(stripped, node.path, node.problems), kind.control_port), scheme
