"""VerifyClean: the last proof waits until Designate is clean, retransfers laggards, re-pushes zones
left PENDING past the grace period, and names what did not settle, all in virtual time."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dnsdr.domain.plan import failover_plan
from dnsdr.domain.serials import ExpectedZone, Observation, Target, build_report
from dnsdr.domain.spec import DesignateDR
from dnsdr.engine.errors import StepFailed
from dnsdr.engine.steps import clean as clean_steps
from dnsdr.engine.steps import dns as dns_steps
from dnsdr.engine.steps.clean import GRACE, VerifyClean, pending_since
from tests.unit.engine.fakes import WALL0, FakeCluster, VirtualClock, make_runtime, run_step


def zone(name: str, serial: int, status: str = "ACTIVE") -> ExpectedZone:
    return ExpectedZone(id=f"id-{name}", name=name, serial=serial, status=status, action="NONE" if status == "ACTIVE"
                        else "UPDATE", pool_id="p", type="PRIMARY", project_id=f"project-{name[0]}")


class Designate:
    """The zones as Designate's database shows them, the serials the targets serve, and the API's re-pushes."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.zones = {"a.example.": zone("a.example.", 10), "b.example.": zone("b.example.", 10, "PENDING")}
        self.served = {"a.example.": 10, "b.example.": 9}
        self.settles_at: float | None = None  # when a re-push makes b ACTIVE and served
        self.repushes: list[tuple[float, str]] = []
        self.clients: list[tuple[object, object]] = []  # (project_id, sudo) of each API client made
        self.retransfers: list[str] = []

    def read(self, *a: object, **k: object) -> tuple[ExpectedZone, ...]:
        if self.settles_at is not None and self.clock.clock() >= self.settles_at:
            self.zones["b.example."] = replace(self.zones["b.example."], status="ACTIVE", action="NONE")
            self.served["b.example."] = self.zones["b.example."].serial
        return tuple(self.zones.values())

    def sweep(self, zones: list[ExpectedZone], targets: tuple[Target, ...], *a: object) -> object:
        seen = [[Observation(serial=self.served[z.name]) for z in zones] for _ in targets]
        return build_report(zones, targets, seen)


class Api:
    def __init__(self, world: Designate) -> None:
        self.world = world

    def __call__(self, *a: object, **k: object) -> Api:
        self.world.clients.append((k.get("project_id"), k.get("sudo")))
        return self

    def repush_zone(self, zone_id: str) -> None:
        self.world.repushes.append((self.world.clock.clock(), zone_id))
        self.world.settles_at = self.world.clock.clock() + 3

    def close(self) -> None:
        pass


@pytest.fixture
def world(clock: VirtualClock, monkeypatch: pytest.MonkeyPatch) -> Designate:
    w = Designate(clock)
    monkeypatch.setattr(dns_steps, "read_zones", w.read)
    monkeypatch.setattr(clean_steps, "sweep", lambda zones, targets, *a: w.sweep(list(zones), targets))
    monkeypatch.setattr(clean_steps, "nudge_transfers", lambda rt, now, pairs, targets, nudged:
                        w.retransfers.extend(p.zone for p in pairs if p.cls.value == "behind"))
    monkeypatch.setattr(clean_steps, "designate_api", Api(w))
    return w


def test_a_zone_left_pending_is_re_pushed_after_the_grace_period_and_then_it_is_clean(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, world: Designate) -> None:
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), cluster)
    detail = run_step(VerifyClean(rt, clock.context()), rt.plan.step("verify-clean"))
    assert [z for _, z in world.repushes] == ["id-b.example."] and world.repushes[0][0] >= GRACE
    assert world.clients == [("project-b", True)]  # in the zone's own project: no admin role needed
    assert "b.example." in world.retransfers
    assert detail.startswith("Designate clean after ") and "2 zones ACTIVE, served by 2 targets" in detail


def test_what_does_not_settle_is_named(spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock,
                                      world: Designate, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Api, "repush_zone", lambda self, zone_id: None)  # Designate ignores the nudge
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), cluster)
    with pytest.raises(StepFailed, match=r"Designate not clean after \d+ s: 1 zones not ACTIVE "
                                         r"\(b.example. PENDING/UPDATE\); 2 copies behind"):
        VerifyClean(rt, clock.context()).act(rt.plan.step("verify-clean"))


def test_a_zone_whose_change_predates_the_grace_is_re_pushed_in_the_first_round(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, world: Designate) -> None:
    # b's pending change was made (its serial is the change's time) a minute before the step: the lost
    # region's worker held it, so waiting another grace period only delays the clean end
    old = int(WALL0) - 60
    world.zones["b.example."] = zone("b.example.", old, "PENDING")
    world.zones["a.example."] = zone("a.example.", old)
    world.served = {"a.example.": old, "b.example.": old - 1}
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), cluster)
    run_step(VerifyClean(rt, clock.context()), rt.plan.step("verify-clean"))
    assert [z for _, z in world.repushes] == ["id-b.example."] and world.repushes[0][0] < 1.0


def test_the_grace_counts_from_the_change_or_from_the_first_sighting() -> None:
    wall = 1_800_000_000.0
    assert pending_since(zone("a.", 1_799_999_990, "PENDING"), 100.0, wall) == 90.0  # changed 10 s ago
    assert pending_since(zone("a.", 1_800_000_500, "PENDING"), 100.0, wall) == 100.0  # in the future: not a time
    assert pending_since(zone("a.", 2026113001, "PENDING"), 100.0, wall) == 100.0  # a date-style serial
    assert pending_since(zone("a.", 7, "PENDING"), 100.0, wall) == 100.0  # a counter


def test_a_zone_changed_before_the_workers_were_stopped_is_re_pushed_at_once(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock, world: Designate) -> None:
    # the canary, written 5 s before apply-pools stopped the workers: the worker that pushed it died
    recent = int(WALL0) - 5
    world.zones["b.example."] = zone("b.example.", recent, "PENDING")
    world.zones["a.example."] = zone("a.example.", recent)
    world.served = {"a.example.": recent, "b.example.": recent - 1}
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), cluster)
    ctx = clock.context()
    ctx.workers_stopped_at = WALL0 - 2
    run_step(VerifyClean(rt, ctx), rt.plan.step("verify-clean"))
    assert [z for _, z in world.repushes] == ["id-b.example."] and world.repushes[0][0] < 1.0


def test_a_zone_changed_after_the_workers_were_stopped_keeps_its_grace() -> None:
    wall, stopped = 1_800_000_000.0, 1_799_999_990.0
    assert pending_since(zone("a.", 1_799_999_995, "PENDING"), 100.0, wall, stopped) == 95.0  # queued: a new worker has it
    assert pending_since(zone("a.", 1_799_999_985, "PENDING"), 100.0, wall, stopped) == 100.0 - GRACE  # orphaned
    assert pending_since(zone("a.", 1_799_999_900, "PENDING"), 100.0, wall, stopped) == 0.0  # older still: as old as it is
