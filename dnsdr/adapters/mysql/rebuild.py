"""Rebuild a diverged server from the primary: what ``dnsdr rejoin --force discard-divergence`` does.

A returning old primary that holds transactions the primary never had cannot just replicate from it:
its rows differ (a replayed recordset has a new id there, so the primary's insert would hit the old
row's unique key and stop the SQL thread) and GTID strict mode refuses its history. Once those
writes were reviewed (``dnsdr divergence``) and replayed or knowingly given up, the server is made an
exact copy of the primary as of one consistent snapshot and positioned to replicate from there:

1. on the primary, ``START TRANSACTION WITH CONSISTENT SNAPSHOT``: MariaDB reports the binlog position
   of that snapshot (``binlog_snapshot_file``/``_position``), which ``BINLOG_GTID_POS`` turns into the
   GTID position replication must start from;
2. on the server, unlogged (``sql_log_bin = 0``) and without foreign key checks: every database but
   the system ones is dropped and recreated from the primary's definitions and rows, in batches
   (base tables only; views, routines, triggers and events are not copied, Designate has none), and
   databases the primary lacks are dropped;
3. ``RESET MASTER`` (its binlog and its errant GTIDs go) and ``gtid_slave_pos`` set to the snapshot's
   position (in that order: MariaDB refuses a slave position behind its own binlog).

The server stays read-only throughout (the admin account writes past ``read_only``, as it must to
fence). A marker row written before step 3 and dropped after it tells a run killed in between to
start again (:func:`interrupted`). MariaDB only: MySQL has no GTID position tied to a snapshot
without a backup lock; rebuild it with the clone plugin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dnsdr.adapters.mysql.connection import Connector, DatabaseError, OperationRefused, Session

SYSTEM_SCHEMAS = frozenset({"mysql", "information_schema", "performance_schema", "sys"})
MARKER = "dnsdr.rebuild_in_progress"
BATCH = 200


@dataclass(frozen=True)
class RebuildResult:
    position: str
    databases: tuple[str, ...]
    dropped: tuple[str, ...]
    rows: int

    @property
    def message(self) -> str:
        dropped = f"; dropped {', '.join(self.dropped)} (only here)" if self.dropped else ""
        return (f"copied {', '.join(self.databases)} ({self.rows} rows) from the primary's snapshot at "
                f"{self.position}{dropped}; binlog reset, replication starts at {self.position}")


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _schemas(s: Session) -> list[str]:
    rows = s.rows("SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME")
    return [str(r["name"]) for r in rows if str(r["name"]).lower() not in SYSTEM_SCHEMAS]


def _snapshot_position(src: Session) -> str:
    status = {str(r["Variable_name"]).lower(): r["Value"] for r in src.rows("SHOW STATUS LIKE 'binlog_snapshot_%'")}
    file, pos = status.get("binlog_snapshot_file"), status.get("binlog_snapshot_position")
    position = src.scalar("SELECT BINLOG_GTID_POS(%s, %s) AS p", (file, int(pos or 0))) if file else None
    if not position:
        raise DatabaseError(src.endpoint, "the primary reports no GTID position for a consistent snapshot "
                                          "(binary log off?)")
    return str(position.decode() if isinstance(position, bytes) else position)


def _columns(src: Session, schema: str, table: str) -> tuple[list[str], list[str]]:
    """(copied columns, primary key columns); generated columns are left to the server."""
    rows = src.rows("SELECT COLUMN_NAME AS name, COLUMN_KEY AS k, EXTRA AS extra FROM information_schema.COLUMNS "
                    "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION", (schema, table))
    columns = [str(r["name"]) for r in rows if "GENERATED" not in str(r["extra"] or "").upper()]
    return columns, [str(r["name"]) for r in rows if r["k"] == "PRI"]


def _page(target: str, cols: str, key: list[str], last: Any, offset: int) -> tuple[str, tuple[Any, ...]]:
    """One batch: by key ranges for a one-column primary key (an index range scan), else by offset."""
    if len(key) == 1:
        k = _quote(key[0])
        where, args = (f" WHERE {k} > %s", (last,)) if last is not None else ("", ())
        return f"SELECT {cols} FROM {target}{where} ORDER BY {k} LIMIT {BATCH}", args
    order = " ORDER BY " + ", ".join(_quote(k) for k in key) if key else ""
    return f"SELECT {cols} FROM {target}{order} LIMIT {BATCH} OFFSET {offset}", ()


def _copy_table(src: Session, dst: Session, schema: str, table: str) -> int:
    columns, key = _columns(src, schema, table)
    target = f"{_quote(schema)}.{_quote(table)}"
    cols = ", ".join(_quote(c) for c in columns)
    copied, last = 0, None
    while True:
        sql, args = _page(target, cols, key, last, copied)
        rows = src.rows(sql, args or None)
        if rows:
            values = ", ".join("(" + ", ".join(["%s"] * len(columns)) + ")" for _ in rows)
            dst.run(f"INSERT INTO {target} ({cols}) VALUES {values}", tuple(r[c] for r in rows for c in columns))
            copied += len(rows)
            last = rows[-1][key[0]] if len(key) == 1 else None
        if len(rows) < BATCH:
            return copied


def _copy_schema(src: Session, dst: Session, schema: str) -> int:
    create = src.row(f"SHOW CREATE DATABASE {_quote(schema)}")["Create Database"]
    dst.run(f"DROP DATABASE IF EXISTS {_quote(schema)}")
    dst.run(create)
    dst.run(f"USE {_quote(schema)}")
    tables = [str(r["name"]) for r in src.rows(
        "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
        "AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME", (schema,))]
    rows = 0
    for table in tables:
        dst.run(src.row(f"SHOW CREATE TABLE {_quote(schema)}.{_quote(table)}")["Create Table"])
        rows += _copy_table(src, dst, schema, table)
    return rows


def interrupted(target: Connector) -> bool:
    """A rebuild was killed between resetting the binlog and setting the replication position."""
    with target.session() as s:
        return bool(s.scalar("SELECT COUNT(*) AS n FROM information_schema.TABLES "
                             "WHERE TABLE_SCHEMA = 'dnsdr' AND TABLE_NAME = 'rebuild_in_progress'"))


def rebuild_from(target: Connector, source: Connector, flavour: str = "mariadb", *,
                 timeout: float = 900.0) -> RebuildResult:
    """Make ``target`` an exact copy of ``source`` (the primary), positioned to replicate from it."""
    if flavour != "mariadb":
        raise OperationRefused(target.endpoint, "rebuilding from the primary is implemented for MariaDB only; "
                                                "rebuild this MySQL server with the clone plugin, then rejoin")
    with source.session(read_timeout=timeout) as src, target.session(read_timeout=timeout) as dst:
        src.run("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        src.run("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        position = _snapshot_position(src)
        wanted = _schemas(src)
        dst.run("SET SESSION sql_log_bin = 0")
        dst.run("SET SESSION foreign_key_checks = 0")
        dropped = tuple(s for s in _schemas(dst) if s not in wanted)
        for schema in dropped:
            dst.run(f"DROP DATABASE {_quote(schema)}")
        rows = sum(_copy_schema(src, dst, schema) for schema in wanted)
        src.run("ROLLBACK")
        if dst.rows("SHOW ALL SLAVES STATUS"):
            dst.run("STOP ALL SLAVES")
        dst.run("CREATE DATABASE IF NOT EXISTS dnsdr")
        dst.run(f"CREATE TABLE {MARKER} (position VARCHAR(4096) NOT NULL) ENGINE=InnoDB")
        dst.run(f"INSERT INTO {MARKER} (position) VALUES (%s)", (position,))
        dst.run("RESET MASTER")
        dst.run("SET GLOBAL gtid_slave_pos = %s", (position,))
        dst.run(f"DROP TABLE {MARKER}")
    return RebuildResult(position, tuple(wanted), dropped, rows)
