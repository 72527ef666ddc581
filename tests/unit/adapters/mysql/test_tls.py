"""Database TLS: the server must prove itself (CA and name) before dnsdr sends anything of the password.

A fake server greets like MariaDB 10.11, with or without the SSL capability, and switches to TLS with
a certificate of the test CA for the addresses it is given; the client is dnsdr's Connector.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dnsdr.adapters.mysql.connection import Connector, Credentials, DatabaseError, DatabaseTlsError, Timeouts
from dnsdr.adapters.secrets import resolve
from dnsdr.adapters.tls import client_context
from dnsdr.domain.errors import NeedsOperator
from dnsdr.domain.spec import SecretRef, TlsMode, TlsSpec
from tests.support.hostile import MARKER
from tests.support.pki import throwaway_ca
from tests.unit.netfakes import FakeMysql, greeting

CLIENT_SSL = 0x800


def tls_greeting() -> bytes:
    """The fake's greeting with the SSL capability added (byte 4 + version + thread id + salt + filler)."""
    packet = bytearray(greeting())
    at = 4 + 1 + packet[5:].index(b"\x00") + 1 + 4 + 8 + 1  # the lower two capability bytes
    caps = int.from_bytes(packet[at:at + 2], "little") | CLIENT_SSL
    packet[at:at + 2] = caps.to_bytes(2, "little")
    return bytes(packet)


@contextmanager
def tls_mysql(*addresses: str) -> Iterator[tuple[int, list[bytes]]]:
    """Greets with SSL, reads the SSL request, then handshakes with a certificate for ``addresses``."""
    context = throwaway_ca().issue(*addresses).server_context()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0.05)
    after_tls: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                conn.sendall(tls_greeting())
                try:
                    conn.recv(4 + 32)  # the SSL request packet
                    with context.wrap_socket(conn, server_side=True) as tconn:
                        after_tls.append(tconn.recv(4096))  # the login, only if the client trusted us
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1]), after_tls
    finally:
        stop.set()
        thread.join()
        listener.close()


@pytest.fixture
def ca_ref(tmp_path: Path) -> SecretRef:
    path = tmp_path / "ca.pem"
    path.write_text(throwaway_ca().pem)
    return SecretRef(file=str(path))


def connector(port: int, ca: SecretRef) -> Connector:
    tls = client_context(TlsSpec(ca=ca), resolve)
    return Connector("127.0.0.1", port, Credentials("dnsdr", MARKER), Timeouts(2, 2, 2), tls=tls)


def test_a_server_without_tls_is_refused_before_the_login(ca_ref: SecretRef) -> None:
    server = FakeMysql()
    try:
        with pytest.raises(DatabaseTlsError) as info:
            connector(server.port, ca_ref).open()
    finally:
        server.close()
    assert "the server offers no TLS, and the spec requires it" in str(info.value)
    assert isinstance(info.value, NeedsOperator) and server.logins == []


def test_a_certificate_for_another_address_is_refused_with_a_clear_message(ca_ref: SecretRef) -> None:
    with tls_mysql("127.0.0.9") as (port, after_tls), pytest.raises(DatabaseTlsError) as info:
        connector(port, ca_ref).open()
    text = str(info.value)
    assert text.startswith(f"127.0.0.1:{port}: TLS: the server's certificate was refused: IP address mismatch")
    assert "certificate is not valid for '127.0.0.1'" in text and MARKER not in text
    assert after_tls == [] or all(MARKER.encode() not in p for p in after_tls)


def test_the_right_certificate_gets_the_login(ca_ref: SecretRef) -> None:
    with tls_mysql("127.0.0.1") as (port, after_tls), pytest.raises(DatabaseError):
        connector(port, ca_ref).open()  # the fake closes after the login: the handshake is what counts here
    assert len(after_tls) == 1 and b"dnsdr\x00" in after_tls[0]  # the login arrived, inside TLS


def test_disabled_means_plain(ca_ref: SecretRef) -> None:
    assert client_context(TlsSpec(mode=TlsMode.DISABLED), resolve) is None
    server = FakeMysql()
    try:
        with pytest.raises(DatabaseError) as info:
            Connector("127.0.0.1", server.port, Credentials("dnsdr", "pw"), Timeouts(2, 2, 2)).open()
    finally:
        server.close()
    assert "access denied" in str(info.value) and len(server.logins) == 1
