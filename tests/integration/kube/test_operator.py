"""The operator against a real kube-apiserver: the CRD installs and explains itself, invalid resources are refused by
its schema or CEL rules with clear messages (and by `spec validate` alike), and `dnsdr operator`, run as a process
with a token bound only to the shipped Roles, gives a valid resource its conditions, a pools Secret per database
region, Events, metrics and liveness, applies annotation requests once, shares its records with the command line,
and reports a spec only the model can refuse. Databases here are addresses where nothing listens: the lab tier
(test_operator_lab.py) fails over for real."""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from dnsdr.adapters.backends import KINDS
from dnsdr.adapters.state.kubernetes import KubernetesStateStore
from dnsdr.cli.main import cli
from dnsdr.domain.spec_parse import SpecError, parse_designatedr
from tests.conftest import EXAMPLE
from tests.support.kubeapi import KubeApi
from tests.support.operator import (
    GROUP,
    PLURAL,
    VERSION,
    OperatorProcess,
    condition_is,
    conditions,
    create,
    events,
    get,
    grant,
    install_crd,
    patch,
    wait_for,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(3600)  # the session fixture may have to build kube-apiserver first

SECRET_KEYS = ("r1-db-password", "r2-db-password", "replication-password", "r1-pdns-api-key", "r2-pdns-api-key",
               "r1-rndc-key", "r2-rndc-key")
CONDITIONS = {"Ready", "Replicating", "DNSConverged", "FailoverInProgress", "Degraded", "Paused"}


@pytest.fixture(scope="module")
def crd(admin: client.ApiClient) -> None:
    install_crd(admin)


def resource(namespace: str, name: str = "example") -> dict[str, Any]:
    """The example, its servers moved where nothing listens (127.0.8.x, 127.0.9.x, the monitor on 127.0.7.1)."""
    text = EXAMPLE.read_text().replace("127.0.1.", "127.0.8.").replace("127.0.2.", "127.0.9.") \
        .replace("127.0.3.1", "127.0.7.1")
    doc: dict[str, Any] = yaml.safe_load(text)
    doc["metadata"] = {"name": name, "namespace": namespace}
    doc["spec"]["policy"]["probeIntervalSeconds"] = 1
    return doc


def credentials(admin: client.ApiClient, namespace: str) -> None:
    client.CoreV1Api(admin).create_namespaced_secret(namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name="dnsdr-credentials"), string_data={k: f"s3cret-{k}" for k in SECRET_KEYS}))


def kubectl(kube: KubeApi, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(kube.kubectl), "--kubeconfig", str(kube.admin_kubeconfig), *args],
                          capture_output=True, text=True, timeout=120, check=False)


# ------------------------------------------------------------------ the CRD


def test_the_crd_installs_and_explains_itself(kube: KubeApi, crd: None) -> None:
    # The API server publishes a new CRD's OpenAPI a moment after it is established.
    assert eventually(lambda: kubectl(kube, "explain", "designatedr.spec.policy").returncode == 0, timeout=60)
    explained = kubectl(kube, "explain", "designatedr.spec.policy")
    assert "When and how dnsdr fails over" in explained.stdout
    assert "failover\t<string>\n  enum: automatic, manual" in explained.stdout
    assert "Rounds in a row every vantage point must agree" in explained.stdout
    status = kubectl(kube, "explain", "ddr.status.conditions")
    assert status.returncode == 0 and "Ready, Replicating, DNSConverged, FailoverInProgress" in status.stdout


def _mutate(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        node: Any = doc
        parts = path.split("/")
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node[part]
        key: Any = int(parts[-1]) if parts[-1].isdigit() else parts[-1]
        if value is None:
            del node[key]
        else:
            node[key] = value
    return change


INVALID: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("duplicate region names", _mutate("spec/regions/1/name", "r1"), "spec.regions: Invalid value: "
                                                                     "region names must be unique"),
    ("primary without a database", _mutate("spec/primaryRegion", "r3"),
     "spec.primaryRegion: Invalid value: primaryRegion r3 must name a region with a database"),
    ("one database region", _mutate("spec/regions/1/database", None),
     "needs at least two regions with a database (the primary and its replica)"),
    ("monitor region with a database", _mutate("spec/monitor/region", "r2"),
     "spec.monitor.region: Invalid value: monitor.region r2 holds a database; the monitor must watch "
     "from a third region"),
    ("monitor region unknown", _mutate("spec/monitor/region", "r9"), "monitor.region r9 names no region"),
    ("database region without backends", _mutate("spec/regions/0/backends", None),
     "spec.regions[0].backends: Invalid value: a region with a database needs at least one backend"),
    ("two credential sources", _mutate("spec/regions/0/database/passwordRef/env", "PW"),
     "spec.regions[0].database.passwordRef: Invalid value: must name exactly one of secretKeyRef, file, "
     "env"),
    ("command driver without repoint", _mutate("spec/regions/0/designate/control/commands/repoint", None),
     "the command driver needs commands stop, start, repoint"),
    ("kubernetes driver without a kubeconfig", _mutate("spec/regions/0/designate/control",
                                                       {"driver": "kubernetes", "namespace": "openstack"}),
     "the kubernetes driver needs namespace and kubeconfigRef"),
    ("pdns4 with rndc keys", _mutate("spec/regions/0/backends/0/rndc", {"host": "127.0.8.9"}),
     "a pdns4 backend takes none of rndc, rndcKeyRef, rndcKeyFile, rndcConfigFile"),
    ("port out of range", _mutate("spec/regions/0/database/port", 70000),
     "spec.regions[0].database.port: Invalid value: 70000: spec.regions[0].database.port in body should be less "
     "than or equal to 65535"),
    ("unknown backend type", _mutate("spec/regions/0/backends/0/type", "nsd"),
     "spec.regions[0].backends[0].type: Unsupported value: \"nsd\": supported values: \"pdns4\", \"bind9\""),
    ("unknown field", _mutate("spec/policy/failoverMode", "automatic"), "unknown field \"spec.policy.failoverMode\""),
    ("probe interval too short", _mutate("spec/policy/probeIntervalSeconds", 0.01),
     "spec.policy.probeIntervalSeconds: Invalid value: 0.01: spec.policy.probeIntervalSeconds in body should be "
     "greater than or equal to 0.1"),
    ("a resource name that is no DNS label", _mutate("metadata/name", "ex.ample"),
     "metadata.name must be a DNS label"),
]


@pytest.mark.parametrize(("change", "message"), [pytest.param(c, m, id=i) for i, c, m in INVALID])
def test_invalid_resources_are_refused_with_clear_messages(admin: client.ApiClient, crd: None, namespace: str,
                                                           change: Callable[[dict[str, Any]], None],
                                                           message: str) -> None:
    doc = resource(namespace)
    create(admin, namespace, doc, dry_run=True)  # the unchanged resource is accepted
    bad = copy.deepcopy(doc)
    change(bad)
    with pytest.raises(ApiException) as refused:
        create(admin, namespace, bad, dry_run=True)
    assert refused.value.status in (400, 422)  # 400: an unknown field under strict field validation
    assert message in json.loads(refused.value.body)["message"]
    with pytest.raises(SpecError):  # and `dnsdr spec validate` refuses it too
        parse_designatedr(bad, KINDS)


# ------------------------------------------------------------------ the operator, under the shipped RBAC only


@pytest.fixture
def running(kube: KubeApi, admin: client.ApiClient, operator: client.ApiClient, namespace: str, crd: None,
            tmp_path: Path) -> Iterator[OperatorProcess]:
    grant(admin, operator, namespace)
    credentials(admin, namespace)
    proc = OperatorProcess(kube, namespace, tmp_path, extra=("--sweep-every", "1"))
    try:
        yield proc
    finally:
        code = proc.stop()
        assert code == 0, proc.log()[-3000:]


def _health(proc: OperatorProcess) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{proc.health_port}/healthz", timeout=10) as answer:
        doc: dict[str, Any] = json.loads(answer.read())
        return doc


def _metrics(proc: OperatorProcess) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{proc.metrics_port}/metrics", timeout=10) as answer:
        return str(answer.read().decode())


def test_a_valid_resource_gets_conditions_pools_secrets_and_events(kube: KubeApi, admin: client.ApiClient,
                                                                    namespace: str,
                                                                    running: OperatorProcess) -> None:
    create(admin, namespace, resource(namespace))
    wait_for(lambda: set(conditions(admin, namespace, "example")) == CONDITIONS, 60, "the six conditions", running)
    found = conditions(admin, namespace, "example")
    assert all(c["observedGeneration"] == 1 and c["lastTransitionTime"] for c in found.values())
    # Nothing answers: the controller's own vantage point says r1 is down, the others have no opinion.
    assert (found["Ready"]["status"], found["Ready"]["reason"]) == ("False", "Uncertain")
    assert (found["Replicating"]["status"], found["Replicating"]["reason"]) == ("False", "ReplicaUnreachable")
    assert found["Paused"]["reason"] == "ManualPolicy"
    wait_for(lambda: (get(admin, namespace, "example")["status"].get("serials") or {}).get("error") is not None, 30,
             "a serial sweep", running)
    status = get(admin, namespace, "example")["status"]
    assert (status["primary"], status["candidate"], status["health"]) == ("r1", "r2", "uncertain")
    assert [r["name"] for r in status["regions"]] == ["r1", "r2"] and status["regions"][0]["reachable"] is False
    assert "unreachable" in status["monitor"]["error"] or "refused" in status["monitor"]["error"]
    assert status["automation"] == {"mode": "manual", "paused": False, "failedAttempts": 0}
    assert [(p["region"], p["current"]) for p in status["pools"]] == [("r1", True), ("r2", False)]

    # A Secret per database region, with the real credentials Designate needs.
    secrets = client.CoreV1Api(admin)
    for region, state in (("r1", "primary=r1 lost=none"), ("r2", "primary=r2 lost=r1")):
        secret = secrets.read_namespaced_secret(f"dnsdr-example-pools-{region}", namespace)
        assert secret.metadata.annotations["dnsdr.io/world-state"] == state
        assert secret.metadata.owner_references[0].kind == "DesignateDR"
        pools = base64.b64decode(secret.data["pools.yaml"]).decode()
        assert "s3cret-r2-pdns-api-key" in pools

    wait_for(lambda: {"PoolsRendered", "Decision"} <= {r for _, r, _ in events(admin, namespace, "example")}, 30,
             "the first Events", running)
    shown = kubectl(kube, "-n", namespace, "get", "ddr", "example")
    assert shown.returncode == 0 and shown.stdout.split("\n")[0].split() == ["NAME", "PRIMARY", "EPOCH", "HEALTH",
                                                                              "AGE"]
    assert shown.stdout.split("\n")[1].split()[:3] == ["example", "r1", "uncertain"]
    assert _health(running)["rounds"] == {"resources": 1, "stalled": []}
    assert f'dnsdr_database_up{{designatedr="{namespace}/example",region="r1"}} 0.0' in _metrics(running)
    print(f"[operator] RSS {running.rss_mb():.0f} MB watching one resource (peak {running.peak_rss_mb():.0f} MB)")

    # Deleted: the operator stops its rounds and removes its finalizer (the shipped Role's patch suffices).
    assert get(admin, namespace, "example")["metadata"]["finalizers"] == ["dnsdr.io/finalizer"]
    client.CustomObjectsApi(admin).delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "example")

    def gone() -> bool:
        try:
            get(admin, namespace, "example")
        except ApiException as exc:
            return exc.status == 404
        return False
    wait_for(gone, 60, "the resource deleted", running)
    wait_for(lambda: _health(running)["rounds"] == {"resources": 0, "stalled": []}, 30, "its rounds stopped", running)
    assert running.alive()


def test_pause_ack_and_the_command_line_share_one_record(kube: KubeApi, admin: client.ApiClient, namespace: str,
                                                         running: OperatorProcess) -> None:
    create(admin, namespace, resource(namespace))
    wait_for(condition_is(admin, namespace, "example", "Paused", "False", "ManualPolicy"), 60, "the first round",
             running)
    patch(admin, namespace, "example", {"metadata": {"annotations": {"dnsdr.io/paused": "true",
                                                                     "dnsdr.io/paused-reason": "maintenance"}}})
    wait_for(condition_is(admin, namespace, "example", "Paused", "True", "Paused"), 30, "Paused", running)
    assert conditions(admin, namespace, "example")["Paused"]["message"] == "maintenance"
    store = KubernetesStateStore(admin, namespace, "example")
    assert store.load_control().paused
    # A person resumes at the command line: the annotation left in place is not applied again.
    result = CliRunner().invoke(cli, ["resume", "-c", str(EXAMPLE), "--state-store", "kubernetes", "--kubeconfig",
                                      str(kube.operator_kubeconfig), "--namespace", namespace])
    assert result.exit_code == 0, result.output
    wait_for(condition_is(admin, namespace, "example", "Paused", "False"), 30, "resumed", running)
    patch(admin, namespace, "example", {"metadata": {"annotations": {"dnsdr.io/ack": "1"}}})
    wait_for(lambda: store.load_control().acknowledged_at is not None, 30, "the acknowledgement", running)
    assert get(admin, namespace, "example")["status"]["requests"] == {"paused": "true", "ack": "1"}
    reasons = [r for _, r, _ in events(admin, namespace, "example")]
    assert reasons.count("Paused") == 1 and reasons.count("Acknowledged") == 1 and "Resumed" not in reasons


def test_a_spec_only_the_model_refuses_is_reported(admin: client.ApiClient, namespace: str,
                                                   running: OperatorProcess) -> None:
    doc = resource(namespace)
    doc["spec"]["regions"][1]["database"]["host"] = "127.0.8.1"  # r1's database address: regions cannot share one
    create(admin, namespace, doc)
    wait_for(condition_is(admin, namespace, "example", "Ready", "False", "InvalidSpec"), 60, "InvalidSpec", running)
    message = conditions(admin, namespace, "example")["Ready"]["message"]
    assert "spec.regions: duplicate address 127.0.8.1:3306 (in regions r1 and r2)" in message
    assert get(admin, namespace, "example")["status"]["health"] == "invalid"
    wait_for(lambda: any(r == "InvalidSpec" for _, r, _ in events(admin, namespace, "example")), 30,
             "the InvalidSpec Event", running)
    patch(admin, namespace, "example", {"spec": {"regions": resource(namespace)["spec"]["regions"]}})
    wait_for(condition_is(admin, namespace, "example", "Ready", "False", "Uncertain"), 60, "the fixed spec", running)
    assert conditions(admin, namespace, "example")["Ready"]["observedGeneration"] == 2


# ------------------------------------------------------------------ the manifests


STAND_INS = ("servicemonitors", "ServiceMonitor"), ("prometheusrules", "PrometheusRule")


def _prometheus_operator_crds(admin: client.ApiClient) -> None:
    """Stand-ins for the Prometheus operator's CRDs (any content), so that a dry run knows the kinds."""
    api = client.ApiextensionsV1Api(admin)
    for plural, kind in STAND_INS:
        body = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": f"{plural}.monitoring.coreos.com"},
                "spec": {"group": "monitoring.coreos.com", "scope": "Namespaced",
                         "names": {"plural": plural, "kind": kind},
                         "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                             "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}
        try:
            api.create_custom_resource_definition(body)
        except ApiException as exc:
            if exc.status != 409:
                raise


# Each kustomization, and the namespace it goes into when it sets none.
KUSTOMIZATIONS = {"manifests/base": "dnsdr", "manifests/designate": "openstack", "manifests/examples": None,
                  "manifests/overlays/r1": None, "manifests/overlays/r2": None, "manifests/overlays/r3": None}


def test_every_kustomization_applies_server_side(kube: KubeApi, admin: client.ApiClient, crd: None) -> None:
    _prometheus_operator_crds(admin)
    for name in ("dnsdr", "openstack", "designate"):  # a dry run cannot create what the others go into
        try:
            client.CoreV1Api(admin).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        except ApiException as exc:
            if exc.status != 409:
                raise
    root = Path(__file__).resolve().parents[3]
    for path, into in KUSTOMIZATIONS.items():
        applied = kubectl(kube, "apply", "--dry-run=server", *(("-n", into) if into else ()), "-k", str(root / path))
        assert applied.returncode == 0, f"{path}: {applied.stderr}"
        assert "(server dry run)" in applied.stdout
    r3 = kubectl(kube, "kustomize", str(root / "manifests/overlays/r3")).stdout
    kinds = [d["kind"] for d in yaml.safe_load_all(r3) if d]
    assert kinds.count("Role") == 2 and "ClusterRole" not in kinds and "PrometheusRule" in kinds
