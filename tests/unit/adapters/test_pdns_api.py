"""PowerDNS client error mapping and keep-alive, against a stub HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dnsdr.adapters.pdns_api import PdnsAuthError, PdnsClient, PdnsNotFound, PdnsUnreachable, zone_id
from dnsdr.domain.spec import Endpoint

KEY = "s3cr3t-api-key"


class Stub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    zones = {"a.example.": ["192.0.2.1:5354"]}
    peers: set[int] = set()
    puts: list[tuple[str, object]] = []

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: object = None) -> None:
        raw = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _route(self) -> str | None:
        Stub.peers.add(self.client_address[1])
        if self.headers.get("X-API-Key") != KEY:
            self._send(401, {"error": "Unauthorized"})
            return None
        return self.path

    def do_GET(self) -> None:
        path = self._route()
        if path is None:
            return
        if path == "/api/v1/servers/localhost/zones":
            self._send(200, [{"id": z, "name": z, "kind": "Slave", "masters": m, "serial": 7} for z, m in self.zones.items()])
        else:
            self._send(404, {"error": "Not Found"})

    def do_PUT(self) -> None:
        path = self._route()
        if path is None:
            return
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"null")
        name = path.split("/zones/")[1].split("/")[0]
        if name not in self.zones:
            self._send(404, {"error": "Not Found"})
            return
        Stub.puts.append((path, body))
        self._send(204)


@pytest.fixture()
def stub() -> Iterator[Endpoint]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Stub.peers.clear()
    Stub.puts.clear()
    yield Endpoint("127.0.0.1", server.server_address[1])
    server.shutdown()
    server.server_close()


def test_list_set_retrieve_over_one_kept_alive_connection(stub: Endpoint) -> None:
    with PdnsClient(stub, KEY, workers=1) as client:
        zones = client.list_zones()
        assert [(z.name, z.kind, z.masters, z.serial) for z in zones] == [("a.example.", "Slave", ("192.0.2.1:5354",), 7)]
        client.set_masters("a.example", ["198.51.100.1:5354"])
        client.axfr_retrieve("a.example.")
    assert Stub.puts == [
        ("/api/v1/servers/localhost/zones/a.example.", {"masters": ["198.51.100.1:5354"]}),
        ("/api/v1/servers/localhost/zones/a.example./axfr-retrieve", None),
    ]
    assert len(Stub.peers) == 1  # keep-alive: a single TCP connection


def test_errors_are_typed_and_never_show_the_key(stub: Endpoint) -> None:
    with pytest.raises(PdnsAuthError) as auth:
        PdnsClient(stub, "wrong-" + KEY).list_zones()
    assert KEY not in str(auth.value) and auth.value.status == 401
    client = PdnsClient(stub, KEY)
    with pytest.raises(PdnsNotFound):
        client.set_masters("missing.example", ["192.0.2.9"])
    assert KEY not in repr(client)
    results = client.map(lambda z: client.set_masters(z, ["192.0.2.9"]), ["a.example.", "nope.example."])
    assert results[0] is None and isinstance(results[1], PdnsNotFound)
    client.close()


def test_unreachable() -> None:
    with pytest.raises(PdnsUnreachable):
        PdnsClient(Endpoint("127.0.0.1", 1), KEY, timeout=2).list_zones()


def test_zone_id_escaping() -> None:
    assert zone_id("a.example") == "a.example."
    assert zone_id("0/24.2.0.192.in-addr.arpa.") == "0=2F24.2.0.192.in-addr.arpa."
