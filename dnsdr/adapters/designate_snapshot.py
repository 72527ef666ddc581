"""Read both sides of a divergence from the databases themselves.

:func:`read_snapshot` reads a Designate database's zones, recordsets and records in one REPEATABLE
READ transaction (``START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY``), so a primary that keeps
taking writes is still compared as of one instant; a fenced, read-only returning server reads the
same way. Every query is bounded (``max_rows`` per table, the session's read timeout).

:func:`errant_writes` maps the returning server's errant GTIDs to Designate rows: it reads its binlog
(``SHOW BINLOG EVENTS``, newest file first, at most ``max_events`` events) and collects the row ids
named by the statements of those transactions (MariaDB's ``Annotate_rows`` events carry the
statement text of row-based transactions; Designate's ids are 32 hex digits). When that cannot be
done completely (MySQL, a purged binlog, annotations off, no privilege, the bound reached) it says
why and the comparison falls back to timestamps (see :mod:`dnsdr.domain.divergence`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from dnsdr.adapters.designate_db import DesignateDBError
from dnsdr.adapters.mysql.connection import Connector, DatabaseError, Session
from dnsdr.domain import gtid
from dnsdr.domain.divergence import Divergence, RecordRow, RecordsetRow, Snapshot, Split, ZoneRow, compare
from dnsdr.domain.replication import ReplicationState, errant_transactions

MAX_ROWS = 2_000_000   # per table: ~10k zones with 100 records each fit many times over
MAX_EVENTS = 200_000   # binlog events read to locate the errant transactions
PAGE = 2_000
_IDENT = re.compile(r"^[A-Za-z0-9_$]{1,64}$")
_ID = re.compile(r"'([0-9a-fA-F]{32})'")
_GTID = re.compile(r"GTID (\d+-\d+-\d+)")
_TABLE = re.compile(r"\(([^()]+)\)\s*$")
_DML = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes | bytearray) else ("" if v is None else str(v))


def _int(v: Any) -> int | None:
    return None if v is None else int(v)


def _time(v: Any) -> datetime | None:
    return v if isinstance(v, datetime) else None


def _queries(schema: str, pool_id: str | None) -> tuple[str, str, str, tuple[str, ...]]:
    if not _IDENT.match(schema):
        raise DesignateDBError(f"invalid schema name {schema!r}")
    pool = " AND z.pool_id = %s" if pool_id else ""
    args = (pool_id.replace("-", "").lower(),) if pool_id else ()
    live = f"z.deleted = '0' AND z.type = 'PRIMARY'{pool}"
    zones = ("SELECT z.id, z.name, z.email, z.ttl, z.tenant_id, z.type, z.action, z.deleted, z.created_at, "
             f"z.updated_at, z.deleted_at FROM `{schema}`.zones z WHERE z.type = 'PRIMARY'{pool} LIMIT %s")
    rrsets = ("SELECT rs.id, rs.zone_id, rs.name, rs.type, rs.ttl, rs.created_at, rs.updated_at "
              f"FROM `{schema}`.recordsets rs JOIN `{schema}`.zones z ON z.id = rs.zone_id WHERE {live} LIMIT %s")
    records = ("SELECT r.id, r.recordset_id, r.data, r.action, r.created_at, r.updated_at "
               f"FROM `{schema}`.records r JOIN `{schema}`.zones z ON z.id = r.zone_id WHERE {live} LIMIT %s")
    return zones, rrsets, records, args


def _bounded(s: Session, sql: str, args: tuple[Any, ...], max_rows: int, table: str) -> list[dict[str, Any]]:
    rows = s.rows(sql, (*args, max_rows + 1))
    if len(rows) > max_rows:
        raise DesignateDBError(f"{s.endpoint}: more than {max_rows} rows in {table}: too large to compare here")
    return rows


def build_snapshot(region: str, zones: Iterable[Mapping[str, Any]], rrsets: Iterable[Mapping[str, Any]],
                   records: Iterable[Mapping[str, Any]], promoted_at: datetime | None = None,
                   position: str = "") -> Snapshot:
    """Typed rows from the three queries (ids as stored: 32 hex digits)."""
    by_rrset: dict[str, list[RecordRow]] = {}
    for r in records:
        by_rrset.setdefault(_text(r["recordset_id"]), []).append(RecordRow(
            _text(r["id"]), _text(r["data"]), _text(r["action"]) or "NONE", _time(r["created_at"]),
            _time(r["updated_at"])))
    sets = tuple(RecordsetRow(
        _text(rs["id"]), _text(rs["zone_id"]), _text(rs["name"]), _text(rs["type"]), _int(rs["ttl"]),
        tuple(sorted(by_rrset.get(_text(rs["id"]), ()), key=lambda x: x.id)), _time(rs["created_at"]),
        _time(rs["updated_at"])) for rs in rrsets)
    zone_rows = tuple(ZoneRow(
        _text(z["id"]), _text(z["name"]), _text(z["email"]), _int(z["ttl"]), _text(z["tenant_id"]), _text(z["type"]),
        _text(z["action"]) or "NONE", _text(z["deleted"]) != "0", _time(z["created_at"]), _time(z["updated_at"]),
        _time(z["deleted_at"])) for z in zones)
    return Snapshot(region, zone_rows, sets, position, promoted_at)


def _promoted_at(s: Session) -> datetime | None:
    """When this server last became primary through dnsdr (its epoch record, written by the database's clock)."""
    exists = s.scalar("SELECT COUNT(*) AS n FROM information_schema.TABLES "
                      "WHERE TABLE_SCHEMA = 'dnsdr' AND TABLE_NAME = 'epoch'")
    return _time(s.scalar("SELECT updated_at FROM dnsdr.epoch WHERE id = 1")) if exists else None


def read_snapshot(connector: Connector, region: str, schema: str, pool_id: str | None = None, *,
                  max_rows: int = MAX_ROWS, timeout: float = 120.0, position: str = "") -> Snapshot:
    zones_sql, rrsets_sql, records_sql, args = _queries(schema, pool_id)
    try:
        with connector.session(read_timeout=timeout) as s:
            promoted = _promoted_at(s)
            s.run("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            s.run("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            try:
                zones = _bounded(s, zones_sql, args, max_rows, "zones")
                rrsets = _bounded(s, rrsets_sql, args, max_rows, "recordsets")
                records = _bounded(s, records_sql, args, max_rows, "records")
            finally:
                s.run("ROLLBACK")
    except DatabaseError as exc:
        raise DesignateDBError(f"cannot read Designate's data from {region} ({connector.endpoint}): {exc}") from None
    return build_snapshot(region, zones, rrsets, records, promoted, position)


# ---------------------------------------------------------------- the binlog


class _Scan:
    """The errant transactions met so far, and whether each one's row changes could be read as text."""

    def __init__(self, errant: Any) -> None:
        self.is_errant = errant
        self.ids: set[str] = set()
        self.tables: set[str] = set()
        self.found: set[str] = set()
        self.blind: set[str] = set()   # wrote rows, but no statement text: ids unknown
        self.current: str | None = None
        self.text = False
        self.events = 0

    def event(self, ev: Mapping[str, Any]) -> None:
        kind, info = _text(ev.get("Event_type")), _text(ev.get("Info"))
        if kind == "Gtid":
            m = _GTID.search(info)
            g = gtid.parse_mariadb_gtids(m.group(1))[0] if m else None
            self.current = str(g) if g is not None and self.is_errant(g) else None
            self.text = False
            if self.current:
                self.found.add(self.current)
        elif self.current is None:
            return
        elif kind == "Annotate_rows" or (kind == "Query" and _DML.match(info)):
            self.text = True
            self.ids.update(i.lower() for i in _ID.findall(info))
        elif kind == "Table_map":
            m = _TABLE.search(info)
            if m:
                self.tables.add(m.group(1))
            if not self.text:
                self.blind.add(self.current)


def _errant_predicate(source: ReplicationState) -> Any:
    p = gtid.parse_mariadb_gtids
    have = gtid.by_server(p(source.gtid_binlog_state), p(source.gtid_current_pos), p(source.gtid_slave_pos))

    def is_errant(g: gtid.MariaGtid) -> bool:
        return g.server_id != source.server_id and g.seq > have.get((g.domain, g.server_id), 0)
    return is_errant


def _scan_file(s: Session, name: str, scan: _Scan, max_events: int) -> bool | None:
    """Read one binlog file; True when older files may hold errant transactions too, None at the bound.

    Each file starts with a Gtid_list event: the newest GTID of every (domain, server) before it. Older
    files can hold errant transactions only if one of those is errant (or the list is missing).
    """
    pos, older = 4, True
    while True:
        rows = s.rows("SHOW BINLOG EVENTS IN %s FROM %s LIMIT %s", (name, pos, PAGE))
        for ev in rows:
            scan.events += 1
            if scan.events > max_events:
                return None
            if _text(ev.get("Event_type")) == "Gtid_list":
                older = any(scan.is_errant(g) for g in gtid.parse_mariadb_gtids(_text(ev.get("Info")).strip("[] ")))
            scan.event(ev)
            pos = int(ev.get("End_log_pos") or pos)
        if len(rows) < PAGE:
            return older


def errant_writes(connector: Connector, candidate: ReplicationState, source: ReplicationState,
                  errant: tuple[str, ...], *, max_events: int = MAX_EVENTS, timeout: float = 60.0) -> Split:
    """The Designate rows ``candidate``'s errant transactions wrote; ``touched`` None (with a note) if unknown."""
    if not errant:
        return Split()
    if candidate.flavour != "mariadb":
        return Split(errant, note="the binlog is read on MariaDB only: changes attributed by timestamps")
    scan = _Scan(_errant_predicate(source))
    try:
        with connector.session(read_timeout=timeout) as s:
            files = [_text(r.get("Log_name")) for r in s.rows("SHOW BINARY LOGS")]
            complete = False
            for name in reversed(files):
                older = _scan_file(s, name, scan, max_events)
                if older is None:
                    return Split(errant, None, tuple(sorted(scan.tables)),
                                 f"binlog scan stopped after {max_events} events: changes attributed by timestamps")
                if not older:
                    complete = True
                    break
    except (DatabaseError, gtid.GtidParseError) as exc:
        return Split(errant, note=f"binlog not readable ({exc}): changes attributed by timestamps")
    tables = tuple(sorted(scan.tables))
    if not complete:
        return Split(errant, None, tables, "the binlog no longer holds every errant transaction (purged): "
                                           "changes attributed by timestamps")
    if scan.blind:
        return Split(errant, None, tables, "errant transactions without statement text in the binlog "
                                           "(binlog_annotate_row_events off?): changes attributed by timestamps")
    return Split(errant, frozenset(scan.ids), tables)


def read_divergence(old: Connector, new: Connector, old_state: ReplicationState, new_state: ReplicationState,
                    returning: str, primary: str, schema: str, pool_id: str | None = None,
                    errant: tuple[str, ...] | None = None) -> Divergence:
    """Compare ``returning``'s Designate data with ``primary``'s (both states observed and reachable).

    Without errant transactions nothing can be missing on the primary, and nothing is read.
    """
    if errant is None:
        errant = errant_transactions(old_state, new_state)
    if not errant:
        return compare(Snapshot(returning), Snapshot(primary), Split())
    split = errant_writes(old, old_state, new_state, errant)
    old_snap = read_snapshot(old, returning, schema, pool_id, position=old_state.position)
    new_snap = read_snapshot(new, primary, schema, pool_id, position=new_state.position)
    return compare(old_snap, new_snap, split)
