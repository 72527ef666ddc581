"""MariaDB in the lab: accounts on the primary, the GTID semi-sync replica, role checks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pymysql

from dnsdr.adapters.probes import MONITOR_USER
from dnsdr.lab.errors import LabError
from dnsdr.lab.layout import MYSQL_PORT, Addresses, Paths
from dnsdr.lab.render import CONNECT_RETRY_S, HEARTBEAT_PERIOD_S, Secrets


@contextmanager
def root(paths: Paths, region: str, timeout: float = 10.0) -> Iterator[Any]:
    """root over the region's Unix socket (no password; the socket lives in the lab dir)."""
    try:
        conn = pymysql.connect(
            unix_socket=str(paths.mysql_socket(region)), user="root", connect_timeout=timeout,
            read_timeout=60, write_timeout=60, autocommit=True,
        )
    except pymysql.MySQLError as exc:
        raise LabError(f"{region}/mariadb", f"cannot connect as root over the socket: {exc.args[-1]}") from None
    try:
        yield conn.cursor(pymysql.cursors.DictCursor)
    finally:
        conn.close()


# dnsdr's database account, exactly as the README's "The database account" lists it: observe (SLAVE
# MONITOR), fence (READ_ONLY ADMIN, and PROCESS with CONNECTION ADMIN to end client sessions), catch
# up, promote and repoint (REPLICATION SLAVE ADMIN; RELOAD for promote's RESET SLAVE ALL), the epoch
# and the write probe (its own schema dnsdr), zone reads (designate).
# tests/integration/lab/test_least_privilege.py holds the lab and the README to it.
# Divergence reads Designate's zones, recordsets and records on both sides and the returning primary's binlog
# (BINLOG MONITOR: SHOW BINLOG EVENTS); `rejoin --force discard-divergence` rebuilds the returning primary's
# designate schema from the new primary's (SELECT there; DROP, CREATE, INSERT here; DROP of its marker table;
# BINLOG ADMIN for its unlogged session, SET sql_log_bin = 0: the copy must not become r1's own transactions).
DNSDR_GRANTS = (
    "GRANT PROCESS, RELOAD, CONNECTION ADMIN, READ_ONLY ADMIN, REPLICATION SLAVE ADMIN, SLAVE MONITOR, "
    "BINLOG MONITOR, BINLOG ADMIN ON *.* TO `dnsdr`@`%`",
    "GRANT SELECT, INSERT, DELETE, CREATE, DROP ON `dnsdr`.* TO `dnsdr`@`%`",
    "GRANT SELECT, INSERT, CREATE, DROP ON `designate`.* TO `dnsdr`@`%`",
)
# The replication account, separate: replicas stream the binlog with it, and dnsdr proves a fence with
# it (a write it attempts must be refused as read-only, so it must never hold READ_ONLY ADMIN).
REPL_GRANTS = ("GRANT REPLICATION SLAVE ON *.* TO `repl`@`%`",)


def create_accounts(paths: Paths, region: str, secrets: Secrets) -> None:
    """On the primary (binlogged, so replicas get the same accounts). Every account that connects over the
    network must use TLS; dnsdr's gets exactly DNSDR_GRANTS (its zone read once Designate's schema exists)."""
    statements = [
        ("CREATE USER IF NOT EXISTS 'dnsdr'@'%%' IDENTIFIED BY %s REQUIRE SSL", (secrets.dnsdr_db,)),
        *((g.replace("%", "%%"), ()) for g in DNSDR_GRANTS[:2]),
        ("CREATE USER IF NOT EXISTS 'repl'@'%%' IDENTIFIED BY %s REQUIRE SSL", (secrets.repl_db,)),
        *((g.replace("%", "%%"), ()) for g in REPL_GRANTS),
        ("CREATE USER IF NOT EXISTS 'designate'@'%%' IDENTIFIED BY %s REQUIRE SSL", (secrets.designate_db,)),
        ("CREATE DATABASE IF NOT EXISTS designate CHARACTER SET utf8mb4", ()),
        ("GRANT ALL PRIVILEGES ON designate.* TO 'designate'@'%%'", ()),
        # The witness's database probe logs in as this account and quits at once (adapters/probes.py):
        # no password, no privilege, so a refused login never counts toward max_connect_errors.
        (f"CREATE USER IF NOT EXISTS '{MONITOR_USER}'@'%%'", ()),
    ]
    with root(paths, region) as cur:
        for sql, args in statements:
            cur.execute(sql, args)


def grant_zone_reads(paths: Paths, region: str) -> None:
    """dnsdr's grant on Designate's schema (given once the schema exists, after its sync)."""
    with root(paths, region) as cur:
        cur.execute(DNSDR_GRANTS[2])


def start_replica(paths: Paths, replica: str, source: str, secrets: Secrets) -> None:
    """Make ``replica`` a GTID semi-sync replica of ``source``, read-only, over TLS with the source's
    certificate checked against its address (as dnsdr's repoint does)."""
    host = Addresses(source).core
    with root(paths, replica) as cur:
        cur.execute("STOP SLAVE")
        cur.execute("SET GLOBAL read_only = 1")
        cur.execute(
            "CHANGE MASTER TO MASTER_HOST=%s, MASTER_PORT=%s, MASTER_USER='repl', MASTER_PASSWORD=%s, "
            f"MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY={CONNECT_RETRY_S}, "
            f"MASTER_HEARTBEAT_PERIOD={HEARTBEAT_PERIOD_S}, "
            "MASTER_SSL=1, MASTER_SSL_CA=%s, MASTER_SSL_VERIFY_SERVER_CERT=1",
            (host, MYSQL_PORT, secrets.repl_db, str(paths.ca_cert)),
        )
        cur.execute("SET GLOBAL rpl_semi_sync_slave_enabled = 1")
        cur.execute("START SLAVE")


@dataclass(frozen=True)
class DbRole:
    region: str
    reachable: bool
    read_only: bool = False
    source_host: str | None = None
    io_running: str | None = None
    sql_running: str | None = None
    semi_sync_master: str | None = None
    semi_sync_slave: str | None = None
    gtid_current: str = ""
    last_error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def role(paths: Paths, region: str) -> DbRole:
    try:
        with root(paths, region, timeout=3) as cur:
            cur.execute("SELECT @@global.read_only AS ro, @@global.gtid_current_pos AS gtid")
            row = cur.fetchone()
            cur.execute("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_%%_status'")
            status = {r["Variable_name"]: r["Value"] for r in cur.fetchall()}
            cur.execute("SHOW SLAVE STATUS")
            slave = cur.fetchone()
    except LabError:
        return DbRole(region, reachable=False)
    return DbRole(
        region, True, read_only=bool(int(row["ro"])), gtid_current=str(row["gtid"]),
        source_host=slave["Master_Host"] if slave else None,
        io_running=slave["Slave_IO_Running"] if slave else None,
        sql_running=slave["Slave_SQL_Running"] if slave else None,
        semi_sync_master=status.get("Rpl_semi_sync_master_status"),
        semi_sync_slave=status.get("Rpl_semi_sync_slave_status"),
        last_error=(slave["Last_IO_Error"] or slave["Last_SQL_Error"]) if slave else "",
    )


def healthy_pair(paths: Paths, primary: str, replica: str) -> bool:
    """The initial roles: primary writable and not replicating; replica read-only, both threads up."""
    p, r = role(paths, primary), role(paths, replica)
    return (
        p.reachable and r.reachable and not p.read_only and p.source_host is None
        and r.read_only and r.source_host == Addresses(primary).core
        and r.io_running == "Yes" and r.sql_running == "Yes"
    )


def wait_replicating(paths: Paths, primary: str, replica: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if healthy_pair(paths, primary, replica) and role(paths, primary).semi_sync_master == "ON":
            return
        time.sleep(0.2)
    r = role(paths, replica)
    raise LabError(
        f"{replica}/mariadb",
        f"not replicating from {primary} with semi-sync within {timeout:g} s "
        f"(IO={r.io_running}, SQL={r.sql_running}, error={r.last_error or 'none'})",
    )


def query(paths: Paths, region: str, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    with root(paths, region) as cur:
        cur.execute(sql, args or None)
        return list(cur.fetchall())
