"""The controller's rounds over fake databases, a fake monitor and a real file state store, in
virtual time: it fails over once when every vantage point agrees for N rounds, never on dissent,
honours pause, cool-down, back-off and the semi-sync gate, and resumes a failover it was killed in."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

from dnsdr.adapters.backends import KINDS
from dnsdr.adapters.state import LockedError
from dnsdr.app.control import Controller, acknowledge, pause, resume
from dnsdr.app.observe import Observer
from dnsdr.app.operations import NothingToDo
from dnsdr.app.settings import Settings
from dnsdr.domain.detection import MonitorView, Verdict
from dnsdr.domain.errors import IncompleteError
from dnsdr.domain.journal import ClusterRecord, Journal, Outcome, StepRecord, StepStatus
from dnsdr.domain.replication import Channel, ReplicationState, SemiSync
from dnsdr.domain.spec import DatabaseSpec, DesignateDR, SecretLookup
from dnsdr.domain.spec_parse import parse_designatedr
from dnsdr.engine.errors import Superseded
from tests.conftest import EXAMPLE

R1, R2 = "127.0.1.1", "127.0.2.1"


def automatic_spec() -> DesignateDR:
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    doc["spec"]["policy"].update({"failover": "automatic", "consecutiveFailures": 3, "cooldownSeconds": 3600})
    return parse_designatedr(doc, KINDS)


def primary(wait_point: str = "AFTER_SYNC", active: bool = True) -> ReplicationState:
    return ReplicationState(endpoint=f"{R1}:3306", flavour="mariadb", reachable=True, server_id=1,
                            gtid_strict_mode=True, gtid_binlog_pos="0-1-9", gtid_current_pos="0-1-9",
                            semi_sync=SemiSync(source_enabled=True, source_active=active, source_clients=1,
                                               wait_point=wait_point))


def replica(alive: bool = True) -> ReplicationState:
    return ReplicationState(endpoint=f"{R2}:3306", flavour="mariadb", reachable=True, server_id=2, read_only=True,
                            gtid_strict_mode=True, gtid_current_pos="0-1-9", gtid_slave_pos="0-1-9",
                            channel=Channel(source_host=R1, source_port=3306,
                                            io_running="Yes" if alive else "Connecting", sql_running="Yes"))


DOWN = ReplicationState.unreachable(f"{R1}:3306", "mariadb", "connection refused")


class World:
    def __init__(self) -> None:
        self.states = {R1: primary(), R2: replica()}
        self.monitor: dict[str, MonitorView] | None = {"r1": MonitorView("r1", False, True, ("all ok",)),
                                                       "r2": MonitorView("r2", False, True, ("all ok",))}
        self.failovers: list[str] = []
        self.fail_with: Exception | None = None
        self.now = 1000.0

    def lose_r1(self) -> None:
        self.states = {R1: DOWN, R2: replica(alive=False)}
        assert self.monitor is not None
        self.monitor["r1"] = MonitorView("r1", True, False, ("ns timeout", "api refused"))


class FakeNode:
    def __init__(self, world: World, host: str) -> None:
        self.world, self.host = world, host

    def observe(self) -> ReplicationState:
        return self.world.states[self.host]


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def controller(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Controller:
    spec = automatic_spec()

    def factory(db: DatabaseSpec, resolver: SecretLookup) -> FakeNode:
        return FakeNode(world, db.endpoint.host)

    c = Controller(spec, Settings(state_dir=tmp_path), lambda: (world.monitor, "" if world.monitor else "refused"),
                   clock=lambda: world.now, observer=Observer(spec, lambda ref: "x", factory))

    def failover(candidate: str) -> tuple[str, Journal | None]:
        if world.fail_with is not None:
            raise world.fail_with
        world.failovers.append(candidate)
        c.store.save_cluster(ClusterRecord(primary=candidate, epoch=len(world.failovers), lost=["r1"]))
        run = Journal(f"run{len(world.failovers)}", "failover", "r1", candidate, "f", world.now,
                      outcome=Outcome.SUCCEEDED, finished_at=world.now)
        return f"failover r1 -> {candidate} succeeded", run

    monkeypatch.setattr(c, "failover", failover)
    monkeypatch.setattr(c.observer, "rows", lambda states, p: ())
    return c


def rounds(c: Controller, world: World, n: int) -> list[Any]:
    out = []
    for _ in range(n):
        out.append(c.round())
        world.now += 1.0
    return out


def test_a_healthy_deployment_is_left_alone(controller: Controller, world: World) -> None:
    reports = rounds(controller, world, 5)
    assert {r.decision.verdict for r in reports} == {Verdict.HEALTHY} and world.failovers == []
    sample = controller.store.load_control().semi_sync
    assert sample is not None and sample.safe and sample.region == "r1"


def test_region_loss_agreed_for_three_rounds_fails_over_exactly_once(controller: Controller, world: World) -> None:
    rounds(controller, world, 2)
    world.lose_r1()
    reports = rounds(controller, world, 6)
    assert [r.decision.verdict for r in reports[:3]] == [Verdict.UNCERTAIN, Verdict.UNCERTAIN, Verdict.REGION_LOST]
    assert world.failovers == ["r2"]
    assert controller.store.load_control().last_auto_failover_at == 1004.0  # the third round agreeing


def test_dissent_never_fails_over(controller: Controller, world: World) -> None:
    world.lose_r1()
    world.states[R2] = replica(alive=True)  # r2 still hears r1: a partition between r3 and r1, not a loss
    reports = rounds(controller, world, 10)
    assert world.failovers == [] and {r.decision.verdict for r in reports} == {Verdict.UNCERTAIN}
    world.states[R2] = replica(alive=False)
    world.monitor = None  # the monitor is down: still uncertain
    assert world.failovers == [] and rounds(controller, world, 10)[-1].action.kind.value == "alert"


def test_a_second_loss_within_the_cool_down_waits_for_ack(controller: Controller, world: World) -> None:
    rounds(controller, world, 1)
    world.lose_r1()
    rounds(controller, world, 3)
    assert world.failovers == ["r2"]
    controller.store.save_cluster(ClusterRecord(primary="r1", epoch=1))  # say r1 came back as primary, then dies
    world.failovers.clear()
    reports = rounds(controller, world, 5)
    assert world.failovers == [] and "dnsdr ack" in reports[-1].action.reason
    acknowledge(controller.store, now=world.now)
    rounds(controller, world, 1)
    assert world.failovers == ["r2"]


def test_pause_and_resume(controller: Controller, world: World) -> None:
    rounds(controller, world, 1)
    pause(controller.store, "maintenance")
    world.lose_r1()
    reports = rounds(controller, world, 5)
    assert world.failovers == [] and "paused (maintenance)" in reports[-1].action.reason
    resume(controller.store)
    rounds(controller, world, 1)
    assert world.failovers == ["r2"]


def test_a_failed_attempt_backs_off_and_a_lease_held_elsewhere_is_not_a_failure(controller: Controller,
                                                                               world: World) -> None:
    rounds(controller, world, 1)
    world.lose_r1()
    world.fail_with = IncompleteError("promote: timed out")
    reports = rounds(controller, world, 3)
    assert reports[-1].outcome == "failover failed: promote: timed out"
    control = controller.store.load_control()
    assert control.failed_attempts == 1 and control.next_attempt_at == 1003.0 + 30
    assert "retrying in" in rounds(controller, world, 1)[0].action.reason
    world.now = 1040.0
    world.fail_with = LockedError("another dnsdr run holds the operation lease")
    assert rounds(controller, world, 1)[0].outcome.startswith("not acting: another dnsdr run")
    assert controller.store.load_control().failed_attempts == 1
    world.fail_with = Superseded("the recorded primary is now r2, not r1 as when this failover was planned")
    assert rounds(controller, world, 1)[0].outcome.startswith("not acting: the recorded primary is now r2")
    assert controller.store.load_control().failed_attempts == 1  # another actor did it: not a failed attempt


def test_semi_sync_off_before_the_loss_only_alerts(controller: Controller, world: World) -> None:
    world.states[R1] = primary(active=False)
    rounds(controller, world, 2)
    world.lose_r1()
    reports = rounds(controller, world, 5)
    assert world.failovers == []
    assert "semi-sync OFF (fell back to async)" in reports[-1].action.reason


def test_a_failover_it_was_killed_in_is_resumed_first(controller: Controller, world: World) -> None:
    controller.store.save_journal(Journal("crashed1", "failover", "r1", "r2", "f", 900.0, outcome=Outcome.RUNNING,
                                          steps=[StepRecord("promote", StepStatus.DONE)]))
    report = controller.round()
    assert world.failovers == ["r2"] and "resume the unfinished failover (run crashed1)" in report.action.reason


def test_a_live_lease_elsewhere_stops_a_failover_before_any_preparation(world: World, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    spec = automatic_spec()
    c = Controller(spec, Settings(state_dir=tmp_path), lambda: (world.monitor, ""), clock=lambda: world.now)
    prepared: list[str] = []

    def prepare(*args: Any, **kwargs: Any) -> NothingToDo:
        prepared.append("prepare")
        return NothingToDo("r2 is already the primary")
    monkeypatch.setattr("dnsdr.app.control.prepare", prepare)
    lease = c.store.acquire("dnsdr@another-host:4242:abcd", ttl=60)
    with pytest.raises(LockedError, match="another dnsdr run \\(dnsdr@another-host:4242:abcd\\) holds the operation "
                                          "lease \\(token 1\\)"):
        c.failover("r2")
    assert prepared == []  # no assessment, no preflight beside the holder's run
    c.store.release(lease)
    assert c.failover("r2") == ("r2 is already the primary", None) and prepared == ["prepare"]
    # A holder that was a process of this host and is gone (it crashed) does not hold anyone back.
    c.store.acquire(f"dnsdr@{socket.gethostname()}:999999:dead", ttl=60)
    assert c.failover("r2")[0] == "r2 is already the primary"
