"""A fake Keystone and Designate API over HTTPS on 127.0.0.1, hostile on request.

Keystone issues ``token`` (in X-Subject-Token) with a catalog listing the fake Designate as the
``dns`` endpoint of every region asked for, or answers ``keystone_status`` with the request it got
echoed in its error message. Designate answers ``designate`` (status, body) or, with ``echo``, the
request it got (headers and all: the token) in an error message. Both present a certificate of the
test CA for 127.0.0.1, so dnsdr talks to them as it would to a real cloud with its private CA.
"""

from __future__ import annotations

import json
import select
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.support.hostile import Behaviour, hostile_tcp, read_http_request
from tests.support.pki import throwaway_ca

Handler = Callable[[bytes], tuple[int, dict[str, str], bytes]]


def tls_http(handler: Handler, requests: list[bytes]) -> Behaviour:
    """Answer each request (over TLS, the test CA's certificate for 127.0.0.1) with ``handler(request)``."""
    context = throwaway_ca().issue("127.0.0.1").server_context()

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        with context.wrap_socket(conn, server_side=True) as tconn:
            while not stop.is_set():
                # wait for a request in short slices: the listener's shutdown cannot reach a wrapped socket
                if not tconn.pending() and not select.select([tconn], [], [], 0.05)[0]:
                    continue
                request = read_http_request(tconn)
                if not request:
                    return
                requests.append(request)
                status, headers, body = handler(request)
                head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\nContent-Type: application/json\r\n"
                head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                tconn.sendall(head.encode() + b"\r\n" + body)

    return behaviour


def echoed(request: bytes) -> bytes:
    """An error whose message quotes the request, its body and credential headers first (a message is cut short)."""
    head, _, body = request.decode("latin-1").partition("\r\n\r\n")
    lines = head.split("\r\n")
    first = [line for line in lines if "token" in line.lower() or "auth" in line.lower()]
    seen = " | ".join([body, *first, *(line for line in lines if line not in first)]).replace('"', "'")
    return json.dumps({"error": {"code": 500, "title": "Echo", "message": f"you sent {seen[:3000]}"},
                       "message": f"you sent {seen[:3000]}"}).encode()


@dataclass
class FakeCloud:
    keystone_port: int = 0
    designate_port: int = 0
    keystone_requests: list[bytes] = field(default_factory=list)
    designate_requests: list[bytes] = field(default_factory=list)

    @property
    def auth_url(self) -> str:
        return f"https://127.0.0.1:{self.keystone_port}/v3"

    @property
    def designate_url(self) -> str:
        return f"https://127.0.0.1:{self.designate_port}/"


def token_body(endpoint: str, regions: tuple[str, ...]) -> bytes:
    domain = {"id": "default", "name": "Default"}
    return json.dumps({"token": {
        "methods": ["application_credential"], "expires_at": "2099-01-01T00:00:00.000000Z",
        "issued_at": "2026-01-01T00:00:00.000000Z", "user": {"id": "u1", "name": "dnsdr", "domain": domain},
        "project": {"id": "p1", "name": "dnsdr", "domain": domain}, "roles": [{"id": "r1", "name": "member"}],
        "catalog": [{"type": "dns", "name": "designate", "id": "s1", "endpoints": [
            {"id": f"e-{r}", "interface": "public", "region": r, "region_id": r, "url": endpoint} for r in regions]}],
    }}).encode()


@contextmanager
def fake_cloud(token: str, *, keystone_status: int = 201, designate: tuple[int, bytes] | None = None,
               regions: tuple[str, ...] = ("r1", "r2")) -> Iterator[FakeCloud]:
    cloud = FakeCloud()

    def keystone(request: bytes) -> tuple[int, dict[str, str], bytes]:
        if keystone_status != 201:
            return keystone_status, {}, echoed(request)
        return 201, {"X-Subject-Token": token}, token_body(cloud.designate_url, regions)

    def api(request: bytes) -> tuple[int, dict[str, str], bytes]:
        if designate is None:
            return 500, {}, echoed(request)
        return designate[0], {}, designate[1]

    with hostile_tcp(tls_http(keystone, cloud.keystone_requests)) as kport, \
            hostile_tcp(tls_http(api, cloud.designate_requests)) as dport:
        cloud.keystone_port, cloud.designate_port = kport, dport
        yield cloud
