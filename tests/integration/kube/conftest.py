"""Fixtures for the real API-server tier: one kube-apiserver (with its etcd) per test session, admin and ``operator``
clients, and a fresh namespace per test (never deleted: without a controller manager deletion never finishes)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from kubernetes import client

from tests.support.kube_rbac import new_client
from tests.support.kubeapi import KubeApi, KubeApiUnavailable, kube_bin_dir


@pytest.fixture(scope="session")
def kube() -> Iterator[KubeApi]:
    try:
        bin_dir = kube_bin_dir()
    except KubeApiUnavailable as exc:
        pytest.skip(f"no kube-apiserver for this tier: {exc}")
    with KubeApi(bin_dir=bin_dir) as api:
        print(f"[kube] {api.server} ready in {api.ready_seconds:.1f} s")
        yield api


@pytest.fixture(scope="session")
def admin(kube: KubeApi) -> Iterator[client.ApiClient]:
    api_client = new_client(kube.admin_kubeconfig)
    yield api_client
    api_client.close()  # type: ignore[no-untyped-call]


@pytest.fixture(scope="session")
def operator(kube: KubeApi) -> Iterator[client.ApiClient]:
    api_client = new_client(kube.operator_kubeconfig)
    yield api_client
    api_client.close()  # type: ignore[no-untyped-call]


@pytest.fixture
def namespace(admin: client.ApiClient) -> str:
    """A fresh namespace per test; never deleted (without a controller manager, deletion never finishes)."""
    name = f"t-{secrets.token_hex(4)}"
    client.CoreV1Api(admin).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    return name
