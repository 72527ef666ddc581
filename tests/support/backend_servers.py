"""Throwaway PowerDNS and BIND secondaries for adapter tests and the masters benchmark.

They run as child processes on their own loopback addresses (127.0.11.x by default, away from
the lab's 127.0.1.x/127.0.2.x) with state in a private directory, and are stopped by their PID.
Zones can be seeded in bulk without going through the servers (sqlite rows for PowerDNS, an
``.nzf`` include for BIND) so that 10,000 zones take seconds to set up.
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

PDNS_SCHEMA = Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")


def _wait_port(host: str, port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}): {log.read_text()[-2000:]}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{host}:{port} did not open: {log.read_text()[-2000:]}")


def ensure_loopback_address(address: str) -> bool:
    """named listens only on addresses held by an interface (unlike PowerDNS, which just binds), so
    127.0.11.x must be on ``lo``. Returns True when this call added it (the caller removes it)."""
    shown = subprocess.run(["ip", "-o", "addr", "show", "dev", "lo"], capture_output=True, text=True, check=True)
    if f" {address}/" in shown.stdout or not address.startswith("127."):
        return False
    subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"], check=True)
    return True


def remove_loopback_address(address: str) -> None:
    subprocess.run(["ip", "addr", "del", f"{address}/32", "dev", "lo"], capture_output=True, check=False)


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class PdnsServer:
    directory: Path
    address: str = "127.0.11.2"
    dns_port: int = 15353
    api_port: int = 18081
    api_key: str = field(default_factory=lambda: secrets.token_hex(16))
    proc: subprocess.Popen[bytes] | None = None

    @property
    def db(self) -> Path:
        return self.directory / "pdns.sqlite3"

    def prepare(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if not self.db.exists():
            with sqlite3.connect(self.db) as conn:
                conn.executescript(PDNS_SCHEMA.read_text())
        (self.directory / "pdns.conf").write_text(
            "\n".join(
                [
                    "launch=gsqlite3",
                    f"gsqlite3-database={self.db}",
                    f"local-address={self.address}",
                    f"local-port={self.dns_port}",
                    "secondary=yes",
                    "api=yes",
                    f"api-key={self.api_key}",
                    f"webserver-address={self.address}",
                    f"webserver-port={self.api_port}",
                    "webserver-allow-from=127.0.0.0/8",
                    f"socket-dir={self.directory}",
                    "daemon=no",
                    "guardian=no",
                    "setuid=",
                    "setgid=",
                    "disable-syslog=yes",
                    "loglevel=4",
                    "xfr-cycle-interval=3600",
                    "",
                ]
            )
        )

    def seed(self, zones: Iterable[str], master: str) -> None:
        """Insert secondary zones straight into the database (before or while the server runs)."""
        with sqlite3.connect(self.db) as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO domains (name, master, type) VALUES (?, ?, 'SLAVE')",
                [(z.rstrip(".").lower(), master) for z in zones],
            )

    def start(self) -> None:
        self.prepare()
        log = self.directory / "pdns.log"
        self.proc = subprocess.Popen(
            ["pdns_server", f"--config-dir={self.directory}"],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait_port(self.address, self.api_port, self.proc, log)

    def stop(self) -> None:
        _stop(self.proc)


@dataclass
class BindServer:
    directory: Path
    address: str = "127.0.11.3"
    dns_port: int = 15354
    rndc_port: int = 19530
    key_name: str = "dnsdr-test-key"
    secret_b64: str = field(default_factory=lambda: base64.b64encode(os.urandom(32)).decode())
    extra_conf: str = ""  # e.g. primary zones served by this instance
    proc: subprocess.Popen[bytes] | None = None
    added_address: bool = False

    @property
    def key_file(self) -> Path:
        return self.directory / "rndc.key"

    @property
    def key_clause(self) -> str:
        return f'key "{self.key_name}" {{\n\talgorithm hmac-sha256;\n\tsecret "{self.secret_b64}";\n}};\n'

    def prepare(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.key_file.write_text(self.key_clause)
        self.key_file.chmod(0o600)
        d = self.directory
        (d / "named.conf").write_text(
            f"""include "{self.key_file}";
options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {self.dns_port} {{ {self.address}; }};
    listen-on-v6 {{ none; }};
    allow-new-zones yes;
    recursion no;
    dnssec-validation no;
    notify no;
    allow-notify {{ 127.0.0.0/8; }};
    minimal-responses yes;
}};
controls {{ inet {self.address} port {self.rndc_port} allow {{ 127.0.0.0/8; }} keys {{ "{self.key_name}"; }}; }};
{self.extra_conf}"""
        )

    def seed(self, zones: Iterable[str], master_host: str, master_port: int) -> None:
        """Write zones into ``_default.nzf`` as addzone would (read at start; named must be stopped)."""
        lines = [
            f'zone "{z.rstrip(".")}" {{ type slave; masters {{ {master_host} port {master_port}; }}; '
            f'file "slave.{z.rstrip(".")}.{i:08d}"; }};\n'
            for i, z in enumerate(zones)
        ]
        with (self.directory / "_default.nzf").open("a") as fh:
            fh.writelines(lines)

    def add_primary_zone(self, zone: str, serial: int) -> None:
        """Serve ``zone`` as a primary with one SOA/NS/A set (call before start)."""
        name = zone.rstrip(".")
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / f"{name}.db").write_text(
            f"$TTL 60\n@ IN SOA ns1.{name}. admin.{name}. {serial} 60 60 600 60\n"
            f"@ IN NS ns1.{name}.\nns1 IN A 192.0.2.1\nwww IN A 192.0.2.80\n"
        )
        self.extra_conf += f'zone "{name}" {{ type primary; file "{name}.db"; }};\n'

    def start(self) -> None:
        self.prepare()
        self.added_address = ensure_loopback_address(self.address)
        log = self.directory / "named.log"
        self.proc = subprocess.Popen(
            ["named", "-g", "-X", "none", "-n", "2", "-c", str(self.directory / "named.conf")],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait_port(self.address, self.rndc_port, self.proc, log, timeout=120.0)
        _wait_port(self.address, self.dns_port, self.proc, log, timeout=120.0)

    def rndc(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["rndc", "-s", self.address, "-p", str(self.rndc_port), "-k", str(self.key_file), *args],
            capture_output=True,
            text=True,
            check=False,
        )

    def stop(self) -> None:
        _stop(self.proc)
        if self.added_address:
            remove_loopback_address(self.address)
            self.added_address = False
