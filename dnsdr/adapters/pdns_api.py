"""PowerDNS Authoritative HTTP API client for the secondary side: zones, masters, retrieve.

Why not one request per process or a new connection per call: a failover rewrites masters on
thousands of zones, so each worker thread keeps its own keep-alive ``http.client`` connection and
the zone list comes from one ``GET /zones``. PowerDNS closes idle connections after
``webserver-connection-timeout`` (5 s); a request that finds its connection closed is retried once
on a fresh one (every request here is idempotent). The API key goes in ``X-API-Key`` and is never
part of an error message. A server that answers junk (not JSON, the wrong shape, no end) gives a
:class:`PdnsError` on one bounded line, within ``timeout`` per request and ``max_body`` octets.
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

from dnsdr.adapters.http_bounded import TIMEOUT, TOO_LARGE, HttpFailure, connection, exchange
from dnsdr.adapters.shown import brief
from dnsdr.domain.errors import NeedsOperator, RetryLater
from dnsdr.domain.spec import Endpoint

T = TypeVar("T")
SERVER = "/api/v1/servers/localhost"
# A zone in GET /zones is ~300 octets: 64 MiB is far above 100,000 zones and still a bound.
MAX_BODY = 64 << 20


class NotJson(str):
    """A body that is not JSON (an HTML error page, garbage), kept as text only to quote a little of it."""


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


def _zone(doc: object) -> PdnsZone:
    """One zone of a listing or a GET; ValueError says what is wrong with it, never quoting it (a
    hostile server could put the API key anywhere)."""
    if not isinstance(doc, dict):
        raise ValueError("a zone is not a JSON object")
    name, masters, serial = doc.get("name"), doc.get("masters") or [], doc.get("serial") or 0
    if not isinstance(name, str) or not name:
        raise ValueError("a zone without a name")
    if not isinstance(masters, list) or not all(isinstance(m, str) for m in masters):
        raise ValueError("masters is not a list of strings")
    if not isinstance(serial, int) or isinstance(serial, bool):
        raise ValueError("serial is not a number")
    zid, kind = doc.get("id"), doc.get("kind", "")
    return PdnsZone(id=zid if isinstance(zid, str) and zid else zone_id(name), name=name,
                    kind=kind if isinstance(kind, str) else "", masters=tuple(masters), serial=serial)


class PdnsClient:
    """A thread-safe client; :meth:`map` fans work out over ``workers`` persistent connections."""

    def __init__(
        self, endpoint: Endpoint, api_key: str, scheme: str = "http", timeout: float = 30.0, workers: int = 8,
        max_body: int = MAX_BODY,
    ) -> None:
        if scheme not in ("http", "https"):
            raise PdnsError(f"PowerDNS API {endpoint}: unsupported scheme {brief(scheme, 20)!r}")
        self.endpoint = endpoint
        self.scheme = scheme
        self.workers = max(1, workers)
        self.max_body = max_body
        self._key = api_key
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
            self._pool.shutdown(cancel_futures=True)
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
        conn = connection(self.scheme, self.endpoint.host, self.endpoint.port, self._timeout)
        self._local.conn = conn
        with self._lock:
            self._conns.append(conn)
        return conn

    def _error(self, cls: type[PdnsError], text: str, status: int = 0) -> PdnsError:
        """An error naming the endpoint, on one bounded line, with the API key scrubbed as a last guard."""
        return cls(brief(f"PowerDNS API {self.endpoint}: {text}", 400, [self._key]), status)

    def request(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        """One call within ``timeout``; returns (status, decoded JSON, or NotJson, or None when empty).

        Raises PdnsUnreachable without an HTTP answer, PdnsAuthError on 401/403, PdnsError for an
        answer larger than ``max_body``.
        """
        payload = None if body is None else json.dumps(body).encode()
        headers = dict(self._headers)
        if payload is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            conn = self._conn(fresh=attempt == 2)
            try:
                status, raw = exchange(conn, method, path, payload, headers, seconds=self._timeout,
                                       max_body=self.max_body)
                break
            except HttpFailure as exc:
                if exc.kind == TOO_LARGE:
                    raise self._error(PdnsError, f"{method} {path}: {exc}") from None
                if attempt == 2 or exc.kind == TIMEOUT:
                    raise self._error(PdnsUnreachable, f"{method} {path}: {exc}") from None
        if status in (401, 403):
            raise self._error(PdnsAuthError, f"HTTP {status}, API key rejected", status)
        data: Any = None
        if raw.strip():
            try:
                data = json.loads(raw)
            except ValueError:  # UnicodeDecodeError included
                data = NotJson(raw[:1000].decode("utf-8", "replace"))
        return status, data

    def _check(self, method: str, path: str, status: int, data: Any, zone: str | None) -> None:
        if 200 <= status < 300:
            return
        detail = data.get("error") if isinstance(data, dict) else data if isinstance(data, str) else None
        detail = brief(str(detail), 120, [self._key]) if detail else "(no error message)"
        msg = f"{method} {path}: HTTP {status}: {detail}"
        if zone is not None and (status == 404 or (status == 422 and "not found" in detail.lower())):
            raise self._error(PdnsNotFound, msg, status)
        raise self._error(PdnsError, msg, status)

    def _call(self, method: str, path: str, body: object = None, zone: str | None = None) -> Any:
        status, data = self.request(method, path, body)
        self._check(method, path, status, data, zone)
        return data

    def _json(self, method: str, path: str, zone: str | None = None) -> Any:
        """A call whose answer must be JSON (a GET)."""
        data = self._call(method, path, zone=zone)
        if isinstance(data, NotJson) or data is None:
            raise self._error(PdnsError, f"{method} {path}: answer is not JSON")
        return data

    def _zone_path(self, name: str, suffix: str = "") -> str:
        return f"{SERVER}/zones/{urllib.parse.quote(zone_id(name), safe='=.')}{suffix}"

    # Zones
    def list_zones(self) -> list[PdnsZone]:
        """Every zone with kind, masters and serial, in one request (no records)."""
        path = f"{SERVER}/zones"
        data = self._json("GET", path)
        try:
            if not isinstance(data, list):
                raise ValueError("not a list of zones")
            found = []
            for i, doc in enumerate(data):
                try:
                    found.append(_zone(doc))
                except ValueError as exc:
                    raise ValueError(f"zone #{i + 1}: {exc}") from None
            return found
        except ValueError as exc:
            raise self._error(PdnsError, f"GET {path}: unexpected answer: {exc}") from None

    def get_zone(self, name: str) -> PdnsZone:
        path = self._zone_path(name) + "?rrsets=false"
        data = self._json("GET", path, zone=name)
        try:
            return _zone(data)
        except ValueError as exc:
            raise self._error(PdnsError, f"GET {path}: unexpected answer: {exc}") from None

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
        data = self._json("GET", SERVER)
        return data if isinstance(data, dict) else {}

    def map(self, fn: Callable[[str], T], items: Sequence[str]) -> list[T | PdnsError]:
        """``fn(item)`` for every item over the worker pool; PdnsError is returned, not raised.

        An auth or transport error is raised (it would fail every other item the same way), and the
        items not started yet are skipped, so a server that stops answering costs one timeout per
        worker, not one per item.
        """
        abort: list[PdnsError] = []

        def one(item: str) -> T | PdnsError:
            if abort:
                return abort[0]
            try:
                return fn(item)
            except (PdnsAuthError, PdnsUnreachable) as exc:
                abort.append(exc)
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
