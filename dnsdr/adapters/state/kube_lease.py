"""The operation lease as a ``coordination.k8s.io/v1`` Lease, changed only by compare-and-swap.

Every change is a read, a decision by the same pure rule the file store uses (``next_lease``), and a write carrying
the resourceVersion that was read: a 409 means another writer changed the Lease in between, so the loop reads it again
and decides again (it may now be held by someone else: LockedError). Two controllers racing therefore never both win.

Fields: ``holderIdentity`` (empty once released, the last holder kept in an annotation), ``leaseDurationSeconds`` (whole
seconds: a TTL is rounded up), ``acquireTime``/``renewTime``, and the fencing token in ``leaseTransitions``, incremented
whenever the lease passes to a holder (a new one, or the same one after a release or expiry), so it only grows. A lease
whose ``renewTime + leaseDurationSeconds`` is past is free. Expiry is judged by the reader's clock against the writer's
renewTime, so the hosts' clocks must agree (NTP) to well within the TTL. There is no shortcut for a crashed holder on
"this host" as in the file store: host names are not unique across the machines that share an API server.
Deleting the Lease would restart the token at 1: dnsdr's Role grants no delete on leases.
"""

from __future__ import annotations

from collections.abc import Callable

from kubernetes import client

from dnsdr.adapters import kube
from dnsdr.adapters.kube import CAS_DEADLINE, KubeFailure, attempts
from dnsdr.adapters.state import records
from dnsdr.adapters.state.base import CorruptStateError, LeaseLostError, LockedError, StateStoreError
from dnsdr.domain.lease import Lease, next_lease

RELEASED_BY = "dnsdr.io/released-by"


class KubeLease:
    """The Lease ``name`` in ``namespace``; ``clock`` gives the times written and judged."""

    def __init__(self, api: client.ApiClient, namespace: str, name: str, labels: dict[str, str],
                 clock: Callable[[], float], timeout: float) -> None:
        self.api = client.CoordinationV1Api(api)
        self.namespace = namespace
        self.name = name
        self.labels = labels
        self.clock = clock
        self.timeout = timeout
        self.conflicts = 0  # writes that lost a race (409) and were decided again

    @property
    def where(self) -> str:
        return f"lease {self.namespace}/{self.name}"

    def _failed(self, verb: str, failure: KubeFailure) -> StateStoreError:
        return StateStoreError(f"cannot {verb} {self.where}: {failure}")

    # -- reading
    def read(self) -> client.V1Lease | None:
        try:
            return kube.call(lambda: self.api.read_namespaced_lease(self.name, self.namespace,
                                                                     _request_timeout=kube.timeout(self.timeout)))
        except KubeFailure as failure:
            if failure.status == kube.NOT_FOUND:
                return None
            raise self._failed("read", failure) from None

    def decode(self, obj: client.V1Lease | None) -> Lease | None:
        """The dnsdr lease an API object holds; CorruptStateError when it cannot be one."""
        if obj is None:
            return None
        recovery = (f"delete it when no dnsdr run is active (kubectl -n {self.namespace} delete lease {self.name}; "
                    "the fencing token then restarts at 1)")
        spec = obj.spec or client.V1LeaseSpec()
        holder = spec.holder_identity or ""
        token = spec.lease_transitions if spec.lease_transitions is not None else 0
        renewed = kube.unix_time(spec.renew_time)
        acquired = kube.unix_time(spec.acquire_time)
        if not holder:  # released, or never held
            at = renewed if renewed is not None else 0.0
            data = {"holder": kube.annotations_of(obj).get(RELEASED_BY, ""), "token": token,
                    "acquired_at": acquired if acquired is not None else at, "renewed_at": at, "expires_at": at,
                    "released": True}
            return records.decode(data, Lease, self.where, recovery)
        if renewed is None or spec.lease_duration_seconds is None:
            raise CorruptStateError(f"{self.where} is not a valid dnsdr lease (held by {holder!r} without renewTime "
                                    f"or leaseDurationSeconds); {recovery}")
        data = {"holder": holder, "token": token, "acquired_at": acquired if acquired is not None else renewed,
                "renewed_at": renewed, "expires_at": renewed + spec.lease_duration_seconds}
        return records.decode(data, Lease, self.where, recovery)

    def current(self) -> Lease | None:
        return self.decode(self.read())

    # -- writing
    def _body(self, obj: client.V1Lease | None, lease: Lease, seconds: int) -> client.V1Lease:
        metadata = obj.metadata if obj is not None and obj.metadata is not None else client.V1ObjectMeta(name=self.name)
        notes = kube.annotations_of(obj)
        notes.pop(RELEASED_BY, None)
        if lease.released:
            notes[RELEASED_BY] = lease.holder
        metadata.annotations = notes or None
        metadata.labels = {**(metadata.labels or {}), **self.labels}
        spec = client.V1LeaseSpec(
            holder_identity=None if lease.released else lease.holder,
            lease_duration_seconds=seconds,
            lease_transitions=lease.token,
            acquire_time=kube.micro_time(lease.acquired_at),
            renew_time=kube.micro_time(lease.expires_at if lease.released else lease.renewed_at),
        )
        return client.V1Lease(api_version="coordination.k8s.io/v1", kind="Lease", metadata=metadata, spec=spec)

    def _write(self, obj: client.V1Lease | None, lease: Lease, seconds: int) -> Lease | None:
        """Write ``lease`` over ``obj`` (as read); the lease as stored, or None when another writer came first."""
        body = self._body(obj, lease, seconds)
        request = kube.timeout(self.timeout)
        try:
            if obj is None:
                written = kube.call(lambda: self.api.create_namespaced_lease(self.namespace, body,
                                                                              _request_timeout=request))
            else:
                written = kube.call(lambda: self.api.replace_namespaced_lease(self.name, self.namespace, body,
                                                                               _request_timeout=request))
        except KubeFailure as failure:
            if failure.status == kube.CONFLICT:  # changed (or created) since we read it: read and decide again
                self.conflicts += 1
                return None
            raise self._failed("create" if obj is None else "update", failure) from None
        stored = self.decode(written)
        assert stored is not None
        return stored

    def _gave_up(self) -> StateStoreError:
        return StateStoreError(f"{self.where} kept changing under dnsdr for {CAS_DEADLINE:g} s "
                               f"({self.conflicts} lost compare-and-swaps); try again")

    def acquire(self, holder: str, ttl: float) -> Lease:
        seconds = kube.whole_seconds(ttl)
        for _ in attempts():
            obj = self.read()
            current = self.decode(obj)
            now = self.clock()
            lease = next_lease(current, holder, now, seconds)
            if lease is None:
                assert current is not None
                raise LockedError(f"another dnsdr run ({current.holder}) holds the operation lease ({self.where}, "
                                  f"token {current.token}) for {current.expires_at - now:.0f} s more; "
                                  "wait for it to finish")
            stored = self._write(obj, lease, seconds)
            if stored is not None:
                return stored
        raise self._gave_up()

    def renew(self, lease: Lease, ttl: float) -> Lease:
        seconds = kube.whole_seconds(ttl)
        for _ in attempts():
            obj = self.read()
            current = self.decode(obj)
            now = self.clock()
            if current is None or current.holder != lease.holder or current.token != lease.token \
                    or not current.live(now):
                raise LeaseLostError(f"the operation lease ({self.where}) was lost (now "
                                     f"{current.holder if current and current.live(now) else 'nobody'}, token "
                                     f"{current.token if current else '-'}); stopping")
            stored = self._write(obj, current.renewed(now, seconds), seconds)
            if stored is not None:
                return stored
        raise self._gave_up()

    def release(self, lease: Lease) -> None:
        for _ in attempts():
            obj = self.read()
            current = self.decode(obj)
            if current is None or current.released or current.holder != lease.holder or current.token != lease.token:
                return  # not ours (any more): nothing to give back
            if self._write(obj, current.release(self.clock()), 1) is not None:
                return
        raise self._gave_up()

    def can_be_written(self) -> None:
        """A server-side dry run of creating a Lease here: the namespace exists and admission lets it through."""
        probe = client.V1Lease(metadata=client.V1ObjectMeta(name=f"{self.name}-probe"),
                               spec=client.V1LeaseSpec(holder_identity="dnsdr-probe", lease_duration_seconds=1))
        try:
            kube.call(lambda: self.api.create_namespaced_lease(self.namespace, probe, dry_run="All",
                                                               _request_timeout=kube.timeout(self.timeout)))
        except KubeFailure as failure:
            if failure.status != kube.CONFLICT:
                raise StateStoreError(f"the state store in namespace {self.namespace} is not writable: {failure}") \
                    from None
