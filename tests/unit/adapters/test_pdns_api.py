"""PowerDNS client error mapping and keep-alive, against a stub HTTP server on loopback."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dnsdr.adapters.pdns_api import (
    MAX_BODY,
    PdnsAuthError,
    PdnsClient,
    PdnsError,
    PdnsNotFound,
    PdnsUnreachable,
    zone_id,
)
from dnsdr.domain.errors import NeedsOperator, RetryLater
from dnsdr.domain.spec import Endpoint
from tests.support.hostile import (
    MARKER,
    Behaviour,
    assert_no_secret,
    close_after_read,
    close_at_once,
    elapsed,
    hostile_tcp,
    http,
    http_endless,
    send_after_read,
    silent,
    trickle,
)
from tests.support.waiting import LOADED_SLACK

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


# --- hostile servers: junk answers are PdnsError on one bounded line, in bounded time, without the key ----

T = 0.2


def hostile_error(behaviour: Behaviour, call: Callable[[PdnsClient], object] = lambda c: c.list_zones(),
                  max_body: int = MAX_BODY) -> tuple[PdnsError, float, int]:
    requests: list[bytes] = []

    def recording(conn: socket.socket, stop: threading.Event) -> None:
        requests.append(b"")
        behaviour(conn, stop)

    with hostile_tcp(recording) as port:
        client = PdnsClient(Endpoint("127.0.0.1", port), MARKER, timeout=T, workers=1, max_body=max_body)
        err, took = elapsed(lambda: call(client))
        client.close()
    assert isinstance(err, PdnsError), f"{type(err).__name__}: {err}"  # never a traceback
    return err, took, port


def assert_clean(err: Exception, port: int) -> None:
    text = str(err)
    assert text.startswith(f"PowerDNS API 127.0.0.1:{port}: ") and "\n" not in text and len(text) <= 410
    assert_no_secret(err)


def zones(body: object) -> bytes:
    return json.dumps(body).encode()


@pytest.mark.parametrize(("name", "behaviour", "kind"), [
    ("html", http(200, b"<html><body>Welcome to nginx</body></html>"), PdnsError),
    ("invalid utf-8", http(200, b"\xff\xfe\x00garbage"), PdnsError),
    ("empty 200", http(200, b""), PdnsError),
    ("object, not a list", http(200, zones({"zones": []})), PdnsError),
    ("zone without a name", http(200, zones([{"kind": "Slave", "masters": []}])), PdnsError),
    ("zone not an object", http(200, zones(["a.example."])), PdnsError),
    ("masters a string", http(200, zones([{"name": "a.", "kind": "Slave", "masters": "192.0.2.1"}])), PdnsError),
    ("serial a string", http(200, zones([{"name": "a.", "kind": "Slave", "serial": "x"}])), PdnsError),
    ("500 echoing the key", http(500, f"<pre>bad request, key={MARKER}\n" .encode() + b"x" * 100_000), PdnsError),
    ("json error echoing the key", http(502, zones({"error": f"upstream said {MARKER}\r\nagain"})), PdnsError),
    ("huge content-length", http(200, b"[]", length=10 << 30), PdnsError),
    ("lying content-length", http(200, b"[", length=100), PdnsUnreachable),
    ("silent", silent, PdnsUnreachable),
    ("closes at once", close_at_once, PdnsUnreachable),
    ("closes after the request", close_after_read, PdnsUnreachable),
    ("not HTTP", send_after_read(lambda: os.urandom(200)), PdnsUnreachable),
    ("trickles headers", trickle(b"HTTP/1.1 200 OK\r\nX-A: "), PdnsUnreachable),
])
def test_junk_answers_are_clean_errors(name: str, behaviour: Behaviour, kind: type[PdnsError]) -> None:
    err, took, port = hostile_error(behaviour)
    assert type(err) is kind, f"{name}: {err}"
    assert isinstance(err, RetryLater) and not isinstance(err, NeedsOperator)
    assert took < 3 * T + LOADED_SLACK  # bounded by the timeout (generous slack; not a speed test)
    assert_clean(err, port)


def test_endless_body_is_cut_at_max_body() -> None:
    err, took, port = hostile_error(http_endless(), max_body=1 << 20)
    assert type(err) is PdnsError and "octets allowed" in str(err)
    assert took < 3 * T + LOADED_SLACK
    assert_clean(err, port)


def test_rejected_key_needs_an_operator_and_is_not_shown() -> None:
    err, _, port = hostile_error(http(401, zones({"error": f"key {MARKER} unknown"})))
    assert isinstance(err, PdnsAuthError) and isinstance(err, NeedsOperator)
    assert_clean(err, port)


def test_junk_put_answer_is_accepted_only_on_2xx() -> None:
    ok = http(200, b"<html>fine</html>")
    with hostile_tcp(ok) as port:
        PdnsClient(Endpoint("127.0.0.1", port), MARKER, timeout=T).set_masters("a.example.", ["192.0.2.1"])
    err, _, port = hostile_error(http(500, b"\x00\x01junk"), lambda c: c.set_masters("a.example.", ["192.0.2.1"]))
    assert type(err) is PdnsError and err.status == 500
    assert_clean(err, port)


def test_a_server_that_goes_silent_costs_one_timeout_per_worker_not_per_zone() -> None:
    with hostile_tcp(silent) as port:
        client = PdnsClient(Endpoint("127.0.0.1", port), MARKER, timeout=T, workers=4)
        names = [f"z{i}.example." for i in range(200)]
        err, took = elapsed(lambda: client.map(lambda z: client.set_masters(z, ["192.0.2.1"]), names))
        _, closing = elapsed(client.close)
    assert isinstance(err, PdnsUnreachable) and "timed out" in str(err)
    assert took + closing < 3 * T
