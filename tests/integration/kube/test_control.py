"""The kubernetes service-control driver against a real kube-apiserver.

There is no controller manager, so nothing turns a Deployment into pods or runs a Job: the tests play that part
inside the driver's waits. The driver's ``sleep`` is a step of virtual time (its ``clock`` advances by the poll
interval) in which a stand-in controller reconciles what changed: a Deployment's status follows its spec, a Job
finishes as the test says. What is asserted is what the API server stores: replicas, annotations, the rewritten
connection, the Job and its Secret. The driver acts as the ``operator`` user bound only to the shipped Role.
"""

from __future__ import annotations

import base64
import copy
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from dnsdr.adapters.backends import KINDS
from dnsdr.adapters.control.kubernetes import RESTARTED_AT, SAVED_REPLICAS, KubernetesController
from dnsdr.adapters.designate_manage import DesignateManageError
from dnsdr.adapters.secrets import resolve
from dnsdr.adapters.service_control import START_ORDER, STOP_ORDER, ServiceControlError
from dnsdr.domain.plan import failover_plan
from dnsdr.domain.spec import Endpoint, RegionSpec
from dnsdr.domain.spec_parse import parse_designatedr
from dnsdr.engine.runtime import Runtime
from tests.conftest import EXAMPLE
from tests.support.kube_rbac import allowed, bind_operator
from tests.support.kubeapi import KubeApi
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(3600)  # the session fixture may have to build kube-apiserver first

RBAC = "manifests/designate/rbac-control.yaml"
REPLICAS = {"api": 2, "central": 1, "worker": 3, "producer": 1, "mdns": 2}
CONF = """[DEFAULT]
debug = False

[database]
connection = mysql+pymysql://designate:S3cret-db@mariadb.r1.svc:3306/designate?charset=utf8
max_retries = -1
"""
MANAGE = ["designate-manage", "--config-file", "/etc/designate/designate.conf"]


def _region(namespace: str, kubeconfig: Path, **control: Any) -> RegionSpec:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["spec"]["regions"][1]["designate"]["control"] = {
        "driver": "kubernetes", "namespace": namespace, "kubeconfigRef": {"file": str(kubeconfig)}, **control}
    doc["spec"]["regions"][1]["designate"]["manageCommand"] = MANAGE
    return parse_designatedr(doc, KINDS).region("r2")


def _deployment(service: str) -> client.V1Deployment:
    labels = {"app": "designate", "component": service}
    container = client.V1Container(
        name=f"designate-{service}", image="registry.local/designate:2025.1", command=[f"/tmp/designate-{service}.sh"],
        env=[client.V1EnvVar(name="OS_DEBUG", value="0")], ports=[client.V1ContainerPort(container_port=9001)],
        readiness_probe=client.V1Probe(tcp_socket=client.V1TCPSocketAction(port=9001)),
        volume_mounts=[client.V1VolumeMount(name="etc", mount_path="/etc/designate/designate.conf",
                                            sub_path="designate.conf", read_only=True)])
    pod = client.V1PodSpec(
        service_account_name="designate", init_containers=[client.V1Container(name="init", image="entrypoint:1")],
        containers=[container, client.V1Container(name="log-shipper", image="logger:1")],
        volumes=[client.V1Volume(name="etc", secret=client.V1SecretVolumeSource(secret_name="designate-etc"))])
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=f"designate-{service}", labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=REPLICAS[service], selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels=labels), spec=pod)))


@dataclass
class Cluster:
    """The region's cluster as the tests see it (admin), and the stand-in controller the driver's waits run."""

    admin: client.ApiClient
    namespace: str
    now: float = 0.0
    reconciled: list[str] = field(default_factory=list)  # Deployments in the order their change was rolled out
    job_outcome: dict[str, Any] | None = None  # the status a Job gets when it runs; None: it never finishes
    secret_during_job: str | None = None  # what the pools Secret held while the Job ran

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.admin)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.admin)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.reconcile()

    def reconcile(self) -> None:
        for deployment in self.apps.list_namespaced_deployment(self.namespace).items:
            generation = deployment.metadata.generation
            if deployment.status and deployment.status.observed_generation == generation:
                continue
            want = deployment.spec.replicas
            self.apps.patch_namespaced_deployment_status(
                deployment.metadata.name, self.namespace,
                {"status": {"observedGeneration": generation, "replicas": want, "updatedReplicas": want,
                            "readyReplicas": want, "availableReplicas": want}},
                _content_type="application/merge-patch+json")
            self.reconciled.append(deployment.metadata.name.removeprefix("designate-"))
        for job in client.BatchV1Api(self.admin).list_namespaced_job(self.namespace).items:
            if (job.status and (job.status.succeeded or job.status.failed)) or self.job_outcome is None:
                continue
            secret = self.core.read_namespaced_secret("dnsdr-pools", self.namespace)
            self.secret_during_job = base64.b64decode(secret.data["pools.yaml"]).decode()
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            status = copy.deepcopy(self.job_outcome)
            status["startTime"] = stamp
            for condition in status.get("conditions", []):
                condition["lastTransitionTime"] = stamp
            if status.get("succeeded"):
                status["completionTime"] = stamp
            client.BatchV1Api(self.admin).patch_namespaced_job_status(
                job.metadata.name, self.namespace, {"status": status}, _content_type="application/merge-patch+json")

    def deployment(self, service: str) -> client.V1Deployment:
        return self.apps.read_namespaced_deployment(f"designate-{service}", self.namespace)

    def replicas(self) -> dict[str, int]:
        return {s: self.deployment(s).spec.replicas for s in REPLICAS}

    def restarted_at(self, service: str) -> str | None:
        notes = self.deployment(service).spec.template.metadata.annotations or {}
        return notes.get(RESTARTED_AT)

    def connection(self) -> str:
        secret = self.core.read_namespaced_secret("designate-etc", self.namespace)
        return base64.b64decode(secret.data["designate.conf"]).decode()


@pytest.fixture
def cluster(admin: client.ApiClient, operator: client.ApiClient, namespace: str) -> Cluster:
    bind_operator(admin, operator, namespace, RBAC)
    state = Cluster(admin, namespace)
    for service in REPLICAS:
        state.apps.create_namespaced_deployment(namespace, _deployment(service))
    state.core.create_namespaced_secret(namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name="designate-etc"), string_data={"designate.conf": CONF, "other.conf": "x"}))
    state.reconcile()
    state.reconciled.clear()
    return state


@pytest.fixture
def make_driver(kube: KubeApi, cluster: Cluster) -> Callable[..., KubernetesController]:
    """The driver as the engine builds it: the kubeconfig (the operator's) resolved through the spec's reference."""
    def make(**control: Any) -> KubernetesController:
        region = _region(cluster.namespace, kube.operator_kubeconfig, **control)
        return KubernetesController.for_region(region, resolve, clock=cluster.clock, sleep=cluster.sleep,
                                               rollout_timeout=30.0)
    return make


def test_stop_scales_down_in_order_remembering_the_counts_and_start_brings_them_back(
    cluster: Cluster, make_driver: Callable[..., KubernetesController]
) -> None:
    driver = make_driver()
    driver.stop()
    assert cluster.replicas() == dict.fromkeys(REPLICAS, 0)
    assert cluster.reconciled == list(STOP_ORDER)  # each one gone before the next is touched
    assert {s: cluster.deployment(s).metadata.annotations[SAVED_REPLICAS] for s in REPLICAS} == \
        {s: str(n) for s, n in REPLICAS.items()}
    cluster.reconciled.clear()
    driver.stop()  # stopped already: nothing changes, the remembered counts stay
    assert cluster.reconciled == []
    assert cluster.deployment("worker").metadata.annotations[SAVED_REPLICAS] == "3"
    driver.start()
    assert cluster.replicas() == REPLICAS
    assert cluster.reconciled == list(START_ORDER)
    assert all(SAVED_REPLICAS not in (cluster.deployment(s).metadata.annotations or {}) for s in REPLICAS)
    assert all(cluster.restarted_at(s) is None for s in REPLICAS)  # a start is no restart


def test_restart_rolls_only_the_named_services_and_brings_a_stopped_one_back(
    cluster: Cluster, make_driver: Callable[..., KubernetesController]
) -> None:
    driver = make_driver()
    driver.stop(["worker"])  # as the pool update step does before `pool update`
    assert cluster.replicas()["worker"] == 0
    driver.restart(["worker"])
    assert cluster.replicas() == REPLICAS
    first = cluster.restarted_at("worker")
    assert first is not None and datetime.fromisoformat(first).tzinfo is not None
    assert [cluster.restarted_at(s) for s in ("api", "central", "producer", "mdns")] == [None] * 4
    driver.restart(["worker"])
    assert cluster.restarted_at("worker") not in (None, first)  # every restart rolls the pods again


def test_stop_fails_cleanly_when_the_pods_never_go(cluster: Cluster, kube: KubeApi) -> None:
    region = _region(cluster.namespace, kube.operator_kubeconfig)
    ticks: list[float] = []
    driver = KubernetesController.for_region(region, resolve, clock=cluster.clock, rollout_timeout=5.0, poll=1.0,
                                             sleep=lambda s: (ticks.append(s), setattr(cluster, "now", cluster.now + s)))
    with pytest.raises(ServiceControlError, match=rf"stop in r2: deployment designate-api in namespace "
                                                  rf"{cluster.namespace} still waiting for its controller to see the "
                                                  r"change after 5 s"):
        driver.stop()
    assert ticks == [1.0] * 5


def test_repoint_rewrites_the_connection_and_restarts_every_service(
    cluster: Cluster, make_driver: Callable[..., KubernetesController]
) -> None:
    driver = make_driver()
    driver.repoint(Endpoint("10.2.0.5", 3307))
    assert cluster.connection() == CONF.replace("mariadb.r1.svc:3306", "10.2.0.5:3307")
    secret = cluster.core.read_namespaced_secret("designate-etc", cluster.namespace)
    assert base64.b64decode(secret.data["other.conf"]) == b"x"  # the Secret's other keys are untouched
    assert cluster.reconciled == list(START_ORDER)
    stamps = {s: cluster.restarted_at(s) for s in REPLICAS}
    assert None not in stamps.values()
    version = secret.metadata.resource_version
    driver.repoint(Endpoint("10.2.0.5", 3307))  # already there: the Secret is not written again, the pods still roll
    assert cluster.core.read_namespaced_secret("designate-etc", cluster.namespace).metadata.resource_version == version
    assert all(cluster.restarted_at(s) != stamps[s] for s in REPLICAS)


def test_repoint_a_url_in_a_configmap(admin: client.ApiClient, cluster: Cluster,
                                      make_driver: Callable[..., KubernetesController]) -> None:
    url = "mysql+pymysql://designate:pw@old-db:3306/designate"
    cluster.core.create_namespaced_config_map(cluster.namespace, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="designate-db"), data={"DB_URL": url}))
    rbac = client.RbacAuthorizationV1Api(admin)  # a site keeping it in a ConfigMap grants that instead
    rbac.patch_namespaced_role("dnsdr-designate-control", cluster.namespace, [{"op": "add", "path": "/rules/-", "value": {
        "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["designate-db"], "verbs": ["get", "update"]}}],
        _content_type="application/json-patch+json")
    driver = make_driver(databaseConnection={"configMapKeyRef": {"name": "designate-db", "key": "DB_URL"}})
    _wait_allowed(driver, lambda: driver.repoint(Endpoint("fd00::7", 3306)))
    stored = cluster.core.read_namespaced_config_map("designate-db", cluster.namespace).data["DB_URL"]
    assert stored == "mysql+pymysql://designate:pw@[fd00::7]:3306/designate"


def _wait_allowed(driver: KubernetesController, action: Callable[[], None]) -> None:
    """Run ``action`` once the authorizer has seen a grant made a moment ago (it watches Roles)."""
    def attempt() -> bool:
        try:
            action()
        except ServiceControlError as exc:
            if "403" in str(exc):
                return False
            raise
        return True

    assert eventually(attempt, timeout=30)


def test_a_connection_that_cannot_be_repointed_is_refused_without_its_value(
    cluster: Cluster, make_driver: Callable[..., KubernetesController]
) -> None:
    cluster.core.patch_namespaced_secret("designate-etc", cluster.namespace,
                                         {"stringData": {"designate.conf": "[database]\npassword = S3cret-db\n"}})
    with pytest.raises(ServiceControlError) as refused:
        make_driver().repoint(Endpoint("10.2.0.5", 3306))
    assert str(refused.value) == (f"repoint in r2: secret {cluster.namespace}/designate-etc key designate.conf holds "
                                  "neither a database URL nor a [database] section with a connection line")
    assert cluster.reconciled == []  # nothing restarted


POOLS = "- name: default\n  targets:\n  - type: pdns4\n    options: {api_token: Pdns-T0ken}\n"
DONE = {"succeeded": 1, "conditions": [{"type": "SuccessCriteriaMet", "status": "True"},
                                       {"type": "Complete", "status": "True"}]}
FAILED = {"failed": 1, "conditions": [
    {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded", "message": "Pdns-T0ken rejected"},
    {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Pdns-T0ken rejected"}]}


def _jobs(cluster: Cluster) -> list[client.V1Job]:
    return client.BatchV1Api(cluster.admin).list_namespaced_job(cluster.namespace).items


def test_pool_update_runs_designate_manage_as_a_job_built_from_central(
    cluster: Cluster, make_driver: Callable[..., KubernetesController]
) -> None:
    cluster.job_outcome = DONE
    result = make_driver().pool_update(POOLS, ["Pdns-T0ken"], dry_run=True, timeout=120)
    assert result.dry_run and result.output == "(no pod of the job was found to read its output)"
    assert cluster.secret_during_job == POOLS
    [job] = _jobs(cluster)
    assert job.metadata.name.startswith("dnsdr-pool-update-")
    assert job.metadata.labels == {"app.kubernetes.io/managed-by": "dnsdr", "dnsdr.io/job-name": job.metadata.name}
    spec = job.spec
    assert (spec.backoff_limit, spec.active_deadline_seconds, spec.ttl_seconds_after_finished) == (0, 120, 86400)
    pod = spec.template.spec
    # Ours (and those the API server adds for the Job), never the Deployment's: no Service selects the pod.
    assert job.metadata.labels.items() <= spec.template.metadata.labels.items()
    assert not {"app", "component"} & set(spec.template.metadata.labels)
    assert pod.restart_policy == "Never" and pod.service_account_name == "designate"
    assert [c.name for c in pod.init_containers] == ["init"]
    [container] = pod.containers  # the first container only, without what only a server needs
    assert container.name == "designate-central" and container.image == "registry.local/designate:2025.1"
    assert container.command == [*MANAGE, "pool", "update", "--file", "/etc/dnsdr/pools/pools.yaml", "--dry-run"]
    assert container.readiness_probe is None and container.ports is None
    assert [e.name for e in container.env] == ["OS_DEBUG"]
    assert [(m.name, m.mount_path) for m in container.volume_mounts] == [
        ("etc", "/etc/designate/designate.conf"), ("dnsdr-pools", "/etc/dnsdr/pools")]
    assert [(v.name, v.secret.secret_name, v.secret.default_mode) for v in pod.volumes] == [
        ("etc", "designate-etc", 0o644), ("dnsdr-pools", "dnsdr-pools", 0o400)]  # 0644: the API default
    # The pools (backend credentials) do not outlive the Job.
    assert "dnsdr-pools" not in {s.metadata.name for s in cluster.core.list_namespaced_secret(cluster.namespace).items}

    result = make_driver().pool_update(POOLS, ["Pdns-T0ken"], dry_run=False, timeout=300)
    assert not result.dry_run
    real = [j for j in _jobs(cluster) if j.metadata.name != job.metadata.name]
    assert len(real) == 1 and "--dry-run" not in real[0].spec.template.spec.containers[0].command
    assert real[0].spec.active_deadline_seconds == 300


def test_a_failed_pool_update_job_says_why_without_secrets(
    cluster: Cluster, make_driver: Callable[..., KubernetesController]
) -> None:
    cluster.job_outcome = FAILED
    with pytest.raises(DesignateManageError) as failed:
        make_driver().pool_update(POOLS, ["Pdns-T0ken"], dry_run=False, timeout=60)
    message = str(failed.value)
    assert message.startswith(f"designate-manage pool update (update) failed in job {cluster.namespace}/"
                              "dnsdr-pool-update-")
    assert "(BackoffLimitExceeded: REDACTED rejected)" in message and "Pdns-T0ken" not in message
    assert "dnsdr-pools" not in {s.metadata.name for s in cluster.core.list_namespaced_secret(cluster.namespace).items}


def test_a_pool_update_job_that_overruns_is_deleted(
    cluster: Cluster, make_driver: Callable[..., KubernetesController]
) -> None:
    cluster.job_outcome = None  # it never finishes
    with pytest.raises(DesignateManageError, match=r"job dnsdr-pool-update-\w+: did not finish within 30 s \(deleted\)"):
        make_driver().pool_update(POOLS, [], dry_run=True, timeout=30)
    assert _jobs(cluster) == []  # deleted, so it cannot apply the pools later
    assert cluster.now >= 30 + 60  # the Job's own deadline plus the grace for its controller to report it


def test_the_shipped_role_is_enough_and_no_more(operator: client.ApiClient, cluster: Cluster) -> None:
    ns = cluster.namespace
    for verb, resource, group, name in (("delete", "deployments", "apps", ""), ("create", "deployments", "apps", ""),
                                        ("list", "secrets", "", ""), ("get", "secrets", "", "other"),
                                        ("delete", "secrets", "", "designate-etc"), ("get", "configmaps", "", ""),
                                        ("update", "jobs", "batch", "")):
        review = client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(namespace=ns, verb=verb, resource=resource, group=group,
                                                            name=name or None)))
        answer = client.AuthorizationV1Api(operator).create_self_subject_access_review(review)
        assert not answer.status.allowed, (verb, resource, name)
    assert not allowed(operator, "default", "get", "deployments", "apps")


def test_api_failures_name_the_object(cluster: Cluster, make_driver: Callable[..., KubernetesController],
                                      kube: KubeApi, admin: client.ApiClient) -> None:
    cluster.apps.delete_namespaced_deployment("designate-producer", cluster.namespace)
    with pytest.raises(ServiceControlError, match=rf"stop in r2: deployment designate-producer in namespace "
                                                  rf"{cluster.namespace}: 404 Not Found: .*not found"):
        make_driver().stop()
    assert cluster.deployment("api").spec.replicas == 0  # the ones before it were stopped
    elsewhere = f"{cluster.namespace}-other"
    client.CoreV1Api(admin).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=elsewhere)))
    other = _region(elsewhere, kube.operator_kubeconfig)
    with pytest.raises(ServiceControlError, match=rf"start in r2: deployment designate-central in namespace {elsewhere}: "
                                                  r'403 Forbidden: .*User "operator" cannot get'):
        KubernetesController.for_region(other, resolve).start()


def test_the_engine_builds_the_driver_from_a_mounted_kubeconfig_secret(
    kube: KubeApi, cluster: Cluster, tmp_path: Path
) -> None:
    """The production path: the runtime's default factory, the kubeconfig read from a mounted Secret
    (``<secrets dir>/<name>/<key>``), real time; a thread plays the Deployment controller."""
    secrets_dir = tmp_path / "secrets"
    (secrets_dir / "dnsdr-kube").mkdir(parents=True)
    (secrets_dir / "dnsdr-kube" / "r2").write_text(kube.operator_kubeconfig.read_text())
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["spec"]["regions"][1]["designate"]["control"] = {
        "driver": "kubernetes", "namespace": cluster.namespace,
        "kubeconfigRef": {"secretKeyRef": {"name": "dnsdr-kube", "key": "r2"}}}
    spec = parse_designatedr(doc, KINDS)
    runtime = Runtime(spec, failover_plan(spec, "r1", "r2"), frozenset(),
                      resolver=functools.partial(resolve, directory=secrets_dir))
    stop = threading.Event()

    def controller_manager() -> None:
        while not stop.wait(0.1):
            cluster.reconcile()

    thread = threading.Thread(target=controller_manager, daemon=True)
    thread.start()
    try:
        runtime.controller("r2").stop(["worker"])
        assert cluster.replicas()["worker"] == 0
        runtime.controller("r2").restart(["worker"])
        assert cluster.replicas() == REPLICAS and cluster.restarted_at("worker") is not None
    finally:
        stop.set()
        thread.join(10)
        runtime.close()
