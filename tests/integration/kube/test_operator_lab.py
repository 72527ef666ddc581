"""The operator on the real lab: a DesignateDR made from the lab's document (credentials moved into a Secret, read
through the API), the witness running in r3, `dnsdr operator` as a process under the shipped Roles only.

- `lab kill r1`: the operator fails over by itself, and its status and Events tell the story; its memory stays under
  200 MB while it watches and acts.
- Two operator processes on one resource: exactly one promotion (the state store's Lease; kopf elects no leader).

Every wait is for a condition. Processes the lab starts (its control commands, run by the operator) use this
checkout's code through PYTHONPATH.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from dnsdr.adapters.mysql import adapter_for
from dnsdr.adapters.mysql.epoch import read_epoch
from dnsdr.adapters.state.kubernetes import KubernetesStateStore
from dnsdr.lab import Lab
from tests.support.kubeapi import KubeApi
from tests.support.operator import (
    OperatorProcess,
    condition_is,
    conditions,
    create,
    events,
    free_port,
    get,
    grant,
    install_crd,
    wait_for,
)
from tests.support.operator_lab import (
    MONITOR_HOST,
    NAME,
    RSS_LIMIT_MB,
    Monitor,
    RssSampler,
    ensure_canary,
    failed_over,
    lab_resource,
    wait_healthy,
)
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]


@pytest.fixture
def setup(healthy_lab: Lab, kube: KubeApi, admin: client.ApiClient, operator: client.ApiClient, namespace: str,
          tmp_path: Path) -> Iterator[tuple[Lab, dict[str, Any]]]:
    install_crd(admin)
    grant(admin, operator, namespace)
    port = free_port(MONITOR_HOST)
    doc, values = lab_resource(healthy_lab, namespace, port)
    client.CoreV1Api(admin).create_namespaced_secret(namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name="lab-credentials"), string_data=values))
    ensure_canary(healthy_lab, doc)
    monitor = Monitor(healthy_lab, port, tmp_path)
    try:
        assert eventually(monitor.ready, timeout=60), (tmp_path / "monitor.log").read_text()[-2000:]
        yield healthy_lab, doc
    finally:
        monitor.stop()


def test_lab_kill_r1_the_operator_fails_over_and_tells_the_story(setup: tuple[Lab, dict[str, Any]], kube: KubeApi,
                                                                   admin: client.ApiClient, namespace: str,
                                                                   tmp_path: Path) -> None:
    lab, _ = setup
    proc = OperatorProcess(kube, namespace, tmp_path, extra=("--sweep-every", "5"))
    sampler = RssSampler(proc)
    try:
        create(admin, namespace, yaml.safe_load(yaml.safe_dump(setup[1])))
        wait_healthy(admin, namespace, proc)
        wait_for(condition_is(admin, namespace, NAME, "DNSConverged", "True"), 90, "DNSConverged", proc)
        before = get(admin, namespace, NAME)["status"]
        assert (before["primary"], before["health"]) == ("r1", "healthy")
        killed = time.monotonic()
        lab.kill("r1")
        wait_for(lambda: failed_over(admin, namespace), 600, "the failover to r2", proc)
        took = time.monotonic() - killed
        wait_for(lambda: "FailoverSucceeded" in {r for _, r, _ in events(admin, namespace, NAME)}, 60,
                 "the FailoverSucceeded Event", proc)
        max_rss, peak = sampler.finish()
    finally:
        sampler.stop.set()
        assert proc.stop() == 0, proc.log()[-3000:]

    status = get(admin, namespace, NAME)["status"]
    assert status["epoch"] == (before.get("epoch") or 0) + 1
    run = status["lastOperation"]
    assert (run["operation"], run["from"], run["to"], run["outcome"]) == ("failover", "r1", "r2", "succeeded")
    assert {s["status"] for s in run["steps"]} <= {"done", "skipped"}
    assert [s["attempts"] for s in run["steps"] if s["name"] == "promote"] == [1]
    found = conditions(admin, namespace, NAME)
    assert found["FailoverInProgress"]["message"].startswith(f"failover r1 -> r2 (run {run['runId']}) succeeded")
    assert found["Paused"]["reason"] == "Automatic"
    assert next(p for p in status["pools"] if p["region"] == "r2") == {
        "region": "r2", "secret": f"dnsdr-{NAME}-pools-r2", "worldState": "primary=r2 lost=r1", "current": True}

    story = events(admin, namespace, NAME)
    reasons = [r for _, r, _ in story]
    decisions = [m for _, r, m in story if r == "Decision"]
    assert decisions[0].startswith("start -> healthy") and any("-> region-lost" in m for m in decisions), story
    steps = [m for _, r, m in story if r == "FailoverStep"]
    assert any(m.startswith("promote (r2): done") for m in steps) and any(m.startswith("verify") for m in steps)
    assert reasons.index("FailoverSucceeded") > reasons.index("FailoverStep")
    assert reasons.count("FailoverSucceeded") == 1

    spec = lab.spec()
    db = spec.region("r2").database
    assert db is not None
    r2 = adapter_for(db).observe()
    assert r2.writable and not r2.is_replica
    seconds = sum(s.get("seconds", 0.0) for s in run["steps"])
    print(f"[operator] r1 killed -> status says r2 is primary after {took:.1f} s (the run's steps {seconds:.1f} s); "
          f"RSS while watching the lab and failing over: max {max_rss:.0f} MB sampled, peak {peak:.0f} MB "
          f"(VmHWM), {len(proc.rss_samples)} samples")
    assert peak <= RSS_LIMIT_MB


def test_two_operators_promote_exactly_once(setup: tuple[Lab, dict[str, Any]], kube: KubeApi,
                                            admin: client.ApiClient, namespace: str, tmp_path: Path) -> None:
    lab, doc = setup
    first = OperatorProcess(kube, namespace, tmp_path, name="first")
    second = OperatorProcess(kube, namespace, tmp_path, name="second")
    try:
        create(admin, namespace, yaml.safe_load(yaml.safe_dump(doc)))
        wait_healthy(admin, namespace, first)
        lab.kill("r1")
        wait_for(lambda: failed_over(admin, namespace), 600, "the failover to r2", first)
        # The other operator tried too, and the Lease kept it out (it says so once, as an Event).
        wait_for(lambda: "NotActing" in {r for _, r, _ in events(admin, namespace, NAME)}, 120,
                 "the NotActing Event of the operator kept out", second)
        wait_for(lambda: "FailoverSucceeded" in {r for _, r, _ in events(admin, namespace, NAME)}, 60,
                 "the FailoverSucceeded Event", first)
    finally:
        codes = (first.stop(), second.stop())
    assert codes == (0, 0), first.log()[-2000:] + second.log()[-2000:]

    store = KubernetesStateStore(admin, namespace, NAME)
    runs = store.history()
    assert [(r.operation, r.from_region, r.to_region, r.outcome.value) for r in runs] == [
        ("failover", "r1", "r2", "succeeded")]
    db = lab.spec().region("r2").database
    assert db is not None
    epoch = read_epoch(adapter_for(db))
    assert epoch is not None and epoch.epoch == 1 and epoch.primary_region == "r2"  # one promotion, one epoch bump
    story = events(admin, namespace, NAME)
    assert [r for _, r, _ in story].count("FailoverSucceeded") == 1
    winners = [p for p in (first, second) if "automatic failover: failover r1 -> r2 succeeded" in p.log()]
    losers = [p for p in (first, second) if "not acting: another dnsdr run" in p.log()]
    assert len(winners) == 1, "exactly one operator failed over"
    assert losers and winners[0] not in losers, "the other one was kept out by the Lease"
    refused = [m for _, r, m in story if r == "NotActing"]
    assert refused and "holds the operation lease" in refused[0]
    print(f"[operator] two operators: {winners[0].log_path.stem} promoted; the other: {refused[0]}")
