"""The operation lease: who may act now, until when, and a fencing token that only increases.

A lease replaces a host-local lock so that two controllers on different hosts, a controller and a
person, or a Kubernetes operator (a ``coordination.k8s.io`` Lease taken with compare-and-swap) fit
one model. Every acquisition by a new holder increments ``token``; a holder that lost its lease
(expired while it was paused, say) can tell from the token that someone else may have acted since.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Lease:
    holder: str
    token: int
    acquired_at: float
    renewed_at: float
    expires_at: float
    released: bool = False

    def live(self, now: float) -> bool:
        """Held by someone: not released and not expired."""
        return not self.released and now < self.expires_at

    def renewed(self, now: float, ttl: float) -> Lease:
        return Lease(self.holder, self.token, self.acquired_at, now, now + ttl)

    def release(self, now: float) -> Lease:
        return Lease(self.holder, self.token, self.acquired_at, self.renewed_at, now, released=True)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Lease:
        return cls(holder=str(data["holder"]), token=int(data["token"]), acquired_at=float(data["acquired_at"]),
                   renewed_at=float(data["renewed_at"]), expires_at=float(data["expires_at"]),
                   released=bool(data.get("released", False)))


def next_lease(current: Lease | None, holder: str, now: float, ttl: float) -> Lease | None:
    """The lease ``holder`` gets now, or None while another holder's lease is live.

    The same holder re-acquiring keeps its token (a renewal); anyone else gets token + 1.
    """
    if current is not None and current.live(now) and current.holder != holder:
        return None
    if current is not None and current.holder == holder and current.live(now):
        return current.renewed(now, ttl)
    token = current.token + 1 if current is not None else 1
    return Lease(holder, token, now, now, now + ttl)
