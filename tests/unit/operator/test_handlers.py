"""The kopf handlers called as plain functions (kopf's decorators return them unchanged), over a fake API and a fake
controller: errors map to kopf's once, create/update render the pools Secrets, the daemon runs rounds that write
status, Events and metrics and apply annotation requests once, and the liveness probe fails on a stalled loop."""

from __future__ import annotations

import asyncio
import copy
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import kopf
import pytest
import yaml

from dnsdr.adapters.kube_secrets import SecretUnavailable
from dnsdr.adapters.state import FileStateStore, StateStore
from dnsdr.app.control import MonitorSource, RoundReport, policy_of
from dnsdr.app.observe import SerialSummary
from dnsdr.app.operations import ProgressSink
from dnsdr.app.settings import Settings
from dnsdr.domain.automation import Action, ActionKind
from dnsdr.domain.detection import Decision, Verdict
from dnsdr.domain.errors import InvalidInput, RetryLater
from dnsdr.domain.journal import ClusterRecord, Journal, Outcome, StepRecord, StepStatus
from dnsdr.domain.plan import Step, StepKind
from dnsdr.domain.spec import DesignateDR, SecretLookup, SecretRef
from dnsdr.operator import handlers
from dnsdr.operator.actions import OperatorContext, RoundThread, Watch, run_rounds
from dnsdr.operator.status import Event
from tests.conftest import EXAMPLE
from tests.support.waiting import eventually

LOG = logging.getLogger("test")


class FakeObjects:
    def __init__(self) -> None:
        self.status: dict[str, Any] = {}
        self.patches: list[dict[str, Any]] = []
        self.secrets: dict[str, dict[str, Any]] = {}

    def patch_status(self, group: str, version: str, plural: str, namespace: str, name: str,
                     status: dict[str, Any]) -> None:
        self.patches.append(status)
        self.status.update({k: v for k, v in status.items()})

    def apply_secret(self, body: dict[str, Any], digest_key: str) -> bool:
        name = body["metadata"]["name"]
        old = self.secrets.get(name)
        if old is not None and old["metadata"]["annotations"][digest_key] == body["metadata"]["annotations"][digest_key]:
            return False
        self.secrets[name] = body
        return True


class FakeController:
    """Rounds scripted by the test; a failover run writes the cluster record and reports its steps."""

    def __init__(self, store: StateStore, spec: DesignateDR, on_step: ProgressSink) -> None:
        self.store, self.spec, self.on_step = store, spec, on_step
        self.policy = policy_of(spec)
        self.observer = self
        self.verdicts: list[Verdict] = []
        self.closed = False

    def serials(self, primary: str) -> SerialSummary:
        return SerialSummary(primary, 2, True, {"r1-pdns": {"in_sync": 2}})

    def round(self) -> RoundReport:
        verdict = self.verdicts.pop(0) if self.verdicts else Verdict.HEALTHY
        cluster = self.store.load_cluster()
        run, outcome, action = None, "", Action(ActionKind.NONE, verdict.value)
        if verdict is Verdict.REGION_LOST:
            action = Action(ActionKind.FAILOVER, "r1 is lost")
            record = StepRecord("promote", StepStatus.STARTED, 10.0, None, 1)
            self.on_step("start", Step("promote", StepKind.PROMOTE, "r2", "database", "writable"), record)
            record.status, record.finished_at, record.detail = StepStatus.DONE, 11.0, "r2 writable"
            self.on_step("done", Step("promote", StepKind.PROMOTE, "r2", "database", "writable"), record)
            run = Journal("run1", "failover", "r1", "r2", "f", 10.0, steps=[record], outcome=Outcome.SUCCEEDED,
                          finished_at=12.0, epoch=1)
            self.store.save_journal(run)
            self.store.save_cluster(cluster := ClusterRecord("r2", 1, ["r1"], "run1"))
            outcome = "failover r1 -> r2 succeeded (run run1, epoch 1)"
        primary = cluster.primary if cluster else "r1"
        return RoundReport(1000.0, primary, "r1" if primary == "r2" else "r2",
                           Decision(verdict, "r1", (f"{verdict.value} evidence",), 0, 1000.0), action, outcome,
                           control=self.store.load_control(), epoch=cluster.epoch if cluster else None, run=run)

    def close(self) -> None:
        self.closed = True


class FakeContext(OperatorContext):
    def __init__(self, tmp: Path) -> None:
        super().__init__(api=cast(Any, None), objects=cast(Any, FakeObjects()), clock=lambda: 1000.0)
        self.tmp = tmp
        self.controllers: list[FakeController] = []
        self.lookup: SecretLookup = lambda ref: f"value-of-{ref.secret_key}"

    @property
    def fake(self) -> FakeObjects:
        return cast(FakeObjects, self.objects)

    def secrets(self, namespace: str) -> Any:
        return self.lookup

    def settings(self, namespace: str, lookup: SecretLookup) -> Settings:
        return Settings(state_dir=self.tmp / namespace, lookup=lookup)

    def controller(self, spec: DesignateDR, settings: Settings, monitor: MonitorSource,
                   on_step: ProgressSink) -> Any:
        made = FakeController(settings.store(spec), spec, on_step)
        self.controllers.append(made)
        return made


@pytest.fixture
def ctx(tmp_path: Path) -> FakeContext:
    return FakeContext(tmp_path)


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[Event]:
    posted: list[Event] = []
    monkeypatch.setattr(handlers, "post", lambda body, event: posted.append(event))
    return posted


def body(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = copy.deepcopy(yaml.safe_load(EXAMPLE.read_text()))
    doc["metadata"].update(uid="u-1", generation=1, annotations=changes.pop("annotations", {}))
    doc["spec"].update(changes)
    doc["status"] = {}
    return doc


def test_errors_are_mapped_to_kopf_once() -> None:
    temporary = handlers.kopf_error(RetryLater("the API server did not answer"))
    assert isinstance(temporary, kopf.TemporaryError) and temporary.delay == handlers.RETRY_DELAY
    assert isinstance(handlers.kopf_error(SecretUnavailable("403")), kopf.TemporaryError)
    permanent = handlers.kopf_error(InvalidInput("spec.regions: duplicate region name 'r1'"))
    assert isinstance(permanent, kopf.PermanentError) and str(permanent) == "spec.regions: duplicate region name 'r1'"


def test_create_renders_each_regions_pools(ctx: FakeContext, events: list[Event]) -> None:
    handlers.reconcile(body=cast(Any, body()), memo=kopf.Memo(context=ctx))
    assert sorted(ctx.fake.secrets) == ["dnsdr-example-pools-r1", "dnsdr-example-pools-r2"]
    r1 = ctx.fake.secrets["dnsdr-example-pools-r1"]["stringData"]["pools.yaml"]
    assert "value-of-r1-pdns-api-key" in r1  # real credentials: this is what Designate applies
    assert [e.reason for e in events] == ["PoolsRendered"]
    handlers.reconcile(body=cast(Any, body()), memo=kopf.Memo(context=ctx))  # unchanged: nothing written
    assert len(events) == 1


def test_an_invalid_spec_fails_permanently_with_every_problem(ctx: FakeContext, events: list[Event]) -> None:
    with pytest.raises(kopf.PermanentError, match=r"is not a valid DesignateDR \(1 problems\): spec.primaryRegion: "
                                                  "region 'r3' holds no database"):
        handlers.reconcile(body=cast(Any, body(primaryRegion="r3")), memo=kopf.Memo(context=ctx))


def test_a_credential_secret_not_readable_now_is_retried(ctx: FakeContext, events: list[Event]) -> None:
    def refused(ref: SecretRef) -> str:
        raise SecretUnavailable("cannot read secret dnsdr-credentials: 403 Forbidden")
    ctx.lookup = refused
    with pytest.raises(kopf.TemporaryError, match="403 Forbidden"):
        handlers.reconcile(body=cast(Any, body()), memo=kopf.Memo(context=ctx))


class Stopper:
    """The round loop's stop event, set after ``rounds`` waits (``between`` runs at each)."""

    def __init__(self, rounds: int, between: Callable[[int], None] = lambda i: None) -> None:
        self.left, self.done, self.between = rounds, 0, between

    def is_set(self) -> bool:
        return self.left <= 0

    def wait(self, timeout: float | None = None) -> bool:
        self.left -= 1
        self.done += 1
        self.between(self.done)
        return self.is_set()


def _daemon(ctx: FakeContext, the_body: dict[str, Any], stopped: Stopper) -> None:
    """The daemon's loop, run in the test's thread (the kopf daemon runs it in a thread of its own)."""
    one = Watch(ctx, sink=lambda event: handlers.post(the_body, event))
    ctx.watches[("designate", "example")] = one
    try:
        run_rounds(one, the_body, cast(Any, stopped), LOG)
    finally:
        one.close()
        ctx.watches.clear()


def test_the_daemon_fails_over_and_tells_the_story(ctx: FakeContext, events: list[Event]) -> None:
    the_body = body(policy={"failover": "automatic"})

    def script(done: int) -> None:  # what the live body would show after each round
        the_body["status"] = copy.deepcopy(ctx.fake.status)
    ctx.interval = 0.0
    stopped = Stopper(3, script)
    original = ctx.controller

    def scripted(*args: Any) -> Any:
        made = original(*args)
        made.verdicts = [Verdict.HEALTHY, Verdict.UNCERTAIN, Verdict.REGION_LOST]
        return made
    ctx.controller = scripted  # type: ignore[method-assign]
    _daemon(ctx, the_body, stopped)
    status = ctx.fake.status
    assert (status["primary"], status["epoch"], status["health"]) == ("r2", 1, "region-lost")
    assert status["lastOperation"]["outcome"] == "succeeded"
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conditions["FailoverInProgress"] == ("False", "Succeeded")
    assert conditions["Paused"] == ("False", "Automatic")
    assert [p["worldState"] for p in status["pools"]] == ["primary=r1 lost=r2", "primary=r2 lost=r1"]
    assert [(e.reason, e.message.split(":")[0]) for e in events] == [
        ("PoolsRendered", "wrote dnsdr-example-pools-r1, dnsdr-example-pools-r2 (r1"),
        ("Decision", "start -> healthy"),
        ("Decision", "healthy -> uncertain"),
        ("FailoverStep", "promote (r2)"), ("FailoverStep", "promote (r2)"),
        ("PoolsRendered", "wrote dnsdr-example-pools-r1, dnsdr-example-pools-r2 (r1"),
        ("Decision", "uncertain -> region-lost"),
        ("FailoverSucceeded", "failover r1 -> r2 succeeded (run run1, epoch 1)"),
    ]
    # While the failover ran, status said so (progress between rounds).
    assert any(p.get("health") == "region-lost" and p.get("lastOperation") for p in ctx.fake.patches)
    assert ctx.controllers[0].closed


def test_annotation_requests_are_applied_once(ctx: FakeContext, events: list[Event]) -> None:
    the_body = body(annotations={"dnsdr.io/paused": "true", "dnsdr.io/paused-reason": "maintenance"})

    def script(done: int) -> None:
        the_body["status"] = copy.deepcopy(ctx.fake.status)
        if done == 2:
            the_body["metadata"]["annotations"] = {"dnsdr.io/ack": "1"}
    ctx.interval = 0.0
    _daemon(ctx, the_body, Stopper(3, script))
    requests = [e.reason for e in events if e.reason in ("Paused", "Resumed", "Acknowledged")]
    assert requests == ["Paused", "Resumed", "Acknowledged"]
    assert ctx.fake.status["requests"] == {"paused": "", "ack": "1"}
    store = FileStateStore(ctx.tmp / "designate", "example")
    assert not store.load_control().paused and store.load_control().acknowledged_at == 1000.0


def test_an_invalid_spec_in_the_daemon_is_reported_once(ctx: FakeContext, events: list[Event]) -> None:
    the_body = body(primaryRegion="r3")
    _daemon(ctx, the_body, Stopper(2))
    ready = next(c for c in ctx.fake.status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert [e.reason for e in events] == ["InvalidSpec"]
    assert ctx.controllers == []


def test_a_failed_round_is_reported_and_the_loop_goes_on(ctx: FakeContext, events: list[Event]) -> None:
    calls = []

    def broken(*args: Any) -> Any:
        calls.append(1)
        raise RetryLater("the state store cannot be read now")
    ctx.controller = broken  # type: ignore[method-assign]
    _daemon(ctx, body(), Stopper(2))
    assert len(calls) == 2 and ctx.fake.status["message"] == "round failed: the state store cannot be read now"


def test_liveness_fails_when_a_loop_stalls(ctx: FakeContext) -> None:
    assert handlers.rounds(memo=kopf.Memo(context=ctx)) == {"resources": 0, "stalled": []}
    stuck = Watch(ctx, sink=lambda e: None)
    stuck.started -= 3600
    ctx.watches[("designate", "example")] = stuck
    with pytest.raises(kopf.PermanentError, match="no round ended lately for designate/example"):
        handlers.rounds(memo=kopf.Memo(context=ctx))


def test_kopf_reaches_the_api_server_as_the_operators_client_does() -> None:
    from kubernetes import client
    config = client.Configuration(host="https://10.0.0.1:6443", api_key={"BearerToken": "t0ken"},
                                  api_key_prefix={"BearerToken": "Bearer"})
    config.ssl_ca_cert = "/ca.crt"
    info = handlers.connection_info(client.ApiClient(config))
    assert (info.server, info.scheme, info.token, info.ca_path, info.insecure) == \
        ("https://10.0.0.1:6443", "Bearer", "t0ken", "/ca.crt", False)


def test_the_operators_settings_keep_kopf_out_of_status_and_cluster_scope() -> None:
    settings = kopf.OperatorSettings()
    handlers.configure(settings)
    assert settings.persistence.finalizer == "dnsdr.io/finalizer"
    assert isinstance(settings.persistence.progress_storage, kopf.AnnotationsProgressStorage)
    assert settings.scanning.disabled and settings.posting.level == logging.WARNING


class AsyncStopped:
    """kopf's stop flag for an async daemon: its wait() ends once ``until()`` holds."""

    def __init__(self, until: Callable[[], bool]) -> None:
        self.until = until

    async def wait(self) -> None:
        while not self.until():
            await asyncio.sleep(0.01)


def test_the_kopf_daemon_runs_rounds_in_a_thread_of_their_own_and_stops_them(ctx: FakeContext,
                                                                             events: list[Event]) -> None:
    ctx.interval = 0.05
    threads: list[str] = []
    original = ctx.controller

    def recording(*args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return original(*args)
    ctx.controller = recording  # type: ignore[method-assign]
    metrics = ctx.metrics.member("designate", "example")
    asyncio.run(handlers.watch(body=cast(Any, body()), memo=kopf.Memo(context=ctx),
                               stopped=cast(Any, AsyncStopped(lambda: len(ctx.fake.patches) >= 3)), logger=LOG))
    assert threads == ["dnsdr-designate/example"]
    assert ctx.controllers[0].closed and ctx.watches == {} and ctx.threads == {}
    assert ctx.metrics.member("designate", "example") is not metrics  # the resource's metrics were dropped


def test_at_exit_the_rounds_are_stopped_and_awaited(ctx: FakeContext, events: list[Event]) -> None:
    ctx.interval = 60.0  # a loop that would otherwise sleep long between rounds
    rounds = RoundThread(Watch(ctx, sink=lambda e: None), body(), LOG, "dnsdr-designate/example")
    ctx.threads[("designate", "example")] = rounds
    rounds.start()
    assert eventually(lambda: len(ctx.fake.patches) >= 1, timeout=10)
    assert ctx.stop_rounds(timeout=10) == [] and rounds.done.is_set() and ctx.controllers[0].closed
