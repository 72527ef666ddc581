"""The Kubernetes state store against a real kube-apiserver: the file store's behaviour (round trips, history per spec
newest first, a lease that excludes a second holder, tokens that grow, expiry, late renewals refused, corrupt records
named), plus what only a shared API server makes possible: racing writers, and RBAC."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from kubernetes import client

from dnsdr.adapters.state import CorruptStateError, LeaseLostError, LockedError, StateStoreError
from dnsdr.adapters.state.kubernetes import HISTORY_LIMIT, KubernetesStateStore
from dnsdr.domain.automation import ControlRecord, SemiSyncSample
from dnsdr.domain.journal import ClusterRecord, Journal, Outcome, StepRecord, StepStatus
from dnsdr.domain.lease import Lease
from tests.support.kube_rbac import allowed, bind_operator, new_client, status_of
from tests.support.kubeapi import KubeApi

pytestmark = pytest.mark.timeout(3600)  # the session fixture may have to build kube-apiserver first

RBAC = "manifests/base/rbac-state.yaml"


@pytest.fixture
def store(admin: client.ApiClient, namespace: str) -> KubernetesStateStore:
    return KubernetesStateStore(admin, namespace, "lab")


def _configmap(admin: client.ApiClient, namespace: str, name: str) -> client.V1ConfigMap:
    return client.CoreV1Api(admin).read_namespaced_config_map(name, namespace)


def _finished(run_id: str, started: float, outcome: Outcome = Outcome.SUCCEEDED) -> Journal:
    return Journal(run_id, "failover", "r1", "r2", "f", started, outcome=outcome)


def test_journal_round_trip_and_history(store: KubernetesStateStore, admin: client.ApiClient, namespace: str) -> None:
    assert store.load_journal() is None and store.load_cluster() is None and store.history() == []
    journal = Journal("run1", "failover", "r1", "r2", "abc", 10.0,
                      steps=[StepRecord("assess", StepStatus.DONE, 10.0, 10.5, 1, "ok"), StepRecord("promote")])
    store.save_journal(journal)
    loaded = store.load_journal()
    assert loaded is not None and loaded.record("assess").seconds == 0.5
    assert loaded.record("promote").status is StepStatus.PENDING
    assert store.history() == []  # a running journal is not history yet
    loaded.outcome = Outcome.SUCCEEDED
    store.save_journal(loaded)
    stored = _configmap(admin, namespace, "dnsdr-lab-run-run1")
    assert stored.metadata.labels == {"app.kubernetes.io/managed-by": "dnsdr", "dnsdr.io/spec": "lab",
                                      "dnsdr.io/record": "history"}
    assert [j.run_id for j in store.history()] == ["run1"]
    store.save_cluster(ClusterRecord(primary="r2", epoch=3, lost=["r1"]))
    assert store.load_cluster() == ClusterRecord(primary="r2", epoch=3, lost=["r1"])
    store.save_cluster(ClusterRecord(primary="r1", epoch=4))  # an overwrite, not a second object
    assert store.load_cluster() == ClusterRecord(primary="r1", epoch=4)
    assert "cluster.json" in (_configmap(admin, namespace, "dnsdr-lab-cluster").data or {})


def test_history_is_kept_per_spec_name_newest_first(admin: client.ApiClient, namespace: str) -> None:
    a, b = KubernetesStateStore(admin, namespace, "a"), KubernetesStateStore(admin, namespace, "b")
    for i, store in enumerate((a, b, a)):
        store.save_journal(_finished(f"run{i}", 100.0 + i))
    assert [j.run_id for j in a.history()] == ["run2", "run0"]
    assert [j.run_id for j in b.history()] == ["run1"]
    assert [j.run_id for j in a.history(limit=1)] == ["run2"]


def test_history_keeps_the_newest_runs_and_deletes_older_ones(admin: client.ApiClient, namespace: str) -> None:
    assert HISTORY_LIMIT == 50
    store = KubernetesStateStore(admin, namespace, "lab", history_limit=3)
    other = KubernetesStateStore(admin, namespace, "other", history_limit=3)
    other.save_journal(_finished("keep-me", 1.0))
    # Saved out of order: the newest by start time are kept, not the last saved.
    for run_id, started in (("r5", 500.0), ("r1", 100.0), ("r4", 400.0), ("r2", 200.0), ("r3", 300.0),
                            ("Odd_Id", 50.0)):
        store.save_journal(_finished(run_id, started))
    assert [j.run_id for j in store.history()] == ["r5", "r4", "r3"]
    names = {cm.metadata.name for cm in client.CoreV1Api(admin).list_namespaced_config_map(
        namespace, label_selector="dnsdr.io/record=history").items}
    assert names == {"dnsdr-lab-run-r5", "dnsdr-lab-run-r4", "dnsdr-lab-run-r3", "dnsdr-other-run-keep-me"}
    assert [j.run_id for j in other.history()] == ["keep-me"]  # another spec's history is never pruned


def test_a_run_id_that_is_no_object_name_still_gets_its_own_record(store: KubernetesStateStore) -> None:
    for run_id in ("Run_A", "run_a", "RUN.A"):
        store.save_journal(_finished(run_id, 1.0))
    assert sorted(j.run_id for j in store.history()) == ["RUN.A", "Run_A", "run_a"]


def test_a_second_holder_cannot_take_the_lease(kube: KubeApi, store: KubernetesStateStore, namespace: str) -> None:
    other_client = new_client(kube.admin_kubeconfig)  # another process would have its own connection
    other = KubernetesStateStore(other_client, namespace, "lab")
    try:
        with store.hold(ttl=30) as keeper:
            with pytest.raises(LockedError, match=rf"holds the operation lease \(lease {namespace}/dnsdr-lab"):
                other.acquire("b@elsewhere:2:n")
            assert keeper.token == 1
        released = other.current_lease()
        assert released is not None and released.released and released.holder == keeper.lease.holder
        with other.hold(ttl=30) as second:
            assert second.token == 2
    finally:
        other_client.close()  # type: ignore[no-untyped-call]


def test_the_lease_object_speaks_the_coordination_api(store: KubernetesStateStore, admin: client.ApiClient,
                                                      namespace: str) -> None:
    lease = store.acquire("a@x:1:n", ttl=12.5)
    obj = client.CoordinationV1Api(admin).read_namespaced_lease("dnsdr-lab", namespace)
    assert obj.spec.holder_identity == "a@x:1:n"
    assert obj.spec.lease_duration_seconds == 13  # whole seconds, never shorter than asked
    assert obj.spec.lease_transitions == lease.token == 1
    assert obj.spec.acquire_time is not None and obj.spec.renew_time is not None
    assert lease.expires_at == pytest.approx(obj.spec.renew_time.timestamp() + 13)
    store.release(lease)
    obj = client.CoordinationV1Api(admin).read_namespaced_lease("dnsdr-lab", namespace)
    assert obj.spec.holder_identity is None  # free, as client-go's leader election leaves a released Lease
    assert obj.metadata.annotations == {"dnsdr.io/released-by": "a@x:1:n"}
    assert obj.spec.lease_transitions == 1


def test_the_fencing_token_increases_with_every_new_holder(store: KubernetesStateStore) -> None:
    tokens = []
    for holder in ("a@x:1:n", "b@x:2:n", "a@x:1:n"):
        lease = store.acquire(holder, ttl=30)
        again = store.acquire(holder, ttl=30)  # the holder taking it again is a renewal: same token
        assert again.token == lease.token
        tokens.append(lease.token)
        store.release(lease)
    assert tokens == [1, 2, 3]


def test_a_lease_expires_and_a_late_renewal_is_refused(admin: client.ApiClient, namespace: str) -> None:
    now = [1000.0]
    store = KubernetesStateStore(admin, namespace, "lab", clock=lambda: now[0])
    first = store.acquire("a@elsewhere:1:n", ttl=10)
    with pytest.raises(LockedError, match="a@elsewhere"):
        store.acquire("b@elsewhere:2:n", ttl=10)
    now[0] += 5
    first = store.renew(first, ttl=10)  # a renewal extends it
    now[0] += 8
    with pytest.raises(LockedError):
        store.acquire("b@elsewhere:2:n", ttl=10)
    now[0] += 3  # renewTime + leaseDurationSeconds is past now: free
    second = store.acquire("b@elsewhere:2:n", ttl=10)
    assert second.token == first.token + 1
    with pytest.raises(LeaseLostError, match=rf"lease {namespace}/dnsdr-lab\) was lost \(now b@elsewhere:2:n, token 2"):
        store.renew(first, ttl=10)
    store.release(first)  # not ours any more: releasing it changes nothing
    current = store.current_lease()
    assert current is not None and current.holder == "b@elsewhere:2:n" and current.live(now[0])


def test_the_keeper_renews_a_short_lease_while_held(store: KubernetesStateStore) -> None:
    with store.hold(ttl=0.6) as keeper:
        first = keeper.lease.expires_at
        deadline = time.monotonic() + 30
        while keeper.lease.expires_at == first and time.monotonic() < deadline:
            time.sleep(0.05)
        assert keeper.lease.expires_at > first
        keeper.check()
    lease = store.current_lease()
    assert lease is not None and lease.released


def test_a_corrupt_record_names_the_object_and_the_way_out(store: KubernetesStateStore, admin: client.ApiClient,
                                                           namespace: str) -> None:
    core = client.CoreV1Api(admin)

    def plant(name: str, data: dict[str, str]) -> None:
        core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name),
                                                                        data=data))

    plant("dnsdr-lab-cluster", {"cluster.json": "{not json"})
    with pytest.raises(CorruptStateError, match=rf"configmap {namespace}/dnsdr-lab-cluster is not valid JSON.*"
                                                rf"kubectl -n {namespace} delete configmap dnsdr-lab-cluster"):
        store.load_cluster()
    plant("dnsdr-lab-journal", {"journal.json": '{"run_id": 3}'})
    with pytest.raises(CorruptStateError, match=rf"configmap {namespace}/dnsdr-lab-journal is not a valid dnsdr "
                                                r"journal \(run_id: expected a string"):
        store.load_journal()
    plant("dnsdr-lab-control", {"something-else": "{}"})
    with pytest.raises(CorruptStateError, match=rf"configmap {namespace}/dnsdr-lab-control holds no control.json"):
        store.load_control()
    core.create_namespaced_config_map(namespace, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="dnsdr-lab-run-x", labels={"dnsdr.io/spec": "lab",
                                                                     "dnsdr.io/record": "history"}),
        data={"journal.json": "[]"}))
    with pytest.raises(CorruptStateError, match=rf"configmap {namespace}/dnsdr-lab-run-x does not hold a JSON object"
                                                ".*it only records a past run"):
        store.history()


def test_a_corrupt_lease_names_the_object(store: KubernetesStateStore, admin: client.ApiClient,
                                          namespace: str) -> None:
    client.CoordinationV1Api(admin).create_namespaced_lease(namespace, client.V1Lease(
        metadata=client.V1ObjectMeta(name="dnsdr-lab"), spec=client.V1LeaseSpec(holder_identity="someone")))
    with pytest.raises(CorruptStateError, match=rf"lease {namespace}/dnsdr-lab is not a valid dnsdr lease "
                                                r"\(held by 'someone' without renewTime"):
        store.acquire("a@x:1:n")


def test_the_controller_record_round_trips_and_defaults_when_absent(store: KubernetesStateStore) -> None:
    assert store.load_control() == ControlRecord()
    record = ControlRecord(paused=True, paused_reason="maintenance", last_auto_failover_at=5.0,
                           semi_sync=SemiSyncSample("r1", True, "AFTER_SYNC", 4.0))
    store.save_control(record)
    assert store.load_control() == record
    updated = store.update_control(lambda c: replace(c, paused=False))
    assert updated == replace(record, paused=False) == store.load_control()


def _race(*calls: Callable[[], Any]) -> list[Any]:
    """Run ``calls`` in threads released at once; each result, or the exception it raised."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[index] = call()
        except Exception as exc:  # the outcome under test
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.fixture
def two_clients(kube: KubeApi) -> Iterator[tuple[client.ApiClient, client.ApiClient]]:
    pair = (new_client(kube.admin_kubeconfig), new_client(kube.admin_kubeconfig))
    yield pair
    for api_client in pair:
        api_client.close()  # type: ignore[no-untyped-call]


def test_racing_acquires_have_exactly_one_winner_every_time(
    two_clients: tuple[client.ApiClient, client.ApiClient], namespace: str
) -> None:
    races, conflicts = 50, 0
    for race in range(races):
        stores = [KubernetesStateStore(c, namespace, f"race{race}") for c in two_clients]
        if race % 2:  # half the races replace an expired Lease, half create the first one
            stale = KubernetesStateStore(two_clients[0], namespace, f"race{race}", clock=lambda: time.time() - 600)
            stale.acquire("gone@x:0:n", ttl=5)
        results = _race(lambda: stores[0].acquire("a@x:1:n", ttl=30), lambda: stores[1].acquire("b@y:2:n", ttl=30))
        won = [r for r in results if isinstance(r, Lease)]
        lost = [r for r in results if isinstance(r, LockedError)]
        assert len(won) == 1 and len(lost) == 1, f"race {race}: {results}"
        assert won[0].token == 1 + race % 2
        current = stores[0].current_lease()
        assert current is not None and current.holder == won[0].holder and current.token == won[0].token
        conflicts += sum(s.lease.conflicts for s in stores)
    # Both racers read before either wrote in some races: the compare-and-swap, not luck, decided those.
    assert conflicts > 0


def test_update_control_from_two_writers_loses_no_update(
    two_clients: tuple[client.ApiClient, client.ApiClient], namespace: str
) -> None:
    stores = [KubernetesStateStore(c, namespace, "lab") for c in two_clients]
    rounds = 25

    def count(store: KubernetesStateStore) -> None:
        for _ in range(rounds):
            store.update_control(lambda c: replace(c, failed_attempts=c.failed_attempts + 1))

    def pause_and_sample(store: KubernetesStateStore) -> None:
        for i in range(rounds):
            store.update_control(lambda c, i=i: replace(c, failed_attempts=c.failed_attempts + 1,
                                                        semi_sync=SemiSyncSample("r1", True, "AFTER_SYNC", float(i))))
        store.update_control(lambda c: replace(c, paused=True, paused_reason="maintenance"))

    assert _race(lambda: count(stores[0]), lambda: pause_and_sample(stores[1])) == [None, None]
    final = stores[0].load_control()
    assert final.failed_attempts == 2 * rounds
    assert final.paused and final.paused_reason == "maintenance"
    assert final.semi_sync == SemiSyncSample("r1", True, "AFTER_SYNC", float(rounds - 1))
    assert sum(s.conflicts for s in stores) > 0  # the writers did collide, and no update was lost


def test_everything_works_with_only_the_shipped_role(admin: client.ApiClient, operator: client.ApiClient,
                                                     namespace: str) -> None:
    bind_operator(admin, operator, namespace, RBAC)
    store = KubernetesStateStore(operator, namespace, "lab", history_limit=2)
    store.check_writable()
    for i in range(3):
        journal = Journal(f"run{i}", "failover", "r1", "r2", "f", 10.0 + i)
        store.save_journal(journal)
        journal.outcome = Outcome.SUCCEEDED
        store.save_journal(journal)
    assert [j.run_id for j in store.history()] == ["run2", "run1"]  # pruning (delete) is allowed too
    store.save_cluster(ClusterRecord(primary="r2", epoch=2))
    assert store.load_cluster() == ClusterRecord(primary="r2", epoch=2)
    store.update_control(lambda c: replace(c, paused=True))
    assert store.load_control().paused
    with store.hold(ttl=30) as keeper:
        assert keeper.token == 1
        assert store.renew(keeper.lease, ttl=30).token == 1
    # Least privilege: nothing beyond the two resources, nowhere else, and the Lease cannot be deleted.
    assert not allowed(operator, namespace, "delete", "leases", "coordination.k8s.io")
    assert not allowed(operator, namespace, "get", "secrets")
    assert not allowed(operator, namespace, "patch", "configmaps")
    assert not allowed(operator, "default", "get", "configmaps")
    assert status_of(client.CoreV1Api(operator).list_namespaced_secret, namespace) == 403


def test_without_the_role_check_writable_names_what_is_missing(operator: client.ApiClient, namespace: str) -> None:
    store = KubernetesStateStore(operator, namespace, "lab")
    with pytest.raises(StateStoreError) as refused:
        store.check_writable()
    message = str(refused.value)
    assert message.startswith(f"the state store in namespace {namespace} is not writable: dnsdr may not get "
                              "configmaps, list configmaps, create configmaps, update configmaps, delete configmaps, "
                              "get leases (coordination.k8s.io), create leases (coordination.k8s.io), update leases")
    assert "manifests/base/rbac-state.yaml" in message
    with pytest.raises(StateStoreError, match=rf"cannot read configmap {namespace}/dnsdr-lab-journal: 403 Forbidden: "
                                              r".*User \"operator\" cannot get.*rbac-state\.yaml"):
        store.load_journal()


def test_check_writable_names_a_missing_namespace(admin: client.ApiClient) -> None:
    store = KubernetesStateStore(admin, "no-such-namespace", "lab")
    with pytest.raises(StateStoreError, match="namespace no-such-namespace is not writable: 404 Not Found: "
                                              'namespaces "no-such-namespace" not found'):
        store.check_writable()


def test_an_unreachable_api_server_is_a_clean_retry_later(kube: KubeApi, namespace: str) -> None:
    configuration = client.Configuration()
    configuration.host = "https://127.0.0.1:9"  # discard: nothing listens
    configuration.retries = 0
    api_client = client.ApiClient(configuration)
    store = KubernetesStateStore(api_client, namespace, "lab", timeout=2)
    with pytest.raises(StateStoreError, match=rf"cannot read configmap {namespace}/dnsdr-lab-cluster: no answer "
                                              "from the API server"):
        store.load_cluster()
    with pytest.raises(StateStoreError, match=rf"cannot read lease {namespace}/dnsdr-lab: no answer"):
        store.acquire("a@x:1:n")


def test_names_that_cannot_be_objects_are_refused(admin: client.ApiClient) -> None:
    with pytest.raises(StateStoreError, match="must be DNS labels"):
        KubernetesStateStore(admin, "ns", "Not_A_Name")
