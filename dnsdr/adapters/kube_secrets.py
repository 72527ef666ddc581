"""Credential references resolved from Kubernetes Secrets through the API, so the operator's pod mounts no files.

A ``secretKeyRef`` names a Secret in the DesignateDR's namespace; its value then follows the same rule as a mounted
file (``secrets.accept``: stripped once, no control character, at most 64 KiB) and is remembered for scrubbing.
``file`` and ``env`` references resolve as everywhere else. A Secret is read at most once per ``ttl`` seconds (one
round resolves the same Secret many times), so a rotated credential is used within ``ttl``.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections.abc import Callable
from pathlib import Path

from kubernetes import client

from dnsdr.adapters import kube
from dnsdr.adapters.files import SECRET_LIMIT
from dnsdr.adapters.kube import KubeFailure
from dnsdr.adapters.secrets import SecretError, accept, resolve
from dnsdr.domain.spec import SecretRef

DEFAULT_TTL = 30.0


class SecretUnavailable(SecretError):
    """The Secret could not be read now (the API server did not answer, or refused): worth retrying later."""


class KubeSecrets:
    """A :data:`~dnsdr.domain.spec.SecretLookup` over the Secrets of one namespace (thread-safe)."""

    def __init__(self, api_client: client.ApiClient, namespace: str, *, ttl: float = DEFAULT_TTL,
                 clock: Callable[[], float] = time.monotonic, timeout: float = kube.REQUEST_TIMEOUT,
                 directory: Path | None = None) -> None:
        self.api = client.CoreV1Api(api_client)
        self.namespace = namespace
        self.ttl = ttl
        self.clock = clock
        self.timeout = timeout
        self.directory = directory  # for file references, as everywhere else
        self._cache: dict[str, tuple[float, dict[str, str]]] = {}
        self._lock = threading.Lock()

    def __call__(self, ref: SecretRef) -> str:
        if ref.secret_name is None or ref.secret_key is None:
            return resolve(ref, self.directory)
        where = f"{ref.describe()} (namespace {self.namespace})"
        data = self._data(ref.secret_name, where)
        encoded = data.get(ref.secret_key)
        if encoded is None:
            raise SecretError(f"{where}: Secret {ref.secret_name} has no key {ref.secret_key}")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise SecretError(f"{where}: the API server sent a value that is not base64") from None
        if len(raw) > SECRET_LIMIT:
            raise SecretError(f"{where} is larger than {SECRET_LIMIT // 1024} KiB, the limit for a secret")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SecretError(f"{where} is not UTF-8 text (byte {exc.start})") from None
        return accept(text, where, ref.multiline)

    def forget(self) -> None:
        """Read every Secret afresh on next use (after a failure that a rotated credential may explain)."""
        with self._lock:
            self._cache.clear()

    def _data(self, name: str, where: str) -> dict[str, str]:
        now = self.clock()
        with self._lock:
            cached = self._cache.get(name)
            if cached is not None and now - cached[0] < self.ttl:
                return cached[1]
        try:
            secret = kube.call(lambda: self.api.read_namespaced_secret(
                name, self.namespace, _request_timeout=kube.timeout(self.timeout)))
        except KubeFailure as failure:
            if failure.status == kube.NOT_FOUND:
                raise SecretError(f"{where}: there is no Secret {name} in namespace {self.namespace}") from None
            hint = " (the operator's Role must allow get on secrets)" if failure.status == kube.FORBIDDEN else ""
            raise SecretUnavailable(f"cannot read {where}: {failure}{hint}") from None
        data = {str(k): str(v) for k, v in (secret.data or {}).items()}
        with self._lock:
            self._cache[name] = (now, data)
        return data
