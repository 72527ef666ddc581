"""The Kubernetes client helpers: times the API server accepts, durations it can store, kubeconfig text to a client
without contacting anything and without quoting the kubeconfig in an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from dnsdr.adapters import kube

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: r, cluster: {server: "https://10.9.9.9:6443", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: T0ken-value}}]
contexts: [{name: x, context: {cluster: r, user: u}}]
current-context: x
"""


def test_a_whole_second_still_has_six_fraction_digits_on_the_wire() -> None:
    # isoformat() drops a zero fraction and the API server refuses MicroTime without one.
    assert kube.micro_time(1000.0).isoformat() == "1970-01-01T00:16:40.000001+00:00"
    assert kube.micro_time(1000.25).isoformat() == "1970-01-01T00:16:40.250000+00:00"
    assert kube.unix_time(kube.micro_time(1000.25)) == 1000.25


@pytest.mark.parametrize(("ttl", "seconds"), [(0.2, 1), (1.0, 1), (1.2, 2), (60.0, 60), (12.5, 13)])
def test_durations_are_whole_seconds_never_shorter(ttl: float, seconds: int) -> None:
    assert kube.whole_seconds(ttl) == seconds


def test_a_kubeconfig_becomes_a_client_for_its_current_context() -> None:
    api_client = kube.client_from_kubeconfig(KUBECONFIG, "secret k/kubeconfig")
    assert api_client.configuration.host == "https://10.9.9.9:6443"
    kube.close(api_client)


@pytest.mark.parametrize(("text", "message"), [
    ("clusters: [\n  token: T0ken-value\n  - x", "secret k/kubeconfig is not a kubeconfig: not valid YAML (line 4, "
                                               "column 1)"),
    ("token: T0ken-value\n", "secret k/kubeconfig is not a kubeconfig (it needs clusters and a current-context)"),
    (KUBECONFIG.replace("current-context: x", "current-context: y"),
     "secret k/kubeconfig is not a usable kubeconfig: Invalid kube-config file. Expected object with name y in "
     "kube-config/contexts list"),
])
def test_a_bad_kubeconfig_is_named_and_never_quoted(text: str, message: str) -> None:
    with pytest.raises(kube.KubeconfigError) as refused:
        kube.client_from_kubeconfig(text, "secret k/kubeconfig")
    assert str(refused.value) == message
    assert "T0ken" not in str(refused.value)


def test_the_current_contexts_namespace_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert kube.context_namespace(KUBECONFIG) is None
    named = KUBECONFIG.replace("context: {cluster: r, user: u}", "context: {cluster: r, user: u, namespace: dr}")
    assert kube.context_namespace(named) == "dr"
    path = tmp_path / "config"
    path.write_text(named)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", f"{path}:{tmp_path / 'other'}")  # the first file of the list
    api_client, namespace = kube.connect()
    assert (api_client.configuration.host, namespace) == ("https://10.9.9.9:6443", "dr")
    kube.close(api_client)
    with pytest.raises(kube.KubeconfigError, match=f"cannot read kubeconfig {tmp_path}/none: no such file"):
        kube.connect(str(tmp_path / "none"))
