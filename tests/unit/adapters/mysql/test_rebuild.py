"""Rebuilding a diverged server from the primary: what is copied, unlogged, and the order that keeps it safe."""

from __future__ import annotations

from typing import Any

import pytest

from dnsdr.adapters.mysql.connection import DatabaseError, OperationRefused
from dnsdr.adapters.mysql.rebuild import BATCH, interrupted, rebuild_from
from tests.unit.adapters.scripted_db import ScriptedConnector, ScriptedDB

ROWS = [{"id": f"{i:032x}", "name": f"n{i}"} for i in range(2 * BATCH + 50)]


def source() -> ScriptedDB:
    def page(query: str, args: Any) -> list[dict[str, Any]]:
        after = args[0] if args else ""
        return [r for r in ROWS if r["id"] > after][:BATCH]

    return ScriptedDB({
        "SHOW STATUS LIKE 'binlog_snapshot_%'": [{"Variable_name": "Binlog_snapshot_file", "Value": "binlog.000007"},
                                                 {"Variable_name": "Binlog_snapshot_position", "Value": "4711"}],
        "SELECT BINLOG_GTID_POS": [{"p": "0-2-150"}],
        "SELECT SCHEMA_NAME": [{"name": n} for n in ("designate", "dnsdr", "information_schema", "mysql",
                                                     "performance_schema", "sys")],
        "SHOW CREATE DATABASE `designate`": [{"Create Database": "CREATE DATABASE `designate` /* utf8mb4 */"}],
        "SHOW CREATE DATABASE `dnsdr`": [{"Create Database": "CREATE DATABASE `dnsdr`"}],
        "SELECT TABLE_NAME AS name": lambda q, a: [{"name": "recordsets"}] if a == ("designate",) else [],
        "SHOW CREATE TABLE": [{"Create Table": "CREATE TABLE `recordsets` (`id` char(32) NOT NULL, PRIMARY KEY (`id`))"}],
        "SELECT COLUMN_NAME": [{"name": "id", "k": "PRI", "extra": ""}, {"name": "name", "k": "", "extra": ""},
                               {"name": "rev", "k": "", "extra": "VIRTUAL GENERATED"}],
        "SELECT `id`, `name` FROM `designate`.`recordsets`": page,
    })


def target() -> ScriptedDB:
    return ScriptedDB({
        "SELECT SCHEMA_NAME": [{"name": n} for n in ("designate", "dnsdr", "scratch", "mysql")],
        "SHOW ALL SLAVES STATUS": [],
    })


def test_a_rebuild_copies_every_database_unlogged_then_resets_the_binlog_and_positions_replication() -> None:
    src, dst = source(), target()
    result = rebuild_from(ScriptedConnector(dst, "127.0.1.1"), ScriptedConnector(src, "127.0.2.1"))
    assert result.position == "0-2-150" and result.databases == ("designate", "dnsdr")
    assert result.dropped == ("scratch",) and result.rows == len(ROWS)
    assert "copied designate, dnsdr (450 rows)" in result.message and "starts at 0-2-150" in result.message
    s = src.statements()
    assert s[:2] == ["SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
                     "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"] and s[-1] == "ROLLBACK"
    assert ("SELECT BINLOG_GTID_POS(%s, %s) AS p", ("binlog.000007", 4711)) in src.log
    d = dst.statements()
    assert d[:3] == ["SET SESSION sql_log_bin = 0", "SET SESSION foreign_key_checks = 0", "SELECT SCHEMA_NAME AS name "
                     "FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME"]
    assert "DROP DATABASE `scratch`" in d and "DROP DATABASE IF EXISTS `designate`" in d
    inserts = [(q, a) for q, a in dst.log if q.startswith("INSERT INTO `designate`.`recordsets`")]
    assert [len(a) // 2 for _, a in inserts] == [BATCH, BATCH, 50]  # generated columns are left out
    assert inserts[0][0].startswith("INSERT INTO `designate`.`recordsets` (`id`, `name`) VALUES (%s, %s), (%s, %s)")
    tail = d[d.index("RESET MASTER") - 3:]
    assert tail == ["CREATE DATABASE IF NOT EXISTS dnsdr",
                    "CREATE TABLE dnsdr.rebuild_in_progress (position VARCHAR(4096) NOT NULL) ENGINE=InnoDB",
                    "INSERT INTO dnsdr.rebuild_in_progress (position) VALUES (%s)",
                    "RESET MASTER", "SET GLOBAL gtid_slave_pos = %s", "DROP TABLE dnsdr.rebuild_in_progress"]


def test_replication_threads_are_stopped_before_the_reset() -> None:
    dst = target()
    dst.answers["SHOW ALL SLAVES STATUS"] = [{"Connection_name": "", "Slave_IO_Running": "Yes"}]
    rebuild_from(ScriptedConnector(dst), ScriptedConnector(source()))
    d = dst.statements()
    assert d.index("STOP ALL SLAVES") < d.index("RESET MASTER")


def test_a_marker_left_behind_says_the_rebuild_was_interrupted() -> None:
    db = ScriptedDB({"SELECT COUNT(*) AS n FROM information_schema.TABLES": [{"n": 1}]})
    assert interrupted(ScriptedConnector(db))
    assert "TABLE_NAME = 'rebuild_in_progress'" in db.statements()[0]
    assert not interrupted(ScriptedConnector(ScriptedDB({"SELECT COUNT(*)": [{"n": 0}]})))


def test_mysql_and_a_primary_without_binlog_are_refused_before_any_change() -> None:
    dst = target()
    with pytest.raises(OperationRefused, match="clone plugin"):
        rebuild_from(ScriptedConnector(dst), ScriptedConnector(source()), "mysql")
    src = source()
    src.answers["SELECT BINLOG_GTID_POS"] = [{"p": None}]
    with pytest.raises(DatabaseError, match="no GTID position"):
        rebuild_from(ScriptedConnector(dst), ScriptedConnector(src))
    assert dst.log == []
