"""How each component of a region is prepared (config, data), started and checked for health."""

from __future__ import annotations

import os
import shutil
import sqlite3
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dnsdr.lab import render
from dnsdr.lab.errors import LabError
from dnsdr.lab.layout import (
    AMQP_PORT,
    API_PORT,
    DNS_PORT,
    MDNS_PORT,
    MYSQL_PORT,
    PDNS_API_PORT,
    RNDC_PORT,
    Addresses,
    Paths,
)
from dnsdr.lab.proc import port_open, udp_bound

PDNS_SCHEMA = Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")
RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
RABBITMQCTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"

# Generous: a loaded 2-core machine starts Designate's services slowly, and a wait ends at readiness.
READY_TIMEOUT = 300


def bin_dir() -> Path:
    """The virtualenv's bin directory (designate-*, gunicorn, dnsdr live next to this Python)."""
    return Path(sys.executable).absolute().parent


@dataclass
class Component:
    region: str
    kind: str
    argv: list[str]
    ready: Callable[[], bool]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    timeout: float = 60.0


def write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only (it may hold credentials)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.touch(mode=0o600)
    tmp.chmod(0o600)
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def run_tool(component: str, argv: list[str], timeout: float = 120.0, env: dict[str, str] | None = None) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, env=env)
    except FileNotFoundError:
        raise LabError(component, f"{argv[0]} is not installed (run scripts/install-system-deps.sh)") from None
    except subprocess.TimeoutExpired:
        raise LabError(component, f"{Path(argv[0]).name} did not finish within {timeout:g} s") from None
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-10:])
        raise LabError(component, f"{Path(argv[0]).name} failed (exit {proc.returncode})", tail)
    return proc.stdout


# --- MariaDB -----------------------------------------------------------------------------------

def mariadb(paths: Paths, region: str) -> Component:
    d = paths.component(region, "mariadb")
    d.mkdir(parents=True, exist_ok=True)
    paths.log(region, "mariadb").parent.mkdir(parents=True, exist_ok=True)
    cnf = d / "my.cnf"
    cnf.write_text(render.mariadb_cnf(paths, region), encoding="utf-8")
    # A private tmpdir: two bootstraps running at once share /tmp temp-table names otherwise.
    tmp = d / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    if not (d / "data" / "mysql").is_dir():
        shutil.rmtree(d / "data", ignore_errors=True)
        run_tool(f"{region}/mariadb", [
            "mariadb-install-db", "--no-defaults", f"--datadir={d / 'data'}", "--user=root",
            "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve",
            f"--tmpdir={tmp}",
        ])
    a = Addresses(region)
    return Component(
        region, "mariadb", ["mariadbd", f"--defaults-file={cnf}", "--user=root"],
        ready=lambda: paths.mysql_socket(region).exists() and port_open(a.core, MYSQL_PORT),
    )


# --- RabbitMQ ----------------------------------------------------------------------------------

def rabbitmq(paths: Paths, region: str, secrets: render.Secrets) -> Component:
    d = paths.component(region, "rabbitmq")
    (d / "mnesia").mkdir(parents=True, exist_ok=True)
    (d / "log").mkdir(parents=True, exist_ok=True)
    write_private(d / "rabbitmq.conf", render.rabbitmq_conf(secrets))
    (d / "enabled_plugins").write_text("[].\n", encoding="utf-8")
    (d / "rabbitmq-env.conf").write_text("", encoding="utf-8")
    a = Addresses(region)
    return Component(
        region, "rabbitmq", [RABBITMQ_SERVER], env=render.rabbitmq_env(paths, region),
        ready=lambda: port_open(a.core, AMQP_PORT), timeout=READY_TIMEOUT, cwd=d,
    )


def rabbit_consumers(paths: Paths, region: str) -> dict[str, int]:
    """Queue name -> consumer count, from rabbitmqctl (about a second per call)."""
    env = dict(os.environ)
    env.update(render.rabbitmq_env(paths, region))
    try:
        proc = subprocess.run(
            [RABBITMQCTL, "-q", "list_queues", "name", "consumers"], capture_output=True, text=True,
            timeout=30, check=False, env=env,
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    found: dict[str, int] = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            found[parts[0]] = int(parts[1])
    return found


# --- PowerDNS ----------------------------------------------------------------------------------

def pdns(paths: Paths, region: str, secrets: render.Secrets) -> Component:
    d = paths.component(region, "pdns")
    d.mkdir(parents=True, exist_ok=True)
    write_private(d / "pdns.conf", render.pdns_conf(paths, region, secrets))
    db = d / "pdns.sqlite3"
    if not db.exists():
        tmp = d / "pdns.sqlite3.tmp"
        tmp.unlink(missing_ok=True)
        with sqlite3.connect(tmp) as conn:
            conn.executescript(PDNS_SCHEMA.read_text(encoding="utf-8"))
        tmp.replace(db)
    a = Addresses(region)
    return Component(
        region, "pdns", ["pdns_server", f"--config-dir={d}"],
        ready=lambda: port_open(a.pdns, PDNS_API_PORT) and port_open(a.pdns, DNS_PORT),
    )


# --- BIND --------------------------------------------------------------------------------------

def lo_address(ip: str, present: bool) -> None:
    """Add (or remove) ``ip``/32 on lo: named listens only on interface addresses, unlike the others,
    which bind any 127/8 address through the loopback route."""
    try:
        shown = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", "lo"], capture_output=True,
                               text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        raise LabError("network", "cannot run ip (install iproute2)") from None
    has = f" {ip}/32 " in shown
    if present and not has:
        run_tool("network", ["ip", "addr", "add", f"{ip}/32", "dev", "lo"])
    elif has and not present:
        run_tool("network", ["ip", "addr", "del", f"{ip}/32", "dev", "lo"])


def bind(paths: Paths, region: str) -> Component:
    lo_address(Addresses(region).bind, True)
    d = paths.component(region, "bind")
    d.mkdir(parents=True, exist_ok=True)
    key = paths.rndc_key(region)
    if not key.exists():
        write_private(key, run_tool(f"{region}/bind", ["tsig-keygen", "-a", "hmac-sha256", f"rndc-{region}"]))
    (d / "named.conf").write_text(render.named_conf(paths, region), encoding="utf-8")
    (d / "rndc.conf").write_text(render.rndc_conf(paths, region), encoding="utf-8")
    a = Addresses(region)
    return Component(
        region, "bind", ["named", "-g", "-c", str(d / "named.conf")],
        ready=lambda: port_open(a.bind, RNDC_PORT) and port_open(a.bind, DNS_PORT),
    )


# --- Designate ---------------------------------------------------------------------------------

def designate_files(paths: Paths, region: str, secrets: render.Secrets, db_host: str, db_port: int) -> None:
    d = paths.designate_dir(region)
    for sub in ("state", "lock"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    write_private(paths.designate_conf(region), render.designate_conf(paths, region, secrets, db_host, db_port))
    (d / "policy.yaml").write_text(render.DESIGNATE_POLICY, encoding="utf-8")
    paste = bin_dir().parent / "etc" / "designate" / "api-paste.ini"
    if not (d / "api-paste.ini").exists():
        if not paste.exists():
            raise LabError(f"{region}/designate-api", f"{paste} not found: is designate installed in this venv?")
        shutil.copyfile(paste, d / "api-paste.ini")
    (d / "lab_api_wsgi.py").write_text(render.WSGI_SHIM, encoding="utf-8")


def designate_service(paths: Paths, region: str, service: str, consumers: Callable[[], dict[str, int]]) -> Component:
    """One Designate service; ``consumers`` reads the region's RabbitMQ queues (readiness of RPC services)."""
    a = Addresses(region)
    d = paths.designate_dir(region)
    conf = paths.designate_conf(region)
    log = paths.log(region, f"designate-{service}")
    if service == "api":
        argv = [
            str(bin_dir() / "gunicorn"), "--bind", f"{a.core}:{API_PORT}", "--worker-class", "gthread",
            "--workers", "1", "--threads", "32", "--graceful-timeout", "1", "--timeout", "120",
            "--certfile", str(paths.server_cert(region)), "--keyfile", str(paths.server_key(region)),
            "--no-control-socket", "--chdir", str(d), "--pythonpath", str(d),
            "--error-logfile", str(log), "lab_api_wsgi:application",
        ]
        return Component(
            region, "designate-api", argv, env={"OS_DESIGNATE_CONFIG_DIR": str(d)},
            ready=lambda: http_ok(f"https://{a.core}:{API_PORT}/", paths.ca_cert), timeout=READY_TIMEOUT,
        )
    argv = [str(bin_dir() / f"designate-{service}"), "--config-file", str(conf), "--log-file", str(log)]

    def ready() -> bool:
        if service == "mdns":
            return port_open(a.core, MDNS_PORT) and (a.core, MDNS_PORT) in udp_bound()
        return consumers().get(service, 0) > 0

    return Component(region, f"designate-{service}", argv, ready=ready, timeout=READY_TIMEOUT)


def http_ok(url: str, ca: Path | None = None) -> bool:
    """GET ``url`` answers 200 (HTTPS checked against the lab's CA ``ca``)."""
    context = ssl.create_default_context(cafile=str(ca)) if ca is not None else None
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:
            return bool(response.status == 200)
    except OSError:
        return False
