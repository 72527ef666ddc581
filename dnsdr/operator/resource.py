"""A DesignateDR resource as the operator reads it: the typed spec (or why there is none) and the requests its
annotations make.

The spec is parsed by the same model as ``dnsdr spec validate`` from the same document (apiVersion, kind, name,
namespace, spec), so a resource and the file a person keeps beside it mean the same thing, down to the state's names.

Requests are annotations, because they are not part of the desired topology (no new generation) and a person can
make them with ``kubectl annotate``:

- ``dnsdr.io/paused: "true"`` pauses automatic failover (``dnsdr.io/paused-reason`` says why), ``"false"`` or
  removing it resumes;
- ``dnsdr.io/ack: <any new value>`` acknowledges the last automatic failover (lifts its cool-down).

Each is applied once per value it takes (status.requests keeps the values applied), so a ``dnsdr resume`` typed
later is not undone by an annotation left in place: the Paused condition tells the truth, whoever paused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dnsdr.adapters.backends import KINDS
from dnsdr.domain.spec import API_VERSION, KIND, DesignateDR
from dnsdr.domain.spec_parse import SpecError, parse_designatedr

PAUSED = "dnsdr.io/paused"
PAUSED_REASON = "dnsdr.io/paused-reason"
ACK = "dnsdr.io/ack"
TRUE = ("true", "yes", "1")


@dataclass(frozen=True)
class Request:
    """One request an annotation makes now: ``kind`` is pause, resume or ack; ``value`` is what to remember."""

    kind: str
    key: str  # the status.requests key that remembers it
    value: str
    reason: str = ""


@dataclass(frozen=True)
class Resource:
    name: str
    namespace: str
    uid: str
    generation: int
    spec: DesignateDR | None
    problems: tuple[str, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    status: Mapping[str, Any] = field(default_factory=dict)

    @property
    def reference(self) -> str:
        return f"DesignateDR {self.namespace}/{self.name}"

    def requests(self) -> list[Request]:
        """What the annotations ask for that has not been applied yet."""
        applied = self.status.get("requests") or {}
        found: list[Request] = []
        paused = self.annotations.get(PAUSED, "").strip().lower()
        if paused != str(applied.get("paused", "")):
            if paused in TRUE:
                reason = self.annotations.get(PAUSED_REASON) or f"annotation {PAUSED} on {self.reference}"
                found.append(Request("pause", "paused", paused, reason))
            else:
                found.append(Request("resume", "paused", paused))
        ack = self.annotations.get(ACK, "").strip()
        if ack and ack != str(applied.get("ack", "")):
            found.append(Request("ack", "ack", ack))
        return found


def read(body: Mapping[str, Any]) -> Resource:
    """The resource in ``body`` (the object as the API server sent it), its spec parsed or its problems listed."""
    meta = body.get("metadata") or {}
    name, namespace = str(meta.get("name") or ""), str(meta.get("namespace") or "")
    document = {"apiVersion": body.get("apiVersion", API_VERSION), "kind": body.get("kind", KIND),
                "metadata": {"name": name, "namespace": namespace}, "spec": body.get("spec")}
    spec: DesignateDR | None = None
    problems: tuple[str, ...] = ()
    try:
        spec = parse_designatedr(document, KINDS)
    except SpecError as exc:
        problems = tuple(exc.problems)
    return Resource(name=name, namespace=namespace, uid=str(meta.get("uid") or ""),
                    generation=int(meta.get("generation") or 0), spec=spec, problems=problems,
                    annotations={str(k): str(v) for k, v in (meta.get("annotations") or {}).items()},
                    status=dict(body.get("status") or {}))
