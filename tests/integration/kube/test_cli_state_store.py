"""The command line on the Kubernetes state store (`--state-store kubernetes`), the one the operator uses: a person's
pause, resume, ack and history land in the same ConfigMaps, under the shipped state Role only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from dnsdr.adapters.state.kubernetes import KubernetesStateStore
from dnsdr.cli.main import cli
from dnsdr.domain.journal import Journal, Outcome
from tests.conftest import EXAMPLE
from tests.support.kube_rbac import bind_operator
from tests.support.kubeapi import KubeApi

pytestmark = pytest.mark.timeout(3600)  # the session fixture may have to build kube-apiserver first


def _dnsdr(kube: KubeApi, namespace: str, *args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "-c", str(EXAMPLE), "--state-store", "kubernetes", "--kubeconfig",
                                      str(kube.operator_kubeconfig), "--namespace", namespace])
    assert result.exit_code == 0, result.output
    return result.output


def test_pause_resume_ack_and_history_share_the_operators_records(kube: KubeApi, admin: client.ApiClient,
                                                                   operator: client.ApiClient, namespace: str) -> None:
    bind_operator(admin, operator, namespace, "manifests/base/rbac-state.yaml")
    store = KubernetesStateStore(admin, namespace, "example")  # metadata.name of the example

    assert "paused (maintenance)" in _dnsdr(kube, namespace, "pause", "--reason", "maintenance")
    control = store.load_control()
    assert control.paused and control.paused_reason == "maintenance"
    assert "dnsdr-example-control" in [c.metadata.name for c in
                                       client.CoreV1Api(admin).list_namespaced_config_map(namespace).items]

    assert "resumed" in _dnsdr(kube, namespace, "resume")
    assert not store.load_control().paused
    store.update_control(lambda c: c.__class__(**{**c.to_dict(), "semi_sync": None, "last_auto_failover_at": 5.0}))
    assert "acknowledged" in _dnsdr(kube, namespace, "ack")
    assert store.load_control().acknowledged_at is not None

    assert f"no finished runs of example in Kubernetes namespace {namespace}" in _dnsdr(kube, namespace, "history")
    store.save_journal(Journal("run1", "failover", "r1", "r2", "f", 100.0, outcome=Outcome.SUCCEEDED,
                               finished_at=130.0, epoch=2))
    runs = json.loads(_dnsdr(kube, namespace, "history", "-o", "json"))
    assert [(r["run_id"], r["outcome"], r["epoch"]) for r in runs] == [("run1", "succeeded", 2)]


def test_the_namespace_defaults_to_the_specs(kube: KubeApi, admin: client.ApiClient,
                                              operator: client.ApiClient) -> None:
    try:
        client.CoreV1Api(admin).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="designate")))
    except ApiException as exc:  # another test of the session made it
        if exc.status != 409:
            raise
    bind_operator(admin, operator, "designate", "manifests/base/rbac-state.yaml")
    result = CliRunner().invoke(cli, ["pause", "-c", str(EXAMPLE), "--state-store", "kubernetes", "--kubeconfig",
                                      str(kube.operator_kubeconfig)])  # the example's metadata.namespace: designate
    assert result.exit_code == 0, result.output
    assert KubernetesStateStore(admin, "designate", "example").load_control().paused


def test_a_missing_kubeconfig_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["pause", "-c", str(EXAMPLE), "--state-store", "kubernetes", "--kubeconfig",
                                      str(tmp_path / "nothere")])
    assert result.exit_code == 1
    assert result.output.strip() == f"error: cannot read kubeconfig {tmp_path / 'nothere'}: no such file"
