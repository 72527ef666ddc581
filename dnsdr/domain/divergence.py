"""Loss and divergence in DNS terms: the Designate changes a returning region holds that the primary lacks.

After a failover that accepted possible loss (or a partition), the old primary's database may hold
commits that never reached the new one. "Errant GTIDs" say *that* something was lost; an operator
needs *what*: which zones and recordsets were created, changed or deleted on the old side after the
split, with their values, so each can be replayed through the surviving API or knowingly discarded.

:func:`compare` takes one consistent snapshot of each side's ``zones``/``recordsets``/``records``
and a :class:`Split` (what is known about the split point) and classifies every difference, in DNS
terms (zone name, recordset name and type, TTL and record values), as the old side's doing (a loss,
listed) or the primary's (it may legitimately have changed things since the failover: counted only).

Who made a difference is decided in this order:

1. **No errant transaction, no loss.** When the returning server holds no GTID the primary lacks,
   everything it has also reached the primary: every difference is the primary's (exact).
2. **Rows the errant transactions wrote** (``Split.touched``): the Designate row ids named by the
   statements of those transactions, read from the returning server's binlog. A zone, recordset or
   record whose id is among them was written on the old side after the split (exact, clock-free).
3. **Timestamps** when the binlog could not say (purged, no row annotations, MySQL): the old side
   changed an item when its ``created_at``/``updated_at`` (of the recordset or any of its records)
   is later than the split, estimated as the newest change the primary holds from before its
   promotion (the epoch record's time), or, without one, the newest change both sides hold alike.

The primary changed an item too (a *conflict*: never replayed, resolve by hand) when its own copy
changed after its promotion. Limits, stated plainly:

- Timestamps are Designate's clocks (central's ``utcnow``) compared with the database's clock for
  the promotion: skew between hosts, or a commit that became visible after a later-stamped one, can
  misattribute a change made within that margin of the split (rule 3 only).
- Zone attributes (TTL, e-mail) are compared, the serial is not (it differs by design). Which side
  changed an attribute cannot be told: every recordset change rewrites its zone's row (the serial)
  and the failover's pool update rewrites every zone on the primary. Such differences are reported
  when the old side wrote the zone after the split, and never replayed. SOA recordsets and the apex NS (Designate
  maintains both) are not compared; SECONDARY and CATALOG zones are left out (their data comes from
  elsewhere).
- Recordsets are hard-deleted: a recordset the primary deleted while the old side changed it shows
  as the old side's value against nothing (conflict when its creation predates the split).
- Only the Designate schema is compared: other tables the errant transactions wrote (service
  heartbeats, quotas, TSIG keys, pools) are named in ``tables`` but not diffed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

UNCOMPARED_TYPES = frozenset({"SOA"})
DELETING = "DELETE"  # a row action: Designate is deleting it


@dataclass(frozen=True)
class RecordRow:
    id: str
    data: str
    action: str = "NONE"
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class RecordsetRow:
    id: str
    zone_id: str
    name: str
    type: str
    ttl: int | None = None
    records: tuple[RecordRow, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ZoneRow:
    id: str
    name: str
    email: str = ""
    ttl: int | None = None
    tenant_id: str = ""
    type: str = "PRIMARY"
    action: str = "NONE"
    deleted: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deleted_at: datetime | None = None

    @property
    def live(self) -> bool:
        return not self.deleted and self.action != DELETING and self.type == "PRIMARY"


@dataclass(frozen=True)
class Snapshot:
    """One side's Designate data, read in one transaction. ``promoted_at``: its epoch record's time."""

    region: str
    zones: tuple[ZoneRow, ...] = ()
    recordsets: tuple[RecordsetRow, ...] = ()
    position: str = ""
    promoted_at: datetime | None = None


@dataclass(frozen=True)
class Split:
    """What is known about the split: errant GTID ranges and, when the binlog could say, the rows they wrote."""

    errant: tuple[str, ...] = ()
    touched: frozenset[str] | None = None
    tables: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Value:
    ttl: int | None = None
    records: tuple[str, ...] = ()  # recordsets: record data, sorted
    email: str = ""                # zones only

    def render(self, zone: bool = False) -> str:
        if zone:
            return f"email {self.email}, ttl {self.ttl}"
        ttl = "" if self.ttl is None else f" ttl {self.ttl}"
        return "[" + ", ".join(self.records) + "]" + ttl

    def to_dict(self) -> dict[str, Any]:
        return {"ttl": self.ttl, "records": list(self.records), "email": self.email}


class ChangeKind(StrEnum):
    ZONE_CREATED = "zone-created"
    ZONE_CHANGED = "zone-changed"
    ZONE_DELETED = "zone-deleted"
    RECORDSET_CREATED = "recordset-created"
    RECORDSET_CHANGED = "recordset-changed"
    RECORDSET_DELETED = "recordset-deleted"


ZONE_KINDS = frozenset({ChangeKind.ZONE_CREATED, ChangeKind.ZONE_CHANGED, ChangeKind.ZONE_DELETED})


@dataclass(frozen=True)
class Change:
    """One change the returning side made after the split that the primary lacks."""

    kind: ChangeKind
    zone: str
    name: str                     # the recordset's name (the zone's for a zone change)
    type: str                     # the recordset's type ("" for a zone change)
    old: Value | None             # on the returning side (None: absent there)
    primary: Value | None         # on the primary now (None: absent there)
    conflict: bool = False        # the primary changed it too since: never replayed
    tenant_id: str = ""
    why: str = ""

    @property
    def is_zone(self) -> bool:
        return self.kind in ZONE_KINDS

    @property
    def replayable(self) -> bool:
        """Conflicts are never replayed, nor zone deletions (too destructive to automate) or zone attribute
        changes (which side made them is not knowable, see the module docstring)."""
        return not self.conflict and self.kind not in (ChangeKind.ZONE_DELETED, ChangeKind.ZONE_CHANGED)

    @property
    def what(self) -> str:
        return self.kind.value.split("-", 1)[1] + (" (conflict: changed on the primary too)" if self.conflict else "")

    def render(self) -> str:
        subject = f"zone {self.zone}" if self.is_zone else f"zone {self.zone} recordset {self.name} {self.type}"
        old = self.old.render(self.is_zone) if self.old else "absent"
        new = self.primary.render(self.is_zone) if self.primary else "absent"
        return f"{subject} {self.what}: {old} -> on the primary: {new}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "zone": self.zone, "name": self.name, "type": self.type,
                "old": self.old.to_dict() if self.old else None,
                "primary": self.primary.to_dict() if self.primary else None,
                "conflict": self.conflict, "replayable": self.replayable, "project": self.tenant_id, "why": self.why}


@dataclass(frozen=True)
class Divergence:
    returning: str
    primary: str
    errant: tuple[str, ...] = ()
    method: str = "none"                  # none | binlog | timestamps: how changes were attributed
    split_at: datetime | None = None
    changes: tuple[Change, ...] = ()      # the losses, zones first
    primary_changes: int = 0              # differences the primary made since the split (not losses)
    tables: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def lost(self) -> bool:
        return bool(self.changes)

    def lines(self, limit: int = 20) -> list[str]:
        out = [c.render() for c in self.changes[:limit]]
        if len(self.changes) > limit:
            out.append(f"... and {len(self.changes) - limit} more (see `dnsdr divergence --region {self.returning}`)")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"returning": self.returning, "primary": self.primary, "errant": list(self.errant),
                "method": self.method, "split_at": self.split_at.isoformat() if self.split_at else None,
                "changes": [c.to_dict() for c in self.changes], "primary_changes": self.primary_changes,
                "tables": list(self.tables), "notes": list(self.notes)}


# ---------------------------------------------------------------- comparison


def _newest(times: Iterable[datetime | None]) -> datetime | None:
    known = [t for t in times if t is not None]
    return max(known) if known else None


def _live_records(rs: RecordsetRow) -> tuple[RecordRow, ...]:
    return tuple(r for r in rs.records if r.action != DELETING)


def rrset_time(rs: RecordsetRow) -> datetime | None:
    """When the recordset last changed: its row or any of its records."""
    return _newest([rs.created_at, rs.updated_at, *(t for r in rs.records for t in (r.created_at, r.updated_at))])


def rrset_ids(rs: RecordsetRow | None) -> set[str]:
    return set() if rs is None else {rs.id, *(r.id for r in rs.records)}


def rrset_value(rs: RecordsetRow) -> Value:
    return Value(rs.ttl, tuple(sorted(r.data for r in _live_records(rs))))


def zone_value(z: ZoneRow) -> Value:
    return Value(z.ttl, (), z.email)


class _Side:
    def __init__(self, snap: Snapshot) -> None:
        self.by_id = {z.id: z for z in snap.zones}
        self.live = {z.name.lower(): z for z in snap.zones if z.live}
        self.rrsets: dict[str, dict[tuple[str, str], RecordsetRow]] = {}
        live_ids = {z.id for z in self.live.values()}
        for rs in snap.recordsets:
            if rs.zone_id in live_ids and rs.type not in UNCOMPARED_TYPES and _live_records(rs):
                self.rrsets.setdefault(rs.zone_id, {})[(rs.name.lower(), rs.type)] = rs

    def zone_rrsets(self, zone: ZoneRow | None) -> dict[tuple[str, str], RecordsetRow]:
        if zone is None:
            return {}
        apex = zone.name.lower()
        return {k: v for k, v in self.rrsets.get(zone.id, {}).items() if k != (apex, "NS")}


def split_time(old: Snapshot, new: Snapshot) -> datetime | None:
    """The newest change the primary held before its promotion (else the newest change both sides hold alike)."""
    if new.promoted_at is not None:
        times = [t for rs in new.recordsets for t in (rrset_time(rs),) if t is not None and t <= new.promoted_at]
        times += [t for z in new.zones for t in (z.created_at, z.updated_at) if t is not None and t <= new.promoted_at]
        return max(times) if times else None
    olds = {rs.id: rs for rs in old.recordsets}
    alike = [rrset_time(rs) for rs in new.recordsets if olds.get(rs.id) == rs]
    old_zones = {z.id: z for z in old.zones}
    alike += [_newest([z.created_at, z.updated_at]) for z in new.zones if old_zones.get(z.id) == z]
    return _newest(alike)


class _Judge:
    """Attributes a difference to the old side (a loss) or the primary, by the rules of the module docstring."""

    def __init__(self, split: Split, split_at: datetime | None, promoted_at: datetime | None) -> None:
        self.touched = split.touched
        self.split_at = split_at
        self.boundary = promoted_at or split_at

    def _after_split(self, t: datetime | None) -> bool:
        return t is None or self.split_at is None or t > self.split_at

    def old_wrote(self, ids: set[str], old_time: datetime | None) -> str | None:
        """Why the old side wrote this item after the split, or None."""
        if self.touched is not None:
            return "written by an errant transaction (binlog)" if ids & self.touched else None
        if self._after_split(old_time):
            return f"changed at {_iso(old_time)}, after the split at {_iso(self.split_at)}"
        return None

    def old_deleted(self, ids: set[str], new_time: datetime | None) -> str | None:
        """Why the old side deleted an item the primary still has, or None."""
        if self.touched is not None:
            return "deleted by an errant transaction (binlog)" if ids & self.touched else None
        if new_time is None or self.split_at is None or new_time <= self.split_at:
            return f"present at the split ({_iso(self.split_at)}) and unchanged on the primary since"
        return None

    def new_changed(self, new_time: datetime | None) -> bool:
        return new_time is not None and self.boundary is not None and new_time > self.boundary

    def existed_at_split(self, created: datetime | None) -> bool:
        return created is not None and self.split_at is not None and created <= self.split_at


def _iso(t: datetime | None) -> str:
    return t.isoformat(sep=" ", timespec="seconds") if t else "unknown"


def _compare_rrsets(zone: ZoneRow, old: dict[tuple[str, str], RecordsetRow], new: dict[tuple[str, str], RecordsetRow],
                    judge: _Judge, primary_gone: bool, changes: list[Change]) -> int:
    """Append the old side's recordset changes in ``zone``; return how many differences are the primary's."""
    theirs = 0
    for key in sorted(set(old) | set(new)):
        o, n = old.get(key), new.get(key)
        if o is not None and n is not None and rrset_value(o) == rrset_value(n):
            continue
        name, rtype = key
        if n is None:
            assert o is not None
            why = judge.old_wrote(rrset_ids(o), rrset_time(o))
            kind = ChangeKind.RECORDSET_CREATED
            conflict = primary_gone or judge.existed_at_split(o.created_at)
        elif o is None:
            why = judge.old_deleted(rrset_ids(n), rrset_time(n))
            kind, conflict = ChangeKind.RECORDSET_DELETED, primary_gone or judge.new_changed(rrset_time(n))
        else:
            why = judge.old_wrote(rrset_ids(o) | rrset_ids(n), rrset_time(o))
            kind, conflict = ChangeKind.RECORDSET_CHANGED, primary_gone or judge.new_changed(rrset_time(n))
        if why is None:
            theirs += 1
            continue
        changes.append(Change(kind, zone.name, name, rtype, rrset_value(o) if o else None,
                              rrset_value(n) if n else None, conflict, zone.tenant_id, why))
    return theirs


def compare(old: Snapshot, new: Snapshot, split: Split) -> Divergence:
    """The Designate changes ``old`` (the returning side) holds that ``new`` (the primary) lacks."""
    notes = [split.note] if split.note else []
    if not split.errant:
        return Divergence(old.region, new.region, (), "none", None, (), 0, split.tables,
                          (*notes, f"{old.region} holds no transaction {new.region} lacks: nothing was lost"))
    at = split_time(old, new)
    judge = _Judge(split, at, new.promoted_at)
    method = "binlog" if split.touched is not None else "timestamps"
    o_side, n_side = _Side(old), _Side(new)
    zone_changes: list[Change] = []
    changes: list[Change] = []
    theirs = 0
    for name in sorted(set(o_side.live) | set(n_side.live)):
        oz, nz = o_side.live.get(name), n_side.live.get(name)
        if oz is not None and nz is None:
            theirs += _only_old(oz, o_side, n_side, judge, zone_changes, changes)
        elif nz is not None and oz is None:
            theirs += _only_new(nz, o_side, n_side, judge, zone_changes)
        elif oz is not None and nz is not None:
            if zone_value(oz) != zone_value(nz):
                why = judge.old_wrote({oz.id, nz.id}, _newest([oz.created_at, oz.updated_at]))
                if why is None:
                    theirs += 1
                else:
                    zone_changes.append(Change(ChangeKind.ZONE_CHANGED, oz.name, oz.name, "", zone_value(oz),
                                               zone_value(nz), False, oz.tenant_id, why))
            theirs += _compare_rrsets(oz, o_side.zone_rrsets(oz), n_side.zone_rrsets(nz), judge, False, changes)
    if method == "timestamps":
        notes.append(f"attributed by timestamps against the split at {_iso(at)}: changes within clock skew of it "
                     "may be misattributed")
    return Divergence(old.region, new.region, split.errant, method, at, tuple(zone_changes + changes), theirs,
                      split.tables, tuple(notes))


def _only_old(oz: ZoneRow, o_side: _Side, n_side: _Side, judge: _Judge, zone_changes: list[Change],
              changes: list[Change]) -> int:
    """A zone live on the old side only: created there after the split, or deleted on the primary since."""
    rrsets = o_side.zone_rrsets(oz)
    if oz.id not in n_side.by_id:
        why = judge.old_wrote({oz.id}, oz.created_at)
        if why is not None:
            zone_changes.append(Change(ChangeKind.ZONE_CREATED, oz.name, oz.name, "", zone_value(oz), None, False,
                                       oz.tenant_id, why))
            for (name, rtype), rs in sorted(rrsets.items()):
                changes.append(Change(ChangeKind.RECORDSET_CREATED, oz.name, name, rtype, rrset_value(rs), None,
                                      False, oz.tenant_id, why))
            return 0
        return 1
    # The primary deleted it since: what the old side changed in it meanwhile is lost, and a conflict.
    return 1 + _compare_rrsets(oz, rrsets, {}, judge, True, changes)


def _only_new(nz: ZoneRow, o_side: _Side, n_side: _Side, judge: _Judge, zone_changes: list[Change]) -> int:
    """A zone live on the primary only: created there since, or deleted on the old side after the split."""
    oz = o_side.by_id.get(nz.id)
    if oz is None:
        return 1
    # Deletion is one-way: the primary still has the zone the old side deleted, so that happened after the split.
    why = f"deleted at {_iso(_newest([oz.deleted_at, oz.updated_at]))}; the primary still has it"
    newest = _newest(rrset_time(rs) for rs in n_side.zone_rrsets(nz).values())
    zone_changes.append(Change(ChangeKind.ZONE_DELETED, nz.name, nz.name, "", None, zone_value(nz),
                               judge.new_changed(newest), nz.tenant_id, why))
    return 0


def counted(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def summary(d: Divergence) -> Sequence[str]:
    """A few lines for a report header."""
    if not d.errant:
        return [f"{d.returning} holds no transaction {d.primary} lacks: nothing was lost."]
    head = (f"{d.returning} holds transactions {d.primary} lacks: {', '.join(d.errant)}"
            + (f" (they wrote {', '.join(d.tables)})" if d.tables else ""))
    count = (f"{counted(len(d.changes), 'Designate change')} on {d.returning} never reached {d.primary}"
             if d.changes else f"no Designate change on {d.returning} is missing on {d.primary}")
    return [head, f"{count}; not losses: {counted(d.primary_changes, 'change')} {d.primary} made since the split "
                  f"(attributed by {d.method})"]
