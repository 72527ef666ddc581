"""Running ``dnsdr operator`` as the process it is in production, against the test API server, and the objects a test
needs around it (the CRD, the shipped Roles bound to the ``operator`` user, resources, their status and Events).

The operator runs this checkout's code (``PYTHONPATH``), talks to the API server with the ``operator`` token only (so
the shipped RBAC is proven sufficient), and its memory is read from /proc (VmRSS now, VmHWM the peak).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.support.kube_rbac import bind_operator
from tests.support.kubeapi import KubeApi
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
CRD = ROOT / "manifests" / "base" / "crd.yaml"
ROLES = ("manifests/base/rbac-operator.yaml", "manifests/base/rbac-state.yaml")
GROUP, VERSION, PLURAL = "dnsdr.io", "v1alpha1", "designatedrs"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def install_crd(admin: client.ApiClient) -> None:
    """Create (or replace) the committed CRD and wait until the API server serves it."""
    body = yaml.safe_load(CRD.read_text())
    api = client.ApiextensionsV1Api(admin)
    try:
        api.create_custom_resource_definition(body)
    except ApiException as exc:
        if exc.status != 409:
            raise
        current = api.read_custom_resource_definition(body["metadata"]["name"])
        body["metadata"]["resourceVersion"] = current.metadata.resource_version
        api.replace_custom_resource_definition(body["metadata"]["name"], body)

    def established() -> bool:
        crd = api.read_custom_resource_definition(body["metadata"]["name"])
        return any(c.type == "Established" and c.status == "True" for c in (crd.status.conditions or []))
    assert eventually(established, timeout=30)


def grant(admin: client.ApiClient, operator: client.ApiClient, namespace: str) -> None:
    """Bind the ``operator`` user to the shipped Roles, and nothing else."""
    for path in ROLES:
        bind_operator(admin, operator, namespace, path)


class OperatorProcess:
    """``python -m dnsdr operator`` for one namespace; ``stop()`` sends SIGTERM and waits."""

    def __init__(self, kube: KubeApi, namespace: str, workdir: Path, *, name: str = "operator",
                 extra: tuple[str, ...] = (), env: dict[str, str] | None = None) -> None:
        self.metrics_port, self.health_port = free_port(), free_port()
        self.log_path = workdir / f"{name}.log"
        args = [sys.executable, "-m", "dnsdr", "-v", "operator", "--kubeconfig", str(kube.operator_kubeconfig),
                "--namespace", namespace, "--metrics", f"127.0.0.1:{self.metrics_port}",
                "--liveness", f"http://127.0.0.1:{self.health_port}/healthz", *extra]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONFAULTHANDLER": "1",
                                              **(env or {})},
                                         start_new_session=True)
        self.rss_samples: list[float] = []

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _status_kb(self, field: str) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1])
        raise AssertionError(f"no {field} for {self.pid}")

    def rss_mb(self) -> float:
        value = self._status_kb("VmRSS") / 1024
        self.rss_samples.append(value)
        return value

    def peak_rss_mb(self) -> float:
        """The most resident memory the process ever had (the kernel's high-water mark)."""
        return self._status_kb("VmHWM") / 1024

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:  # say where it hangs (faulthandler dumps every thread), then kill
                os.kill(self.proc.pid, signal.SIGABRT)
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait()
        return int(self.proc.returncode)


def custom(admin: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(admin)


def get(admin: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    return cast(dict[str, Any], custom(admin).get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name))


def create(admin: client.ApiClient, namespace: str, body: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
    extra: dict[str, Any] = {"dry_run": "All"} if dry_run else {}
    return cast(dict[str, Any], custom(admin).create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, body, field_validation="Strict", **extra))


def patch(admin: client.ApiClient, namespace: str, name: str, body: dict[str, Any]) -> None:
    custom(admin).patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, body,
                                                 _content_type="application/merge-patch+json")


def conditions(admin: client.ApiClient, namespace: str, name: str) -> dict[str, dict[str, Any]]:
    status = get(admin, namespace, name).get("status") or {}
    return {c["type"]: c for c in status.get("conditions") or []}


def condition_is(admin: client.ApiClient, namespace: str, name: str, kind: str, status: str,
                 reason: str | None = None) -> Callable[[], bool]:
    def check() -> bool:
        found = conditions(admin, namespace, name).get(kind)
        return found is not None and found["status"] == status and (reason is None or found["reason"] == reason)
    return check


def events(admin: client.ApiClient, namespace: str, name: str) -> list[tuple[str, str, str]]:
    """(type, reason, message) of the resource's Events, oldest first."""
    items = client.CoreV1Api(admin).list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name},involvedObject.kind=DesignateDR").items
    # Timestamps have a second's resolution; within one second the etcd revision an Event was stored at orders them.
    items.sort(key=lambda e: (e.first_timestamp or e.event_time or e.metadata.creation_timestamp,
                              int(e.metadata.resource_version or 0)))
    return [(str(e.type), str(e.reason), str(e.message)) for e in items]


def wait_for(check: Callable[[], bool], timeout: float, what: str, operator: OperatorProcess | None = None) -> None:
    """Wait for ``check``; on timeout fail with ``what`` and the operator's last log lines."""
    deadline = time.monotonic() + timeout
    if eventually(check, timeout=max(0.0, deadline - time.monotonic()), interval=0.5):
        return
    tail = "\n".join(operator.log().splitlines()[-40:]) if operator is not None else ""
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}\n{tail}")
