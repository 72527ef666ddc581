"""Helpers for tests against the real API server: clients from kubeconfigs, HTTP statuses of calls, and binding the
``operator`` user to a Role shipped in ``manifests/`` (waiting until the authorizer has seen the binding)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


def new_client(kubeconfig: Path) -> client.ApiClient:
    """A client built from the kubeconfig the helper wrote, as an operator would be given one."""
    made = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    return cast(client.ApiClient, made)



def status_of(call: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """The HTTP status of an API call: 200 when it succeeds."""
    try:
        call(*args, **kwargs)
    except ApiException as exc:
        return int(exc.status)
    return 200


def shipped_role(path: str) -> dict[str, Any]:
    """The one Role in a shipped manifest (``manifests/...``)."""
    roles = [d for d in yaml.safe_load_all((ROOT / path).read_text()) if d and d.get("kind") == "Role"]
    assert len(roles) == 1, f"{path} should hold exactly one Role"
    return cast(dict[str, Any], roles[0])


def allowed(api_client: client.ApiClient, namespace: str, verb: str, resource: str, group: str = "") -> bool:
    review = client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(
        resource_attributes=client.V1ResourceAttributes(namespace=namespace, verb=verb, resource=resource, group=group)))
    answer = client.AuthorizationV1Api(api_client).create_self_subject_access_review(review)
    return bool(answer.status and answer.status.allowed)


def bind_operator(admin: client.ApiClient, operator: client.ApiClient, namespace: str, path: str) -> dict[str, Any]:
    """Create the Role shipped in ``path`` in ``namespace`` and bind the ``operator`` user to it (instead of the
    manifest's service account); returns the Role once the authorizer applies it."""
    role = shipped_role(path)
    rbac = client.RbacAuthorizationV1Api(admin)
    body = {**role, "metadata": {**role["metadata"], "namespace": namespace}}
    rbac.create_namespaced_role(namespace, body)
    rbac.create_namespaced_role_binding(namespace, client.V1RoleBinding(
        metadata=client.V1ObjectMeta(name=f"operator-{role['metadata']['name']}"),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name=role["metadata"]["name"]),
        subjects=[client.RbacV1Subject(api_group="rbac.authorization.k8s.io", kind="User", name="operator")]))
    first = role["rules"][0]
    group, resource, verb = first["apiGroups"][0], first["resources"][0], first["verbs"][0]
    # The authorizer sees new bindings through an informer: wait until it applies this one.
    assert eventually(lambda: allowed(operator, namespace, verb, resource, group), timeout=30)
    return role
