"""The ``control`` block of a region: the kubernetes driver's fields are read, defaulted and checked with their paths."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from dnsdr.adapters.backends import KINDS
from dnsdr.domain.spec import DEFAULT_CONNECTION, ConfigKeyRef, SecretRef, ServiceControl
from dnsdr.domain.spec_parse import SpecError, parse_designatedr
from tests.conftest import EXAMPLE

EXAMPLE_DOC: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
PATH = "spec.regions[1].designate.control"
KUBE = {"driver": "kubernetes", "namespace": "designate",
        "kubeconfigRef": {"secretKeyRef": {"name": "r2-kube", "key": "kubeconfig"}}}


def _parse(control: dict[str, Any]) -> ServiceControl:
    doc = copy.deepcopy(EXAMPLE_DOC)
    doc["spec"]["regions"][1]["designate"]["control"] = control
    designate = parse_designatedr(doc, KINDS).region("r2").designate
    assert designate is not None
    return designate.control


def _problems(control: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as info:
        _parse(control)
    return info.value.problems


def test_the_kubernetes_driver_with_defaults() -> None:
    control = _parse(KUBE)
    assert control.driver == "kubernetes" and control.namespace == "designate"
    # A kubeconfig is a document: its reference says so, so the resolver keeps its line breaks.
    assert control.kubeconfig == SecretRef(secret_name="r2-kube", secret_key="kubeconfig", multiline=True)
    assert [control.deployment_name(s) for s in ("api", "central")] == ["designate-api", "designate-central"]
    assert control.connection == DEFAULT_CONNECTION == ConfigKeyRef("Secret", "designate-etc", "designate.conf")
    assert control.commands == ()


def test_the_kubernetes_driver_with_every_field() -> None:
    control = _parse({**KUBE, "kubeconfigRef": {"file": "/etc/dnsdr/r2.kubeconfig"},
                      "deploymentName": "dns-{service}-r2",
                      "databaseConnection": {"configMapKeyRef": {"name": "designate.config", "key": "DB_URL"}}})
    assert control.kubeconfig == SecretRef(file="/etc/dnsdr/r2.kubeconfig", multiline=True)
    assert control.deployment_name("worker") == "dns-worker-r2"
    assert control.connection == ConfigKeyRef("ConfigMap", "designate.config", "DB_URL")
    assert control.connection.describe() == "configmap designate.config key DB_URL"


@pytest.mark.parametrize(("change", "expected"), [
    ({"namespace": None}, [f"{PATH}.namespace: is required"]),
    ({"kubeconfigRef": None}, [f"{PATH}.kubeconfigRef: is required"]),
    ({"kubeconfigRef": {"file": "kubeconfig"}}, [f"{PATH}.kubeconfigRef.file: must be an absolute path"]),
    ({"commands": {"stop": "x"}}, [f"{PATH}.commands: is only read by the command driver"]),
    ({"deploymentName": "designate"},
     [f"{PATH}.deploymentName: must contain {{service}} (the Designate service: api, central, ...)"]),
    ({"deploymentName": "Designate-{service}"},
     [f"{PATH}.deploymentName: 'Designate-{{service}}' does not make a valid Deployment name for api "
      "(lower-case letters, digits and '-', at most 63)"]),
    ({"deploymentName": "d-{service}-{region}"},
     [f"{PATH}.deploymentName: 'd-{{service}}-{{region}}' does not make a valid Deployment name for api "
      "(lower-case letters, digits and '-', at most 63)"]),
    ({"databaseConnection": {"secretKeyRef": {"name": "s"}}}, [f"{PATH}.databaseConnection.secretKeyRef.key: is required"]),
    ({"databaseConnection": {"secretKeyRef": {"name": "s", "key": "k"}, "configMapKeyRef": {"name": "c", "key": "k"}}},
     [f"{PATH}.databaseConnection: must name exactly one of secretKeyRef, configMapKeyRef"]),
    ({"databaseConnection": {"secretKeyRef": {"name": "Bad_Name", "key": "k"}}},
     [f"{PATH}.databaseConnection.secretKeyRef.name: 'Bad_Name' is not a valid Secret name"]),
])
def test_kubernetes_driver_mistakes_are_named_once(change: dict[str, Any], expected: list[str]) -> None:
    control = {k: v for k, v in {**KUBE, **change}.items() if v is not None}
    assert _problems(control) == expected


def test_the_command_driver_refuses_the_kubernetes_fields() -> None:
    control = copy.deepcopy(EXAMPLE_DOC["spec"]["regions"][1]["designate"]["control"])
    control.update(kubeconfigRef={"env": "KUBECONFIG_R2"}, deploymentName="d-{service}")
    assert _problems(control) == [f"{PATH}.kubeconfigRef: is only read by the kubernetes driver",
                                  f"{PATH}.deploymentName: is only read by the kubernetes driver"]
