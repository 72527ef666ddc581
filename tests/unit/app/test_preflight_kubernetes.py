"""Regions under the kubernetes control driver: the preflight checks that each kubeconfig reference resolves to a
kubeconfig (without contacting the cluster) and no longer asks for designate-manage here; the engine builds the
driver from the same reference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from dnsdr.adapters.backends import KINDS
from dnsdr.adapters.control.kubernetes import KubernetesController
from dnsdr.adapters.secrets import resolve
from dnsdr.adapters.state import FileStateStore
from dnsdr.app.preflight import preflight
from dnsdr.domain.plan import failover_plan, switchover_plan
from dnsdr.domain.spec import DesignateDR, SecretRef
from dnsdr.domain.spec_parse import parse_designatedr
from dnsdr.engine.errors import EngineError
from dnsdr.engine.runtime import Runtime
from tests.conftest import EXAMPLE

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: r, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: T0ken-value}}]
contexts: [{name: x, context: {cluster: r, user: u, namespace: designate}}]
current-context: x
"""


def _spec(tmp_path: Path) -> DesignateDR:
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    for region in doc["spec"]["regions"][:2]:
        region["designate"]["control"] = {"driver": "kubernetes", "namespace": "designate",
                                          "kubeconfigRef": {"file": str(tmp_path / f"{region['name']}.kubeconfig")}}
        region["designate"]["manageCommand"] = ["/nowhere/designate-manage"]
    return parse_designatedr(doc, KINDS)


def _resolver(ref: SecretRef) -> str:
    return resolve(ref) if ref.multiline else f"pw:{ref.secret_key}"


def _kube_problems(problems: tuple[str, ...]) -> list[str]:
    return [p for p in problems if "kubeconfig" in p or "designate-manage" in p or "control driver" in p]


def test_each_kubeconfig_reference_must_resolve_to_a_kubeconfig(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    (tmp_path / "r2.kubeconfig").write_text("hello: world\n")
    report = preflight(spec, failover_plan(spec, "r1", "r2"), FileStateStore(tmp_path / "state", spec.name),
                       _resolver, manage_dry_run=False)
    assert _kube_problems(report.problems) == [
        f"region r1: kubeconfig: cannot read file {tmp_path}/r1.kubeconfig: no such file",
        f"region r2: kubeconfig: file {tmp_path}/r2.kubeconfig is not a kubeconfig (it needs clusters and a "
        "current-context)",
    ]
    assert "control commands" in report.checked


def test_good_kubeconfigs_pass_and_designate_manage_is_not_needed_here(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    for name in ("r1", "r2"):
        (tmp_path / f"{name}.kubeconfig").write_text(KUBECONFIG)
    ran: list[Any] = []
    report = preflight(spec, switchover_plan(spec, "r1", "r2"), FileStateStore(tmp_path / "state", spec.name),
                       _resolver, manage=lambda *args, **kwargs: ran.append(args))
    assert _kube_problems(report.problems) == []
    # Its dry run would be a Job in the region's cluster, a change there: the apply step runs it first.
    assert ran == [] and "designate-manage pool update --dry-run" not in report.checked


def test_the_runtime_builds_the_kubernetes_driver_from_the_reference(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    (tmp_path / "r2.kubeconfig").write_text(KUBECONFIG)
    runtime = Runtime(spec, failover_plan(spec, "r1", "r2"), frozenset(), resolver=_resolver)
    controller = runtime.controller("r2")
    assert isinstance(controller, KubernetesController) and runtime.controller("r2") is controller
    assert controller.namespace == "designate"
    assert controller.api_client.configuration.host == "https://127.0.0.1:1"  # built, not contacted
    with pytest.raises(EngineError, match=rf"^region r1: cannot reach its cluster: cannot read file "
                                          rf"{tmp_path}/r1.kubeconfig"):
        runtime.controller("r1")
    runtime.close()
