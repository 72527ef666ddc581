"""Writing what the operator owns in Kubernetes: a custom resource's status and Secrets it renders.

Status is written as a JSON merge patch of the sections a writer knows (a null removes a field), so two writers of
different sections never undo each other. A Secret carries the digest of its content in an annotation and is written
only when that changes: a round that renders the same pools every time costs one read.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from kubernetes import client

from dnsdr.adapters import kube
from dnsdr.adapters.kube import KubeFailure, attempts
from dnsdr.domain.errors import RetryLater

MERGE_PATCH = "application/merge-patch+json"


class KubeWriteError(RetryLater):
    """The API server did not take a write now (unreachable, refused, conflicting)."""


def secret(body: dict[str, Any]) -> client.V1Secret:
    """The client's object for a Secret written as a plain manifest."""
    meta = body["metadata"]
    owners = [client.V1OwnerReference(api_version=o["apiVersion"], kind=o["kind"], name=o["name"], uid=o["uid"],
                                      controller=o.get("controller"), block_owner_deletion=o.get("blockOwnerDeletion"))
              for o in meta.get("ownerReferences") or []]
    return client.V1Secret(
        api_version="v1", kind="Secret", type=body.get("type", "Opaque"), string_data=body.get("stringData"),
        data=body.get("data"),
        metadata=client.V1ObjectMeta(name=meta["name"], namespace=meta.get("namespace"), labels=meta.get("labels"),
                                     annotations=meta.get("annotations"), owner_references=owners or None,
                                     resource_version=meta.get("resourceVersion")))


class KubeObjects:
    def __init__(self, api_client: client.ApiClient, timeout: float = kube.REQUEST_TIMEOUT) -> None:
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)
        self.timeout = timeout

    def _failed(self, verb: str, what: str, failure: KubeFailure) -> KubeWriteError:
        hint = " (the operator's Role must allow it: manifests/base/rbac-operator.yaml)" \
            if failure.status == kube.FORBIDDEN else ""
        return KubeWriteError(f"cannot {verb} {what}: {failure}{hint}")

    def patch_status(self, group: str, version: str, plural: str, namespace: str, name: str,
                     status: dict[str, Any]) -> None:
        try:
            kube.call(lambda: self.custom.patch_namespaced_custom_object_status(
                group, version, namespace, plural, name, {"status": status}, _content_type=MERGE_PATCH,
                _request_timeout=kube.timeout(self.timeout)))
        except KubeFailure as failure:
            if failure.status == kube.NOT_FOUND:
                return  # deleted meanwhile: nothing to report on
            raise self._failed("update the status of", f"{plural}/{name} in namespace {namespace}", failure) from None

    def apply_secret(self, body: dict[str, Any], digest_key: str) -> bool:
        """Create or replace the Secret ``body`` unless it already holds the same digest; True when written."""
        meta = body["metadata"]
        name, namespace = meta["name"], meta["namespace"]
        what = f"secret {namespace}/{name}"
        request = kube.timeout(self.timeout)
        for _ in attempts():
            try:
                current = kube.call(lambda: self.core.read_namespaced_secret(name, namespace,
                                                                             _request_timeout=request))
            except KubeFailure as failure:
                if failure.status != kube.NOT_FOUND:
                    raise self._failed("read", what, failure) from None
                current = None
            if current is not None and kube.annotations_of(current).get(digest_key) == meta["annotations"][digest_key]:
                return False
            try:
                if current is None:
                    kube.call(lambda: self.core.create_namespaced_secret(namespace, secret(body),
                                                                         _request_timeout=request))
                else:
                    versioned = secret({**body, "metadata": {**meta, "resourceVersion": kube.version_of(current)}})
                    kube.call(partial(self.core.replace_namespaced_secret, name, namespace, versioned,
                                      _request_timeout=request))
            except KubeFailure as failure:
                if failure.status == kube.CONFLICT:
                    continue  # created or changed since we read it: read again
                raise self._failed("write", what, failure) from None
            return True
        raise KubeWriteError(f"{what} kept changing under dnsdr; try again")
