"""Small hostile servers on loopback for unit tests: they accept and then misbehave on purpose.

Each accepted connection runs a *behaviour* in its own thread: stay silent, close at once, send
garbage, trickle, or answer HTTP with whatever status, headers and body a test wants. Everything
runs on 127.0.0.1 with an ephemeral port and stops (listener and connections) when the context ends.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Behaviour = Callable[[socket.socket, threading.Event], None]

# The credential every hostile test uses; it must never appear in an error, str() or repr().
MARKER = "MARKER-s3cr3t-XYZ"


@contextmanager
def hostile_tcp(behaviour: Behaviour, port: int = 0, listener: socket.socket | None = None) -> Iterator[int]:
    """Listen on 127.0.0.1 (``port`` 0: any free one; or on ``listener``, already bound) and hand every
    connection to ``behaviour``."""
    if listener is None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
    listener.listen(64)
    listener.settimeout(0.05)
    stop = threading.Event()
    conns: list[socket.socket] = []
    threads: list[threading.Thread] = []

    def run(conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            behaviour(conn, stop)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            conn.settimeout(5)
            conns.append(conn)
            t = threading.Thread(target=run, args=(conn,), daemon=True)
            threads.append(t)
            t.start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        acceptor.join()
        listener.close()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv
        for t in threads:
            t.join(2)


def free_port() -> int:
    """A TCP port nobody listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def udp_and_tcp_on_one_port() -> tuple[socket.socket, socket.socket]:
    """A UDP and a (not yet listening) TCP socket bound to the same free port on 127.0.0.1."""
    for _ in range(50):  # the port UDP got may be taken for TCP: try another
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        tcp = socket.socket()
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind(("127.0.0.1", udp.getsockname()[1]))
            return udp, tcp
        except OSError:
            udp.close()
            tcp.close()
    raise RuntimeError("no port free for both UDP and TCP")


# --- behaviours ------------------------------------------------------------------------------------

def silent(conn: socket.socket, stop: threading.Event) -> None:
    """Accept, read whatever comes, never answer."""
    conn.settimeout(0.05)
    while not stop.is_set():
        try:
            if not conn.recv(65536):
                return
        except TimeoutError:
            continue


def close_at_once(conn: socket.socket, stop: threading.Event) -> None:
    """Accept and close before reading anything."""


def close_after_read(conn: socket.socket, stop: threading.Event) -> None:
    """Read the first message, then close without answering."""
    conn.recv(65536)


def send_after_read(data: bytes | Callable[[], bytes], hold: bool = True) -> Behaviour:
    """Read the first message, answer ``data`` (or what it returns), then stay open (``hold``) or close."""

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        conn.recv(65536)
        conn.sendall(data() if callable(data) else data)
        if hold:
            silent(conn, stop)

    return behaviour


def send_at_once(data: bytes | Callable[[], bytes]) -> Behaviour:
    """Greet with ``data`` before the client says anything (as MySQL does), then stay open."""

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(data() if callable(data) else data)
        silent(conn, stop)

    return behaviour


def trickle(head: bytes, every: float = 0.05) -> Behaviour:
    """Read the first message, send ``head`` then one random octet every ``every`` seconds, forever."""

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        conn.recv(65536)
        conn.sendall(head)
        while not stop.wait(every):
            conn.sendall(os.urandom(1))

    return behaviour


def read_http_request(conn: socket.socket) -> bytes:
    """Everything up to the end of one HTTP request's headers (and its body, if it has a length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        got = conn.recv(65536)
        if not got:
            return data
        data += got
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            want = int(line.split(b":", 1)[1])
            while len(body) < want:
                got = conn.recv(65536)
                if not got:
                    break
                body += got
    return head + b"\r\n\r\n" + body


def http(status: int, body: bytes, headers: dict[str, str] | None = None, *, length: int | None = None,
         requests: list[bytes] | None = None) -> Behaviour:
    """Answer every request on the connection with ``status`` and ``body`` (keep-alive); ``length``
    overrides Content-Length (a lie, to make the client wait for octets that never come)."""

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            request = read_http_request(conn)
            if not request:
                return
            if requests is not None:
                requests.append(request)
            head = f"HTTP/1.1 {status} Whatever\r\nContent-Length: {len(body) if length is None else length}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
            conn.sendall(head.encode() + b"\r\n" + body)

    return behaviour


def http_routes(route: Callable[[str, str], tuple[int, bytes]], requests: list[bytes] | None = None) -> Behaviour:
    """Answer each request with ``route(method, path)`` -> (status, body), keeping the connection open."""

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            request = read_http_request(conn)
            if not request:
                return
            if requests is not None:
                requests.append(request)
            method, path = request.split(b"\r\n", 1)[0].decode().split(" ")[:2]
            status, body = route(method, path)
            conn.sendall(f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)

    return behaviour


def http_endless(status: int = 200, chunk: bytes = b"x" * 65536) -> Behaviour:
    """Answer with a body that never ends (no length, just more and more octets)."""

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        read_http_request(conn)
        conn.sendall(f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n\r\n".encode())
        while not stop.is_set():
            conn.sendall(chunk)

    return behaviour


def elapsed(fn: Callable[[], object]) -> tuple[object, float]:
    """``fn()``'s result (or the exception it raised) and the wall time it took."""
    start = time.monotonic()
    try:
        result: object = fn()
    except Exception as exc:
        result = exc
    return result, time.monotonic() - start


# --- a fake named control channel (isccc), honest or not --------------------------------------------

def _recv_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        got = conn.recv(n - len(data))
        if not got:
            return b""
        data += got
    return data


def named(secret: bytes, answer: Callable[[str], tuple[int, str]], *, sign_with: bytes | None = None,
          extra: dict[str, object] | None = None, algorithm: str = "sha256") -> Behaviour:
    """A control channel as named 9.18 runs it: a frame signed with another key closes the connection;
    ``answer(command)`` gives (result, text) for every command but the login's ``null``. ``sign_with``
    signs answers with another key (a bad HMAC); ``extra`` is merged into every answer's ``_data``."""
    from dnsdr.adapters import isccc

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        nonce = "424242"
        while not stop.is_set():
            head = _recv_exact(conn, 4)
            if not head:
                return
            payload = _recv_exact(conn, int.from_bytes(head, "big"))
            try:
                msg = isccc.verify(algorithm, secret, payload)
            except isccc.IscccError:
                return  # named logs "bad auth" and closes
            ctrl = isccc.subtable(msg, "_ctrl")
            command = isccc.text(isccc.subtable(msg, "_data"), "type") or ""
            result, text = (0, "") if command == "null" else answer(command)
            data: dict[str, object] = {"type": command, "result": str(result), "text": text}
            if result:
                data["err"] = text
            data.update(extra or {})
            now = int(time.time())
            reply = {"_ser": isccc.text(ctrl, "_ser") or "0", "_tim": str(now), "_exp": str(now + 60), "_rpl": "1",
                     "_nonce": nonce}
            conn.sendall(isccc.sign(algorithm, sign_with or secret, reply, data))

    return behaviour


def assert_no_secret(err: BaseException, *secrets: str) -> None:
    """No secret (MARKER by default) in the error's str(), repr(), args, or its logged traceback."""
    import traceback

    shown = [str(err), repr(err), repr(err.args), "".join(traceback.format_exception(err))]
    for secret in secrets or (MARKER,):
        for text in shown:
            assert secret not in text, text
