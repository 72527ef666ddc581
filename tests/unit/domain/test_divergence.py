"""The comparison of two Designate snapshots, with hand-built rows: who changed what after the split.

The story every test tells: zone ``a.test.`` existed before the split with ``www`` (A) and ``txt``
(TXT); the old primary (r1) kept writing after it, the new primary (r2) was promoted at PROMOTED and
took writes of its own. Only r1's writes are losses.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from dnsdr.domain.divergence import (
    Change,
    ChangeKind,
    RecordRow,
    RecordsetRow,
    Snapshot,
    Split,
    Value,
    ZoneRow,
    compare,
    split_time,
    summary,
)

T0 = datetime(2026, 8, 1, 12, 0, 0)
BEFORE = T0 - timedelta(hours=1)          # shared history
LAST_SHARED = T0 - timedelta(seconds=5)   # the last write r2 received
OLD_WRITE = T0 + timedelta(seconds=5)     # r1 after the split
PROMOTED = T0 + timedelta(seconds=30)     # r2's epoch record
NEW_WRITE = T0 + timedelta(minutes=5)     # r2 after its promotion
ERRANT = ("0-1-101..103",)

ZONE = ZoneRow("z" * 32, "a.test.", "hostmaster@a.test.", 3600, "proj", created_at=BEFORE, updated_at=LAST_SHARED)


def rs(rid: str, name: str, rtype: str, *data: str, ttl: int | None = 300, at: datetime = BEFORE,
       zone: ZoneRow = ZONE, action: str = "NONE") -> RecordsetRow:
    records = tuple(RecordRow(f"{rid}-r{i}", d, action, at, None) for i, d in enumerate(data))
    return RecordsetRow(rid, zone.id, name, rtype, ttl, records, at, None)


SOA = rs("soa", "a.test.", "SOA", "ns1.example.org. hostmaster.a.test. 1754049600 3600 600 86400 300")
APEX_NS = rs("ns", "a.test.", "NS", "ns1.example.org.")
WWW = rs("www", "www.a.test.", "A", "192.0.2.10")
TXT = rs("txt", "txt.a.test.", "TXT", '"hello"', at=LAST_SHARED)
SHARED = (SOA, APEX_NS, WWW, TXT)


def side(region: str, *recordsets: RecordsetRow, zones: tuple[ZoneRow, ...] = (ZONE,),
         promoted_at: datetime | None = None) -> Snapshot:
    return Snapshot(region, zones, recordsets, promoted_at=promoted_at)


def new_side(*recordsets: RecordsetRow, zones: tuple[ZoneRow, ...] = (ZONE,)) -> Snapshot:
    return side("r2", *recordsets, zones=zones, promoted_at=PROMOTED)


def binlog(*ids: str) -> Split:
    return Split(ERRANT, frozenset(ids), ("designate.recordsets", "designate.records"))


TIMESTAMPS = Split(ERRANT, None, (), "binlog purged")


def kinds(changes: tuple[Change, ...]) -> list[tuple[ChangeKind, str, str, bool]]:
    return [(c.kind, c.name, c.type, c.conflict) for c in changes]


# ---------------------------------------------------------------- no errant transaction, no loss


def test_without_errant_transactions_nothing_is_lost_whatever_the_rows_say() -> None:
    old = side("r1", *SHARED, rs("new", "new.a.test.", "A", "192.0.2.7", at=OLD_WRITE))
    d = compare(old, new_side(*SHARED), Split())
    assert d.changes == () and not d.lost and d.method == "none"
    assert summary(d) == ["r1 holds no transaction r2 lacks: nothing was lost."]


# ---------------------------------------------------------------- created, changed, deleted on either side


@pytest.mark.parametrize("split", [binlog("created", "www", "txt"), TIMESTAMPS], ids=["binlog", "timestamps"])
def test_the_old_sides_creates_changes_and_deletes_are_losses_with_their_values(split: Split) -> None:
    old = side("r1", SOA, APEX_NS,
               rs("created", "new.a.test.", "A", "192.0.2.7", "192.0.2.8", at=OLD_WRITE),   # created on r1
               rs("www", "www.a.test.", "A", "192.0.2.99", at=OLD_WRITE))                  # changed on r1
    # txt deleted on r1 (recordsets are hard-deleted): r2 still has it as it was at the split.
    d = compare(old, new_side(*SHARED), split)
    assert kinds(d.changes) == [
        (ChangeKind.RECORDSET_CREATED, "new.a.test.", "A", False),
        (ChangeKind.RECORDSET_DELETED, "txt.a.test.", "TXT", False),
        (ChangeKind.RECORDSET_CHANGED, "www.a.test.", "A", False),
    ]
    created, deleted, changed = d.changes
    assert created.old == Value(300, ("192.0.2.7", "192.0.2.8")) and created.primary is None
    assert deleted.old is None and deleted.primary == Value(300, ('"hello"',))
    assert changed.old == Value(300, ("192.0.2.99",)) and changed.primary == Value(300, ("192.0.2.10",))
    assert changed.render() == ("zone a.test. recordset www.a.test. A changed: [192.0.2.99] ttl 300 "
                                "-> on the primary: [192.0.2.10] ttl 300")
    assert all(c.replayable and c.tenant_id == "proj" for c in d.changes)
    assert d.primary_changes == 0 and d.split_at == LAST_SHARED


@pytest.mark.parametrize("split", [binlog(), TIMESTAMPS], ids=["binlog", "timestamps"])
def test_the_primarys_own_creates_changes_and_deletes_are_not_losses(split: Split) -> None:
    new = new_side(SOA, APEX_NS,
                   rs("p-new", "p.a.test.", "A", "192.0.2.50", at=NEW_WRITE),          # created on r2
                   rs("www", "www.a.test.", "A", "192.0.2.51", at=NEW_WRITE))          # changed on r2
    # txt deleted on r2 since its promotion.
    d = compare(side("r1", *SHARED), new, split)
    assert d.changes == () and d.primary_changes == 3
    assert summary(d)[1].startswith("no Designate change on r1 is missing on r2; not losses: 3 changes r2 made since")


def test_a_recordset_changed_on_both_sides_is_a_conflict_never_replayed() -> None:
    old = side("r1", *SHARED[:2], rs("www", "www.a.test.", "A", "192.0.2.99", at=OLD_WRITE), TXT)
    new = new_side(*SHARED[:2], rs("www", "www.a.test.", "A", "192.0.2.51", at=NEW_WRITE), TXT)
    (change,) = compare(old, new, binlog("www")).changes
    assert change.kind is ChangeKind.RECORDSET_CHANGED and change.conflict and not change.replayable
    assert change.what == "changed (conflict: changed on the primary too)"


def test_the_binlog_decides_where_timestamps_would_mislead() -> None:
    # r1's clock runs an hour slow: by timestamps its write looks older than the split; the binlog knows.
    old = side("r1", *SHARED[:2], rs("www", "www.a.test.", "A", "192.0.2.99", at=BEFORE), TXT)
    assert compare(old, new_side(*SHARED), binlog("www")).changes[0].kind is ChangeKind.RECORDSET_CHANGED
    assert compare(old, new_side(*SHARED), TIMESTAMPS).changes == ()


def test_a_record_removed_from_a_recordset_by_the_old_side_is_a_change() -> None:
    two = rs("www", "www.a.test.", "A", "192.0.2.10", "192.0.2.11")
    one = replace(two, records=two.records[:1], updated_at=OLD_WRITE)
    (change,) = compare(side("r1", one), new_side(two), binlog("www-r1")).changes  # the DELETE named the record
    assert change.old == Value(300, ("192.0.2.10",)) and change.primary == Value(300, ("192.0.2.10", "192.0.2.11"))


def test_a_ttl_change_is_a_change_and_record_order_is_not() -> None:
    a = rs("m", "m.a.test.", "MX", "10 mx1.a.test.", "20 mx2.a.test.")
    b = replace(a, records=tuple(reversed(a.records)))
    assert compare(side("r1", a), new_side(b), binlog("m")).changes == ()
    c = replace(a, ttl=60, updated_at=OLD_WRITE)
    (change,) = compare(side("r1", c), new_side(a), binlog("m")).changes
    assert change.old == Value(60, ("10 mx1.a.test.", "20 mx2.a.test.")) and change.primary is not None


def test_records_being_deleted_soa_and_apex_ns_are_not_compared() -> None:
    soa_later = rs("soa", "a.test.", "SOA", "ns1.example.org. hostmaster.a.test. 1754053200 3600 600 86400 300",
                   at=OLD_WRITE)
    ns_other = rs("ns", "a.test.", "NS", "ns9.example.org.", at=OLD_WRITE)
    deleting = rs("www", "www.a.test.", "A", "192.0.2.10", action="DELETE", at=OLD_WRITE)
    # r1: SOA serial bumped, apex NS differs, www's only record pending deletion (it is gone there).
    d = compare(side("r1", soa_later, ns_other, deleting, TXT), new_side(*SHARED), binlog("soa", "ns", "www"))
    assert kinds(d.changes) == [(ChangeKind.RECORDSET_DELETED, "www.a.test.", "A", False)]


# ---------------------------------------------------------------- zones


NEWZ = ZoneRow("n" * 32, "b.test.", "hostmaster@b.test.", 600, "proj2", created_at=OLD_WRITE, updated_at=OLD_WRITE)


@pytest.mark.parametrize("split", [binlog("n" * 32), TIMESTAMPS], ids=["binlog", "timestamps"])
def test_a_zone_created_on_the_old_side_only_comes_with_its_recordsets(split: Split) -> None:
    records = (rs("bsoa", "b.test.", "SOA", "x", zone=NEWZ, at=OLD_WRITE),
               rs("bns", "b.test.", "NS", "ns1.example.org.", zone=NEWZ, at=OLD_WRITE),
               rs("bwww", "www.b.test.", "A", "192.0.2.80", zone=NEWZ, at=OLD_WRITE))
    d = compare(side("r1", *SHARED, *records, zones=(ZONE, NEWZ)), new_side(*SHARED), split)
    assert kinds(d.changes) == [(ChangeKind.ZONE_CREATED, "b.test.", "", False),
                                (ChangeKind.RECORDSET_CREATED, "www.b.test.", "A", False)]
    zone, www = d.changes
    assert zone.old == Value(600, (), "hostmaster@b.test.") and zone.tenant_id == "proj2" and zone.replayable
    assert zone.render() == "zone b.test. created: email hostmaster@b.test., ttl 600 -> on the primary: absent"
    assert www.old == Value(300, ("192.0.2.80",))


def test_a_zone_created_on_the_primary_only_is_its_own() -> None:
    theirs = replace(NEWZ, created_at=NEW_WRITE, updated_at=NEW_WRITE)
    d = compare(side("r1", *SHARED), new_side(*SHARED, zones=(ZONE, theirs)), binlog())
    assert d.changes == () and d.primary_changes == 1


def test_a_zone_soft_deleted_on_the_old_side_is_reported_never_replayed() -> None:
    gone = replace(ZONE, deleted=True, action="NONE", deleted_at=OLD_WRITE, updated_at=OLD_WRITE)
    d = compare(side("r1", zones=(gone,)), new_side(*SHARED), binlog(ZONE.id))
    (change,) = d.changes
    assert change.kind is ChangeKind.ZONE_DELETED and not change.replayable and not change.conflict
    assert change.old is None and change.primary == Value(3600, (), "hostmaster@a.test.")
    # Pending deletion (action DELETE) counts as deleted on that side too.
    deleting = replace(ZONE, action="DELETE", updated_at=OLD_WRITE)
    assert [c.kind for c in compare(side("r1", *SHARED, zones=(deleting,)), new_side(*SHARED), binlog()).changes] \
        == [ChangeKind.ZONE_DELETED]


def test_a_zone_soft_deleted_on_the_primary_is_its_own_unless_the_old_side_changed_it_meanwhile() -> None:
    gone = replace(ZONE, deleted=True, deleted_at=NEW_WRITE, updated_at=NEW_WRITE)
    assert compare(side("r1", *SHARED), new_side(zones=(gone,)), binlog()).changes == ()
    changed = rs("www", "www.a.test.", "A", "192.0.2.99", at=OLD_WRITE)
    (change,) = compare(side("r1", *SHARED[:2], changed, TXT), new_side(zones=(gone,)), binlog("www")).changes
    assert change.kind is ChangeKind.RECORDSET_CREATED and change.conflict  # against a zone that is gone


def test_zone_attributes_changed_on_the_old_side_are_reported_not_replayed() -> None:
    ttl = replace(ZONE, ttl=300, updated_at=OLD_WRITE)
    (change,) = compare(side("r1", *SHARED, zones=(ttl,)), new_side(*SHARED), binlog(ZONE.id)).changes
    assert change.kind is ChangeKind.ZONE_CHANGED and not change.replayable
    assert change.old == Value(300, (), "hostmaster@a.test.") and change.primary == Value(3600, (), "hostmaster@a.test.")


def test_secondary_zones_are_left_out() -> None:
    secondary = replace(NEWZ, type="SECONDARY")
    records = (rs("bwww", "www.b.test.", "A", "192.0.2.80", zone=secondary, at=OLD_WRITE),)
    assert compare(side("r1", *SHARED, *records, zones=(ZONE, secondary)), new_side(*SHARED),
                   binlog("n" * 32, "bwww")).changes == ()


# ---------------------------------------------------------------- the split time


def test_the_split_is_the_newest_change_the_primary_received_before_its_promotion() -> None:
    after = rs("p-new", "p.a.test.", "A", "192.0.2.50", at=NEW_WRITE)
    assert split_time(side("r1"), new_side(*SHARED, after)) == LAST_SHARED
    # Without an epoch record: the newest change both sides hold alike.
    touched = (replace(ZONE, updated_at=NEW_WRITE),)
    assert split_time(side("r1", *SHARED), side("r2", SOA, APEX_NS, WWW, after, zones=touched)) == BEFORE


def test_without_a_split_time_every_difference_on_the_old_side_is_reported() -> None:
    old = side("r1", rs("created", "new.a.test.", "A", "192.0.2.7", at=OLD_WRITE))
    d = compare(old, side("r2", zones=(replace(ZONE, updated_at=NEW_WRITE),)), TIMESTAMPS)
    assert [c.kind for c in d.changes] == [ChangeKind.RECORDSET_CREATED] and d.split_at is None
    assert any("attributed by timestamps" in n for n in d.notes) and "binlog purged" in d.notes


def test_the_report_renders_to_json_and_bounded_lines() -> None:
    old = side("r1", SOA, *(rs(f"c{i}", f"n{i}.a.test.", "A", f"192.0.2.{i}", at=OLD_WRITE) for i in range(25)))
    d = compare(old, new_side(SOA), TIMESTAMPS)
    assert len(d.changes) == 25
    lines = d.lines(limit=20)
    assert len(lines) == 21 and lines[-1] == "... and 5 more (see `dnsdr divergence --region r1`)"
    doc = d.to_dict()
    assert doc["method"] == "timestamps" and doc["errant"] == list(ERRANT)
    assert doc["changes"][0] == {"kind": "recordset-created", "zone": "a.test.", "name": "n0.a.test.", "type": "A",
                                 "old": {"ttl": 300, "records": ["192.0.2.0"], "email": ""}, "primary": None,
                                 "conflict": False, "replayable": True, "project": "proj",
                                 "why": f"changed at {OLD_WRITE.isoformat(sep=' ')}, after the split at "
                                        f"{LAST_SHARED.isoformat(sep=' ')}"}
