"""Smoke test of the real API-server tier: kube-apiserver and etcd built from the Go module proxy
(scripts/build-kube.sh), started on loopback by tests.support.kubeapi.

It proves what the operator's tests will lean on: readiness, CRD schemas with CEL rules, RBAC for a user with no
groups, and the built kubectl. The first run on a machine builds the binaries (some 8 minutes on 2 cores);
a machine without go and without $DNSDR_KUBE_ASSETS skips, saying so.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any, cast

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.support.kube_rbac import status_of
from tests.support.kubeapi import KubeApi
from tests.support.waiting import eventually

# The fixture may have to build kube-apiserver first.
pytestmark = pytest.mark.timeout(3600)

GROUP = "smoke.dnsdr.test"
PLURAL = "widgets"
CEL_MESSAGE = "replicas must not exceed maxReplicas"
CRD_NAME = f"{PLURAL}.{GROUP}"


def _widget_crd() -> client.V1CustomResourceDefinition:
    """Widgets: ``spec.replicas`` may not exceed ``spec.maxReplicas``, a CEL rule (``x-kubernetes-validations``)."""
    count = client.V1JSONSchemaProps(type="integer", minimum=0)
    spec = client.V1JSONSchemaProps(
        type="object",
        required=["replicas", "maxReplicas"],
        properties={"replicas": count, "maxReplicas": count},
        x_kubernetes_validations=[
            client.V1ValidationRule(rule="self.replicas <= self.maxReplicas", message=CEL_MESSAGE)
        ],
    )
    return client.V1CustomResourceDefinition(
        api_version="apiextensions.k8s.io/v1",
        kind="CustomResourceDefinition",
        metadata=client.V1ObjectMeta(name=CRD_NAME),
        spec=client.V1CustomResourceDefinitionSpec(
            group=GROUP,
            scope="Namespaced",
            names=client.V1CustomResourceDefinitionNames(plural=PLURAL, singular="widget", kind="Widget"),
            versions=[
                client.V1CustomResourceDefinitionVersion(
                    name="v1",
                    served=True,
                    storage=True,
                    schema=client.V1CustomResourceValidation(
                        open_apiv3_schema=client.V1JSONSchemaProps(type="object", properties={"spec": spec})
                    ),
                )
            ],
        ),
    )


def test_server_is_ready(kube: KubeApi) -> None:
    assert kube.get("/readyz") == (200, "ok")
    status, body = kube.get("/version")
    assert status == 200
    assert json.loads(body)["gitVersion"].startswith("v1.")
    # Anonymous requests are not the admin: the token file is what authenticates.
    assert kube.get("/api/v1/secrets", token="not-a-token")[0] == 401


def test_crd_cel_rule_rejects_bad_object_and_accepts_good_one(admin: client.ApiClient, namespace: str) -> None:
    extensions = client.ApiextensionsV1Api(admin)
    if status_of(extensions.read_custom_resource_definition, CRD_NAME) == 404:
        extensions.create_custom_resource_definition(_widget_crd())

    def established() -> bool:
        status = extensions.read_custom_resource_definition(CRD_NAME).status
        conditions = (status.conditions if status else None) or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    assert eventually(established, timeout=60)
    objects = client.CustomObjectsApi(admin)

    def widget(name: str, replicas: int, max_replicas: int) -> dict[str, Any]:
        return {
            "apiVersion": f"{GROUP}/v1",
            "kind": "Widget",
            "metadata": {"name": name},
            "spec": {"replicas": replicas, "maxReplicas": max_replicas},
        }

    def create(body: dict[str, Any]) -> None:
        objects.create_namespaced_custom_object(GROUP, "v1", namespace, PLURAL, body)

    # Established comes a moment before the new resource is served everywhere: retry a 404 only.
    assert eventually(lambda: status_of(create, widget("good", 1, 3)) != 404, timeout=60)
    good = cast(dict[str, Any], objects.get_namespaced_custom_object(GROUP, "v1", namespace, PLURAL, "good"))
    assert good["spec"]["replicas"] == 1

    with pytest.raises(ApiException) as rejected:
        create(widget("bad", 5, 3))
    assert rejected.value.status == 422
    assert CEL_MESSAGE in str(rejected.value.body)
    assert status_of(objects.get_namespaced_custom_object, GROUP, "v1", namespace, PLURAL, "bad") == 404


def test_operator_needs_a_role_to_list_secrets(
    admin: client.ApiClient, operator: client.ApiClient, namespace: str
) -> None:
    as_operator = client.CoreV1Api(operator)
    assert status_of(as_operator.list_namespaced_secret, namespace) == 403

    rbac = client.RbacAuthorizationV1Api(admin)
    rbac.create_namespaced_role(
        namespace,
        client.V1Role(
            metadata=client.V1ObjectMeta(name="secret-reader"),
            rules=[client.V1PolicyRule(api_groups=[""], resources=["secrets"], verbs=["get", "list"])],
        ),
    )
    rbac.create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="operator-reads-secrets"),
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="secret-reader"),
            subjects=[client.RbacV1Subject(api_group="rbac.authorization.k8s.io", kind="User", name="operator")],
        ),
    )
    # The authorizer sees new bindings through an informer: poll rather than expect it at once.
    assert eventually(lambda: status_of(as_operator.list_namespaced_secret, namespace) == 200, timeout=30)
    # The grant is that namespace's only: elsewhere, and for writes, the operator is still refused.
    assert status_of(as_operator.list_namespaced_secret, "default") == 403
    secret = client.V1Secret(metadata=client.V1ObjectMeta(name="s"), string_data={"k": "v"})
    assert status_of(as_operator.create_namespaced_secret, namespace, secret) == 403


def test_kubectl_applies_a_configmap_as_a_server_dry_run(
    kube: KubeApi, admin: client.ApiClient, namespace: str
) -> None:
    manifest = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "smoke", "namespace": namespace},
            "data": {"a": "1"},
        }
    )

    def kubectl(kubeconfig: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(kube.kubectl), f"--kubeconfig={kubeconfig}", "apply", "--dry-run=server", "-f", "-"],
            input=manifest,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    done = kubectl(str(kube.admin_kubeconfig))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "configmap/smoke created (server dry run)"
    # A dry run stores nothing.
    assert status_of(client.CoreV1Api(admin).read_namespaced_config_map, "smoke", namespace) == 404

    refused = kubectl(str(kube.operator_kubeconfig))
    assert refused.returncode != 0
    assert "forbidden" in refused.stderr.lower()
