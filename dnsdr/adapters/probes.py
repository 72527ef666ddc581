"""The witness's probes of a region from outside: nameserver and mdns SOA, API root, database greeting.

Each probe asks for the *expected* answer, not just any answer: an authoritative NOERROR SOA of the
canary zone from the server asked, a Designate versions document, a MySQL/MariaDB protocol-10
greeting. Every wait is bounded by one deadline per probe (name resolution, connect, TLS, each
read), because a hung server is exactly what the witness must report: a SIGSTOPped database still
accepts TCP (the kernel completes the handshake) but never greets. Probes never raise; they return
a :class:`~dnsdr.domain.witness.ProbeResult` with ``ok``, a one-line ``detail`` and the duration.
No credential is used or needed.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import json
import socket
import ssl
import struct
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import partial

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from dnsdr.adapters.tls import certificate_problem
from dnsdr.domain.witness import ProbeKind, ProbeResult, ProbeTarget

HTTP_LIMIT = 64 * 1024  # the versions document is ~1 KiB; anything far larger is not it
GREETING_LIMIT = 4096  # a greeting is ~100 bytes
MONITOR_USER = "dnsdr-monitor"  # the name the database probe logs in as (no password), see _leave_politely
DETAIL_LIMIT = 300

# Names (not IP literals) are resolved on a small pool so that a slow resolver is bounded too.
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dnsdr-resolve")


class ProbeFailed(Exception):
    """A probe's expected answer did not come; the message is the result's detail."""


class _TimedOut(ProbeFailed):
    """The probe's deadline passed."""


class _Deadline:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.end = time.monotonic() + timeout

    def left(self) -> float:
        remaining = self.end - time.monotonic()
        if remaining <= 0:
            raise _TimedOut(f"timed out after {self.timeout:g} s")
        return remaining


def probe(target: ProbeTarget, zone: str, timeout: float, tls: ssl.SSLContext | None = None) -> ProbeResult:
    """Run the probe of ``target``'s kind within ``timeout`` seconds; never raises. An HTTPS API is
    verified with ``tls`` (the spec's CA; default: the system's trust store)."""
    checks: dict[ProbeKind, Callable[[ProbeTarget, str, _Deadline], tuple[str, int | None]]] = {
        ProbeKind.DNS: _soa, ProbeKind.MDNS: _soa, ProbeKind.API: partial(_api, tls=tls), ProbeKind.DATABASE: _database,
    }
    started = time.monotonic()
    try:
        detail, serial = checks[target.kind](target, zone, _Deadline(timeout))
        ok = True
    except ProbeFailed as exc:
        detail, serial, ok = str(exc), None, False
    except TimeoutError:
        detail, serial, ok = f"timed out after {timeout:g} s", None, False
    except ConnectionRefusedError:
        detail, serial, ok = "connection refused", None, False
    except OSError as exc:
        detail, serial, ok = exc.strerror or type(exc).__name__, None, False
    except Exception as exc:  # a probe must never take the loop down; say what happened instead
        detail, serial, ok = f"{type(exc).__name__}: {exc}", None, False
    return ProbeResult(target, ok, _clip(detail), time.monotonic() - started, serial)


def _clip(text: str) -> str:
    text = "".join(c if c.isprintable() else "?" for c in text[: DETAIL_LIMIT + 1])
    return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 3] + "..."


def _address(host: str, port: int, deadline: _Deadline, kind: int = socket.SOCK_STREAM) -> tuple[int, str]:
    """(family, IP) for ``host``: an IP literal as is, a name resolved within the deadline."""
    try:
        ip = ipaddress.ip_address(host)
        return (socket.AF_INET6 if ip.version == 6 else socket.AF_INET), host
    except ValueError:
        pass
    future = _resolver.submit(socket.getaddrinfo, host, port, 0, kind)
    try:
        infos = future.result(timeout=deadline.left())
    except FutureTimeout:
        raise ProbeFailed(f"resolving {host} timed out after {deadline.timeout:g} s") from None
    except socket.gaierror as exc:
        raise ProbeFailed(f"cannot resolve {host}: {exc.strerror}") from None
    if not infos:
        raise ProbeFailed(f"cannot resolve {host}")
    family, _, _, _, sockaddr = infos[0]
    return family, str(sockaddr[0])


def _connect(host: str, port: int, deadline: _Deadline) -> socket.socket:
    family, ip = _address(host, port, deadline)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(deadline.left())
        sock.connect((ip, port))
    except BaseException:
        sock.close()
        raise
    return sock


def _recv(sock: socket.socket, deadline: _Deadline, size: int) -> bytes:
    sock.settimeout(deadline.left())
    return sock.recv(size)


# --- DNS: the canary zone's SOA from a nameserver or mdns -------------------------------------------------


def _soa(target: ProbeTarget, zone: str, deadline: _Deadline) -> tuple[str, int | None]:
    """An authoritative NOERROR answer holding exactly one SOA RRset owned by ``zone``: its serial.

    dnspython checks the answer came from the address asked, with the query's ID and question. The
    query goes out without RD (authoritative data only); one resend at half the deadline covers a lost
    datagram; a truncated answer is asked again over TCP.
    """
    qname = dns.name.from_text(zone)
    _, ip = _address(target.host, target.port, deadline, socket.SOCK_DGRAM)
    response = None
    for attempt in (0, 1):
        query = dns.message.make_query(qname, dns.rdatatype.SOA)
        query.flags = 0
        wait = deadline.left() / 2 if attempt == 0 else deadline.left()
        try:
            response = dns.query.udp(query, ip, timeout=wait, port=target.port)
            break
        except dns.exception.Timeout:
            if attempt == 1:
                raise ProbeFailed(f"no answer within {deadline.timeout:g} s") from None
        except dns.query.UnexpectedSource:
            raise ProbeFailed("answer from an unexpected address") from None
        except dns.query.BadResponse:
            raise ProbeFailed("answer does not match the query (ID or question)") from None
        except dns.exception.DNSException as exc:
            raise ProbeFailed(f"malformed answer ({type(exc).__name__})") from None
    assert response is not None
    if response.flags & dns.flags.TC:
        try:
            response = dns.query.tcp(query, ip, timeout=deadline.left(), port=target.port)
        except dns.exception.Timeout:
            raise ProbeFailed(f"no TCP answer within {deadline.timeout:g} s (UDP was truncated)") from None
        except dns.exception.DNSException as exc:
            raise ProbeFailed(f"malformed TCP answer ({type(exc).__name__})") from None
    return _check_soa(response, qname), _serial(response)


def _check_soa(response: dns.message.Message, qname: dns.name.Name) -> str:
    rcode = response.rcode()
    if rcode != dns.rcode.NOERROR:
        hint = " (is the canary zone created and served here?)" if rcode in (dns.rcode.REFUSED,
                                                                              dns.rcode.NXDOMAIN) else ""
        raise ProbeFailed(f"{dns.rcode.to_text(rcode)}{hint}")
    if not response.flags & dns.flags.AA:
        raise ProbeFailed("answer without the AA flag (not authoritative for the canary zone)")
    if len(response.answer) != 1:
        raise ProbeFailed(f"{len(response.answer)} RRsets in the answer, expected the SOA alone")
    rrset = response.answer[0]
    if rrset.rdtype != dns.rdatatype.SOA or rrset.rdclass != dns.rdataclass.IN:
        raise ProbeFailed(f"answer is {dns.rdatatype.to_text(rrset.rdtype)}, not SOA")
    if rrset.name != qname:
        raise ProbeFailed(f"SOA owned by {rrset.name}, not {qname}")
    if len(rrset) != 1:
        raise ProbeFailed(f"{len(rrset)} SOA records, expected one")
    return f"SOA serial {rrset[0].serial}"


def _serial(response: dns.message.Message) -> int:
    return int(response.answer[0][0].serial)


# --- API: the Designate API root lists its versions ------------------------------------------------------


class _Replay:
    """What :class:`http.client.HTTPResponse` reads from: bytes already received under the deadline."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def makefile(self, mode: str) -> io.BytesIO:
        return io.BytesIO(self._data)


def _complete(data: bytes) -> bool:
    """Whether ``data`` holds a whole response (so a server ignoring ``Connection: close`` costs nothing)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        key = key.strip().lower()
        if key == b"content-length" and value.strip().isdigit():
            return len(body) >= int(value.strip())
        if key == b"transfer-encoding" and b"chunked" in value.lower():
            return body.endswith(b"0\r\n\r\n")
    return False


def _api(target: ProbeTarget, zone: str, deadline: _Deadline,
         tls: ssl.SSLContext | None = None) -> tuple[str, int | None]:
    """GET / answered 2xx/3xx with a JSON body listing versions (Designate's root document).

    The response is read by hand under the deadline, then parsed by http.client from the bytes, so
    a server that trickles bytes cannot stretch the probe. HTTPS verifies the certificate.
    """
    sock = _connect(target.host, target.port, deadline)
    try:
        if target.scheme == "https":
            sock.settimeout(deadline.left())
            try:
                sock = (tls or ssl.create_default_context()).wrap_socket(sock, server_hostname=target.host)
            except ssl.SSLError as exc:
                raise ProbeFailed(certificate_problem(exc) or "TLS failed") from None
        host = f"[{target.host}]" if ":" in target.host else target.host
        request = (f"GET / HTTP/1.1\r\nHost: {host}:{target.port}\r\nAccept: application/json\r\n"
                   "User-Agent: dnsdr-monitor\r\nConnection: close\r\n\r\n")
        sock.settimeout(deadline.left())
        sock.sendall(request.encode("ascii"))
        data = b""
        while not _complete(data):
            chunk = _recv(sock, deadline, 16384)
            if not chunk:
                break
            data += chunk
            if len(data) > HTTP_LIMIT:
                raise ProbeFailed(f"answer larger than {HTTP_LIMIT // 1024} KiB: not the versions document")
    finally:
        sock.close()
    if not data:
        raise ProbeFailed("connection closed without an answer")
    response = http.client.HTTPResponse(_Replay(data))  # type: ignore[arg-type]
    try:
        response.begin()
        body = response.read()
    except (http.client.HTTPException, ValueError) as exc:
        raise ProbeFailed(f"not an HTTP answer ({type(exc).__name__})") from None
    if not 200 <= response.status < 400:
        raise ProbeFailed(f"HTTP {response.status} {response.reason}")
    try:
        doc = json.loads(body)
    except ValueError:
        raise ProbeFailed(f"HTTP {response.status} without a JSON body") from None
    versions = doc.get("versions") if isinstance(doc, dict) else None
    if isinstance(versions, dict):  # the older {"versions": {"values": [...]}} layout
        versions = versions.get("values")
    if not isinstance(versions, list) or not versions:
        raise ProbeFailed(f"HTTP {response.status} JSON without a list of versions")
    current = [str(v.get("id")) for v in versions if isinstance(v, dict) and v.get("status") == "CURRENT"]
    return f"HTTP {response.status}, {len(versions)} versions" + (f" (current {current[0]})" if current else ""), None


# --- Database: the MySQL/MariaDB greeting ----------------------------------------------------------------

_CLIENT_PROTOCOL_41 = 0x200
_CLIENT_SECURE_CONNECTION = 0x8000
_CLIENT_PLUGIN_AUTH = 0x80000


def _read_packet(sock: socket.socket, deadline: _Deadline) -> tuple[int, bytes]:
    """One MySQL packet: (sequence id, payload)."""
    data = b""
    while len(data) < 4:
        chunk = _recv(sock, deadline, 4 - len(data))
        if not chunk:
            raise ProbeFailed("connection closed before a greeting" if not data else "connection closed mid-packet")
        data += chunk
    length = int.from_bytes(data[:3], "little")
    if length > GREETING_LIMIT:
        raise ProbeFailed(f"not a MySQL greeting (a first packet of {length} bytes)")
    payload = b""
    while len(payload) < length:
        chunk = _recv(sock, deadline, length - len(payload))
        if not chunk:
            raise ProbeFailed("connection closed mid-packet")
        payload += chunk
    return data[3], payload


def _database(target: ProbeTarget, zone: str, deadline: _Deadline) -> tuple[str, int | None]:
    """A protocol-10 greeting with a server version within the deadline; silence or anything else fails.

    An ERR packet in place of the greeting counts as alive: a server whose accounts do not match the
    monitor's host answers 1130 ("Host ... is not allowed to connect") before any handshake, which is
    the normal answer to a third-region witness. Only a live server's connection thread sends it.
    """
    sock = _connect(target.host, target.port, deadline)
    try:
        try:
            _, payload = _read_packet(sock, deadline)
        except (TimeoutError, _TimedOut):
            raise ProbeFailed(f"connected but no greeting within {deadline.timeout:g} s "
                              "(server hung or stopped?)") from None
        if payload[:1] == b"\xff" and len(payload) >= 3:
            # The server's connection thread answered (host not allowed, host blocked, too many
            # connections): it runs and is not hung, which is what the witness asks.
            code = int.from_bytes(payload[1:3], "little")
            message = payload[3:].decode("utf-8", "replace")
            message = message[6:] if message.startswith("#") else message
            return f"alive, but refuses this monitor: error {code} {message}", None
        if payload[:1] != b"\x0a":
            raise ProbeFailed(f"not a MySQL greeting (protocol {payload[:1].hex() or 'none'}, 0a expected)")
        version, nul, rest = payload[1:].partition(b"\x00")
        if not nul or not version:
            raise ProbeFailed("malformed greeting (no server version)")
        text = version.decode("ascii", "replace")
        # MariaDB prefixes "5.5.5-" for old replication clients; show the real version.
        detail = f"greeted by {text.removeprefix('5.5.5-') if 'MariaDB' in text else text}"
        _leave_politely(sock, rest, deadline)
        return detail, None
    finally:
        sock.close()


def _leave_politely(sock: socket.socket, rest: bytes, deadline: _Deadline) -> None:
    """Answer the greeting with a password-less login as :data:`MONITOR_USER`, then quit.

    Closing right after the greeting is a *handshake* error to the server; MySQL and MariaDB count
    those per client host and, after ``max_connect_errors`` (100) in a row, block the host until
    FLUSH HOSTS (when the host cache applies: name resolution on, the monitor's address resolving
    both ways). A refused login is an authentication error, which never blocks; an operator may
    even create the user (no password, no privileges) to make each probe a clean login. Best
    effort: whatever happens here, the greeting already proved the server alive.
    """
    try:
        # After the version: connection id (4), scramble part 1 (8), filler (1), capabilities low (2).
        if len(rest) < 15:
            return
        capabilities = int.from_bytes(rest[13:15], "little")
        if len(rest) >= 20:
            capabilities |= int.from_bytes(rest[18:20], "little") << 16
        if not capabilities & _CLIENT_PROTOCOL_41 or not capabilities & _CLIENT_SECURE_CONNECTION:
            return
        flags = _CLIENT_PROTOCOL_41 | _CLIENT_SECURE_CONNECTION | (capabilities & _CLIENT_PLUGIN_AUTH)
        login = (struct.pack("<IIB", flags, 1 << 24, 45) + b"\x00" * 23 + MONITOR_USER.encode() + b"\x00"
                 + b"\x00" + (b"mysql_native_password\x00" if flags & _CLIENT_PLUGIN_AUTH else b""))
        seq = 1
        sock.settimeout(deadline.left())
        sock.sendall(len(login).to_bytes(3, "little") + bytes((seq,)) + login)
        for _ in range(2):
            seq, answer = _read_packet(sock, deadline)
            if answer[:1] == b"\xfe":  # switch to another auth method: answer with an empty password
                seq = (seq + 1) % 256
                sock.sendall(b"\x00\x00\x00" + bytes((seq,)))
                continue
            if answer[:1] == b"\x00":  # the operator created the user: say goodbye properly
                sock.sendall(b"\x01\x00\x00\x00\x01")
            return
    except (ProbeFailed, OSError):
        return
