"""The shipped manifests agree with the code: the alerts name metrics dnsdr exports, the Deployment runs the image
non-root with a read-only root filesystem and probes on the ports the image exposes, the Roles are namespaced, and
every kustomization lists files that exist. (tests/integration/kube/test_operator.py applies each one to a real API
server.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from dnsdr.app.metrics import ControllerMetrics
from tests.conftest import ROOT

MANIFESTS = ROOT / "manifests"


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _exported() -> set[str]:
    names = set()
    for family in ControllerMetrics().registry.collect():
        names.add(family.name)
        names.update(s.name for s in family.samples)
    return names


def test_every_alert_uses_metrics_dnsdr_exports() -> None:
    rule = _docs(MANIFESTS / "components" / "prometheus" / "prometheusrule.yaml")[0]
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    assert {"DnsdrTwoWritablePrimaries", "DnsdrPrimaryDown", "DnsdrReplicationLagOverPolicy", "DnsdrSemiSyncOff",
            "DnsdrErrantTransactions", "DnsdrZoneDrift", "DnsdrOperationUnfinished", "DnsdrMonitorAbsent"} <= set(alerts)
    exported = _exported()
    for name, alert in alerts.items():
        used = set(re.findall(r"\bdnsdr_[a-z_]+", alert["expr"]))
        assert used and used <= exported, (name, used - exported)
        assert alert["labels"]["severity"] in ("warning", "critical") and alert["annotations"]["summary"]
    assert alerts["DnsdrZoneDrift"]["for"] == "10m" and "900" in alerts["DnsdrOperationUnfinished"]["expr"]


def test_the_deployment_is_locked_down_and_probed() -> None:
    deployment = _docs(MANIFESTS / "base" / "deployment.yaml")[0]
    spec = deployment["spec"]
    assert spec["replicas"] == 1 and spec["strategy"]["type"] == "Recreate"
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["seccompProfile"]["type"] == \
        "RuntimeDefault"
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "operator" in container["args"] and pod["serviceAccountName"] == "dnsdr"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    containerfile = (ROOT / "Containerfile").read_text()
    assert f"EXPOSE {ports['metrics']} {ports['health']}" in containerfile
    assert f"USER {pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}" in containerfile
    assert 'ENTRYPOINT ["/opt/dnsdr/bin/dnsdr"]' in containerfile


def test_the_roles_are_namespaced_and_bound_to_the_operators_account() -> None:
    for path in ("base/rbac-operator.yaml", "base/rbac-state.yaml", "designate/rbac-control.yaml"):
        kinds = {d["kind"]: d for d in _docs(MANIFESTS / path)}
        assert set(kinds) == {"Role", "RoleBinding"}, path
        assert kinds["RoleBinding"]["subjects"] == [{"kind": "ServiceAccount", "name": "dnsdr"}]
        verbs = {v for rule in kinds["Role"]["rules"] for v in rule["verbs"]}
        assert "*" not in verbs and "deletecollection" not in verbs, path


def test_every_kustomization_lists_what_exists() -> None:
    for kustomization in MANIFESTS.rglob("kustomization.yaml"):
        doc = yaml.safe_load(kustomization.read_text())
        for entry in [*doc.get("resources", []), *doc.get("components", [])]:
            assert (kustomization.parent / entry).exists(), (kustomization, entry)
