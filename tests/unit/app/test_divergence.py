"""Replaying a divergence through the primary's API: never silent, idempotent, in each zone's own project,
and proven on the serving nameservers; against a fake Designate API and fake DNS answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dnsdr.adapters.designate_api import RecordSet, Zone
from dnsdr.adapters.state import FileStateStore
from dnsdr.app import divergence as app
from dnsdr.app.divergence import ReplayNotServed, replay, wait_served
from dnsdr.app.settings import load_spec
from dnsdr.domain.divergence import Change, ChangeKind, Divergence, Value
from dnsdr.domain.errors import NeedsOperator
from dnsdr.domain.journal import ClusterRecord, Journal, Outcome, StepRecord, StepStatus
from dnsdr.domain.spec import DesignateDR
from tests.conftest import EXAMPLE

A, B = "a.test.", "b.test."
CREATED = Change(ChangeKind.RECORDSET_CREATED, A, f"lost.{A}", "A", Value(120, ("192.0.2.77",)), None, False, "p1")
CHANGED = Change(ChangeKind.RECORDSET_CHANGED, A, f"mail.{A}", "A", Value(None, ("192.0.2.26",)),
                 Value(None, ("192.0.2.25",)), False, "p1")
DELETED = Change(ChangeKind.RECORDSET_DELETED, A, f"www.{A}", "A", None, Value(None, ("192.0.2.10",)), False, "p1")
CONFLICT = Change(ChangeKind.RECORDSET_CHANGED, A, f"x.{A}", "A", Value(None, ("192.0.2.1",)),
                  Value(None, ("192.0.2.2",)), True, "p1")
ZONE_B = Change(ChangeKind.ZONE_CREATED, B, B, "", Value(600, (), "h@b.test."), None, False, "p2")
IN_B = Change(ChangeKind.RECORDSET_CREATED, B, f"www.{B}", "A", Value(None, ("192.0.2.80",)), None, False, "p2")
ZONE_GONE = Change(ChangeKind.ZONE_DELETED, "c.test.", "c.test.", "", None, Value(60, (), "h@c.test."), False, "p1")


@dataclass
class FakeDesignate:
    zones: dict[str, str] = field(default_factory=lambda: {A: "za"})
    rrsets: dict[tuple[str, str, str], RecordSet] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    projects: list[str] = field(default_factory=list)

    def client(self, endpoint: str, project: str) -> Any:
        self.projects.append(project)
        assert endpoint == "r2"  # the primary's region
        return _Client(self, project)


class _Client:
    def __init__(self, d: FakeDesignate, project: str) -> None:
        self.d, self.project = d, project

    def find_zone(self, name: str) -> Zone | None:
        zid = self.d.zones.get(name)
        return None if zid is None else Zone(zid, name, "ACTIVE", "NONE", 1, "", "", 3600, self.project, "PRIMARY")

    def create_zone(self, name: str, email: str, ttl: int | None = None) -> Zone:
        self.d.calls.append(f"{self.project} create zone {name} {email} {ttl}")
        self.d.zones[name] = "z" + name
        found = self.find_zone(name)
        assert found is not None
        return found

    def list_recordsets(self, zone_id: str, **filters: str) -> list[RecordSet]:
        return [r for (z, n, t), r in self.d.rrsets.items() if z == zone_id and n == filters["name"]
                and t == filters["type"]]

    def _set(self, zone_id: str, name: str, rtype: str, records: list[str], ttl: int | None) -> RecordSet:
        rs = RecordSet(f"id-{name}", zone_id, name, rtype, tuple(records), ttl, "ACTIVE", "NONE")
        self.d.rrsets[(zone_id, name, rtype)] = rs
        return rs

    def create_recordset(self, zone_id: str, name: str, type: str, records: list[str],
                         ttl: int | None = None) -> RecordSet:
        self.d.calls.append(f"{self.project} create {name} {records} {ttl}")
        return self._set(zone_id, name, type, records, ttl)

    def update_recordset(self, zone_id: str, rs_id: str, records: list[str], ttl: int | None) -> RecordSet:
        (key,) = [k for k, r in self.d.rrsets.items() if r.id == rs_id]
        self.d.calls.append(f"{self.project} update {key[1]} {records} {ttl}")
        return self._set(zone_id, key[1], key[2], records, ttl)

    def delete_recordset(self, zone_id: str, rs_id: str) -> RecordSet:
        (key,) = [k for k, r in self.d.rrsets.items() if r.id == rs_id]
        self.d.calls.append(f"{self.project} delete {key[1]}")
        return self.d.rrsets.pop(key)

    def close(self) -> None:
        pass


@pytest.fixture
def spec() -> DesignateDR:
    return load_spec(str(EXAMPLE))


@pytest.fixture
def store(tmp_path: Path, spec: DesignateDR) -> FileStateStore:
    s = FileStateStore(tmp_path / "state", spec.name)
    s.save_cluster(ClusterRecord(primary="r2", epoch=1, lost=["r1"]))
    return s


@pytest.fixture
def designate() -> FakeDesignate:
    d = FakeDesignate()
    api = d.client("r2", "p1")
    api.create_recordset("za", f"mail.{A}", "A", ["192.0.2.25"], None)
    api.create_recordset("za", f"www.{A}", "A", ["192.0.2.10"], None)
    d.calls.clear()
    d.projects.clear()
    return d


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch, designate: FakeDesignate) -> list[tuple[str, str, str]]:
    """Every nameserver serves what the fake API holds; the list logs each question."""
    asked: list[tuple[str, str, str]] = []

    def values(host: str, port: int, name: str, rtype: str, timeout: float = 2.0) -> frozenset[str] | None:
        asked.append((host, name, rtype))
        if rtype == "SOA":
            return frozenset({"soa"}) if name in designate.zones else frozenset()
        return frozenset(next((r.records for (_, n, t), r in designate.rrsets.items() if (n, t) == (name, rtype)),
                              ()))

    monkeypatch.setattr(app, "rrset_values", values)
    return asked


def divergence(*changes: Change) -> Divergence:
    return Divergence("r1", "r2", ("0-1-101",), "binlog", None, changes)


def test_without_yes_a_replay_only_says_what_it_would_do(spec: DesignateDR, store: FileStateStore,
                                                        designate: FakeDesignate,
                                                        dns: list[tuple[str, str, str]]) -> None:
    results = replay(spec, store, divergence(CREATED, CHANGED, DELETED, CONFLICT, ZONE_B, IN_B, ZONE_GONE), False,
                     api_factory=designate.client)
    assert [(r.change.name, r.outcome) for r in results] == [
        (B, "would create"), ("c.test.", "not replayed (zone deletions are not replayed: delete the zone by hand "
                                         "if it should go)"),
        (f"lost.{A}", "would create"), (f"mail.{A}", "would update"), (f"www.{A}", "would delete"),
        (f"x.{A}", "not replayed (conflict: the primary changed it too since the split; resolve by hand)"),
        (f"www.{B}", "would create (once its zone is created)")]
    assert designate.calls == [] and dns == [] and not any(r.done for r in results)


def test_a_replay_applies_each_change_in_its_zones_project_and_waits_until_it_is_served(
        spec: DesignateDR, store: FileStateStore, designate: FakeDesignate, dns: list[tuple[str, str, str]]) -> None:
    d = divergence(CREATED, CHANGED, DELETED, ZONE_B, IN_B)
    results = replay(spec, store, d, True, api_factory=designate.client)
    assert [r.outcome for r in results] == ["created", "created", "updated", "deleted", "created"]
    assert designate.calls == [
        "p2 create zone b.test. h@b.test. 600", f"p1 create lost.{A} ['192.0.2.77'] 120",
        f"p1 update mail.{A} ['192.0.2.26'] None", f"p1 delete www.{A}", f"p2 create www.{B} ['192.0.2.80'] None"]
    assert sorted(set(designate.projects)) == ["p1", "p2"]
    # Every surviving nameserver (r2's two; r1 is lost) was asked for every change.
    assert {h for h, _, _ in dns} == {"127.0.2.2", "127.0.2.3"}
    assert {(n, t) for _, n, t in dns} == {(B, "SOA"), (f"lost.{A}", "A"), (f"mail.{A}", "A"), (f"www.{A}", "A"),
                                            (f"www.{B}", "A")}
    designate.calls.clear()
    again = replay(spec, store, d, True, api_factory=designate.client)
    assert designate.calls == [] and [r.outcome for r in again] == [
        "already there", "already as on the returning side", "already as on the returning side", "already absent",
        "already as on the returning side"]


def test_a_replay_refuses_a_changed_primary_and_an_unfinished_run(spec: DesignateDR, store: FileStateStore,
                                                                  designate: FakeDesignate) -> None:
    moved = Divergence("r2", "r1", ("0-2-9",), "binlog", None, (CREATED,))
    with pytest.raises(NeedsOperator, match="the recorded primary is now r2, not r1"):
        replay(spec, store, moved, True, api_factory=designate.client)
    store.save_journal(Journal("run1", "rejoin", "r1", "r2", "f", 1.0, outcome=Outcome.FAILED, steps=[
        StepRecord("assess", StepStatus.DONE), StepRecord("fence-database", StepStatus.FAILED)]))
    with pytest.raises(NeedsOperator, match="an unfinished rejoin r1->r2"):
        replay(spec, store, divergence(CREATED), True, api_factory=designate.client)
    assert designate.calls == []


def test_waiting_for_the_nameservers_is_bounded_and_says_what_is_missing(
        spec: DesignateDR, store: FileStateStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app, "rrset_values", lambda *a, **k: None)  # nobody answers
    now = [0.0]

    def sleep(s: float) -> None:
        now[0] += s

    done = [app.Replayed(CREATED, "created", True)]
    with pytest.raises(ReplayNotServed, match=r"1 replayed changes not served within 5 s, e\.g\. lost\.a\.test\. A on "
                                              r"r2-pdns; run the same command again") as failed:
        wait_served(done, app.serving(spec, store)[:1], 5, clock=lambda: now[0], sleep=sleep)
    assert failed.value.args and 5 <= now[0] <= 6
