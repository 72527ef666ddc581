"""The typed DesignateDR spec: one description of the deployment, shared by the CLI and the CRD.

These are plain frozen dataclasses with no I/O. Parsing and validation live in
:mod:`dnsdr.domain.spec_parse`, so every object here is known to be valid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

API_VERSION = "dnsdr.io/v1alpha1"
KIND = "DesignateDR"


class DatabaseFlavour(StrEnum):
    MARIADB = "mariadb"
    MYSQL = "mysql"


class FailoverMode(StrEnum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"


class TlsMode(StrEnum):
    VERIFY = "verify"
    DISABLED = "disabled"


class AuthType(StrEnum):
    PASSWORD = "password"
    APPLICATION_CREDENTIAL = "applicationCredential"
    CLOUD = "cloud"
    NONE = "none"


@dataclass(frozen=True)
class Endpoint:
    """A host (IP address or DNS name) and a port."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class SecretRef:
    """Where a credential lives; never the credential itself.

    Exactly one of the three is set. ``secret_name``/``secret_key`` is a Kubernetes Secret key (in
    standalone mode read from ``<secrets dir>/<name>/<key>``, the layout of a mounted Secret).
    """

    secret_name: str | None = None
    secret_key: str | None = None
    file: str | None = None
    env: str | None = None
    # A document whose line breaks belong to it (a kubeconfig), not a one-line credential.
    multiline: bool = False

    def describe(self) -> str:
        if self.file is not None:
            return f"file {self.file}"
        if self.env is not None:
            return f"environment variable {self.env}"
        return f"secret {self.secret_name}/{self.secret_key}"


@dataclass(frozen=True)
class TlsSpec:
    """How dnsdr secures a connection. ``verify``: TLS, the server's certificate checked against ``ca``
    (a PEM bundle; the system's trust store when None) and its name against the host dnsdr connects
    to. ``disabled``: plain connections, only ever when a spec says so."""

    mode: TlsMode = TlsMode.VERIFY
    ca: SecretRef | None = None

    @property
    def enabled(self) -> bool:
        return self.mode is TlsMode.VERIFY


@dataclass(frozen=True)
class DatabaseSpec:
    flavour: DatabaseFlavour
    endpoint: Endpoint
    user: str
    password: SecretRef
    # The account replicas use to connect to this server when it is their source.
    replication_user: str
    replication_password: SecretRef
    schema: str = "designate"
    tls: TlsSpec = field(default_factory=TlsSpec)
    # On this server's host: the CA file it checks its source's certificate with when it replicates
    # (MASTER_SSL_CA); None leaves the server's default.
    replica_ca_file: str | None = None


@dataclass(frozen=True)
class AuthSpec:
    """How dnsdr authenticates to Keystone for the Designate API: never the credential itself.

    ``password``: a user in a project; ``applicationCredential``: by id, or by name with its user;
    ``cloud``: a clouds.yaml entry (``cloud`` None: ``$OS_CLOUD``, the OpenStack CLI's convention);
    ``none``: Designate's ``noauth`` headers, for a lab only, and only when written.
    """

    type: AuthType = AuthType.CLOUD
    auth_url: str | None = None
    username: str | None = None
    user_domain: str = "Default"
    password: SecretRef | None = None
    project: str | None = None
    project_domain: str = "Default"
    application_credential_id: str | None = None
    application_credential_name: str | None = None
    application_credential_secret: SecretRef | None = None
    cloud: str | None = None
    interface: str = "public"

    def references(self) -> tuple[tuple[str, SecretRef], ...]:
        """(what, reference) of every credential this auth resolves."""
        found = (("Keystone password", self.password),
                 ("application credential secret", self.application_credential_secret))
        return tuple((what, ref) for what, ref in found if ref is not None)


@dataclass(frozen=True)
class ConfigKeyRef:
    """One key of a Secret or ConfigMap in a region's cluster: where Designate reads its database connection."""

    kind: str  # "Secret" or "ConfigMap"
    name: str
    key: str

    def describe(self) -> str:
        return f"{self.kind.lower()} {self.name} key {self.key}"


# openstack-helm's layout: designate.conf, [database] connection, in the Secret every Designate Deployment mounts.
DEFAULT_CONNECTION = ConfigKeyRef("Secret", "designate-etc", "designate.conf")
DEFAULT_DEPLOYMENT = "designate-{service}"


@dataclass(frozen=True)
class ServiceControl:
    """How a region's Designate services are stopped, started and repointed at a database.

    ``driver`` is ``command`` (operator commands such as systemctl over ssh, Ansible, or the local
    lab's own ``dnsdr lab service``, with ``{service}``, ``{region}``, ``{db_host}`` and
    ``{db_port}`` placeholders; a word with ``{services}`` repeats per service, one command for all)
    or ``kubernetes``: the Deployments named by ``deployment`` (``{service}`` filled in) in
    ``namespace`` of the cluster ``kubeconfig`` reaches, the database connection kept in ``connection``.
    """

    driver: str
    commands: tuple[tuple[str, str], ...] = ()
    namespace: str | None = None
    kubeconfig: SecretRef | None = None
    deployment: str = DEFAULT_DEPLOYMENT
    connection: ConfigKeyRef = DEFAULT_CONNECTION

    def command(self, name: str) -> str | None:
        return dict(self.commands).get(name)

    def deployment_name(self, service: str) -> str:
        return self.deployment.format(service=service)


@dataclass(frozen=True)
class DesignateSpec:
    api: Endpoint
    mdns: tuple[Endpoint, ...]
    # Source addresses designate-worker sends NOTIFY from; backends must trust them.
    notify_sources: tuple[str, ...]
    control: ServiceControl
    # designate-manage as run in this region (argv prefix), e.g. with --config-file.
    manage_command: tuple[str, ...] = ("designate-manage",)
    api_scheme: str = "https"
    # The Keystone region whose catalog lists this Designate (None: the spec's region name).
    region_name: str | None = None


SecretLookup = Callable[[SecretRef], str]


@dataclass(frozen=True)
class BackendKind:
    """What differs per DNS server type, declared once by that type's driver (``dnsdr.adapters.backends``).

    The spec parser reads a backend of this type from ``<control_key>`` (an endpoint, default port
    ``control_port``, with a ``scheme`` when ``schemes`` is not empty), ``<credential_key>`` (a
    secret reference), the optional string ``settings`` and the optional secret references
    ``secret_settings``; ``pool_options`` renders the pool target options Designate's driver of that
    type expects.
    """

    type: str
    label: str
    control_key: str
    control_port: int
    credential_key: str
    pool_options: Callable[[BackendSpec, SecretLookup], dict[str, str]]
    schemes: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()
    secret_settings: tuple[str, ...] = ()


@dataclass(frozen=True)
class BackendSpec:
    """One DNS server of the pool: where it answers (``dns``), where dnsdr manages its zones
    (``control``: the PowerDNS API, rndc, ...) and with which credential. ``kind`` knows the rest."""

    name: str
    kind: BackendKind = field(repr=False, compare=False)
    dns: Endpoint
    control: Endpoint
    credential: SecretRef
    scheme: str = ""
    settings: tuple[tuple[str, str], ...] = ()
    secret_settings: tuple[tuple[str, SecretRef], ...] = ()

    @property
    def type(self) -> str:
        return self.kind.type

    def setting(self, key: str) -> str | None:
        return dict(self.settings).get(key)

    def secret_setting(self, key: str) -> SecretRef | None:
        return dict(self.secret_settings).get(key)

    @property
    def control_url(self) -> str:
        return f"{self.scheme}://{self.control}" if self.scheme else str(self.control)


Backend = BackendSpec


@dataclass(frozen=True)
class RegionSpec:
    name: str
    database: DatabaseSpec | None = None
    designate: DesignateSpec | None = None
    backends: tuple[Backend, ...] = ()
    # What designate-worker SOA-polls in this region; defaults to the backends' DNS endpoints.
    nameservers: tuple[Endpoint, ...] = ()
    # Where the monitor of this region listens (only for the monitor region).
    monitor: Endpoint | None = None

    @property
    def polled_nameservers(self) -> tuple[Endpoint, ...]:
        return self.nameservers or tuple(b.dns for b in self.backends)

    def addresses(self) -> frozenset[str]:
        """Every host this region's components are reached at: what must vanish when it is lost."""
        hosts: set[str] = {ns.host for ns in self.polled_nameservers}
        if self.database:
            hosts.add(self.database.endpoint.host)
        if self.designate:
            hosts.add(self.designate.api.host)
            hosts.update(m.host for m in self.designate.mdns)
            hosts.update(self.designate.notify_sources)
        for b in self.backends:
            hosts.add(b.dns.host)
            hosts.add(b.control.host)
        if self.monitor:
            hosts.add(self.monitor.host)
        return frozenset(hosts)


@dataclass(frozen=True)
class NsRecord:
    hostname: str
    priority: int


@dataclass(frozen=True)
class PoolSpec:
    name: str = "default"
    id: str | None = None
    description: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()
    ns_records: tuple[NsRecord, ...] = ()
    also_notifies: tuple[Endpoint, ...] = ()


@dataclass(frozen=True)
class PolicySpec:
    failover: FailoverMode = FailoverMode.MANUAL
    probe_interval_seconds: float = 5.0
    consecutive_failures: int = 3
    max_lag_seconds: float = 10.0
    cooldown_seconds: float = 3600.0
    semi_sync_required: bool = True
    relay_log_timeout_seconds: float = 30.0
    # An automatic failover refuses when semi-sync was off or AFTER_COMMIT before the loss, unless this says
    # the operator accepts losing acknowledged writes (a manual `dnsdr promote` decides for itself).
    accept_data_loss: bool = False
    # What a failover does with a lost region's backends that still answer: keep them in the pool
    # (re-pointed at the surviving mdns and verified) or fence them (remove every zone of the pool).
    surviving_backends: str = "keep"


@dataclass(frozen=True)
class DesignateDR:
    name: str
    primary_region: str
    regions: tuple[RegionSpec, ...]
    pool: PoolSpec = field(default_factory=PoolSpec)
    policy: PolicySpec = field(default_factory=PolicySpec)
    monitor_region: str | None = None
    namespace: str | None = None
    auth: AuthSpec = field(default_factory=AuthSpec)
    # The default for every connection dnsdr opens (databases override it in their section).
    tls: TlsSpec = field(default_factory=TlsSpec)
    # The canary zone's name when set (see dnsdr.domain.canary).
    canary_zone: str | None = None

    def region(self, name: str) -> RegionSpec:
        for r in self.regions:
            if r.name == name:
                return r
        raise KeyError(name)

    @property
    def region_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.regions)

    @property
    def database_regions(self) -> tuple[RegionSpec, ...]:
        return tuple(r for r in self.regions if r.database is not None)

    def keystone_region(self, name: str) -> str:
        """The Keystone region name of a spec region's Designate (its own name unless set)."""
        designate = self.region(name).designate
        return (designate.region_name if designate else None) or name
