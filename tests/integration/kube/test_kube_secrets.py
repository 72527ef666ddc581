"""Credentials read from Kubernetes Secrets through the API (the operator's resolver) against a real API server: the
same value rule as a mounted file, every failure named without the value, a rotated Secret used after the cache's
lifetime, and RBAC refusals reported as worth retrying."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from kubernetes import client

from dnsdr.adapters.kube_secrets import KubeSecrets, SecretUnavailable
from dnsdr.adapters.secrets import SecretError, resolved_values
from dnsdr.domain.spec import SecretRef

pytestmark = pytest.mark.timeout(3600)  # the session fixture may have to build kube-apiserver first

BIND_KEY = 'key "rndc-key" {\n\talgorithm hmac-sha256;\n\tsecret "c2VjcmV0LXZhbHVl";\n};\n'


def _secret(admin: client.ApiClient, namespace: str, name: str, data: dict[str, bytes]) -> None:
    body = client.V1Secret(metadata=client.V1ObjectMeta(name=name),
                           data={k: base64.b64encode(v).decode() for k, v in data.items()})
    client.CoreV1Api(admin).create_namespaced_secret(namespace, body)


def _ref(name: str, key: str) -> SecretRef:
    return SecretRef(secret_name=name, secret_key=key)


def test_values_follow_the_mounted_file_rule(admin: client.ApiClient, namespace: str) -> None:
    _secret(admin, namespace, "creds", {"db": b"  s3cret-db\n\n", "rndc": BIND_KEY.encode(), "bad": b"a\nb",
                                        "latin": b"\xe9t\xe9"})
    secrets = KubeSecrets(admin, namespace)
    assert secrets(_ref("creds", "db")) == "s3cret-db"
    assert "s3cret-db" in resolved_values()  # scrubbed from logs like any other secret
    assert secrets(_ref("creds", "rndc")) == BIND_KEY.strip()  # a BIND key clause keeps its lines
    with pytest.raises(SecretError, match="contains a line break inside the value"):
        secrets(_ref("creds", "bad"))
    with pytest.raises(SecretError, match=r"is not UTF-8 text \(byte 0\)"):
        secrets(_ref("creds", "latin"))
    with pytest.raises(SecretError, match="Secret creds has no key nokey") as missing_key:
        secrets(_ref("creds", "nokey"))
    assert f"namespace {namespace}" in str(missing_key.value)
    with pytest.raises(SecretError, match=f"there is no Secret nothere in namespace {namespace}"):
        secrets(_ref("nothere", "k"))


def test_file_and_env_references_resolve_as_everywhere_else(admin: client.ApiClient, namespace: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pw").write_text("from-a-file\n")
    monkeypatch.setenv("DNSDR_TEST_PW", "from-env")
    secrets = KubeSecrets(admin, namespace)
    assert secrets(SecretRef(file=str(tmp_path / "pw"))) == "from-a-file"
    assert secrets(SecretRef(env="DNSDR_TEST_PW")) == "from-env"


def test_a_rotated_secret_is_used_once_the_cache_expires(admin: client.ApiClient, namespace: str) -> None:
    _secret(admin, namespace, "rotating", {"k": b"first"})
    now = [0.0]
    secrets = KubeSecrets(admin, namespace, ttl=30, clock=lambda: now[0])
    assert secrets(_ref("rotating", "k")) == "first"
    client.CoreV1Api(admin).patch_namespaced_secret("rotating", namespace,
                                                    {"data": {"k": base64.b64encode(b"second").decode()}})
    now[0] = 29.0
    assert secrets(_ref("rotating", "k")) == "first"  # one read per ttl, however often a round asks
    now[0] = 30.0
    assert secrets(_ref("rotating", "k")) == "second"
    client.CoreV1Api(admin).patch_namespaced_secret("rotating", namespace,
                                                    {"data": {"k": base64.b64encode(b"third").decode()}})
    secrets.forget()
    assert secrets(_ref("rotating", "k")) == "third"


def test_a_refusal_by_rbac_is_worth_retrying_and_says_what_to_grant(admin: client.ApiClient, operator: client.ApiClient,
                                                                    namespace: str) -> None:
    _secret(admin, namespace, "creds", {"db": b"pw"})
    with pytest.raises(SecretUnavailable, match=r"403 Forbidden.*must allow get on secrets"):
        KubeSecrets(operator, namespace)(_ref("creds", "db"))
