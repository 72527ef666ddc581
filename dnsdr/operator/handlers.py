"""The kopf handlers: the only module of dnsdr that imports kopf, and kept small. Each handler calls
:mod:`dnsdr.operator.actions` and maps dnsdr's two kinds of error to kopf's, here and only here.

Handlers are registered on :data:`registry`, not kopf's global one, so importing this module changes nothing and the
tests call the handlers as plain functions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import kopf
from kubernetes import client

from dnsdr.adapters.kube_secrets import SecretUnavailable
from dnsdr.domain.errors import DnsdrError, RetryLater
from dnsdr.operator import actions
from dnsdr.operator.actions import OperatorContext
from dnsdr.operator.crd import GROUP, PLURAL, VERSION
from dnsdr.operator.status import NORMAL, Event

registry = kopf.OperatorRegistry()
RETRY_DELAY = 30.0  # seconds before kopf retries a handler that met a transient failure
FINALIZER = "dnsdr.io/finalizer"
STOP_WAIT = 10.0  # seconds a stopping daemon waits for the round in progress to end


def kopf_error(exc: DnsdrError) -> kopf.TemporaryError | kopf.PermanentError:
    """The one place dnsdr's errors become kopf's: retry later, or wait for a person to change something."""
    if isinstance(exc, RetryLater | SecretUnavailable):
        return kopf.TemporaryError(str(exc), delay=RETRY_DELAY)
    return kopf.PermanentError(str(exc))


def configure(settings: kopf.OperatorSettings) -> None:
    """kopf's knobs: its own state in dnsdr.io annotations (status is ours), Events only for what we post or
    warnings, no cluster-wide CRD scan (the Role stays namespaced: the CRD is installed before the operator)."""
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="dnsdr.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="dnsdr.io",
                                                                             key="last-handled-configuration")
    settings.posting.level = logging.WARNING
    settings.scanning.disabled = True
    settings.networking.request_timeout = 60.0
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330


def _context(memo: Any) -> OperatorContext:
    context: OperatorContext = memo.context
    return context


@kopf.on.startup(registry=registry)
def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    configure(settings)


@kopf.on.login(registry=registry)
def login(memo: Any, **_: Any) -> kopf.ConnectionInfo:
    """kopf talks to the API server as the operator's own client does (the same kubeconfig or service account)."""
    return connection_info(_context(memo).api)


def connection_info(api: client.ApiClient) -> kopf.ConnectionInfo:
    config = api.configuration
    header = config.get_api_key_with_prefix("BearerToken") or config.get_api_key_with_prefix("authorization") or ""
    scheme, _, token = header.rpartition(" ")
    return kopf.ConnectionInfo(server=config.host, ca_path=config.ssl_ca_cert, insecure=not config.verify_ssl,
                               scheme=scheme or None, token=token or None, certificate_path=config.cert_file,
                               private_key_path=config.key_file)


@kopf.on.resume(GROUP, VERSION, PLURAL, registry=registry)
@kopf.on.create(GROUP, VERSION, PLURAL, registry=registry)
@kopf.on.update(GROUP, VERSION, PLURAL, registry=registry, field="spec")
def reconcile(body: kopf.Body, memo: Any, **_: Any) -> None:
    """Validate the spec and render each region's pools into its Secret."""
    try:
        written = actions.reconcile(_context(memo), body)
    except DnsdrError as exc:
        raise kopf_error(exc) from None
    if written:
        post(body, Event(NORMAL, "PoolsRendered", f"wrote {', '.join(written)}"))


@kopf.daemon(GROUP, VERSION, PLURAL, registry=registry, cancellation_timeout=STOP_WAIT + 5)
async def watch(body: kopf.Body, memo: Any, stopped: kopf.DaemonStopped, logger: kopf.Logger, **_: Any) -> None:
    """The controller's rounds for one resource, every probe interval, until it is deleted or the operator stops
    (in a thread of their own: see :class:`~dnsdr.operator.actions.RoundThread`)."""
    context = _context(memo)
    meta = body.get("metadata", {})
    key = (str(meta.get("namespace")), str(meta.get("name")))
    one = actions.Watch(context, sink=lambda event: post(body, event))
    context.watches[key] = one

    def forget() -> None:  # by the thread, when its last round ended: kopf may cancel this coroutine meanwhile
        context.watches.pop(key, None)
        context.threads.pop(key, None)
        context.metrics.remove(*key)
    rounds = actions.RoundThread(one, body, logger, name=f"dnsdr-{key[0]}/{key[1]}", on_exit=forget)
    context.threads[key] = rounds
    rounds.start()
    try:
        await stopped.wait()
    finally:
        rounds.stop.set()  # the thread ends after the round in progress
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STOP_WAIT
        while not rounds.done.is_set() and loop.time() < deadline:  # a courtesy: kopf may cut it short
            await asyncio.sleep(0.1)
        if not rounds.done.is_set():
            logger.warning("the round in progress goes on while the daemon stops (a failover cut short resumes from "
                           "its journal)")


@kopf.on.probe(registry=registry, id="rounds")
def rounds(memo: Any, **_: Any) -> dict[str, Any]:
    """Liveness: fails while a resource's loop has stalled, so Kubernetes restarts the pod."""
    health = _context(memo).health()
    if health["stalled"]:
        raise kopf.PermanentError(f"no round ended lately for {', '.join(health['stalled'])}")
    return health


def post(body: kopf.Body | Mapping[str, Any], event: Event) -> None:
    kopf.event(body, type=event.type, reason=event.reason, message=event.message)  # type: ignore[arg-type]
