"""FenceBackend: a lost region's backend that still answers loses every zone, proven by asking it."""

from __future__ import annotations

import pytest

from dnsdr.adapters.backends.base import ZoneOutcome, ZoneStatus
from dnsdr.domain.plan import Step, failover_plan
from dnsdr.domain.serials import ExpectedZone, Observation, Target, build_report
from dnsdr.domain.spec import BackendSpec, DesignateDR
from dnsdr.engine.errors import StepFailed
from dnsdr.engine.steps import dns as dns_steps
from dnsdr.engine.steps.dns import FenceBackend
from tests.unit.engine.fakes import FakeCluster, VirtualClock, make_runtime, run_step

ZONES = tuple(ExpectedZone(id=f"id{i}", name=f"z{i}.example.", serial=100, status="ACTIVE", action="NONE",
                           pool_id="p", type="PRIMARY") for i in range(3))


class Backend:
    """r1-bind as dnsdr sees it: the zones it holds, what removing them does."""

    def __init__(self) -> None:
        self.zones = {z.name for z in ZONES}
        self.refuse: set[str] = set()
        self.removed: list[str] = []

    def remove_zones(self, backend: BackendSpec, credential: str, zones: list[str]
                     ) -> tuple[tuple[str, ...], tuple[ZoneOutcome, ...]]:
        failed = tuple(ZoneOutcome(z, ZoneStatus.FAILED, "permission denied") for z in zones if z in self.refuse)
        done = tuple(z for z in zones if z not in self.refuse)
        self.zones -= set(done)
        self.removed += done
        return done, failed

    def sweep(self, zones: list[ExpectedZone], targets: tuple[Target, ...]) -> object:
        seen = [[Observation(serial=100) if z.name in self.zones else Observation(rcode="REFUSED")
                 for z in zones] for _ in targets]  # target-major
        return build_report(zones, targets, seen)


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> Backend:
    b = Backend()
    monkeypatch.setattr(dns_steps, "read_zones", lambda *a, **k: ZONES)
    monkeypatch.setattr(dns_steps, "remove_zones", b.remove_zones)
    monkeypatch.setattr(dns_steps, "sweep", lambda zones, targets, *a: b.sweep(list(zones), targets))
    return b


def _handler(spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock) -> tuple[FenceBackend, Step]:
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2", fenced=frozenset({"r1-bind"})), cluster)
    return FenceBackend(rt, clock.context()), rt.plan.step("fence-backend-r1-bind")


def test_fencing_removes_every_zone_and_proves_none_answers(spec: DesignateDR, cluster: FakeCluster,
                                                            clock: VirtualClock, backend: Backend) -> None:
    handler, step = _handler(spec, cluster, clock)
    assert handler.check(step) == "not done in this run yet"
    assert run_step(handler, step) == "3 zones removed from r1-bind: it answers for none of the pool's zones"
    assert backend.removed == [z.name for z in ZONES] and backend.zones == set()


def test_a_zone_that_cannot_be_removed_fails_the_step(spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock,
                                                      backend: Backend) -> None:
    backend.refuse.add("z1.example.")
    handler, step = _handler(spec, cluster, clock)
    with pytest.raises(StepFailed, match=r"r1-bind: 1 zones could not be removed, e.g. z1.example.: permission denied"):
        handler.act(step)


def test_a_zone_served_again_after_the_fence_is_caught_by_the_check(spec: DesignateDR, cluster: FakeCluster,
                                                                    clock: VirtualClock, backend: Backend) -> None:
    handler, step = _handler(spec, cluster, clock)
    run_step(handler, step)
    backend.zones.add("z2.example.")  # someone (Designate's old worker?) put it back
    assert handler.check(step) == "still answers for 1 zones, e.g. z2.example."
