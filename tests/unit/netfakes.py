"""Tiny servers on 127.0.0.x ephemeral ports for the witness's probes: DNS (UDP, TCP on truncation),
a MariaDB-like greeter, and HTTP. Each answers one way, chosen by ``mode``, and stops on close()."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rrset

ZONE = "dnsdr-canary-test.test."
VERSIONS = (b'{"versions": [{"id": "v2", "status": "SUPPORTED"}, {"id": "v2.4", "status": "CURRENT"}]}')


def closed_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on (bound then released)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class _Thread:
    def __init__(self) -> None:
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _start(self, target: Any) -> None:
        t = threading.Thread(target=target, daemon=True)
        t.start()
        self._threads.append(t)

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2)


class FakeDns(_Thread):
    """Modes: good, owner (SOA of another name), noaa, refused, silent, extra (two RRsets), tc (truncated
    over UDP, good over TCP), wrongid."""

    def __init__(self, mode: str = "good", serial: int = 1234, host: str = "127.0.0.1") -> None:
        super().__init__()
        self.mode, self.serial, self.host = mode, serial, host
        self.queries = 0
        self.tcp: socket.socket | None = None
        if mode == "tc":
            self.tcp, self.udp = self._pair_on(host)
            self.port = int(self.tcp.getsockname()[1])
            self.tcp.listen(4)
            self.tcp.settimeout(0.02)
            self._start(self._serve_tcp)
        else:
            self.udp = self._udp_on(host, 0)
            self.port = int(self.udp.getsockname()[1])
        self.udp.settimeout(0.02)
        self._start(self._serve_udp)

    @classmethod
    def _pair_on(cls, host: str) -> tuple[socket.socket, socket.socket]:
        """A TCP and a UDP socket on one port: a free port of one kind may be taken in the other (by any
        connection of a busy machine), so try ports until both bind."""
        for _ in range(50):
            tcp = socket.socket()
            tcp.bind((host, 0))
            try:
                return tcp, cls._udp_on(host, int(tcp.getsockname()[1]))
            except OSError:
                tcp.close()
        raise OSError(f"no port free for both TCP and UDP on {host}")

    @staticmethod
    def _udp_on(host: str, port: int) -> socket.socket:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((host, port))
        return udp

    def answer(self, query: dns.message.Message, over_tcp: bool = False) -> dns.message.Message:
        resp = dns.message.make_response(query)
        if self.mode == "refused":
            resp.set_rcode(dns.rcode.REFUSED)
            return resp
        if self.mode != "noaa":
            resp.flags |= dns.flags.AA
        if self.mode == "tc" and not over_tcp:
            resp.flags |= dns.flags.TC
            return resp
        owner = dns.name.from_text("other.test.") if self.mode == "owner" else query.question[0].name
        resp.answer.append(dns.rrset.from_text(
            owner, 300, "IN", "SOA", f"ns1.test. hostmaster.test. {self.serial} 3600 600 86400 300"))
        if self.mode == "extra":
            resp.answer.append(dns.rrset.from_text(query.question[0].name, 300, "IN", "TXT", '"x"'))
        if self.mode == "wrongid":
            resp.id = (query.id + 1) % 65536
        return resp

    def _serve_udp(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.udp.recvfrom(4096)
            except TimeoutError:
                continue
            self.queries += 1
            if self.mode == "silent":
                continue
            self.udp.sendto(self.answer(dns.message.from_wire(data)).to_wire(), peer)
        self.udp.close()

    def _serve_tcp(self) -> None:
        assert self.tcp is not None
        while not self._stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1)
                length = int.from_bytes(conn.recv(2), "big")
                wire = self.answer(dns.message.from_wire(conn.recv(length)), over_tcp=True).to_wire()
                conn.sendall(len(wire).to_bytes(2, "big") + wire)
        self.tcp.close()


def greeting(version: bytes = b"5.5.5-10.11.6-MariaDB-0+deb12u1") -> bytes:
    caps = 0xF7FE | (0x81BF << 16)  # what MariaDB 10.11 announces (PROTOCOL_41, SECURE_CONNECTION, PLUGIN_AUTH...)
    payload = (b"\x0a" + version + b"\x00" + (7).to_bytes(4, "little") + b"abcdefgh" + b"\x00"
               + (caps & 0xFFFF).to_bytes(2, "little") + b"\x2d" + b"\x02\x00" + (caps >> 16).to_bytes(2, "little")
               + b"\x15" + b"\x00" * 10 + b"ijklmnopqrst\x00" + b"mysql_native_password\x00")
    return len(payload).to_bytes(3, "little") + b"\x00" + payload


def err_packet(code: int, message: str, seq: int, state: str = "") -> bytes:
    payload = b"\xff" + code.to_bytes(2, "little") + (f"#{state}" if state else "").encode() + message.encode()
    return len(payload).to_bytes(3, "little") + bytes((seq,)) + payload


class FakeMysql(_Thread):
    """Modes: greet (greets, refuses the login with 1045), silent (accepts in the kernel, never
    greets: a SIGSTOPped server), error (ERR 1130 instead of a greeting), garbage (not MySQL)."""

    def __init__(self, mode: str = "greet", host: str = "127.0.0.1") -> None:
        super().__init__()
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.sock.settimeout(0.02)
        self.port = int(self.sock.getsockname()[1])
        self.logins: list[bytes] = []
        if mode != "silent":  # silent: the kernel completes the handshake into the backlog; nobody accepts
            self._start(self._serve)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1)
                if self.mode == "error":
                    conn.sendall(err_packet(1130, "Host '127.0.0.1' is not allowed to connect", 0))
                    continue
                if self.mode == "garbage":
                    conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
                    continue
                conn.sendall(greeting())
                try:
                    head = conn.recv(4)
                    if len(head) == 4:
                        self.logins.append(conn.recv(int.from_bytes(head[:3], "little")))
                        conn.sendall(err_packet(1045, "Access denied for user 'dnsdr-monitor'", 2, "28000"))
                except OSError:
                    pass
        self.sock.close()


class FakeHttp(_Thread):
    """Modes: versions (200 + Designate's versions JSON), multiple (300 + the same), error (500),
    nojson (200 text), garbage (not HTTP at all), trickle (a byte every 50 ms, forever)."""

    def __init__(self, mode: str = "versions", host: str = "127.0.0.1") -> None:
        super().__init__()
        self.mode = mode
        if mode in ("garbage", "trickle"):
            self.sock = socket.socket()
            self.sock.bind((host, 0))
            self.sock.listen(8)
            self.sock.settimeout(0.02)
            self.port = int(self.sock.getsockname()[1])
            self._start(self._raw)
            return
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body, ctype = {
                    "versions": (200, VERSIONS, "application/json"),
                    "multiple": (300, VERSIONS, "application/json"),
                    "error": (500, b'{"message": "boom"}', "application/json"),
                    "nojson": (200, b"<html>hello</html>", "text/html"),
                }[fake.mode]
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._start(lambda: self.server.serve_forever(poll_interval=0.02))

    def _raw(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1)
                conn.recv(4096)  # the request, so that closing does not reset the connection
                if self.mode == "garbage":
                    conn.sendall(b"hello, this is not HTTP\n")
                    continue
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                while not self._stop.is_set():
                    try:
                        conn.sendall(b"X")
                    except OSError:
                        break
                    time.sleep(0.05)
        self.sock.close()

    def close(self) -> None:
        if hasattr(self, "server"):
            self.server.shutdown()
            self.server.server_close()
        super().close()


@contextmanager
def running(*servers: _Thread) -> Iterator[None]:
    try:
        yield
    finally:
        for s in servers:
            s.close()
