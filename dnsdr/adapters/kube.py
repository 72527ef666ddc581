"""What every Kubernetes adapter needs from the client: bounded calls, failures as one line, clients from kubeconfig
text, and API times.

The state store and the service-control driver translate :class:`KubeFailure` into their own errors; the HTTP status
stays available because a 404 (absent), 409 (someone else wrote first) or 403 (RBAC) is a decision, not an accident.
Messages carry the API server's own ``Status.message`` (object, verb, user name), never a header, so never a token.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException, OpenApiException
from kubernetes.config.config_exception import ConfigException

from dnsdr.adapters.files import SPEC_LIMIT, UnreadableFile, read_text_bounded
from dnsdr.domain.errors import InvalidInput
from dnsdr.domain.yaml_text import YamlError, clip, load_yaml

T = TypeVar("T")

REQUEST_TIMEOUT = 15.0  # seconds per API request: every network wait is bounded
CAS_DEADLINE = 30.0  # seconds of compare-and-swap retries before giving up (each retry means another writer won)
NOT_FOUND, CONFLICT, FORBIDDEN, UNAUTHORIZED = 404, 409, 403, 401


class KubeFailure(Exception):
    """One API call failed; ``status`` is the HTTP status, or None when the server never answered."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status


class KubeconfigError(InvalidInput):
    """A kubeconfig cannot be used; the message names where it came from, never its content."""


def _status_message(exc: ApiException) -> str:
    body = exc.body if isinstance(exc.body, str) else ""
    try:
        message = json.loads(body).get("message") if body else None
    except (ValueError, AttributeError):
        message = None
    reason = f"{exc.status} {exc.reason or ''}".strip()
    return f"{reason}: {clip(str(message), 300)}" if message else reason


def call(fn: Callable[[], T]) -> T:
    """``fn()``, with every way the client fails turned into a :class:`KubeFailure`."""
    try:
        return fn()
    except ApiException as exc:
        status = int(exc.status) if isinstance(exc.status, int) else None
        raise KubeFailure(status, _status_message(exc)) from None
    except urllib3.exceptions.HTTPError as exc:  # refused, reset, timed out, TLS failure
        raise KubeFailure(None, f"no answer from the API server ({clip(type(exc).__name__ + ': ' + str(exc), 200)})") \
            from None
    except (OSError, OpenApiException, ValueError) as exc:  # a response that is not what the API promises
        raise KubeFailure(None, f"unusable answer from the API server ({clip(str(exc), 200)})") from None


def attempts(deadline: float = CAS_DEADLINE) -> Iterator[int]:
    """Attempt numbers for a compare-and-swap loop, with a short random pause between them (writers that collided
    then retry at different moments), until ``deadline`` seconds have passed."""
    end = time.monotonic() + deadline
    attempt = 0
    while True:
        yield attempt
        attempt += 1
        if time.monotonic() >= end:
            return
        time.sleep(random.uniform(0, min(0.05, 0.005 * attempt)))
def timeout(seconds


: float = REQUEST_TIMEOUT) -> tuple[float, float]:
    """The client's ``_request_timeout``: connect and read."""
    return (min(seconds, 5.0), seconds)


def micro_time(at: float) -> datetime:
    """A Unix time as the API's MicroTime. The client writes ``isoformat()``, which drops the fraction when it is
    zero, and the API server then refuses the object (it parses exactly six digits): nudge such a time by 1 us."""
    value = datetime.fromtimestamp(at, UTC)
    return value.replace(microsecond=1) if value.microsecond == 0 else value


def unix_time(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def whole_seconds(seconds: float) -> int:
    """A duration the API can store (whole seconds, at least 1), never shorter than asked."""
    return max(1, math.ceil(seconds - 1e-9))


def client_from_kubeconfig(text: str, where: str) -> client.ApiClient:
    """An API client for the current context of the kubeconfig ``text`` (read from ``where``). Nothing is contacted."""
    try:
        document = load_yaml(text, where)
    except YamlError as exc:  # only where: the parser's words may quote a line holding a token
        position = re.search(r"\(line \d+, column \d+\)", str(exc))
        raise KubeconfigError(f"{where} is not a kubeconfig: not valid YAML"
                              f"{' ' + position.group() if position else ''}") from None
    if not isinstance(document, dict) or not document.get("clusters") or not document.get("current-context"):
        raise KubeconfigError(f"{where} is not a kubeconfig (it needs clusters and a current-context)")
    try:
        made = config.new_client_from_config_dict(document, persist_config=False)  # type: ignore[no-untyped-call]
    except (ConfigException, KeyError, TypeError, ValueError, OSError) as exc:
        raise KubeconfigError(f"{where} is not a usable kubeconfig: {clip(str(exc), 200)}") from None
    return cast(client.ApiClient, made)


def context_namespace(text: str) -> str | None:
    """The namespace of the kubeconfig's current context, if it names one (``text`` is known to parse)."""
    document = load_yaml(text, "kubeconfig")
    current = document.get("current-context") if isinstance(document, dict) else None
    for entry in (document.get("contexts") or []) if isinstance(document, dict) else []:
        if isinstance(entry, dict) and entry.get("name") == current and isinstance(entry.get("context"), dict):
            namespace = entry["context"].get("namespace")
            return str(namespace) if namespace else None
    return None


SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def connect(kubeconfig: str | None = None) -> tuple[client.ApiClient, str | None]:
    """An API client and its default namespace: from the kubeconfig file given, else in a pod its service account,
    else ``$KUBECONFIG`` (its first file) or ``~/.kube/config``. Nothing is contacted."""
    if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        configuration = client.Configuration()
        try:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except ConfigException as exc:
            raise KubeconfigError(f"cannot use this pod's service account: {clip(str(exc), 200)}") from None
        try:
            with open(f"{SERVICE_ACCOUNT_DIR}/namespace", encoding="utf-8") as f:
                namespace = f.read().strip() or None
        except OSError:
            namespace = None
        return client.ApiClient(configuration), namespace
    path = kubeconfig or (os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or
                          os.path.expanduser("~/.kube/config"))
    try:
        text = read_text_bounded(path, SPEC_LIMIT, "kubeconfig")
    except UnreadableFile as exc:
        raise KubeconfigError(str(exc)) from None
    return client_from_kubeconfig(text, path), context_namespace(text)


def close(api: client.ApiClient) -> None:
    api.close()  # type: ignore[no-untyped-call]


def name_of(obj: Any) -> str:
    metadata = getattr(obj, "metadata", None)
    return str(getattr(metadata, "name", None) or "")


def version_of(obj: Any) -> str | None:
    metadata = getattr(obj, "metadata", None)
    version = getattr(metadata, "resource_version", None)
    return str(version) if version else None


def annotations_of(obj: Any) -> dict[str, str]:
    metadata = getattr(obj, "metadata", None)
    return dict(getattr(metadata, "annotations", None) or {})
