"""``designate-manage pool update`` as a Kubernetes Job in the region's Designate namespace.

designate-manage must run where Designate's configuration and database are reachable, which on Kubernetes is a pod
built like Designate's own: the Job copies the pod template of the central Deployment (its image, environment,
volumes, init containers and service account), keeps its first container only, drops probes, ports and lifecycle
hooks, and runs ``<manageCommand> pool update --file /etc/dnsdr/pools/pools.yaml [--dry-run]``. The Job's pods get
labels of their own, never the Deployment's, so no Service sends them traffic.

The rendered pools hold backend credentials, so they travel in the Secret ``dnsdr-pools`` (mode 0400 in the pod), which
is deleted as soon as the Job has finished; the Job itself stays a day (``ttlSecondsAfterFinished``) for its log.
``backoffLimit: 0`` (dnsdr decides about retries, not the Job controller) and ``activeDeadlineSeconds`` bound it; a Job
that does not finish in time is deleted with its pod. The log tail in messages is scrubbed of every secret value.
"""

from __future__ import annotations

import base64
import contextlib
import secrets as random_names
from collections.abc import Callable
from typing import Any

from kubernetes import client

from dnsdr.adapters import kube
from dnsdr.adapters.designate_manage import DesignateManageError, ManageResult, scrub
from dnsdr.adapters.kube import KubeFailure, attempts
from dnsdr.adapters.service_control import ServiceControlError
from dnsdr.domain.yaml_text import clip

POOLS_SECRET = "dnsdr-pools"
POOLS_KEY = "pools.yaml"
MOUNT = "/etc/dnsdr/pools"
VOLUME = "dnsdr-pools"
JOB_LABEL = "dnsdr.io/job-name"
MANAGED_BY = {"app.kubernetes.io/managed-by": "dnsdr"}
KEEP_FINISHED = 86400  # seconds a finished Job (and its log) stays
START_GRACE = 60.0  # seconds beyond the Job's own deadline to wait for the Job controller to say so


class PoolUpdateJob:
    """Runs pool updates in ``namespace``; ``template`` reads the Deployment whose pod template the Job copies."""

    def __init__(self, api_client: client.ApiClient, namespace: str, manage_command: tuple[str, ...],
                 template: Callable[[], client.V1Deployment], *, request_timeout: float, poll: float,
                 clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self.batch = client.BatchV1Api(api_client)
        self.core = client.CoreV1Api(api_client)
        self.namespace = namespace
        self.manage_command = manage_command
        self.template = template
        self.request_timeout = request_timeout
        self.poll = poll
        self.clock = clock
        self.sleep = sleep

    def _request(self) -> tuple[float, float]:
        return kube.timeout(self.request_timeout)

    def _error(self, what: str, failure: KubeFailure | str) -> DesignateManageError:
        return DesignateManageError(f"designate-manage pool update as a Job in namespace {self.namespace}: "
                                    f"{what}: {failure}")

    def run(self, pools_yaml: str, secrets: tuple[str, ...], dry_run: bool, timeout: float) -> ManageResult:
        mode = "dry run" if dry_run else "update"
        try:
            deployment = self.template()
        except ServiceControlError as exc:
            raise DesignateManageError(f"designate-manage pool update ({mode}) needs the central Deployment's pod "
                                       f"template: {exc}") from None
        name = f"dnsdr-pool-update-{random_names.token_hex(4)}"
        self._put_pools(pools_yaml)
        try:
            self._create(name, self.job(name, deployment, dry_run, timeout))
            failure = self._wait(name, timeout)
        finally:
            self._delete_pools()
        output = scrub(self._log(name), secrets)
        if failure is not None:
            tail = "\n".join(line for line in output.splitlines()[-6:] if line.strip())
            raise DesignateManageError(f"designate-manage pool update ({mode}) failed in job "
                                       f"{self.namespace}/{name} ({scrub(failure, secrets)}):\n{tail}")
        return ManageResult(dry_run, output)

    # -- the objects
    def job(self, name: str, deployment: client.V1Deployment, dry_run: bool, timeout: float) -> client.V1Job:
        """The Job: the central Deployment's pod, its first container running designate-manage."""
        template = deployment.spec.template if deployment.spec else None
        if template is None or template.spec is None or not template.spec.containers:
            raise self._error(f"deployment {kube.name_of(deployment)}", "has no pod template with a container")
        pod = template.spec.model_copy(deep=True)
        container = pod.containers[0]
        container.command = [*self.manage_command, "pool", "update", "--file", f"{MOUNT}/{POOLS_KEY}",
                             *(["--dry-run"] if dry_run else [])]
        container.args = None
        container.liveness_probe = container.readiness_probe = container.startup_probe = None
        container.lifecycle = None
        container.ports = None
        container.volume_mounts = [*(container.volume_mounts or []),
                                   client.V1VolumeMount(name=VOLUME, mount_path=MOUNT, read_only=True)]
        pod.containers = [container]
        pod.volumes = [*(pod.volumes or []), client.V1Volume(
            name=VOLUME, secret=client.V1SecretVolumeSource(secret_name=POOLS_SECRET, default_mode=0o400))]
        pod.restart_policy = "Never"
        labels = {**MANAGED_BY, JOB_LABEL: name}
        return client.V1Job(
            api_version="batch/v1", kind="Job",
            metadata=client.V1ObjectMeta(name=name, labels=labels),
            spec=client.V1JobSpec(
                backoff_limit=0, active_deadline_seconds=kube.whole_seconds(timeout),
                ttl_seconds_after_finished=KEEP_FINISHED,
                template=client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels=labels), spec=pod)))

    def _put_pools(self, pools_yaml: str) -> None:
        body = client.V1Secret(api_version="v1", kind="Secret", type="Opaque",
                               metadata=client.V1ObjectMeta(name=POOLS_SECRET, labels=dict(MANAGED_BY)),
                               data={POOLS_KEY: base64.b64encode(pools_yaml.encode()).decode("ascii")})
        for _ in attempts():
            try:
                kube.call(lambda: self.core.replace_namespaced_secret(POOLS_SECRET, self.namespace, body,
                                                                      _request_timeout=self._request()))
                return
            except KubeFailure as failure:
                if failure.status != kube.NOT_FOUND:
                    raise self._error(f"cannot update secret {POOLS_SECRET}", failure) from None
            try:
                kube.call(lambda: self.core.create_namespaced_secret(self.namespace, body,
                                                                     _request_timeout=self._request()))
                return
            except KubeFailure as failure:
                if failure.status != kube.CONFLICT:
                    raise self._error(f"cannot create secret {POOLS_SECRET}", failure) from None
        raise self._error(f"secret {POOLS_SECRET}", "kept appearing and disappearing")

    def _delete_pools(self) -> None:
        """Best effort: a Secret left behind is overwritten by the next pool update."""
        with contextlib.suppress(KubeFailure):
            kube.call(lambda: self.core.delete_namespaced_secret(POOLS_SECRET, self.namespace,
                                                                 _request_timeout=self._request()))

    def _create(self, name: str, job: client.V1Job) -> None:
        try:
            kube.call(lambda: self.batch.create_namespaced_job(self.namespace, job, _request_timeout=self._request()))
        except KubeFailure as failure:
            raise self._error(f"cannot create job {name}", failure) from None

    # -- waiting and reading
    def _wait(self, name: str, timeout: float) -> str | None:
        """None once the Job succeeded; why it failed otherwise. A Job still running past its deadline (and the
        grace the Job controller needs to say so) is deleted."""
        deadline = self.clock() + timeout + START_GRACE
        while True:
            try:
                job = kube.call(lambda: self.batch.read_namespaced_job(name, self.namespace,
                                                                       _request_timeout=self._request()))
            except KubeFailure as failure:
                raise self._error(f"cannot read job {name}", failure) from None
            verdict = _verdict(job)
            if verdict is not None:
                return verdict or None
            if self.clock() >= deadline:
                self._delete_job(name)
                raise self._error(f"job {name}", f"did not finish within {timeout:g} s (deleted)")
            self.sleep(self.poll)

    def _delete_job(self, name: str) -> None:
        with contextlib.suppress(KubeFailure):  # activeDeadlineSeconds stops it anyway
            kube.call(lambda: self.batch.delete_namespaced_job(name, self.namespace, propagation_policy="Background",
                                                               _request_timeout=self._request()))

    def _log(self, name: str) -> str:
        """The tail of the Job's pod log, or a note saying why there is none."""
        try:
            pods = kube.call(lambda: self.core.list_namespaced_pod(self.namespace, label_selector=f"{JOB_LABEL}={name}",
                                                                   _request_timeout=self._request()))
            if not pods.items:
                return "(no pod of the job was found to read its output)"
            pod = kube.name_of(pods.items[-1])
            text: Any = kube.call(lambda: self.core.read_namespaced_pod_log(pod, self.namespace, tail_lines=40,
                                                                            _request_timeout=self._request()))
        except KubeFailure as failure:
            return f"(the job's output could not be read: {failure})"
        return str(text).strip()


def _verdict(job: client.V1Job) -> str | None:
    """``""`` when the Job succeeded, the reason when it failed, None while it runs."""
    status = job.status or client.V1JobStatus()
    for condition in status.conditions or []:
        if condition.status != "True":
            continue
        if condition.type in ("Complete", "SuccessCriteriaMet"):
            return ""
        if condition.type in ("Failed", "FailureTarget"):
            return clip(f"{condition.reason or 'Failed'}: {condition.message or 'no message'}", 200)
    if status.succeeded:
        return ""
    if status.failed:
        return "its pod failed"
    return None
