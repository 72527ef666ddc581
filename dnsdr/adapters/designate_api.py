"""A small typed client for the Designate v2 API (zones, recordsets, quotas), stdlib only.

With ``auth`` (a Keystone session, see ``keystone.py``) every call carries its token, and a 401
makes it authenticate again once; with a fixed ``token`` it sends that; otherwise (``auth_strategy =
noauth``, a lab only) ``X-Auth-Project-ID`` and ``X-Roles``. HTTPS verifies the server with ``tls``.
One keep-alive connection per thread. Errors are :class:`DesignateApiError` with the HTTP status and
Designate's message, on one bounded line naming the endpoint; no header value (the token) is ever
part of one. Each call ends within ``timeout`` and reads at most ``max_body`` octets, and an answer
that is not JSON of the expected shape is an error, not a traceback.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from dnsdr.adapters.http_bounded import TIMEOUT, TLS, TOO_LARGE, HttpFailure, connection, exchange
from dnsdr.adapters.shown import brief
from dnsdr.domain.errors import NeedsOperator, RetryLater

T = TypeVar("T")
MAX_BODY = 16 << 20  # a page of 1,000 zones is ~1 MiB
MAX_PAGES = 10_000


class DesignateApiError(RetryLater):
    """``status`` is the HTTP status (0 without an HTTP answer, or for an answer of the wrong shape)."""

    def __init__(self, status: int, message: str, kind: str = "") -> None:
        self.status = status
        self.kind = kind
        super().__init__(message)


class DesignateAuthError(DesignateApiError, NeedsOperator):
    """401/403: the token (or the noauth project and roles) was refused; the token is never shown."""


class DesignateTlsError(DesignateApiError, NeedsOperator):
    """The API's certificate was refused: trust (the spec's CA) or the certificate must be fixed."""


class TokenSource(Protocol):
    """Where tokens come from (a Keystone session): one now, and forgetting one the API refused."""

    def token(self) -> str: ...
    def invalidate(self) -> None: ...

    @property
    def secrets(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Zone:
    id: str
    name: str
    status: str
    action: str
    serial: int
    pool_id: str
    email: str
    ttl: int
    project_id: str
    type: str

    @staticmethod
    def from_json(d: Mapping[str, Any]) -> Zone:
        return Zone(
            id=str(d["id"]), name=str(d["name"]), status=str(d.get("status", "")), action=str(d.get("action", "")),
            serial=int(d.get("serial") or 0), pool_id=str(d.get("pool_id", "")), email=str(d.get("email", "")),
            ttl=int(d.get("ttl") or 0), project_id=str(d.get("project_id", "")), type=str(d.get("type", "")),
        )


@dataclass(frozen=True)
class RecordSet:
    id: str
    zone_id: str
    name: str
    type: str
    records: tuple[str, ...]
    ttl: int | None
    status: str
    action: str

    @staticmethod
    def from_json(d: Mapping[str, Any]) -> RecordSet:
        return RecordSet(
            id=str(d["id"]), zone_id=str(d["zone_id"]), name=str(d["name"]), type=str(d["type"]),
            records=tuple(str(r) for r in d.get("records", ())), ttl=d.get("ttl"),
            status=str(d.get("status", "")), action=str(d.get("action", "")),
        )


@dataclass(frozen=True)
class ZoneImport:
    id: str
    status: str
    zone_id: str | None
    message: str

    @staticmethod
    def from_json(d: Mapping[str, Any]) -> ZoneImport:
        return ZoneImport(id=str(d["id"]), status=str(d.get("status", "")),
                          zone_id=d.get("zone_id"), message=str(d.get("message") or ""))


def _shown_url(endpoint: str) -> str:
    """The endpoint as it may appear in a message: no user:password@, no query string."""
    try:
        parts = urllib.parse.urlsplit(endpoint)
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        if parts.port is not None:
            netloc += f":{parts.port}"
        return brief(urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", "")), 200)
    except ValueError:  # a port that is not a number
        return "(unparseable URL)"


DEFAULT_PROJECT = "dnsdr"  # the project dnsdr acts in when a zone names none (the noauth path, old rows)


class DesignateApi:
    def __init__(
        self, endpoint: str, *, project_id: str = DEFAULT_PROJECT, roles: tuple[str, ...] = ("admin",),
        all_projects: bool = False, token: str | None = None, timeout: float = 30.0, max_body: int = MAX_BODY,
        auth: TokenSource | None = None, tls: ssl.SSLContext | None = None, sudo_project: str | None = None,
    ) -> None:
        self.endpoint = _shown_url(endpoint)
        try:
            parsed = urllib.parse.urlsplit(endpoint)
            port = parsed.port
        except ValueError:
            parsed, port = urllib.parse.urlsplit(""), None
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise DesignateApiError(0, f"not an http(s) URL: {self.endpoint}")
        self._scheme = parsed.scheme
        self._host = parsed.hostname
        self._port = port or (443 if parsed.scheme == "https" else 80)
        self._prefix = parsed.path.rstrip("/")
        self.max_body = max_body
        self.project_id = project_id
        self.roles = roles
        self.all_projects = all_projects
        self.sudo_project = sudo_project
        self._token = token
        self._auth = auth
        self._tls = tls
        self.timeout = timeout
        self._local = threading.local()

    # --- transport -----------------------------------------------------------------------------

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connection(self._scheme, self._host, self._port, self.timeout, self._tls)
            self._local.conn = conn
        return conn

    def _hidden(self) -> list[str]:
        """What no message may show: the fixed token, or every token and credential of the session."""
        return [self._token or "", *(self._auth.secrets if self._auth is not None else ())]

    def _fail(self, status: int, text: str, kind: str = "", tls: bool = False) -> DesignateApiError:
        """An error on one bounded line naming the endpoint; the token is scrubbed before anything is cut."""
        cls = DesignateTlsError if tls else DesignateAuthError if status in (401, 403) else DesignateApiError
        return cls(status, brief(f"Designate API {self.endpoint}: {text}", 400, self._hidden()), kind)

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if self._auth is not None:
            headers["X-Auth-Token"] = self._auth.token()
        elif self._token:
            headers["X-Auth-Token"] = self._token
        else:
            headers["X-Auth-Project-ID"] = self.project_id
            headers["X-Roles"] = ",".join(self.roles)
        if self.all_projects:
            headers["X-Auth-All-Projects"] = "true"
        if self.sudo_project and (self._auth is not None or self._token):
            headers["X-Auth-Sudo-Project-ID"] = self.sudo_project  # act in that project (an admin's token)
        return headers

    def request(self, method: str, path: str, body: Any = None, *, text: str | None = None,
                content_type: str = "application/json") -> Any:
        """One call; returns the decoded JSON (None for an empty body). Retries once on a dropped connection.

        ``body`` is sent as JSON; ``text`` as is, with ``content_type`` (e.g. a zone file as text/dns).
        """
        url = path if path.startswith("/") else f"/{path}"
        if not url.startswith(self._prefix + "/"):
            url = self._prefix + url
        payload = text.encode() if text is not None else json.dumps(body).encode() if body is not None else None
        shown = brief(f"{method} {url.split('?', 1)[0]}", 200, self._hidden())
        status, data = self._send(method, url, payload, content_type, shown)
        if status == 401 and self._auth is not None:  # expired or revoked: authenticate again, once
            self._auth.invalidate()
            status, data = self._send(method, url, payload, content_type, shown)
        if status >= 400:
            raise self._error(status, data, shown)
        if not data.strip():
            return None
        try:
            return json.loads(data)
        except ValueError:
            raise self._fail(status, f"{shown}: answer is not JSON") from None

    def _send(self, method: str, url: str, payload: bytes | None, content_type: str, shown: str) -> tuple[int, bytes]:
        headers = self._headers()
        headers["Content-Type"] = content_type
        for attempt in (1, 2):
            conn = self._connection()
            try:
                return exchange(conn, method, url, payload, headers, seconds=self.timeout, max_body=self.max_body)
            except HttpFailure as exc:
                self._local.conn = None
                if attempt == 2 or exc.kind in (TIMEOUT, TOO_LARGE, TLS):
                    raise self._fail(0, f"{shown}: {'TLS: ' if exc.kind == TLS else ''}{exc}",
                                     tls=exc.kind == TLS) from None
        raise AssertionError("unreachable")

    def _error(self, status: int, data: bytes, shown: str) -> DesignateApiError:
        message, kind = data[:2000].decode("utf-8", "replace"), ""
        try:
            doc = json.loads(data)
            if isinstance(doc, dict):
                message = str(doc.get("message") or doc.get("title") or message)
                kind = str(doc.get("type") or "")
        except ValueError:
            pass
        detail = brief(message, 200, self._hidden()) or http.client.responses.get(status, "error")
        kind = brief(kind, 60, self._hidden())
        return self._fail(status, f"{shown}: HTTP {status}{f' {kind}' if kind else ''}: {detail}", kind)

    def _typed(self, build: Callable[[Any], T], doc: Any, what: str, shown: str) -> T:
        """``build(doc)``, or a DesignateApiError when the answer has another shape (never quoting it)."""
        try:
            if not isinstance(doc, dict):
                raise TypeError(what)
            return build(doc)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
            raise self._fail(0, f"{shown}: unexpected answer (not a {what})") from None

    def _call(self, build: Callable[[Any], T], what: str, method: str, path: str, body: Any = None, *,
              text: str | None = None, content_type: str = "application/json") -> T:
        """One call whose answer must be a JSON object that ``build`` accepts."""
        doc = self.request(method, path, body, text=text, content_type=content_type)
        return self._typed(build, doc, what, f"{method} {path.split('?', 1)[0]}")

    def _pages(self, path: str, key: str, params: Mapping[str, str]) -> Iterator[Any]:
        query = dict(params)
        query.setdefault("limit", "1000")
        url: str | None = f"{path}?{urllib.parse.urlencode(query)}"
        seen: set[str] = set()
        while url:
            if url in seen or len(seen) >= MAX_PAGES:  # a "next" link that loops, or no end
                raise self._fail(0, f"GET {path}: pagination does not end")
            seen.add(url)

            def page(doc: Any) -> tuple[list[Any], str | None]:
                items, nxt = doc.get(key, []), (doc.get("links") or {}).get("next")
                if not isinstance(items, list) or not isinstance(nxt, str | None):
                    raise TypeError(key)
                return items, urllib.parse.urlsplit(nxt)._replace(scheme="", netloc="").geturl() if nxt else None

            items, url = self._call(page, f"page of {key}", "GET", url)
            yield from items

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # --- API -----------------------------------------------------------------------------------

    def ping(self) -> bool:
        try:
            self.request("GET", "/")
            return True
        except DesignateApiError:
            return False

    def create_zone(self, name: str, email: str, ttl: int | None = None, description: str | None = None) -> Zone:
        body: dict[str, Any] = {"name": name, "email": email}
        if ttl is not None:
            body["ttl"] = ttl
        if description is not None:
            body["description"] = description
        return self._call(Zone.from_json, "zone", "POST", "/v2/zones", body)

    def get_zone(self, zone_id: str) -> Zone:
        return self._call(Zone.from_json, "zone", "GET", f"/v2/zones/{zone_id}")

    def repush_zone(self, zone_id: str) -> Zone:
        """Make Designate push the zone again: a PATCH of its own TTL bumps the serial and re-runs the
        worker's update on every target (the nudge for a zone left PENDING or ERROR)."""
        zone = self.get_zone(zone_id)
        return self._call(Zone.from_json, "zone", "PATCH", f"/v2/zones/{zone_id}", {"ttl": zone.ttl})

    def list_zones(self, **filters: str) -> list[Zone]:
        return [self._typed(Zone.from_json, z, "zone", "GET /v2/zones") for z in self._pages("/v2/zones", "zones",
                                                                                           filters)]

    def find_zone(self, name: str) -> Zone | None:
        found = self.list_zones(name=name)
        return found[0] if found else None

    def delete_zone(self, zone_id: str) -> Zone:
        return self._call(Zone.from_json, "zone", "DELETE", f"/v2/zones/{zone_id}")

    def create_recordset(
        self, zone_id: str, name: str, type: str, records: list[str], ttl: int | None = None,
    ) -> RecordSet:
        body: dict[str, Any] = {"name": name, "type": type, "records": records}
        if ttl is not None:
            body["ttl"] = ttl
        return self._call(RecordSet.from_json, "recordset", "POST", f"/v2/zones/{zone_id}/recordsets", body)

    def update_recordset(self, zone_id: str, recordset_id: str, records: list[str], ttl: int | None) -> RecordSet:
        """Replace the records and TTL (None: the zone's default) of a recordset."""
        return self._call(RecordSet.from_json, "recordset", "PUT", f"/v2/zones/{zone_id}/recordsets/{recordset_id}",
                          {"records": records, "ttl": ttl})

    def delete_recordset(self, zone_id: str, recordset_id: str) -> RecordSet:
        return self._call(RecordSet.from_json, "recordset", "DELETE", f"/v2/zones/{zone_id}/recordsets/{recordset_id}")

    def get_recordset(self, zone_id: str, recordset_id: str) -> RecordSet:
        return self._call(RecordSet.from_json, "recordset", "GET", f"/v2/zones/{zone_id}/recordsets/{recordset_id}")

    def list_recordsets(self, zone_id: str, **filters: str) -> list[RecordSet]:
        path = f"/v2/zones/{zone_id}/recordsets"
        return [self._typed(RecordSet.from_json, r, "recordset", f"GET {path}")
                for r in self._pages(path, "recordsets", filters)]

    def import_zone(self, zonefile: str) -> ZoneImport:
        """Create a zone with all its recordsets from a zone file in one call (an asynchronous task)."""
        return self._call(ZoneImport.from_json, "zone import", "POST", "/v2/zones/tasks/imports", text=zonefile,
                          content_type="text/dns")

    def get_zone_import(self, import_id: str) -> ZoneImport:
        return self._call(ZoneImport.from_json, "zone import", "GET", f"/v2/zones/tasks/imports/{import_id}")

    def get_quotas(self, project_id: str | None = None) -> dict[str, int]:
        return self._call(_quotas, "quota set", "GET", f"/v2/quotas/{project_id or self.project_id}")

    def set_quotas(self, project_id: str | None = None, **values: int) -> dict[str, int]:
        return self._call(_quotas, "quota set", "PATCH", f"/v2/quotas/{project_id or self.project_id}", values)


def _quotas(doc: Mapping[str, Any]) -> dict[str, int]:
    return {str(k): int(v) for k, v in doc.items() if isinstance(v, int)}
