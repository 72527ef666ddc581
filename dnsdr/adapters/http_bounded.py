"""One HTTP/1.1 exchange on a kept-alive ``http.client`` connection, bounded in time and in size.

``http.client``'s timeout bounds each socket operation, not the exchange: a server that trickles
one octet per second, or sends a body without end, would hold a caller for ever. Here every read
and write of an exchange waits at most until one deadline, and at most ``max_body`` octets of a
body are read. Failures are :class:`HttpFailure` with a short reason that never quotes what the
server sent nor any header sent to it (API keys and tokens travel in headers); the API clients
wrap it in their own error type with their endpoint.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import time
from typing import Any

from dnsdr.adapters.tls import certificate_problem

TIMEOUT, TOO_LARGE, TRANSPORT, TLS = "timeout", "too large", "transport", "tls"


class HttpFailure(Exception):
    """``kind`` is TIMEOUT, TOO_LARGE, TLS (the certificate was refused: retrying will not help) or
    TRANSPORT (refused, reset, closed, not HTTP: worth one retry)."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind


class _Deadline:
    """The end of the current exchange; between exchanges, only the per-operation timeout applies."""

    def __init__(self, per_operation: float) -> None:
        self.per_operation = per_operation
        self.at = float("inf")

    def remaining(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        return min(left, self.per_operation)


class _Reader(io.RawIOBase):
    """The socket's reads, each allowed only the time left to the exchange."""

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        super().__init__()
        self._sock = sock
        self._raw = sock.makefile("rb", buffering=0)  # holds the descriptor open as http.client expects
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self._sock.settimeout(self._deadline.remaining())
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _Guarded:
    """What ``http.client`` sees as the socket: writes and reads bounded by the exchange's deadline."""

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        self._sock = sock
        self._deadline = deadline

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_Reader(self._sock, self._deadline))

    def sendall(self, data: bytes) -> None:
        self._sock.settimeout(self._deadline.remaining())
        self._sock.sendall(data)

    def close(self) -> None:
        self._sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _Bounded:
    """Mixed into ``http.client``'s connections: the connect (and TLS handshake) waits at most the
    time left, then the socket is wrapped."""

    deadline: _Deadline
    timeout: float | None
    sock: Any

    def connect(self) -> None:
        self.timeout = self.deadline.remaining()
        try:
            super().connect()  # type: ignore[misc]
        finally:
            self.timeout = self.deadline.per_operation
        self.sock = _Guarded(self.sock, self.deadline)


class BoundedHTTPConnection(_Bounded, http.client.HTTPConnection):
    pass


class BoundedHTTPSConnection(_Bounded, http.client.HTTPSConnection):
    pass


def connection(scheme: str, host: str, port: int, timeout: float,
               context: ssl.SSLContext | None = None) -> http.client.HTTPConnection:
    """A connection (opened on first use) whose exchanges :func:`exchange` can bound; HTTPS verifies
    the server with ``context`` (default: the system's trust store, host name checked)."""
    conn: http.client.HTTPConnection
    if scheme == "https":
        conn = BoundedHTTPSConnection(host, port, timeout=timeout, context=context or ssl.create_default_context())
    else:
        conn = BoundedHTTPConnection(host, port, timeout=timeout)
    conn.deadline = _Deadline(timeout)
    return conn


def exchange(conn: http.client.HTTPConnection, method: str, url: str, body: bytes | None,
             headers: dict[str, str], *, seconds: float, max_body: int) -> tuple[int, bytes]:
    """Send one request and read its whole answer within ``seconds``: (status, body).

    On any failure the connection is closed (its state is unknown) and HttpFailure is raised.
    """
    deadline: _Deadline = conn.deadline  # type: ignore[attr-defined]
    deadline.at = time.monotonic() + seconds
    try:
        conn.request(method, url, body=body, headers=headers)
        resp = conn.getresponse()
        length = resp.getheader("Content-Length")
        if length is not None and length.strip().isdigit() and int(length) > max_body:
            raise HttpFailure(TOO_LARGE, f"answer of {int(length)} octets, more than the {max_body} allowed")
        raw = resp.read(max_body + 1)
        if len(raw) > max_body:
            raise HttpFailure(TOO_LARGE, f"answer longer than the {max_body} octets allowed")
        return resp.status, raw
    except HttpFailure:
        conn.close()
        raise
    except TimeoutError:
        conn.close()
        raise HttpFailure(TIMEOUT, f"no complete answer within {seconds:g} s (timed out)") from None
    except http.client.RemoteDisconnected:
        conn.close()
        raise HttpFailure(TRANSPORT, "connection closed without an answer") from None
    except (ssl.SSLEOFError, ssl.SSLZeroReturnError):  # the peer cut the TLS session (e.g. an idle keep-alive one)
        conn.close()
        raise HttpFailure(TRANSPORT, "connection closed during the TLS exchange") from None
    except ssl.SSLError as exc:
        conn.close()
        raise HttpFailure(TLS, certificate_problem(exc) or "TLS failed") from None
    except OSError as exc:
        conn.close()
        raise HttpFailure(TRANSPORT, exc.strerror or type(exc).__name__) from None
    except (http.client.HTTPException, ValueError) as exc:  # status line, headers or chunks not HTTP
        conn.close()
        raise HttpFailure(TRANSPORT, f"did not answer like an HTTP server ({type(exc).__name__})") from None
    finally:
        deadline.at = float("inf")
