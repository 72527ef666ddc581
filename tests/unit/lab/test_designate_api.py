"""The Designate v2 API client against a small fake server (headers, pagination, errors)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dnsdr.adapters.designate_api import DesignateApi, DesignateApiError

ZONE = {"id": "z1", "name": "a.example.", "status": "PENDING", "action": "CREATE", "serial": 17,
        "pool_id": "p", "email": "h@example.org", "ttl": 300, "project_id": "proj", "type": "PRIMARY"}


class Handler(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, dict[str, str], Any]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.seen.append((self.command, self.path, dict(self.headers), body))
        return body

    def do_POST(self) -> None:
        if self.path == "/v2/zones/tasks/imports":
            length = int(self.headers.get("Content-Length") or 0)
            text = self.rfile.read(length).decode()
            self.seen.append((self.command, self.path, dict(self.headers), text))
            self._send(202, {"id": "i1", "status": "PENDING", "zone_id": None, "message": None})
            return
        body = self._record()
        if body["name"] == "taken.example.":
            self._send(409, {"code": 409, "type": "duplicate_zone", "message": "Duplicate Zone"})
        elif self.path.endswith("/recordsets"):
            self._send(202, {"id": "rs1", "zone_id": "z1", "name": body["name"], "type": body["type"],
                             "records": body["records"], "ttl": None, "status": "PENDING", "action": "CREATE"})
        else:
            self._send(202, dict(ZONE, name=body["name"]))

    def do_GET(self) -> None:
        self._record()
        if self.path.startswith("/v2/zones?") and "marker=z1" not in self.path:
            self._send(200, {"zones": [ZONE], "links": {"next": f"http://{self.headers['Host']}/v2/zones?limit=1&marker=z1"}})
        elif self.path.startswith("/v2/zones?"):
            self._send(200, {"zones": [dict(ZONE, id="z2", name="b.example.", status="ACTIVE")], "links": {}})
        elif self.path == "/v2/zones/tasks/imports/i1":
            self._send(200, {"id": "i1", "status": "COMPLETE", "zone_id": "z9", "message": "imported"})
        elif self.path == "/v2/quotas/proj":
            self._send(200, {"zones": 10, "zone_records": 500})
        else:
            self._send(404, {"code": 404, "type": "zone_not_found", "message": "Could not find Zone"})

    def do_PATCH(self) -> None:
        body = self._record()
        self._send(200, dict({"zones": 10, "zone_records": 500}, **body))


@pytest.fixture
def api() -> Iterator[DesignateApi]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Handler.seen = []
    yield DesignateApi(f"http://127.0.0.1:{server.server_address[1]}", project_id="proj", all_projects=True)
    server.shutdown()
    server.server_close()


def test_create_zone_sends_noauth_headers(api: DesignateApi) -> None:
    zone = api.create_zone("a.example.", "h@example.org", ttl=300)
    assert zone.name == "a.example." and zone.serial == 17 and zone.status == "PENDING"
    method, path, headers, body = Handler.seen[0]
    assert (method, path) == ("POST", "/v2/zones")
    assert body == {"name": "a.example.", "email": "h@example.org", "ttl": 300}
    assert headers["X-Auth-Project-ID"] == "proj"
    assert headers["X-Roles"] == "admin"
    assert headers["X-Auth-All-Projects"] == "true"


def test_list_zones_follows_pagination(api: DesignateApi) -> None:
    zones = api.list_zones()
    assert [z.id for z in zones] == ["z1", "z2"]
    assert zones[1].status == "ACTIVE"


def test_errors_carry_status_and_designate_message(api: DesignateApi) -> None:
    with pytest.raises(DesignateApiError) as err:
        api.create_zone("taken.example.", "h@example.org")
    assert err.value.status == 409 and err.value.kind == "duplicate_zone"
    assert "Duplicate Zone" in str(err.value)
    with pytest.raises(DesignateApiError, match="404"):
        api.get_zone("nope")


def test_recordsets_and_quotas(api: DesignateApi) -> None:
    rs = api.create_recordset("z1", "www.a.example.", "A", ["192.0.2.1"])
    assert rs.records == ("192.0.2.1",) and rs.type == "A"
    assert api.get_quotas() == {"zones": 10, "zone_records": 500}
    assert api.set_quotas(zones=5000)["zones"] == 5000
    assert Handler.seen[-1][3] == {"zones": 5000}


def test_unreachable_endpoint_is_a_clean_error() -> None:
    api = DesignateApi("http://127.0.0.1:9", timeout=2)
    with pytest.raises(DesignateApiError, match=r"(?i)connection|refused"):
        api.get_zone("x")
    assert not api.ping()


def test_bad_endpoint() -> None:
    with pytest.raises(DesignateApiError):
        DesignateApi("ftp://x")


def test_zone_import_posts_the_zone_file_as_text_dns(api: DesignateApi) -> None:
    from dnsdr.lab.zones import zone_file

    task = api.import_zone(zone_file("imp.example."))
    assert (task.id, task.status) == ("i1", "PENDING")
    method, path, headers, text = Handler.seen[0]
    assert (method, path, headers["Content-Type"]) == ("POST", "/v2/zones/tasks/imports", "text/dns")
    assert text.startswith("$ORIGIN imp.example.\n")
    assert "www IN A 192.0.2.10" in text
    done = api.get_zone_import("i1")
    assert (done.status, done.zone_id) == ("COMPLETE", "z9")
