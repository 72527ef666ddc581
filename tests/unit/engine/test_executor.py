"""Executor logic over in-memory step handlers: journaling, resume, idempotence, refusal.

The handlers here stand in for servers only to exercise the executor's bookkeeping; the same
executor runs against the real lab in tests/integration/engine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dnsdr.adapters.backends import KINDS
from dnsdr.adapters.state import FileStateStore as JournalStore
from dnsdr.domain.journal import Outcome, StepStatus
from dnsdr.domain.plan import Plan, Step, StepKind, failover_plan, rejoin_plan
from dnsdr.domain.safety import Refusal, Verdict
from dnsdr.domain.spec_parse import parse_designatedr
from dnsdr.engine.errors import EngineError, Refused, Skip, StepFailed, Superseded
from dnsdr.engine.executor import Executor
from tests.conftest import EXAMPLE


class World:
    """A tiny stand-in: each step kind flips one fact; actions are counted."""

    def __init__(self) -> None:
        self.facts: set[str] = set()
        self.actions: list[str] = []
        self.refuse_assess = False
        self.fail_once: set[str] = set()
        self.skip: set[str] = set()


class Handler:
    def __init__(self, world: World) -> None:
        self.world = world

    def precondition(self, step: Step) -> None:
        if step.kind is StepKind.ASSESS and self.world.refuse_assess:
            raise Refused(Verdict(refusals=(Refusal("old-primary-writable", "r1 is writable"),)))
        if step.name in self.world.skip:
            raise Skip("unreachable")

    def check(self, step: Step) -> str | None:
        if step.kind is StepKind.ASSESS:
            return None
        return None if step.name in self.world.facts else f"{step.name} not in effect"

    def act(self, step: Step) -> str:
        if step.name in self.world.fail_once:
            self.world.fail_once.discard(step.name)
            raise RuntimeError("transient failure")
        self.world.actions.append(step.name)
        self.world.facts.add(step.name)
        return "done"


@pytest.fixture
def plan() -> Plan:
    return failover_plan(parse_designatedr(yaml.safe_load(EXAMPLE.read_text()), KINDS), "r1", "r2")


def executor(plan: Plan, store: JournalStore, world: World) -> Executor:
    handler = Handler(world)
    return Executor(plan, store, {kind: handler for kind in StepKind})


def test_a_run_journals_every_step_and_records_the_new_primary(tmp_path: Path, plan: Plan) -> None:
    store, world = JournalStore(tmp_path, "x"), World()
    result = executor(plan, store, world).run()
    assert result.succeeded and not result.resumed
    assert all(s.status is StepStatus.DONE for s in result.journal.steps)
    assert world.actions.count("promote") == 1
    cluster = store.load_cluster()
    assert cluster is not None and cluster.primary == "r2" and cluster.lost == ["r1"]


def test_a_second_run_changes_nothing(tmp_path: Path, plan: Plan) -> None:
    store, world = JournalStore(tmp_path, "x"), World()
    executor(plan, store, world).run()
    before = list(world.actions)
    spec = parse_designatedr(yaml.safe_load(EXAMPLE.read_text()), KINDS)
    rejoin = rejoin_plan(spec, "r1", "r2")  # a plan whose steps are all in effect already
    world.facts |= {s.name for s in rejoin.steps}
    result = executor(rejoin, store, world).run()
    assert result.succeeded and world.actions == before
    assert all(s.detail == "already in effect" for s in result.journal.steps)


def test_a_failed_run_resumes_at_the_failed_step(tmp_path: Path, plan: Plan) -> None:
    store, world = JournalStore(tmp_path, "x"), World()
    world.fail_once.add("apply-pools")
    with pytest.raises(StepFailed):
        executor(plan, store, world).run()
    journal = store.load_journal()
    assert journal is not None and journal.outcome is Outcome.FAILED
    assert journal.record("promote").status is StepStatus.DONE
    assert journal.record("apply-pools").status is StepStatus.FAILED
    result = executor(plan, store, world).run()
    assert result.resumed and result.succeeded
    assert world.actions.count("promote") == 1 and world.actions.count("apply-pools") == 1
    assert result.journal.record("apply-pools").attempts == 2


def test_refusal_changes_nothing(tmp_path: Path, plan: Plan) -> None:
    store, world = JournalStore(tmp_path, "x"), World()
    world.refuse_assess = True
    with pytest.raises(Refused, match="r1 is writable"):
        executor(plan, store, world).run()
    assert world.actions == []
    journal = store.load_journal()
    assert journal is not None and journal.outcome is Outcome.REFUSED
    assert store.load_cluster() is None


def test_skipped_steps_are_journaled_with_their_reason(tmp_path: Path, plan: Plan) -> None:
    store, world = JournalStore(tmp_path, "x"), World()
    world.skip.add("fence-database")
    result = executor(plan, store, world).run()
    record = result.journal.record("fence-database")
    assert record.status is StepStatus.SKIPPED and record.detail == "unreachable"


def test_a_different_operation_cannot_start_over_an_unfinished_one(tmp_path: Path, plan: Plan) -> None:
    store, world = JournalStore(tmp_path, "x"), World()
    world.fail_once.add("apply-pools")
    with pytest.raises(StepFailed):
        executor(plan, store, world).run()
    spec = parse_designatedr(yaml.safe_load(EXAMPLE.read_text()), KINDS)
    other = failover_plan(spec, "r2", "r1")
    with pytest.raises(EngineError, match=r"unfinished failover r1->r2 .* at step apply-pools.*journal abandon"):
        executor(other, store, world).run()


def test_a_failed_run_that_changed_nothing_is_replaced_silently(tmp_path: Path, plan: Plan) -> None:
    store, world = JournalStore(tmp_path, "x"), World()
    spec = parse_designatedr(yaml.safe_load(EXAMPLE.read_text()), KINDS)

    class FailAssess(Handler):
        def precondition(self, step: Step) -> None:
            if step.kind is StepKind.ASSESS:
                raise StepFailed("r1 unreachable")

    with pytest.raises(StepFailed):
        Executor(plan, store, {k: FailAssess(world) for k in StepKind}).run()
    assert world.actions == []
    result = Executor(failover_plan(spec, "r2", "r1"), store, {k: Handler(world) for k in StepKind}).run()
    assert result.succeeded and not result.resumed


def test_the_journal_records_the_lease_token_and_the_spec_name(tmp_path: Path, plan: Plan) -> None:
    store, world = JournalStore(tmp_path, "x"), World()
    first = executor(plan, store, world).run().journal
    spec = parse_designatedr(yaml.safe_load(EXAMPLE.read_text()), KINDS)
    second = executor(rejoin_plan(spec, "r1", "r2"), store, world).run().journal
    assert first.lease_token == 1 and second.lease_token == 2
    assert first.spec_name == plan.spec_name


CRASHER = """
import sys, yaml
from pathlib import Path
from dnsdr.adapters.backends import KINDS
from dnsdr.adapters.state import FileStateStore as JournalStore
from dnsdr.domain.plan import failover_plan, StepKind
from dnsdr.domain.spec_parse import parse_designatedr
from dnsdr.engine.executor import Executor
from tests.unit.engine.test_executor import Handler, World
facts = Path(sys.argv[1]) / "facts"
world = World()
world.facts = set(facts.read_text().split()) if facts.exists() else set()
class Persisting(Handler):
    def act(self, step):
        out = super().act(step)
        facts.write_text(" ".join(sorted(self.world.facts)))
        with open(Path(sys.argv[1]) / "actions", "a") as f:
            f.write(step.name + "\\n")
        return out
plan = failover_plan(parse_designatedr(yaml.safe_load(open(sys.argv[2])), KINDS), "r1", "r2")
h = Persisting(world)
Executor(plan, JournalStore(Path(sys.argv[1]), "x"), {k: h for k in StepKind}).run()
"""


@pytest.mark.parametrize("moment", ["after-act", "after-done"])
def test_killed_after_each_step_then_rerun_ends_with_exactly_one_promotion(
    tmp_path: Path, plan: Plan, moment: str
) -> None:
    root = Path(__file__).resolve().parents[3]
    for step in plan.steps:
        if step.kind is StepKind.ASSESS:
            continue
        work = tmp_path / f"{moment}-{step.name}"
        work.mkdir()
        env = {"DNSDR_FAULT_CRASH": f"{moment}:{step.name}", "PYTHONPATH": str(root)}
        crashed = subprocess.run([sys.executable, "-c", CRASHER, str(work), str(EXAMPLE)], env=env, cwd=root)
        assert crashed.returncode == 137, step.name
        rerun = subprocess.run([sys.executable, "-c", CRASHER, str(work), str(EXAMPLE)],
                               env={"PYTHONPATH": str(root)}, cwd=root)
        assert rerun.returncode == 0, step.name
        actions = (work / "actions").read_text().split()
        assert actions.count("promote") == 1, (step.name, actions)
        assert sorted(actions) == sorted(set(actions)), f"{step.name}: an action ran twice: {actions}"


def test_a_plan_made_from_a_primary_that_is_no_longer_recorded_never_runs(tmp_path: Path, plan: Plan) -> None:
    store, world = JournalStore(tmp_path, "x"), World()
    late = executor(plan, store, world)  # planned r1 -> r2 at the same time as the first
    executor(plan, store, world).run()
    before = list(world.actions)
    with pytest.raises(Superseded, match="the recorded primary is now r2, not r1"):
        late.run()
    assert world.actions == before
