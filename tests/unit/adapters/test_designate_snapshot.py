"""Reading one side of a divergence: the snapshot's transaction and bounds, and the binlog scan."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pymysql
import pytest

from dnsdr.adapters.designate_db import DesignateDBError
from dnsdr.adapters.designate_snapshot import errant_writes, read_divergence, read_snapshot
from dnsdr.domain.divergence import ChangeKind
from dnsdr.domain.replication import ReplicationState
from tests.unit.adapters.scripted_db import ScriptedConnector, ScriptedDB

AT = datetime(2026, 8, 1, 12, 0, 0)
ZID, RSID = "a" * 32, "b" * 32


def zone_row(**kw: Any) -> dict[str, Any]:
    row = {"id": ZID, "name": "a.test.", "email": "h@a.test.", "ttl": 3600, "tenant_id": "p", "type": "PRIMARY",
           "action": "NONE", "deleted": "0", "created_at": AT, "updated_at": None, "deleted_at": None}
    return row | kw


def designate(rrsets: list[dict[str, Any]], records: list[dict[str, Any]], zones: list[dict[str, Any]] | None = None,
              epoch: datetime | None = None) -> ScriptedDB:
    return ScriptedDB({
        "SELECT COUNT(*) AS n FROM information_schema.TABLES": [{"n": 1 if epoch else 0}],
        "SELECT updated_at FROM dnsdr.epoch": [{"updated_at": epoch}],
        "SELECT z.id": zones if zones is not None else [zone_row()],
        "SELECT rs.id": rrsets,
        "SELECT r.id": records,
    })


RRSET = {"id": RSID, "zone_id": ZID, "name": "www.a.test.", "type": "A", "ttl": None, "created_at": AT,
         "updated_at": None}
RECORD = {"id": "c" * 32, "recordset_id": RSID, "data": "192.0.2.1", "action": "NONE", "created_at": AT,
          "updated_at": None}


def test_a_snapshot_is_read_in_one_repeatable_read_transaction_of_one_pool() -> None:
    db = designate([RRSET], [RECORD], epoch=AT)
    snap = read_snapshot(ScriptedConnector(db), "r1", "designate", "794ccc2c-d751-44fe-b57f-8894c9f5c842",
                         max_rows=10)
    statements = db.statements()
    begin = statements.index("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
    assert statements[begin - 1] == "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"
    reads = [i for i, q in enumerate(statements) if q.startswith(("SELECT z.", "SELECT rs.", "SELECT r."))]
    assert len(reads) == 3 and all(begin < i for i in reads) and statements[-1] == "ROLLBACK"
    for query, args in db.log:
        if query.startswith(("SELECT z.", "SELECT rs.", "SELECT r.")):
            assert "z.pool_id = %s" in query and args == ("794ccc2cd75144feb57f8894c9f5c842", 11)
    (zone,) = snap.zones
    (rrset,) = snap.recordsets
    assert zone.live and zone.name == "a.test." and snap.promoted_at == AT
    assert rrset.records[0].data == "192.0.2.1" and rrset.ttl is None


def test_a_snapshot_larger_than_its_bound_is_refused_not_truncated() -> None:
    db = designate([RRSET] * 3, [])
    with pytest.raises(DesignateDBError, match="more than 2 rows in recordsets"):
        read_snapshot(ScriptedConnector(db), "r1", "designate", max_rows=2)
    assert db.statements()[-1] == "ROLLBACK"


def test_a_soft_deleted_zone_reads_as_deleted_and_a_bad_schema_name_is_refused() -> None:
    db = designate([], [], zones=[zone_row(deleted=ZID)])
    assert not read_snapshot(ScriptedConnector(db), "r1", "designate").zones[0].live
    with pytest.raises(DesignateDBError, match="invalid schema name"):
        read_snapshot(ScriptedConnector(db), "r1", "designate`; DROP")


# ---------------------------------------------------------------- the binlog


def state(server_id: int, binlog_state: str, flavour: str = "mariadb") -> ReplicationState:
    return ReplicationState(endpoint="x", flavour=flavour, reachable=True, server_id=server_id,
                            gtid_binlog_state=binlog_state, gtid_binlog_pos=binlog_state,
                            gtid_current_pos=binlog_state)


OLD = state(1, "0-1-103")
NEW = state(2, "0-1-100,0-2-120")   # r2 received r1's writes up to 100, then took its own


def ev(kind: str, info: str, end: int) -> dict[str, Any]:
    return {"Log_name": "binlog", "Pos": end - 10, "Event_type": kind, "Server_id": 1, "End_log_pos": end, "Info": info}


def txn(gtid_text: str, statement: str | None, table: str, end: int) -> list[dict[str, Any]]:
    events = [ev("Gtid", f"BEGIN GTID {gtid_text}", end)]
    if statement is not None:
        events.append(ev("Annotate_rows", statement, end + 1))
    return [*events, ev("Table_map", f"table_id: 33 ({table})", end + 2),
            ev("Write_rows_v1", "table_id: 33 flags: STMT_END_F", end + 3), ev("Xid", "COMMIT /* xid=9 */", end + 4)]


def binlogs(files: dict[str, list[dict[str, Any]]]) -> ScriptedDB:
    def events(query: str, args: Any) -> list[dict[str, Any]]:
        name, pos, limit = args
        later = [e for e in files[name] if e["End_log_pos"] > pos]
        return later[:limit]
    return ScriptedDB({"SHOW BINARY LOGS": [{"Log_name": n, "File_size": 1} for n in files],
                       "SHOW BINLOG EVENTS": events})


OLDER = [ev("Gtid_list", "[]", 5), *txn("0-1-100", "INSERT INTO designate.zones VALUES ('" + "9" * 32 + "')",
                                        "designate.zones", 10)]
NEWEST = [ev("Gtid_list", "[0-1-100]", 5),
          *txn("0-1-101", "INSERT INTO recordsets (id, zone_id) VALUES ('" + RSID + "', '" + ZID + "')",
               "designate.recordsets", 20),
          *txn("0-1-102", "UPDATE service_statuses SET heartbeated_at='2026-08-01' WHERE id = '" + "d" * 32 + "'",
               "designate.service_statuses", 30),
          *txn("0-1-103", "DELETE FROM records WHERE records.id = '" + "E" * 32 + "'", "designate.records", 40)]


def test_the_rows_errant_transactions_wrote_are_read_from_the_binlog() -> None:
    db = binlogs({"binlog.000001": OLDER, "binlog.000002": NEWEST})
    split = errant_writes(ScriptedConnector(db), OLD, NEW, ("0-1-101..103",))
    assert split.touched == frozenset({RSID, ZID, "d" * 32, "e" * 32}) and split.note == ""
    assert split.tables == ("designate.records", "designate.recordsets", "designate.service_statuses")
    # The newest file's Gtid_list shows nothing errant before it: the older file is never read.
    assert all(args[0] == "binlog.000002" for q, args in db.log if q.startswith("SHOW BINLOG EVENTS"))


def test_older_files_are_read_while_errant_transactions_may_be_there() -> None:
    db = binlogs({"binlog.000001": [ev("Gtid_list", "[]", 5), *NEWEST[1:7]],
                  "binlog.000002": [ev("Gtid_list", "[0-1-101]", 5), *NEWEST[7:]]})
    split = errant_writes(ScriptedConnector(db), OLD, NEW, ("0-1-101..103",))
    assert split.touched is not None and RSID in split.touched and "e" * 32 in split.touched


@pytest.mark.parametrize(("files", "kwargs", "note"), [
    ({"binlog.000002": NEWEST[1:]}, {}, "no longer holds every errant transaction"),          # no Gtid_list: unknown
    ({"binlog.000002": [ev("Gtid_list", "[0-1-101]", 5)]}, {}, "purged"),                    # older ones are gone
    ({"binlog.000002": NEWEST}, {"max_events": 4}, "stopped after 4 events"),
    ({"binlog.000002": [ev("Gtid_list", "[0-1-100]", 5), *txn("0-1-101", None, "designate.recordsets", 20)]}, {},
     "without statement text"),
])
def test_when_the_binlog_cannot_say_it_says_why(files: dict[str, list[dict[str, Any]]], kwargs: dict[str, Any],
                                                note: str) -> None:
    split = errant_writes(ScriptedConnector(binlogs(files)), OLD, NEW, ("0-1-101..103",), **kwargs)
    assert split.touched is None and note in split.note and split.errant == ("0-1-101..103",)


def test_no_privilege_or_mysql_means_timestamps() -> None:
    denied = ScriptedDB({"SHOW BINARY LOGS": pymysql.err.OperationalError(
        1227, "Access denied; you need (at least one of) the BINLOG MONITOR privilege(s) for this operation")})
    split = errant_writes(ScriptedConnector(denied), OLD, NEW, ("0-1-101..103",))
    assert split.touched is None and "BINLOG MONITOR" in split.note and "admin-pw" not in split.note
    mysql = errant_writes(ScriptedConnector(ScriptedDB()), state(1, "", "mysql"), NEW, ("uuid:5",))
    assert "MariaDB only" in mysql.note
    assert errant_writes(ScriptedConnector(ScriptedDB()), OLD, NEW, ()).errant == ()


def test_without_errant_transactions_nothing_is_read() -> None:
    old, new = ScriptedDB(), ScriptedDB()
    same = state(1, "0-1-100")
    d = read_divergence(ScriptedConnector(old), ScriptedConnector(new), same, state(2, "0-1-100,0-2-120"),
                        "r1", "r2", "designate")
    assert not d.lost and d.method == "none" and old.log == [] and new.log == []


def test_read_divergence_compares_both_sides() -> None:
    old = designate([RRSET], [RECORD])
    old.answers.update(binlogs({"binlog.000002": NEWEST}).answers)
    new = designate([], [], epoch=datetime(2026, 8, 1, 12, 5))
    d = read_divergence(ScriptedConnector(old), ScriptedConnector(new), OLD, NEW, "r1", "r2", "designate")
    assert d.method == "binlog" and [c.kind for c in d.changes] == [ChangeKind.RECORDSET_CREATED]
