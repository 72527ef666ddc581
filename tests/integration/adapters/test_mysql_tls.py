"""TLS on the lab's MariaDB pair: replication verifies its source, dnsdr verifies every server.

The lab's servers present their region's certificate (its addresses as IP SANs, from the lab's CA);
every network account REQUIRE SSL. A server reached at an address its certificate does not name
(a TCP forwarder on 127.0.1.9 in front of r1, as a wrong DNS name or a misrouted VIP would do)
must be refused with a message that says so, before any password is sent.
"""

from __future__ import annotations

import dataclasses
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from dnsdr.adapters.mysql import AuthenticationError, DatabaseTlsError, adapter_for
from dnsdr.adapters.mysql.connection import Connector, Credentials
from dnsdr.adapters.secrets import resolve
from dnsdr.domain.spec import DatabaseSpec, Endpoint, SecretRef, TlsSpec
from dnsdr.lab import Lab, dbsetup
from tests.support.pki import throwaway_ca

pytestmark = pytest.mark.integration

ELSEWHERE = "127.0.1.9"  # on r1's subnet, but in no certificate of the lab


def database(lab: Lab, region: str) -> DatabaseSpec:
    db = lab.spec().region(region).database
    assert db is not None
    return db


@contextmanager
def forwarder(listen: tuple[str, int], target: tuple[str, int]) -> Iterator[None]:
    """Relay every TCP connection on ``listen`` to ``target``, bytes untouched (TLS passes through)."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(listen)
    server.listen(8)
    server.settimeout(0.1)
    stop = threading.Event()

    def pump(a: socket.socket, b: socket.socket) -> None:
        with suppress(OSError):
            while data := a.recv(65536):
                b.sendall(data)
        with suppress(OSError):
            b.shutdown(socket.SHUT_WR)

    def accept() -> None:
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            upstream = socket.create_connection(target, timeout=5)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pump, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        server.close()


def test_replication_runs_over_tls_with_the_source_certificate_verified(healthy_lab: Lab) -> None:
    (status,) = dbsetup.query(healthy_lab.paths, "r2", "SHOW SLAVE STATUS")
    assert (status["Slave_IO_Running"], status["Slave_SQL_Running"]) == ("Yes", "Yes")
    assert status["Master_Host"] == "127.0.1.1"
    assert status["Master_SSL_Allowed"] == "Yes"
    assert status["Master_SSL_Verify_Server_Cert"] == "Yes"
    assert status["Master_SSL_CA_File"] == str(healthy_lab.paths.ca_cert)
    state = adapter_for(database(healthy_lab, "r2")).observe()  # what dnsdr status shows
    assert state.channel is not None and state.channel.tls is True and state.channel.tls_verified is True


def test_dnsdr_sessions_are_tls_and_plain_ones_are_refused(healthy_lab: Lab) -> None:
    db = database(healthy_lab, "r1")
    with adapter_for(db).connector.session() as s:
        row = s.row("SHOW SESSION STATUS LIKE 'Ssl_version'")
        assert str(row["Value"]).startswith("TLSv1."), row
    plain = Connector(db.endpoint.host, db.endpoint.port, Credentials(db.user, resolve(db.password)))
    with pytest.raises(AuthenticationError):  # REQUIRE SSL: the server refuses the account without TLS
        plain.open()


def test_a_server_whose_certificate_does_not_match_is_refused_with_a_clear_message(healthy_lab: Lab) -> None:
    db = database(healthy_lab, "r1")
    misdirected = dataclasses.replace(db, endpoint=Endpoint(ELSEWHERE, db.endpoint.port))
    with forwarder((ELSEWHERE, db.endpoint.port), (db.endpoint.host, db.endpoint.port)):
        state = adapter_for(misdirected).observe()
        with pytest.raises(DatabaseTlsError) as info:
            adapter_for(misdirected).fence()
    assert not state.reachable and state.error_kind == "tls"
    message = str(info.value)
    assert message.startswith(f"{ELSEWHERE}:3306: TLS: the server's certificate was refused: IP address mismatch")
    assert f"certificate is not valid for '{ELSEWHERE}'" in message
    assert "name the host dnsdr connects to" in message
    assert resolve(db.password) not in message
    assert adapter_for(db).observe().writable  # the real r1 untouched


def test_a_certificate_from_another_ca_is_refused(healthy_lab: Lab, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.pem"
    other.write_text(throwaway_ca("not the lab's CA").pem)
    db = dataclasses.replace(database(healthy_lab, "r2"), tls=TlsSpec(ca=SecretRef(file=str(other))))
    state = adapter_for(db).observe()
    assert not state.reachable and state.error_kind == "tls"
    # OpenSSL names the chain it got: the server's certificate alone, or with the lab's CA (self-signed) after it.
    assert re.search(r"certificate was refused: (unable to get local issuer certificate|self-signed certificate in "
                     r"certificate chain)", state.error or ""), state.error
