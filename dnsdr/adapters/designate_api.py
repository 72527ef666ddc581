"""A small typed client for the Designate v2 API (zones, recordsets, quotas), stdlib only.

Made for ``auth_strategy = noauth`` deployments (the lab) and for tokens: with ``token`` set it
sends ``X-Auth-Token``; otherwise ``X-Auth-Project-ID`` and ``X-Roles``. One keep-alive connection
per thread. Errors are :class:`DesignateApiError` with the HTTP status and Designate's message.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dnsdr.domain.errors import RetryLater


class DesignateApiError(RetryLater):
    def __init__(self, status: int, message: str, kind: str = "") -> None:
        self.status = status
        self.kind = kind
        super().__init__(f"HTTP {status}{f' {kind}' if kind else ''}: {message}" if status else message)


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


class DesignateApi:
    def __init__(
        self, endpoint: str, *, project_id: str = "dnsdr", roles: tuple[str, ...] = ("admin",),
        all_projects: bool = False, token: str | None = None, timeout: float = 30.0,
    ) -> None:
        parsed = urllib.parse.urlsplit(endpoint)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise DesignateApiError(0, f"not an http(s) URL: {endpoint!r}")
        self.endpoint = endpoint.rstrip("/")
        self._scheme = parsed.scheme
        self._host = parsed.hostname
        self._port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self._prefix = parsed.path.rstrip("/")
        self.project_id = project_id
        self.roles = roles
        self.all_projects = all_projects
        self._token = token
        self.timeout = timeout
        self._local = threading.local()

    # --- transport -----------------------------------------------------------------------------

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if self._token:
            headers["X-Auth-Token"] = self._token
        else:
            headers["X-Auth-Project-ID"] = self.project_id
            headers["X-Roles"] = ",".join(self.roles)
        if self.all_projects:
            headers["X-Auth-All-Projects"] = "true"
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
        headers = self._headers()
        headers["Content-Type"] = content_type
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(method, url, body=payload, headers=headers)
                response = conn.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest, http.client.ResponseNotReady) as exc:
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise DesignateApiError(0, f"{method} {self.endpoint}{path}: connection failed: {exc}") from None
            except OSError as exc:
                conn.close()
                self._local.conn = None
                raise DesignateApiError(0, f"{method} {self.endpoint}{path}: {exc.strerror or exc}") from None
        if response.status >= 400:
            raise _error(response.status, data)
        if not data:
            return None
        try:
            return json.loads(data)
        except ValueError:
            raise DesignateApiError(response.status, f"{method} {path}: response is not JSON") from None

    def _pages(self, path: str, key: str, params: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        query = dict(params)
        query.setdefault("limit", "1000")
        url: str | None = f"{path}?{urllib.parse.urlencode(query)}"
        while url:
            doc = self.request("GET", url)
            yield from doc.get(key, [])
            nxt = (doc.get("links") or {}).get("next")
            url = urllib.parse.urlsplit(nxt)._replace(scheme="", netloc="").geturl() if nxt else None

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
        return Zone.from_json(self.request("POST", "/v2/zones", body))

    def get_zone(self, zone_id: str) -> Zone:
        return Zone.from_json(self.request("GET", f"/v2/zones/{zone_id}"))

    def list_zones(self, **filters: str) -> list[Zone]:
        return [Zone.from_json(z) for z in self._pages("/v2/zones", "zones", filters)]

    def find_zone(self, name: str) -> Zone | None:
        found = self.list_zones(name=name)
        return found[0] if found else None

    def delete_zone(self, zone_id: str) -> Zone:
        return Zone.from_json(self.request("DELETE", f"/v2/zones/{zone_id}"))

    def create_recordset(
        self, zone_id: str, name: str, type: str, records: list[str], ttl: int | None = None,
    ) -> RecordSet:
        body: dict[str, Any] = {"name": name, "type": type, "records": records}
        if ttl is not None:
            body["ttl"] = ttl
        return RecordSet.from_json(self.request("POST", f"/v2/zones/{zone_id}/recordsets", body))

    def get_recordset(self, zone_id: str, recordset_id: str) -> RecordSet:
        return RecordSet.from_json(self.request("GET", f"/v2/zones/{zone_id}/recordsets/{recordset_id}"))

    def list_recordsets(self, zone_id: str, **filters: str) -> list[RecordSet]:
        return [RecordSet.from_json(r) for r in self._pages(f"/v2/zones/{zone_id}/recordsets", "recordsets", filters)]

    def import_zone(self, zonefile: str) -> ZoneImport:
        """Create a zone with all its recordsets from a zone file in one call (an asynchronous task)."""
        return ZoneImport.from_json(
            self.request("POST", "/v2/zones/tasks/imports", text=zonefile, content_type="text/dns")
        )

    def get_zone_import(self, import_id: str) -> ZoneImport:
        return ZoneImport.from_json(self.request("GET", f"/v2/zones/tasks/imports/{import_id}"))

    def get_quotas(self, project_id: str | None = None) -> dict[str, int]:
        doc = self.request("GET", f"/v2/quotas/{project_id or self.project_id}")
        return {k: int(v) for k, v in doc.items() if isinstance(v, int)}

    def set_quotas(self, project_id: str | None = None, **values: int) -> dict[str, int]:
        doc = self.request("PATCH", f"/v2/quotas/{project_id or self.project_id}", values)
        return {k: int(v) for k, v in doc.items() if isinstance(v, int)}


def _error(status: int, data: bytes) -> DesignateApiError:
    message, kind = data.decode("utf-8", "replace").strip()[:300], ""
    try:
        doc = json.loads(data)
        if isinstance(doc, dict):
            message = str(doc.get("message") or doc.get("title") or message)
            kind = str(doc.get("type") or "")
    except ValueError:
        pass
    return DesignateApiError(status, message or http.client.responses.get(status, "error"), kind)
