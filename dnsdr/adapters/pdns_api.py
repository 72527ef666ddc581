"""PowerDNS Authoritative HTTP API client for the secondary side: zones, masters, retrieve.

Why not one request per process or a new connection per call: a failover rewrites masters on
thousands of zones, so each worker thread keeps its own keep-alive ``http.client`` connection and
the zone list comes from one ``GET /zones``. PowerDNS closes idle connections after
``webserver-connection-timeout`` (5 s); a request that finds its connection closed is retried once
on a fresh one (every request here is idempotent). The API key goes in ``X-API-Key`` and is never
part of an error message.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from dnsdr.domain.errors import NeedsOperator, RetryLater
from dnsdr.domain.spec import Endpoint

T = TypeVar("T")
SERVER = "/api/v1/servers/localhost"


class PdnsError(RetryLater):
    """An API call failed; ``status`` is the HTTP status (0 when there was no response)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class PdnsUnreachable(PdnsError):
    """No HTTP answer (refused, timeout, reset)."""


class PdnsAuthError(PdnsError, NeedsOperator):
    """401/403: the API key is wrong (the key itself is never shown)."""


class PdnsNotFound(PdnsError):
    """404/422 on a zone URL: PowerDNS does not have that zone."""


@dataclass(frozen=True)
class PdnsZone:
    id: str
    name: str
    kind: str
    masters: tuple[str, ...]
    serial: int


def zone_id(name: str) -> str:
    """The API's zone id: the name with a trailing dot, '/' escaped as PowerDNS does ("=2F")."""
    name = name if name.endswith(".") else name + "."
    return name.replace("=", "=3D").replace("/", "=2F")


def _zone(doc: dict[str, Any]) -> PdnsZone:
    return PdnsZone(
        id=str(doc.get("id") or zone_id(str(doc["name"]))),
        name=str(doc["name"]),
        kind=str(doc.get("kind", "")),
        masters=tuple(str(m) for m in doc.get("masters") or ()),
        serial=int(doc.get("serial") or 0),
    )


class PdnsClient:
    """A thread-safe client; :meth:`map` fans work out over ``workers`` persistent connections."""

    def __init__(
        self, endpoint: Endpoint, api_key: str, scheme: str = "http", timeout: float = 30.0, workers: int = 8
    ) -> None:
        if scheme not in ("http", "https"):
            raise PdnsError(f"unsupported scheme {scheme!r}")
        self.endpoint = endpoint
        self.scheme = scheme
        self.workers = max(1, workers)
        self._headers = {"X-API-Key": api_key, "Accept": "application/json", "Connection": "keep-alive"}
        self._timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[http.client.HTTPConnection] = []
        self._pool: ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"PdnsClient({self.scheme}://{self.endpoint})"

    def __enter__(self) -> PdnsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()
        self._local = threading.local()

    def _conn(self, fresh: bool = False) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is not None and not fresh:
            return conn
        if conn is not None:
            conn.close()
        cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        conn = cls(self.endpoint.host, self.endpoint.port, timeout=self._timeout)
        self._local.conn = conn
        with self._lock:
            self._conns.append(conn)
        return conn

    def request(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        """One call; returns (status, decoded JSON or None). Raises on transport and auth errors."""
        payload = None if body is None else json.dumps(body).encode()
        headers = dict(self._headers)
        if payload is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            conn = self._conn(fresh=attempt == 2)
            try:
                conn.request(method, path, body=payload, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
                break
            except (http.client.HTTPException, OSError) as exc:
                conn.close()
                if attempt == 2 or isinstance(exc, TimeoutError):
                    raise PdnsUnreachable(f"PowerDNS API {self.endpoint}: {exc or type(exc).__name__}") from None
        if resp.status in (401, 403):
            raise PdnsAuthError(f"PowerDNS API {self.endpoint}: HTTP {resp.status}, API key rejected", resp.status)
        data: Any = None
        if raw:
            try:
                data = json.loads(raw)
            except ValueError:
                data = raw.decode("utf-8", "replace")
        return resp.status, data

    def _check(self, method: str, path: str, status: int, data: Any, zone: str | None) -> None:
        if 200 <= status < 300:
            return
        detail = data.get("error") if isinstance(data, dict) else data
        msg = f"PowerDNS API {method} {path}: HTTP {status}: {detail}"
        if zone is not None and (status == 404 or (status == 422 and "not found" in str(detail).lower())):
            raise PdnsNotFound(msg, status)
        raise PdnsError(msg, status)

    def _call(self, method: str, path: str, body: object = None, zone: str | None = None) -> Any:
        status, data = self.request(method, path, body)
        self._check(method, path, status, data, zone)
        return data

    def _zone_path(self, name: str, suffix: str = "") -> str:
        return f"{SERVER}/zones/{urllib.parse.quote(zone_id(name), safe='=.')}{suffix}"

    # Zones
    def list_zones(self) -> list[PdnsZone]:
        """Every zone with kind, masters and serial, in one request (no records)."""
        data = self._call("GET", f"{SERVER}/zones")
        return [_zone(z) for z in data or ()]

    def get_zone(self, name: str) -> PdnsZone:
        return _zone(self._call("GET", self._zone_path(name) + "?rrsets=false", zone=name))

    def set_masters(self, name: str, masters: Sequence[str]) -> None:
        """``PUT /zones/{id} {"masters": [...]}`` (204): only masters change, records stay."""
        self._call("PUT", self._zone_path(name), {"masters": list(masters)}, zone=name)

    def axfr_retrieve(self, name: str) -> None:
        """Queue an AXFR from the zone's masters at top priority (returns before it completes)."""
        self._call("PUT", self._zone_path(name, "/axfr-retrieve"), zone=name)

    def create_secondary(self, name: str, masters: Sequence[str]) -> None:
        body = {"name": name if name.endswith(".") else name + ".", "kind": "Slave", "masters": list(masters)}
        self._call("POST", f"{SERVER}/zones", body)

    def delete_zone(self, name: str) -> None:
        self._call("DELETE", self._zone_path(name), zone=name)

    def server_info(self) -> dict[str, Any]:
        data = self._call("GET", SERVER)
        return data if isinstance(data, dict) else {}

    def map(self, fn: Callable[[str], T], items: Sequence[str]) -> list[T | PdnsError]:
        """``fn(item)`` for every item over the worker pool; PdnsError is returned, not raised.

        An auth or transport error is raised at once (it would fail every other item the same way).
        """

        def one(item: str) -> T | PdnsError:
            try:
                return fn(item)
            except (PdnsAuthError, PdnsUnreachable):
                raise
            except PdnsError as exc:
                return exc

        if len(items) <= 1 or self.workers == 1:
            return [one(i) for i in items]
        with self._lock:
            if self._pool is None:  # kept across calls so its threads keep their connections
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="pdns")
            pool = self._pool
        return list(pool.map(one, items))
