"""The lab's fixed address plan and directory layout (pure: no I/O).

Per database region N (r1 -> 1, r2 -> 2):
``127.0.N.1`` MariaDB :3306, RabbitMQ :5672 (distribution :25672+N, epmd :4369+N, also on
127.0.0.1), designate-api :9001, designate-mdns :5354; ``127.0.N.2`` PowerDNS DNS :53 and HTTP
API :8081; ``127.0.N.3`` BIND DNS :53 and rndc :953.
The monitor region r3 holds no database: ``127.0.3.1`` the monitor :9153, controllers from :9154 and
Keystone :5000 (HTTPS).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REGIONS = ("r1", "r2")  # the database regions (Designate, MariaDB, backends)
MONITOR_REGION = "r3"
ALL_REGIONS = (*REGIONS, MONITOR_REGION)  # every region with a cgroup: faults apply to each
PRIMARY = "r1"
POOL_ID = "794ccc2c-d751-44fe-b57f-8894c9f5c842"

MYSQL_PORT = 3306
AMQP_PORT = 5672
# epmd always binds 127.0.0.1 too (besides ERL_EPMD_ADDRESS), so each region needs its own port.
EPMD_PORT_BASE = 4369
# RabbitMQ checks its distribution port by binding it on every address: one port per region.
DIST_PORT_BASE = 25672
API_PORT = 9001
MDNS_PORT = 5354
DNS_PORT = 53
PDNS_API_PORT = 8081
RNDC_PORT = 953
MONITOR_PORT = 9153
KEYSTONE_PORT = 5000  # in r3: identity must outlive r1 and r2
CONTROLLER_PORT = 9154  # the first controller's; more controllers take the next free ports

# Designate services, in start order (central first: casts sent before it consumes are lost).
DESIGNATE_SERVICES = ("central", "mdns", "worker", "producer", "api")
# Every component kind, in start order.
KINDS = (
    "mariadb", "rabbitmq", "pdns", "bind",
    "designate-central", "designate-mdns", "designate-worker", "designate-producer", "designate-api",
)


class LayoutError(ValueError):
    """An unknown region or service name."""


def region_index(region: str) -> int:
    return int(check_any_region(region)[1:])


def check_region(region: str) -> str:
    """A database region (one with Designate): r1 or r2."""
    if region not in REGIONS:
        raise LayoutError(f"unknown region {region!r} (known: {', '.join(REGIONS)})")
    return region


def check_any_region(region: str) -> str:
    """Any region of the lab, the monitor region included (faults, kill, start)."""
    if region not in ALL_REGIONS:
        raise LayoutError(f"unknown region {region!r} (known: {', '.join(ALL_REGIONS)})")
    return region


def check_service(service: str) -> tuple[str, ...]:
    """``all`` or one Designate service name -> the services meant, in start order."""
    if service == "all":
        return DESIGNATE_SERVICES
    if service not in DESIGNATE_SERVICES:
        raise LayoutError(f"unknown service {service!r} (one of {', '.join(DESIGNATE_SERVICES)}, all)")
    return (service,)


def subnet(region: str) -> str:
    return f"127.0.{region_index(region)}.0/24"


@dataclass(frozen=True)
class Addresses:
    """Where one region's components listen."""

    region: str

    @property
    def n(self) -> int:
        return region_index(self.region)

    @property
    def epmd_port(self) -> int:
        return EPMD_PORT_BASE + self.n

    @property
    def dist_port(self) -> int:
        return DIST_PORT_BASE + self.n

    @property
    def core(self) -> str:
        """MariaDB, RabbitMQ, designate-api, designate-mdns."""
        return f"127.0.{self.n}.1"

    @property
    def pdns(self) -> str:
        return f"127.0.{self.n}.2"

    @property
    def bind(self) -> str:
        return f"127.0.{self.n}.3"

    def main_endpoint(self, kind: str) -> tuple[str, int | None]:
        """The host and main port of a component kind (no port for worker/producer/central)."""
        table: dict[str, tuple[str, int | None]] = {
            "mariadb": (self.core, MYSQL_PORT),
            "rabbitmq": (self.core, AMQP_PORT),
            "designate-api": (self.core, API_PORT),
            "designate-central": (self.core, None),
            "designate-worker": (self.core, None),
            "designate-producer": (self.core, None),
            "designate-mdns": (self.core, MDNS_PORT),
            "pdns": (self.pdns, DNS_PORT),
            "bind": (self.bind, DNS_PORT),
            "monitor": (self.core, MONITOR_PORT),
            "keystone": (self.core, KEYSTONE_PORT),
        }
        if kind not in table:
            raise LayoutError(f"unknown component kind {kind!r}")
        return table[kind]

    def listeners(self, kind: str) -> tuple[tuple[str, int], ...]:
        """Every TCP endpoint the component listens on (what must be gone after a stop)."""
        table: dict[str, tuple[tuple[str, int], ...]] = {
            "mariadb": ((self.core, MYSQL_PORT),),
            "rabbitmq": ((self.core, AMQP_PORT), (self.core, self.dist_port), (self.core, self.epmd_port)),
            "designate-api": ((self.core, API_PORT),),
            "designate-mdns": ((self.core, MDNS_PORT),),
            "pdns": ((self.pdns, DNS_PORT), (self.pdns, PDNS_API_PORT)),
            "bind": ((self.bind, DNS_PORT), (self.bind, RNDC_PORT)),
            "monitor": ((self.core, MONITOR_PORT),),
            "keystone": ((self.core, KEYSTONE_PORT),),
        }
        return table.get(kind, ())


@dataclass(frozen=True)
class Paths:
    """Everything of one lab lives under ``root`` (absolute)."""

    root: Path

    @property
    def spec(self) -> Path:
        return self.root / "designatedr.yaml"

    @property
    def dnsdr(self) -> Path:
        """The lab's own ``dnsdr`` launcher: the code that wrote the lab, for every process it starts."""
        return self.root / "bin" / "dnsdr"

    @property
    def controller_state(self) -> Path:
        """The controllers' default state directory (lease, epoch, journals)."""
        return self.root / "state"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    def secret(self, name: str) -> Path:
        return self.secrets / name

    @property
    def state(self) -> Path:
        """Marks the lab's initialised state (which region is primary)."""
        return self.root / "state.json"

    @property
    def pools(self) -> Path:
        return self.root / "pools.yaml"

    def region(self, region: str) -> Path:
        return self.root / region

    def component(self, region: str, kind: str) -> Path:
        return self.region(region) / kind

    def pidfile(self, region: str, kind: str) -> Path:
        return self.region(region) / "run" / f"{kind}.pid"

    def log(self, region: str, kind: str) -> Path:
        return self.region(region) / "log" / f"{kind}.log"

    def designate_dir(self, region: str) -> Path:
        return self.component(region, "designate")

    def designate_conf(self, region: str) -> Path:
        return self.designate_dir(region) / "designate.conf"

    def mysql_socket(self, region: str) -> Path:
        return self.component(region, "mariadb") / "mysqld.sock"

    def rndc_key(self, region: str) -> Path:
        return self.secret(f"{region}-rndc.key")

    @property
    def pki(self) -> Path:
        """The lab's private CA and the regions' server certificates."""
        return self.root / "pki"

    @property
    def ca_cert(self) -> Path:
        return self.pki / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.pki / "ca.key"

    def server_cert(self, region: str) -> Path:
        return self.pki / f"{region}.pem"

    def server_key(self, region: str) -> Path:
        return self.pki / f"{region}.key"
