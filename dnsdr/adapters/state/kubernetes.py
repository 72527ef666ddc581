"""The state store in a Kubernetes namespace: ConfigMaps for the records, a Lease for the operation lease.

Why here and not on a disk: an operator pod has no disk that outlives it, and a second replica or a person's
``dnsdr`` on a workstation must see the same journal and be kept out by the same lease.

Objects, all labelled ``app.kubernetes.io/managed-by: dnsdr`` and ``dnsdr.io/spec: <name>``:

- ``dnsdr-<name>-journal``, ``dnsdr-<name>-cluster``, ``dnsdr-<name>-control``: one ConfigMap per record, its JSON
  under one key (``journal.json``, ...), read back through ``records`` exactly as the file store reads its files;
- ``dnsdr-<name>-run-<run id>``: one ConfigMap per finished run (``dnsdr.io/record: history``), the newest
  ``history_limit`` (50) kept, older ones deleted after each new one;
- the Lease ``dnsdr-<name>`` (see ``kube_lease``).

The journal and cluster record have one writer, the lease holder, so they are written unconditionally. The controller
record has several (the controller samples, a person pauses), so ``update_control`` writes with the resourceVersion
it read and, on a 409, reads and applies the change again: ``change`` must be a pure function of the record.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client

from dnsdr.adapters import kube
from dnsdr.adapters.kube import KubeFailure, attempts
from dnsdr.adapters.state import records
from dnsdr.adapters.state.base import DEFAULT_TTL, CorruptStateError, StateStore, StateStoreError
from dnsdr.adapters.state.kube_lease import KubeLease
from dnsdr.domain.automation import ControlRecord
from dnsdr.domain.journal import ClusterRecord, Journal
from dnsdr.domain.lease import Lease

log = logging.getLogger("dnsdr.state")

HISTORY_LIMIT = 50
MANAGED_BY = {"app.kubernetes.io/managed-by": "dnsdr"}
SPEC_LABEL = "dnsdr.io/spec"
RECORD_LABEL = "dnsdr.io/record"
STARTED_AT = "dnsdr.io/started-at"
RUN_ID = "dnsdr.io/run-id"
_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_PLAIN_RUN = re.compile(r"[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?")
# What the store does, as (API group, resource, verbs): check_writable asks the API server about each, and
# manifests/base/rbac-state.yaml grants exactly these.
NEEDED: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("", "configmaps", ("get", "list", "create", "update", "delete")),
    ("coordination.k8s.io", "leases", ("get", "create", "update")),
)
RBAC_HINT = "grant them with the Role in manifests/base/rbac-state.yaml"


class KubernetesStateStore(StateStore):
    def __init__(self, api_client: client.ApiClient, namespace: str, name: str,
                 clock: Callable[[], float] = time.time, *, history_limit: int = HISTORY_LIMIT,
                 timeout: float = kube.REQUEST_TIMEOUT) -> None:
        super().__init__(name, clock)
        if not _NAME.fullmatch(self.name) or not _NAME.fullmatch(namespace):
            raise StateStoreError(f"cannot keep state for {self.name!r} in namespace {namespace!r}: both must be "
                                  "DNS labels (lower-case letters, digits and '-', at most 63)")
        self.api = client.CoreV1Api(api_client)
        self.authz = client.AuthorizationV1Api(api_client)
        self.namespace = namespace
        self.history_limit = max(1, history_limit)
        self.timeout = timeout
        self.labels = {**MANAGED_BY, SPEC_LABEL: self.name}
        self.lease = KubeLease(api_client, namespace, f"dnsdr-{self.name}", self.labels, self._now, timeout)
        self.conflicts = 0  # controller-record writes that lost a race (409) and were applied again

    def _now(self) -> float:
        return self.clock()

    @property
    def location(self) -> str:
        return f"Kubernetes namespace {self.namespace}"

    # -- objects
    def _cm_name(self, record: str) -> str:
        return f"dnsdr-{self.name}-{record}"

    def _history_name(self, run_id: str) -> str:
        """A valid object name for any run id: the id itself when it is one, else a digest of it."""
        plain = run_id if _PLAIN_RUN.fullmatch(run_id) else hashlib.sha256(run_id.encode()).hexdigest()[:16]
        return self._cm_name(f"run-{plain}")

    @staticmethod
    def _key(record: str) -> str:
        """The data key a record's JSON is kept under (a history entry is a journal)."""
        return "journal.json" if record == "history" else f"{record}.json"

    def _where(self, name: str) -> str:
        return f"configmap {self.namespace}/{name}"

    def _recovery(self, record: str, name: str) -> str:
        delete = f"kubectl -n {self.namespace} delete configmap {name}"
        if record == "history":
            return f"delete it ({delete}); it only records a past run"
        if record == "journal":
            return (f"delete it to start afresh ({delete}; the run it records can then not be resumed or abandoned; "
                    "check `dnsdr status` first)")
        if record == "cluster":
            return (f"restore it from a backup, or delete it ({delete}; dnsdr then assumes spec.primaryRegion until "
                    "the next operation; check `dnsdr status` first)")
        return f"delete it when no dnsdr run is active ({delete})"

    def _failed(self, verb: str, what: str, failure: KubeFailure) -> StateStoreError:
        hint = f" ({RBAC_HINT})" if failure.status in (kube.FORBIDDEN, kube.UNAUTHORIZED) else ""
        return StateStoreError(f"cannot {verb} {what}: {failure}{hint}")

    def _get(self, name: str) -> client.V1ConfigMap | None:
        try:
            return kube.call(lambda: self.api.read_namespaced_config_map(
                name, self.namespace, _request_timeout=kube.timeout(self.timeout)))
        except KubeFailure as failure:
            if failure.status == kube.NOT_FOUND:
                return None
            raise self._failed("read", self._where(name), failure) from None

    def _decode(self, obj: client.V1ConfigMap | None, record: str, cls: type[records.R]) -> records.R | None:
        if obj is None or obj.metadata is None:
            return None
        name = kube.name_of(obj)
        where, recovery = self._where(name), self._recovery(record, name)
        text = (obj.data or {}).get(self._key(record))
        if text is None:
            raise CorruptStateError(f"{where} holds no {self._key(record)}; {recovery}")
        return records.decode(records.parse(text, where, recovery), cls, where, recovery)

    def _body(self, name: str, record: str, data: dict[str, Any], notes: dict[str, str] | None = None,
              resource_version: str | None = None) -> client.V1ConfigMap:
        return client.V1ConfigMap(
            api_version="v1", kind="ConfigMap",
            metadata=client.V1ObjectMeta(name=name, labels={**self.labels, RECORD_LABEL: record},
                                         annotations=notes, resource_version=resource_version),
            data={self._key(record): json.dumps(data, indent=2, sort_keys=True, default=str)},
        )

    def _create(self, body: client.V1ConfigMap) -> bool:
        """Create ``body``; False when it exists already (someone created it since we looked)."""
        try:
            kube.call(lambda: self.api.create_namespaced_config_map(self.namespace, body,
                                                                    _request_timeout=kube.timeout(self.timeout)))
        except KubeFailure as failure:
            if failure.status == kube.CONFLICT:
                return False
            raise self._failed("create", self._where(kube.name_of(body)), failure) from None
        return True

    def _replace(self, body: client.V1ConfigMap) -> bool:
        """Replace the object named in ``body``; False when it is gone or (with a resourceVersion) changed."""
        name = kube.name_of(body)
        try:
            kube.call(lambda: self.api.replace_namespaced_config_map(
                name, self.namespace, body, _request_timeout=kube.timeout(self.timeout)))
        except KubeFailure as failure:
            if failure.status in (kube.NOT_FOUND, kube.CONFLICT):
                return False
            raise self._failed("update", self._where(name), failure) from None
        return True

    def _put(self, body: client.V1ConfigMap) -> None:
        """Create or overwrite (the one writer of this record is the lease holder)."""
        for _ in attempts():
            if self._replace(body) or self._create(body):
                return
        raise StateStoreError(f"{self._where(kube.name_of(body))} kept appearing and disappearing; try again")

    # -- journal
    def load_journal(self) -> Journal | None:
        return self._decode(self._get(self._cm_name("journal")), "journal", Journal)

    def save_journal(self, journal: Journal) -> None:
        data = journal.to_dict()
        self._put(self._body(self._cm_name("journal"), "journal", data))
        if journal.finished:
            notes = {STARTED_AT: repr(journal.started_at), RUN_ID: journal.run_id}
            self._put(self._body(self._history_name(journal.run_id), "history", data, notes))
            self._prune_history()

    # -- cluster record
    def load_cluster(self) -> ClusterRecord | None:
        return self._decode(self._get(self._cm_name("cluster")), "cluster", ClusterRecord)

    def save_cluster(self, record: ClusterRecord) -> None:
        self._put(self._body(self._cm_name("cluster"), "cluster", record.to_dict()))

    # -- controller record
    def load_control(self) -> ControlRecord:
        return self._decode(self._get(self._cm_name("control")), "control", ControlRecord) or ControlRecord()

    def save_control(self, record: ControlRecord) -> None:
        self._put(self._body(self._cm_name("control"), "control", record.to_dict()))

    def update_control(self, change: Callable[[ControlRecord], ControlRecord]) -> ControlRecord:
        name = self._cm_name("control")
        for _ in attempts():
            obj = self._get(name)
            record = change(self._decode(obj, "control", ControlRecord) or ControlRecord())
            if obj is None:
                written = self._create(self._body(name, "control", record.to_dict()))
            else:
                version = obj.metadata.resource_version if obj.metadata else None
                written = self._replace(self._body(name, "control", record.to_dict(), resource_version=version))
            if written:
                return record
            self.conflicts += 1
        raise StateStoreError(f"{self._where(name)} kept changing under dnsdr; try again")

    # -- history
    def _history_objects(self) -> list[client.V1ConfigMap]:
        selector = f"{SPEC_LABEL}={self.name},{RECORD_LABEL}=history"
        try:
            listed = kube.call(lambda: self.api.list_namespaced_config_map(
                self.namespace, label_selector=selector, _request_timeout=kube.timeout(self.timeout)))
        except KubeFailure as failure:
            raise self._failed("list", f"configmaps in namespace {self.namespace}", failure) from None
        return list(listed.items or [])

    def history(self, limit: int | None = None) -> list[Journal]:
        runs = [run for obj in self._history_objects() if (run := self._decode(obj, "history", Journal)) is not None]
        runs.sort(key=lambda j: j.started_at, reverse=True)
        return runs[:limit] if limit is not None else runs

    def _prune_history(self) -> None:
        """Keep the newest ``history_limit`` runs. Best effort: the run is recorded already, and an old record left
        behind is retried after the next run."""
        def started(obj: client.V1ConfigMap) -> float:
            try:
                return float(kube.annotations_of(obj).get(STARTED_AT, "0"))
            except ValueError:
                return 0.0

        try:
            objects = sorted(self._history_objects(), key=started, reverse=True)
            for obj in objects[self.history_limit:]:
                self._delete(kube.name_of(obj))
        except StateStoreError as exc:
            log.warning("old runs were not pruned from the history: %s", exc)

    def _delete(self, name: str) -> None:
        try:
            kube.call(lambda: self.api.delete_namespaced_config_map(name, self.namespace,
                                                                    _request_timeout=kube.timeout(self.timeout)))
        except KubeFailure as failure:
            if failure.status != kube.NOT_FOUND:
                raise self._failed("delete", self._where(name), failure) from None

    # -- lease
    def acquire(self, holder: str, ttl: float = DEFAULT_TTL) -> Lease:
        return self.lease.acquire(holder, ttl)

    def renew(self, lease: Lease, ttl: float = DEFAULT_TTL) -> Lease:
        return self.lease.renew(lease, ttl)

    def release(self, lease: Lease) -> None:
        self.lease.release(lease)

    def current_lease(self) -> Lease | None:
        return self.lease.current()

    # -- preflight
    def _allowed(self, group: str, resource: str, verb: str) -> bool:
        review = client.V1SelfSubjectAccessReview(
            api_version="authorization.k8s.io/v1", kind="SelfSubjectAccessReview",
            spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=client.V1ResourceAttributes(
                namespace=self.namespace, group=group, resource=resource, verb=verb)))
        try:
            answer = kube.call(lambda: self.authz.create_self_subject_access_review(
                review, _request_timeout=kube.timeout(self.timeout)))
        except KubeFailure as failure:
            raise StateStoreError(f"cannot ask the API server what dnsdr may do in namespace {self.namespace}: "
                                  f"{failure}") from None
        return bool(answer.status and answer.status.allowed)

    def check_writable(self) -> None:
        """Ask the API server (SelfSubjectAccessReview) whether every verb the store uses is allowed, then create a
        Lease as a server-side dry run, which also proves the namespace exists."""
        missing = [f"{verb} {resource}" + (f" ({group})" if group else "")
                   for group, resource, verbs in NEEDED for verb in verbs if not self._allowed(group, resource, verb)]
        if missing:
            raise StateStoreError(f"the state store in namespace {self.namespace} is not writable: dnsdr may not "
                                  f"{', '.join(missing)}; {RBAC_HINT}")
        self.lease.can_be_written()
