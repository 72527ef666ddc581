"""BumpEpoch (a new epoch above every one seen, idempotent per run) and ReplicateFrom."""

from __future__ import annotations

from typing import Any

import pytest

import dnsdr.adapters.mysql
from dnsdr.adapters.mysql.epoch import EpochRecord
from dnsdr.domain.plan import failover_plan, rejoin_plan, switchover_plan
from dnsdr.domain.spec import DesignateDR, Endpoint
from dnsdr.engine.errors import StepFailed
from dnsdr.engine.steps.database import BumpEpoch, ReplicateFrom
from tests.unit.engine.fakes import RUN_ID, FakeCluster, VirtualClock, make_runtime, run_step

R2 = "127.0.2.1:3306"

# ---------------------------------------------------------------- BumpEpoch


@pytest.mark.parametrize(("in_database", "recorded", "expected"), [
    (None, 0, 1),   # the first failover ever
    (3, 5, 6),      # the state store saw a later epoch than this database (it was a replica of a lost one)
    (7, 5, 8),      # the database is ahead of the state store (a run that crashed before recording)
    (4, 4, 5),
])
def test_bump_epoch_goes_one_above_the_database_and_the_recorded_epoch(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock,
        in_database: int | None, recorded: int, expected: int) -> None:
    if in_database is not None:
        cluster["r2"].epoch = EpochRecord(in_database, "r1", "an-older-run")
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), cluster, recorded_epoch=recorded)
    ctx = clock.context()
    handler, step = BumpEpoch(rt, ctx), rt.plan.step("bump-epoch")
    assert handler.check(step) == "epoch not bumped by this run"
    assert run_step(handler, step) == f"epoch {expected}, primary r2"
    assert cluster["r2"].epoch == EpochRecord(expected, "r2", RUN_ID)
    assert ctx.epoch == expected
    assert cluster["r1"].epoch is None


def test_a_resumed_run_recognises_its_own_epoch_and_does_not_bump_twice(
        spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock) -> None:
    cluster["r2"].epoch = EpochRecord(3, "r1", "an-older-run")
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), cluster, recorded_epoch=3)
    step = rt.plan.step("bump-epoch")
    assert run_step(BumpEpoch(rt, clock.context()), step) == "epoch 4, primary r2"

    resumed = clock.context()  # a new process resuming the same run: it knows the run id, not the epoch
    assert resumed.epoch is None
    assert run_step(BumpEpoch(rt, resumed), step) == "already in effect"
    assert cluster["r2"].epoch == EpochRecord(4, "r2", RUN_ID)
    assert resumed.epoch == 4  # the check hands the epoch to the journal


def test_another_run_bumps_again(spec: DesignateDR, cluster: FakeCluster, clock: VirtualClock) -> None:
    cluster["r2"].epoch = EpochRecord(4, "r2", RUN_ID)
    rt = make_runtime(spec, failover_plan(spec, "r1", "r2"), cluster, recorded_epoch=4)
    ctx = clock.context(run_id="run-0002")
    assert run_step(BumpEpoch(rt, ctx), rt.plan.step("bump-epoch")) == "epoch 5, primary r2"
    assert cluster["r2"].epoch == EpochRecord(5, "r2", "run-0002") and ctx.epoch == 5


# ---------------------------------------------------------------- ReplicateFrom


@pytest.fixture
def promoted(cluster: FakeCluster) -> FakeCluster:
    """After a switchover's promote: r2 the writable primary, r1 fenced with the same transactions."""
    cluster["r2"].as_primary("0-1-107")
    cluster["r1"].as_primary("0-1-107")
    cluster["r1"].read_only = True
    return cluster


def test_replicate_from_needs_a_writable_source(spec: DesignateDR, cluster: FakeCluster,
                                                clock: VirtualClock) -> None:
    rt = make_runtime(spec, switchover_plan(spec, "r1", "r2"), cluster)  # r2 is still r1's replica
    with pytest.raises(StepFailed, match=r"^r2 is not a writable primary$"):
        ReplicateFrom(rt, clock.context()).precondition(rt.plan.step("replicate-r1"))
    assert cluster["r1"].calls == []


def test_replicate_from_makes_the_old_primary_a_running_read_only_replica(
        spec: DesignateDR, promoted: FakeCluster, clock: VirtualClock) -> None:
    rt = make_runtime(spec, switchover_plan(spec, "r1", "r2"), promoted)
    handler, step = ReplicateFrom(rt, clock.context()), rt.plan.step("replicate-r1")
    assert handler.check(step) == f"not replicating from {R2}"
    assert run_step(handler, step) == f"now a read-only GTID replica of {R2} from 0-1-107"
    assert promoted["r1"].calls == [f"repoint({R2}, pw:replication-password)"]  # r2's replication password
    state = promoted["r1"].observe()
    assert state.read_only and state.channel is not None
    assert (state.channel.source_host, state.channel.source_port) == ("127.0.2.1", 3306)
    assert promoted["r2"].calls == []  # the source is only observed


def test_replicate_from_is_in_effect_when_already_replicating(
        spec: DesignateDR, promoted: FakeCluster, clock: VirtualClock) -> None:
    promoted["r1"].as_replica(promoted["r2"].spec.endpoint, "0-1-107")
    rt = make_runtime(spec, rejoin_plan(spec, "r1", "r2"), promoted)
    assert run_step(ReplicateFrom(rt, clock.context()), rt.plan.step("replicate-r1")) == "already in effect"
    assert promoted["r1"].calls == []


def test_replicate_from_check_wants_the_right_source_both_threads_and_read_only(
        spec: DesignateDR, promoted: FakeCluster, clock: VirtualClock) -> None:
    rt = make_runtime(spec, rejoin_plan(spec, "r1", "r2"), promoted)
    handler, step = ReplicateFrom(rt, clock.context()), rt.plan.step("replicate-r1")
    r1 = promoted["r1"]
    r1.as_replica(Endpoint("127.0.9.9", 3306), "0-1-107")
    assert handler.check(step) == f"not replicating from {R2}"
    r1.as_replica(promoted["r2"].spec.endpoint, "0-1-107")
    r1.sql_running = "No"
    assert handler.check(step) == f"replication from {R2} not running (IO Yes, SQL No)"
    r1.sql_running, r1.read_only = "Yes", False
    missing = handler.check(step)
    assert missing is not None and R2 in missing  # a writable replica is not what the step promised
    r1.read_only = True
    assert handler.check(step) is None


def test_replicate_from_refuses_a_server_with_errant_transactions(
        spec: DesignateDR, promoted: FakeCluster, clock: VirtualClock) -> None:
    promoted["r1"].client_write("0-1-108")  # committed on r1 and never replicated to r2
    rt = make_runtime(spec, rejoin_plan(spec, "r1", "r2"), promoted)
    handler, step = ReplicateFrom(rt, clock.context()), rt.plan.step("replicate-r1")
    with pytest.raises(StepFailed, match=rf"refusing to replicate from {R2}: this server holds 1 errant "
                                         rf"transaction ranges {R2} never had: 0-1-108$"):
        handler.act(step)
    assert promoted["r1"].observe().channel is None
    assert handler.check(step) == f"not replicating from {R2}"


def test_replicate_from_fails_when_replication_does_not_start(
        spec: DesignateDR, promoted: FakeCluster, clock: VirtualClock) -> None:
    promoted["r1"].replication_starts = False
    rt = make_runtime(spec, switchover_plan(spec, "r1", "r2"), promoted)
    handler, step = ReplicateFrom(rt, clock.context()), rt.plan.step("replicate-r1")
    with pytest.raises(StepFailed, match=rf"replication from {R2} did not start: IO No 1045"):
        handler.act(step)
    assert handler.check(step) == f"replication from {R2} not running (IO No, SQL No)"


def test_replicate_from_observes_the_source_through_the_runtime(
        spec: DesignateDR, promoted: FakeCluster, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_adapter(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a database adapter was built outside the runtime's node factory")

    monkeypatch.setattr(dnsdr.adapters.mysql, "adapter_for", no_adapter)
    rt = make_runtime(spec, switchover_plan(spec, "r1", "r2"), promoted)
    assert run_step(ReplicateFrom(rt, clock.context()), rt.plan.step("replicate-r1")).startswith("now a read-only")
