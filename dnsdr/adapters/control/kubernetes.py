"""The ``kubernetes`` service-control driver: a region's Designate as Deployments in its own cluster.

Same verbs as the ``command`` driver, so the engine cannot tell them apart:

- ``stop``: scale each Deployment to 0, first remembering its replica count in the annotation
  ``dnsdr.io/replicas-before-stop``, and wait until its pods are gone (a fence that returns while the old API still
  answers is no fence);
- ``start``: scale back to the remembered count (1 when nothing was remembered) and wait for the rollout, one service
  after the other in START_ORDER (central must consume before the others cast to it);
- ``restart``: the same, plus a new ``kubectl.kubernetes.io/restartedAt`` in the pod template, so even a running
  Deployment rolls (a worker must reload its pool cache); a stopped one comes back, as ``systemctl restart`` would;
- ``repoint``: rewrite the database host and port in the Secret or ConfigMap key the Deployments read
  (``databaseConnection``, by default openstack-helm's ``designate-etc`` / ``designate.conf``), then restart them all;
- ``pool_update``: ``designate-manage pool update`` as a Job (``kube_job``).

Every write carries the resourceVersion it read (a 409 means someone else changed the object: read and decide
again), every request and every wait is bounded, and nothing a Secret holds ever reaches a message.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from kubernetes import client

from dnsdr.adapters import kube
from dnsdr.adapters.control.connection import ConnectionValueError, repoint
from dnsdr.adapters.control.kube_job import PoolUpdateJob
from dnsdr.adapters.designate_manage import ManageResult
from dnsdr.adapters.kube import KubeFailure, attempts
from dnsdr.adapters.service_control import START_ORDER, STOP_ORDER, ServiceControlError
from dnsdr.domain.spec import Endpoint, RegionSpec, SecretRef

SAVED_REPLICAS = "dnsdr.io/replicas-before-stop"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
ROLLOUT_TIMEOUT = 300.0  # seconds for one Deployment to scale down or finish its rollout
MERGE_PATCH = "application/merge-patch+json"


class KubernetesController:
    """Controls ``region``'s Designate Deployments through ``api_client`` (a client for that region's cluster)."""

    def __init__(self, region: RegionSpec, api_client: client.ApiClient, *, rollout_timeout: float = ROLLOUT_TIMEOUT,
                 poll: float = 1.0, request_timeout: float = kube.REQUEST_TIMEOUT,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        if region.designate is None:
            raise ServiceControlError(f"region {region.name} has no Designate to control")
        control = region.designate.control
        if control.driver != "kubernetes" or control.namespace is None:
            raise ServiceControlError(f"region {region.name}: service control driver {control.driver!r} is not "
                                      "the kubernetes driver")
        self.region = region
        self.control = control
        self.namespace: str = control.namespace
        self.api_client = api_client
        self.apps = client.AppsV1Api(api_client)
        self.core = client.CoreV1Api(api_client)
        self.rollout_timeout = rollout_timeout
        self.poll = poll
        self.request_timeout = request_timeout
        self.clock = clock
        self.sleep = sleep
        self.jobs = PoolUpdateJob(api_client, self.namespace, region.designate.manage_command,
                                  lambda: self._deployment(control.deployment_name("central")),
                                  request_timeout=request_timeout, poll=poll, clock=clock, sleep=sleep)

    @classmethod
    def for_region(cls, region: RegionSpec, resolver: Callable[[SecretRef], str], **options: Any) -> \
            KubernetesController:
        """The controller for ``region``, reaching its cluster through the kubeconfig its spec refers to (nothing is
        contacted yet)."""
        ref = region.designate.control.kubeconfig if region.designate else None
        if ref is None:
            raise ServiceControlError(f"region {region.name}: the kubernetes driver needs control.kubeconfigRef")
        api_client = kube.client_from_kubeconfig(resolver(ref), f"region {region.name}'s kubeconfig ({ref.describe()})")
        return cls(region, api_client, **options)

    def close(self) -> None:
        kube.close(self.api_client)

    # -- API calls
    def _failed(self, action: str, what: str, failure: KubeFailure) -> ServiceControlError:
        return ServiceControlError(f"{action} in {self.region.name}: {what} in namespace {self.namespace}: {failure}")

    def _request(self) -> tuple[float, float]:
        return kube.timeout(self.request_timeout)

    def _deployment(self, name: str, action: str = "read") -> client.V1Deployment:
        try:
            return kube.call(lambda: self.apps.read_namespaced_deployment(name, self.namespace,
                                                                          _request_timeout=self._request()))
        except KubeFailure as failure:
            raise self._failed(action, f"deployment {name}", failure) from None

    def _patch(self, name: str, body: dict[str, Any], action: str) -> bool:
        """Merge-patch Deployment ``name``; False when its resourceVersion (in ``body``) is no longer current."""
        try:
            kube.call(lambda: self.apps.patch_namespaced_deployment(name, self.namespace, body,
                                                                    _content_type=MERGE_PATCH,
                                                                    _request_timeout=self._request()))
        except KubeFailure as failure:
            if failure.status == kube.CONFLICT:
                return False
            raise self._failed(action, f"deployment {name}", failure) from None
        return True

    # -- scaling
    def _scale_down(self, name: str) -> None:
        for _ in attempts():
            deployment = self._deployment(name, "stop")
            replicas = deployment.spec.replicas if deployment.spec and deployment.spec.replicas is not None else 1
            if replicas == 0:
                return  # stopped already (by us: the count is remembered; by someone else: start brings back 1)
            body = {"metadata": {"resourceVersion": kube.version_of(deployment),
                                 "annotations": {SAVED_REPLICAS: str(replicas)}},
                    "spec": {"replicas": 0}}
            if self._patch(name, body, "stop"):
                return
        raise ServiceControlError(f"stop in {self.region.name}: deployment {name} kept changing; try again")

    def _scale_up(self, name: str, action: str, restart_at: str | None) -> None:
        for _ in attempts():
            deployment = self._deployment(name, action)
            current = deployment.spec.replicas if deployment.spec and deployment.spec.replicas is not None else 1
            saved = kube.annotations_of(deployment).get(SAVED_REPLICAS)
            replicas = current or _count(saved) or 1
            body: dict[str, Any] = {"metadata": {"resourceVersion": kube.version_of(deployment),
                                                 "annotations": {SAVED_REPLICAS: None}},
                                    "spec": {"replicas": replicas}}
            if restart_at is not None:
                body["spec"]["template"] = {"metadata": {"annotations": {RESTARTED_AT: restart_at}}}
            if self._patch(name, body, action):
                return
        raise ServiceControlError(f"{action} in {self.region.name}: deployment {name} kept changing; try again")

    # -- waiting
    def _wait(self, name: str, action: str, done: Callable[[client.V1Deployment], str | None]) -> None:
        """Poll until ``done`` (the reason to go on waiting, or None) is satisfied or the rollout timeout passes."""
        deadline = self.clock() + self.rollout_timeout
        while True:
            deployment = self._deployment(name, action)
            try:
                waiting = done(deployment)
            except ServiceControlError as exc:
                raise ServiceControlError(f"{action} in {self.region.name}: {exc}") from None
            if waiting is None:
                return
            if self.clock() >= deadline:
                raise ServiceControlError(f"{action} in {self.region.name}: deployment {name} in namespace "
                                          f"{self.namespace} still {waiting} after {self.rollout_timeout:g} s")
            self.sleep(self.poll)

    def stop(self, services: Sequence[str] = STOP_ORDER) -> None:
        for service in services:
            name = self.control.deployment_name(service)
            self._scale_down(name)
            self._wait(name, "stop", _pods_gone)

    def start(self, services: Sequence[str] = START_ORDER) -> None:
        self._bring_up(services, "start", None)

    def restart(self, services: Sequence[str]) -> None:
        self._bring_up(services, "restart", datetime.now(UTC).isoformat(timespec="microseconds"))

    def _bring_up(self, services: Sequence[str], action: str, restart_at: str | None) -> None:
        for service in services:
            name = self.control.deployment_name(service)
            self._scale_up(name, action, restart_at)
            self._wait(name, action, _rolled_out)

    # -- repoint
    def repoint(self, database: Endpoint) -> None:
        """Point the connection every Deployment reads at ``database``, then restart them all (START_ORDER)."""
        ref = self.control.connection
        where = f"{ref.kind.lower()} {self.namespace}/{ref.name} key {ref.key}"
        for _ in attempts():
            obj = self._read_config(ref.kind, ref.name, where)
            data = dict(obj.data or {})
            if ref.key not in data:
                raise ServiceControlError(f"repoint in {self.region.name}: {where} does not exist")
            old = _decode(data[ref.key], ref.kind)
            if old is None:
                raise ServiceControlError(f"repoint in {self.region.name}: {where} is not UTF-8 text")
            try:
                new = repoint(old, database, where)
            except ConnectionValueError as exc:
                raise ServiceControlError(f"repoint in {self.region.name}: {exc}") from None
            if new == old:
                break
            data[ref.key] = _encode(new, ref.kind)
            obj.data = data
            if self._replace_config(ref.kind, ref.name, obj, where):
                break
        else:
            raise ServiceControlError(f"repoint in {self.region.name}: {where} kept changing; try again")
        self.restart(START_ORDER)

    def _read_config(self, kind: str, name: str, where: str) -> Any:
        try:
            if kind == "Secret":
                return kube.call(lambda: self.core.read_namespaced_secret(name, self.namespace,
                                                                          _request_timeout=self._request()))
            return kube.call(lambda: self.core.read_namespaced_config_map(name, self.namespace,
                                                                          _request_timeout=self._request()))
        except KubeFailure as failure:
            raise ServiceControlError(f"repoint in {self.region.name}: cannot read {where}: {failure}") from None

    def _replace_config(self, kind: str, name: str, obj: Any, where: str) -> bool:
        """Write ``obj`` back with the resourceVersion it was read with; False when someone changed it since."""
        try:
            if kind == "Secret":
                kube.call(lambda: self.core.replace_namespaced_secret(name, self.namespace, obj,
                                                                      _request_timeout=self._request()))
            else:
                kube.call(lambda: self.core.replace_namespaced_config_map(name, self.namespace, obj,
                                                                          _request_timeout=self._request()))
        except KubeFailure as failure:
            if failure.status == kube.CONFLICT:
                return False
            raise ServiceControlError(f"repoint in {self.region.name}: cannot update {where}: {failure}") from None
        return True

    # -- designate-manage
    def pool_update(self, pools_yaml: str, secrets: Iterable[str], dry_run: bool, timeout: float = 180.0) -> \
            ManageResult:
        """``designate-manage pool update`` as a Job built from the central Deployment's pod template."""
        return self.jobs.run(pools_yaml, tuple(secrets), dry_run, timeout)


def _count(text: str | None) -> int:
    try:
        return max(0, int(text or "0"))
    except ValueError:
        return 0


def _decode(value: str, kind: str) -> str | None:
    """A Secret's value is base64 on the wire; None when it is not UTF-8 text underneath."""
    if kind != "Secret":
        return value
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def _encode(value: str, kind: str) -> str:
    return base64.b64encode(value.encode("utf-8")).decode("ascii") if kind == "Secret" else value


def _observed(deployment: client.V1Deployment) -> bool:
    generation = deployment.metadata.generation if deployment.metadata else None
    observed = deployment.status.observed_generation if deployment.status else None
    return generation is None or (observed is not None and observed >= generation)


def _pods_gone(deployment: client.V1Deployment) -> str | None:
    status = deployment.status or client.V1DeploymentStatus()
    if not _observed(deployment):
        return "waiting for its controller to see the change"
    if status.replicas:
        return f"has {status.replicas} pod(s)"
    return None


def _rolled_out(deployment: client.V1Deployment) -> str | None:
    """kubectl rollout status's rule: observed, every replica updated, no old one left, every one available."""
    status = deployment.status or client.V1DeploymentStatus()
    for condition in status.conditions or []:
        if condition.type == "Progressing" and condition.reason == "ProgressDeadlineExceeded":
            raise ServiceControlError(f"deployment {kube.name_of(deployment)} exceeded its progress deadline: "
                                      f"{condition.message or 'no message'}")
    if not _observed(deployment):
        return "waiting for its controller to see the change"
    want = deployment.spec.replicas if deployment.spec and deployment.spec.replicas is not None else 1
    if (status.updated_replicas or 0) < want:
        return f"rolling out ({status.updated_replicas or 0} of {want} updated)"
    if (status.replicas or 0) > (status.updated_replicas or 0):
        return f"rolling out ({(status.replicas or 0) - (status.updated_replicas or 0)} old pod(s) left)"
    if (status.available_replicas or 0) < want:
        return f"rolling out ({status.available_replicas or 0} of {want} available)"
    return None
