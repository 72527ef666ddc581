"""Configuration files of the lab's servers, rendered purely from the layout and the secrets.

Every function returns text; nothing here touches the file system. Files holding credentials are
written with mode 0600 by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from dnsdr.lab.layout import (
    AMQP_PORT,
    API_PORT,
    DNS_PORT,
    KEYSTONE_PORT,
    MDNS_PORT,
    MONITOR_REGION,
    MYSQL_PORT,
    PDNS_API_PORT,
    POOL_ID,
    RNDC_PORT,
    Addresses,
    Paths,
    region_index,
)

# The worker's NOTIFY and SOA polls leave from 127.0.0.1 on loopback (the kernel's choice), so the
# backends trust the whole loopback range; partitions are cut by cgroup, not by source address.
LOOPBACK = "127.0.0.0/8"
# AFTER_SYNC and a long timeout: no acknowledged write is lost in a failover, and the controller's
# data-safety gate sees semi-sync as production should run it (MariaDB's default wait point is AFTER_COMMIT).
SEMI_SYNC_TIMEOUT_MS = 10_000
HEARTBEAT_PERIOD_S = 2
SLAVE_NET_TIMEOUT_S = 4
CONNECT_RETRY_S = 1
QUOTA = 1_000_000


@dataclass(frozen=True)
class Secrets:
    """Generated credentials of one lab (values: never print or log them)."""

    designate_db: str
    dnsdr_db: str
    repl_db: str
    rabbit: str
    pdns_api_key: str
    keystone_admin: str
    designate_keystone: str
    dnsdr_keystone: str
    dnsdr_app_credential: str
    lab_keystone: str

    @staticmethod
    def names() -> tuple[str, ...]:
        return ("designate_db", "dnsdr_db", "repl_db", "rabbit", "pdns_api_key", "keystone_admin",
                "designate_keystone", "dnsdr_keystone", "dnsdr_app_credential", "lab_keystone")


def mariadb_cnf(paths: Paths, region: str) -> str:
    a = Addresses(region)
    d = paths.component(region, "mariadb")
    # read_only = 1: every server starts fenced, so a crashed primary never comes back writable
    # behind a failover (orchestrator's advice); the lab opens the one true primary, dnsdr rejoin the rest.
    return f"""[mariadbd]
read_only = 1
server-id = {region_index(region)}
# TLS with the region's certificate (its addresses as IP SANs); the accounts that connect over the network
# REQUIRE SSL, and replicas check this certificate against MASTER_HOST (MASTER_SSL_VERIFY_SERVER_CERT).
ssl_ca = {paths.ca_cert}
ssl_cert = {paths.server_cert(region)}
ssl_key = {paths.server_key(region)}
datadir = {d / 'data'}
tmpdir = {d / 'tmp'}
socket = {paths.mysql_socket(region)}
pid-file = {d / 'mysqld.pid'}
bind-address = {a.core}
port = {MYSQL_PORT}
skip-name-resolve
log-error = {paths.log(region, 'mariadb')}
log-bin = {d / 'data' / 'binlog'}
relay-log = {d / 'data' / 'relay'}
log-slave-updates = 1
binlog-format = ROW
gtid-strict-mode = 1
gtid-domain-id = 0
rpl_semi_sync_master_enabled = 1
rpl_semi_sync_slave_enabled = 1
rpl_semi_sync_master_timeout = {SEMI_SYNC_TIMEOUT_MS}
rpl_semi_sync_master_wait_point = AFTER_SYNC
slave_net_timeout = {SLAVE_NET_TIMEOUT_S}
# A binlog dump thread stuck writing to a silently cut replica blocks its reconnection until this ends
# (60 s by default): after a partition heals the replica would wait that long.
net_write_timeout = 10
innodb_buffer_pool_size = 64M
innodb_log_file_size = 32M
innodb_flush_log_at_trx_commit = 2
sync_binlog = 0
max_connections = 1000
performance_schema = OFF
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
"""


def rabbitmq_env(paths: Paths, region: str) -> dict[str, str]:
    """Environment for a private RabbitMQ node on the region's core address (see lab.md)."""
    a = Addresses(region)
    d = paths.component(region, "rabbitmq")
    ip = ",".join(a.core.split("."))
    return {
        "HOME": str(d),
        "RABBITMQ_NODENAME": f"rabbit@{a.core}",
        "RABBITMQ_USE_LONGNAME": "true",
        "RABBITMQ_NODE_IP_ADDRESS": a.core,
        "RABBITMQ_NODE_PORT": str(AMQP_PORT),
        "RABBITMQ_DIST_PORT": str(a.dist_port),
        "ERL_EPMD_PORT": str(a.epmd_port),
        "ERL_EPMD_ADDRESS": a.core,
        "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
        "RABBITMQ_LOG_BASE": str(d / "log"),
        "RABBITMQ_LOGS": str(paths.log(region, "rabbitmq")),
        "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
        "RABBITMQ_PID_FILE": str(d / "rabbitmq.pid"),
        "ERL_CRASH_DUMP": str(d / "erl_crash.dump"),
        "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": f"-kernel inet_dist_use_interface {{{ip}}}",
    }


def rabbitmq_conf(secrets: Secrets) -> str:
    return f"""loopback_users = none
default_user = designate
default_pass = {secrets.rabbit}
log.console = false
log.file.level = warning
vm_memory_high_watermark.absolute = 512MiB
disk_free_limit.absolute = 50MB
"""


def pdns_conf(paths: Paths, region: str, secrets: Secrets) -> str:
    a = Addresses(region)
    d = paths.component(region, "pdns")
    return f"""launch=gsqlite3
gsqlite3-database={d / 'pdns.sqlite3'}
local-address={a.pdns}
local-port={DNS_PORT}
query-local-address={a.pdns}
api=yes
api-key={secrets.pdns_api_key}
webserver=yes
webserver-address={a.pdns}
webserver-port={PDNS_API_PORT}
webserver-allow-from={LOOPBACK}
secondary=yes
primary=no
allow-notify-from={LOOPBACK}
trusted-notification-proxy={LOOPBACK}
cache-ttl=0
query-cache-ttl=0
negquery-cache-ttl=0
xfr-cycle-interval=5
secondary-do-renotify=no
daemon=no
guardian=no
socket-dir={d}
setuid=
setgid=
disable-syslog=yes
loglevel=4
receiver-threads=2
distributor-threads=2
"""


def named_conf(paths: Paths, region: str) -> str:
    a = Addresses(region)
    d = paths.component(region, "bind")
    key = paths.rndc_key(region)
    return f"""include "{key}";
options {{
    directory "{d}";
    pid-file "{d / 'named.pid'}";
    session-keyfile "{d / 'session.key'}";
    managed-keys-directory "{d}";
    listen-on port {DNS_PORT} {{ {a.bind}; }};
    listen-on-v6 {{ none; }};
    query-source address {a.bind};
    transfer-source {a.bind};
    notify-source {a.bind};
    allow-new-zones yes;
    allow-notify {{ {LOOPBACK}; }};
    allow-query {{ any; }};
    allow-transfer {{ none; }};
    recursion no;
    notify no;
    dnssec-validation no;
    minimal-responses yes;
    max-cache-size 16m;
    serial-query-rate 1000;
    transfers-in 100;
    transfers-per-ns 50;
    // secondaries keep their copies as text, not raw (9.18's default): `lab zones --fast` writes them
    masterfile-format text;
}};
controls {{
    inet {a.bind} port {RNDC_PORT} allow {{ {LOOPBACK}; }} keys {{ "rndc-{region}"; }};
}};
logging {{
    channel main {{ file "{paths.log(region, 'bind')}" versions 2 size 20m; severity info; print-time yes; }};
    category default {{ main; }};
    category lame-servers {{ null; }};
}};
"""


def rndc_conf(paths: Paths, region: str) -> str:
    a = Addresses(region)
    return f"""include "{paths.rndc_key(region)}";
options {{
    default-key "rndc-{region}";
    default-server {a.bind};
    default-port {RNDC_PORT};
}};
"""


def db_url(host: str, port: int, secrets: Secrets, ca: str = "") -> str:
    """Designate's database URL; with ``ca``, over TLS with the server's certificate and name checked."""
    tls = f"&ssl_ca={ca}&ssl_check_hostname=true" if ca else ""
    return f"mysql+pymysql://designate:{secrets.designate_db}@{host}:{port}/designate?charset=utf8mb4{tls}"


# Designate's policy override: the role dnsdr's account holds (DR_ROLE) may look across projects and act in a
# zone's own project (sudo), where the role member then does the rest; nothing else of admin's.
DR_ROLE = "dns_dr"
DESIGNATE_POLICY = f"""# dnsdr: list every project's zones; re-push and replay in the zone's own project
"all_tenants": "role:admin or role:{DR_ROLE}"
"use_sudo": "role:admin or role:{DR_ROLE}"
"""


def designate_conf(paths: Paths, region: str, secrets: Secrets, db_host: str, db_port: int) -> str:
    """designate.conf of one region, using the database at ``db_host:db_port``.

    No ``[coordination]`` backend: each region runs one central, so the in-process lock has the
    same meaning, while tooz's file lock polls (up to 0.1 s per hand-off) on central's global
    ``create-new-zone`` lock and made zone creation several times slower.
    """
    a = Addresses(region)
    d = paths.designate_dir(region)
    url = db_url(db_host, db_port, secrets, str(paths.ca_cert))
    keystone = f"https://{Addresses(MONITOR_REGION).core}:{KEYSTONE_PORT}"
    return f"""[DEFAULT]
host = designate-{region}
transport_url = rabbit://designate:{secrets.rabbit}@{a.core}:{AMQP_PORT}/
root_helper = env
graceful_shutdown_timeout = 2
state_path = {d / 'state'}
debug = false
use_stderr = false
quota_zones = {QUOTA}
quota_zone_recordsets = {QUOTA}
quota_zone_records = {QUOTA}
quota_recordset_records = 1000
quota_api_export_size = {QUOTA}

[oslo_policy]
enforce_scope = false
enforce_new_defaults = false
policy_file = {d / 'policy.yaml'}

[oslo_concurrency]
lock_path = {d / 'lock'}

[oslo_messaging_rabbit]
heartbeat_timeout_threshold = 0

[database]
connection = {url}
max_pool_size = 20
max_overflow = 40

[storage:sqlalchemy]
connection = {url}

[heartbeat_emitter]
heartbeat_interval = 5

[service:api]
listen = {a.core}:{API_PORT}
auth_strategy = keystone
enable_api_v2 = true
enable_api_admin = true
enabled_extensions_admin = quotas
api_base_uri = https://{a.core}:{API_PORT}/

[keystone_authtoken]
www_authenticate_uri = {keystone}
auth_url = {keystone}
auth_type = password
username = designate
password = {secrets.designate_keystone}
user_domain_name = Default
project_name = service
project_domain_name = Default
region_name = {region}
interface = public
cafile = {paths.ca_cert}
service_token_roles_required = true
# a slow answer is waited for: a timeout only re-sends the same work to a busy Keystone
http_connect_timeout = 30
http_request_max_retries = 1

[service:central]
workers = 1
default_pool_id = {POOL_ID}

[service:mdns]
workers = 1
listen = {a.core}:{MDNS_PORT}

[service:worker]
workers = 1
poll_delay = 1
poll_retry_interval = 2
poll_max_retries = 10
poll_timeout = 5
serial_timeout = 2

[service:producer]
workers = 1

[producer_task:increment_serial]
interval = 1
batch_size = 1000
per_page = 1000

[producer_task:delayed_notify]
interval = 1

[producer_task:worker_periodic_recovery]
interval = 30
"""


WSGI_SHIM = '''"""designate-api for gunicorn: the threading backend must be chosen before designate loads."""
from oslo_service import backend

backend.init_backend(backend.BackendType.THREADING)

from designate.wsgi.api import application  # noqa: E402,F401
'''
