"""Error translation and secret hygiene of the connection layer; MariaDB channel parsing."""

from __future__ import annotations

import os
import socket
import struct
import threading

import pymysql
import pytest

from dnsdr.adapters.mysql import adapter_for
from dnsdr.adapters.mysql.connection import (
    AuthenticationError,
    Connector,
    Credentials,
    DatabaseError,
    NotMySQLError,
    PrivilegeError,
    QueryTimeoutError,
    ReadOnlyError,
    Timeouts,
    UnreachableError,
    translate,
)
from dnsdr.adapters.mysql.mariadb import MariaDBAdapter
from dnsdr.domain.errors import NeedsOperator, RetryLater
from dnsdr.domain.spec import DatabaseFlavour, DatabaseSpec, Endpoint, SecretRef
from tests.support.hostile import (
    MARKER,
    Behaviour,
    assert_no_secret,
    close_at_once,
    elapsed,
    hostile_tcp,
    send_at_once,
    silent,
)
from tests.support.waiting import LOADED_SLACK

EP = "127.0.1.1:3306"
SECRET = "s3cr3t-Pa55"


@pytest.mark.parametrize(("exc", "kind", "needle"), [
    (pymysql.err.OperationalError(1045, "Access denied for user 'dnsdr'@'127.0.0.1' (using password: YES)"),
     AuthenticationError, "wrong user name or password"),
    (pymysql.err.OperationalError(1227, "Access denied; you need (at least one of) the SUPER, READ_ONLY ADMIN "
                                        "privilege(s) for this operation"), PrivilegeError, "SUPER, READ_ONLY ADMIN"),
    (pymysql.err.OperationalError(1095, "You are not owner of thread 42"), PrivilegeError, "CONNECTION ADMIN"),
    (pymysql.err.OperationalError(1142, "INSERT command denied to user 'x'@'h' for table `dnsdr`.`write_probe`"),
     PrivilegeError, "INSERT on dnsdr"),
    (pymysql.err.OperationalError(1044, "Access denied for user 'x'@'%' to database 'dnsdr'"), PrivilegeError,
     "access to database dnsdr"),
    (pymysql.err.OperationalError(2003, "Can't connect to MySQL server on '127.0.1.1' (timed out)"),
     UnreachableError, "connection timed out"),
    (pymysql.err.OperationalError(2003, "Can't connect to MySQL server on '127.0.1.1' ([Errno 111] refused)"),
     UnreachableError, "refused"),
    (pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query (timed out)"),
     QueryTimeoutError, "timed out"),
    (pymysql.err.OperationalError(1205, "Lock wait timeout exceeded; try restarting transaction"),
     QueryTimeoutError, "Lock wait"),
    (pymysql.err.OperationalError(1290, "The MariaDB server is running with the --read-only option"),
     ReadOnlyError, "read-only"),
    (TimeoutError("timed out"), QueryTimeoutError, "timed out"),
])
def test_translate(exc: Exception, kind: type[DatabaseError], needle: str) -> None:
    err = translate(exc, EP, "dnsdr", (SECRET,))
    assert type(err) is kind
    assert needle in str(err) and str(err).startswith(EP)


def test_privilege_is_named_as_the_server_spells_it() -> None:
    err = translate(pymysql.err.OperationalError(1227, "Access denied; you need (at least one of) the "
                                                       "REPLICA MONITOR privilege(s) for this operation"), EP, "u")
    assert isinstance(err, PrivilegeError) and err.privilege == "REPLICA MONITOR"


def test_secrets_scrubbed_from_any_message() -> None:
    err = translate(pymysql.err.InternalError(1064, f"syntax error near '{SECRET}'"), EP, "dnsdr", (SECRET,))
    assert SECRET not in str(err) and "***" in str(err)


def test_no_password_in_reprs() -> None:
    creds = Credentials("dnsdr", SECRET)
    conn = Connector("127.0.1.1", 3306, creds)
    assert SECRET not in repr(creds) and SECRET not in repr(conn)


def test_unreachable_port_is_clean() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conn = Connector("127.0.0.1", port, Credentials("dnsdr", SECRET), Timeouts(connect=2))
    with pytest.raises(UnreachableError) as err:
        conn.open()
    assert SECRET not in str(err.value)
    node = MariaDBAdapter(conn)
    state = node.observe()
    assert not state.reachable and state.error_kind == "unreachable" and SECRET not in str(state.to_dict())


def test_factory_resolves_both_accounts() -> None:
    spec = DatabaseSpec(DatabaseFlavour.MARIADB, Endpoint("127.0.1.1", 3306), "dnsdr", SecretRef(env="A"),
                        "repl", SecretRef(env="B"))
    node = adapter_for(spec, resolver=lambda ref: {"A": "pw-a", "B": "pw-b"}[str(ref.env)])
    assert isinstance(node, MariaDBAdapter)
    assert node.connector.credentials.user == "dnsdr" and node.probe is not None
    assert node.probe.credentials.user == "repl"
    assert "pw-a" not in repr(node) and "pw-b" not in repr(node.probe)


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def maria_row(**kw: object) -> dict[str, object]:
    row: dict[str, object] = {
        "Connection_name": "", "Master_Host": "127.0.1.1", "Master_Port": 3306, "Slave_IO_Running": "Yes",
        "Slave_SQL_Running": "Yes", "Slave_IO_State": "Waiting for master to send event",
        "Seconds_Behind_Master": 0, "Last_IO_Errno": 0, "Last_IO_Error": "", "Last_SQL_Errno": 0,
        "Last_SQL_Error": "", "Master_Server_Id": 1, "Using_Gtid": "Slave_Pos", "Gtid_IO_Pos": "0-1-20",
        "Read_Master_Log_Pos": 1884, "Master_Log_File": "bin.000001", "Slave_received_heartbeats": 7,
        "Slave_heartbeat_period": "1.000", "Gtid_Slave_Pos": "0-1-20",
    }
    row.update(kw)
    return row


def test_mariadb_heartbeat_age_from_counters() -> None:
    clock = Clock()
    node = MariaDBAdapter(Connector("127.0.2.1", 3306, Credentials("u", "p")), clock=clock)
    first = node.channel_from(maria_row(), "0-1-18")
    assert first is not None and first.heartbeat_age_seconds is None and first.unapplied == 2
    clock.t += 1.5
    beat = node.channel_from(maria_row(Slave_received_heartbeats=8), "0-1-20")
    assert beat is not None and beat.heartbeat_age_seconds == 0.0 and not beat.heartbeat_stale
    clock.t += 4.0
    silent = node.channel_from(maria_row(Slave_received_heartbeats=8), "0-1-20")
    assert silent is not None and silent.heartbeat_age_seconds == 4.0 and silent.heartbeat_stale
    connecting = node.channel_from(maria_row(Slave_IO_Running="Connecting", Last_IO_Errno=2003), "0-1-20")
    assert connecting is not None and connecting.io_running == "Connecting" and not connecting.source_alive
    assert node.channel_from(maria_row(Master_Host=""), "") is None


# --- hostile servers: one clean line naming the endpoint, no raw bytes, no password, bounded time -------

T = 0.2


def packet(payload: bytes, seq: int = 0) -> bytes:
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


def handshake() -> bytes:
    """A MySQL 5.7-style greeting PyMySQL accepts (native password, protocol 4.1, plugin auth)."""
    caps = 0x0200 | 0x8000 | 0x00080000  # PROTOCOL_41, SECURE_CONNECTION, PLUGIN_AUTH
    return packet(b"\x0a5.7.0-fake\x00" + struct.pack("<I", 7) + b"abcdefgh\x00" + struct.pack("<H", caps & 0xFFFF)
                  + b"\x21" + struct.pack("<H", 2) + struct.pack("<H", caps >> 16) + b"\x15" + b"\x00" * 10
                  + b"ijklmnopqrst\x00" + b"mysql_native_password\x00")


def error_packet(code: int, text: bytes, seq: int) -> bytes:
    return packet(b"\xff" + struct.pack("<H", code) + b"#HY000" + text, seq)


def clear_password_echo(conn: socket.socket, stop: threading.Event) -> None:
    """Greets, asks for the password in clear text (auth switch), then would echo it in an error."""
    conn.sendall(handshake())
    conn.recv(65536)  # handshake response, seq 1
    conn.sendall(packet(b"\xfemysql_clear_password\x00salt\x00", 2))
    reply = conn.recv(65536)  # the password in clear, seq 3
    conn.sendall(error_packet(1105, b"you sent: " + reply[4:] + b"\n\x00\x01 bye", 4))


def echo_error(code: int) -> Behaviour:
    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(handshake())
        sent = conn.recv(65536)
        conn.sendall(error_packet(code, b"echo " + sent[4:] + MARKER.encode(), 2))

    return behaviour


@pytest.mark.parametrize(("name", "behaviour", "kind", "needle"), [
    ("random bytes", send_at_once(lambda: b"\x07\x00\x00\x13" + os.urandom(60)), NotMySQLError, "MySQL/MariaDB"),
    ("HTTP", send_at_once(b"HTTP/1.1 400 Bad Request\r\nServer: x\r\n\r\n"), NotMySQLError, "MySQL/MariaDB"),
    ("wrong sequence", send_at_once(packet(b"\x0a junk", 7)), NotMySQLError, "MySQL/MariaDB"),
    ("truncated greeting", send_at_once(packet(b"\x0a5.5")), NotMySQLError, "MySQL/MariaDB"),
    ("bogus greeting", send_at_once(packet(b"\x0a5.5.5-x\x00\x01\x00\x00\x00" + b"\xff" * 11)), NotMySQLError,
     "MySQL/MariaDB"),
    ("undecodable greeting", send_at_once(packet(b"\x09" + b"\xff" * 40)), NotMySQLError, "MySQL/MariaDB"),
    ("made-up error code", send_at_once(error_packet(0x9999, MARKER.encode() + b"\n\x00", 0)), NotMySQLError,
     "MySQL/MariaDB"),
    ("unknown auth switch", lambda c, s: (c.sendall(handshake()), c.recv(65536), c.sendall(packet(b"\xfe", 2)),
                                          silent(c, s)), NotMySQLError, "MySQL/MariaDB"),
    ("clear-text password asked for", clear_password_echo, DatabaseError, "refused on a connection without TLS"),
    ("echo in a server error", echo_error(1064), DatabaseError, "error 1064"),
    ("access denied echoing", echo_error(1045), AuthenticationError, "wrong user name or password"),
    ("silent", silent, QueryTimeoutError, "timed out"),
    ("silent after the greeting", send_at_once(handshake), QueryTimeoutError, "timed out"),
    ("packet that never ends", send_at_once(b"\xff\xff\x00\x00" + b"x" * 100), QueryTimeoutError, "timed out"),
    ("closes at once", close_at_once, UnreachableError, "connection lost"),
])
def test_hostile_servers_give_one_clean_line(name: str, behaviour: Behaviour, kind: type[DatabaseError],
                                             needle: str) -> None:
    with hostile_tcp(behaviour) as port:
        conn = Connector("127.0.0.1", port, Credentials("dnsdr", MARKER), Timeouts(connect=T, read=T, write=T))
        err, took = elapsed(conn.open)
    assert type(err) is kind, f"{name}: {type(err).__name__}: {err}"  # never a raw PyMySQL or parser exception
    assert isinstance(err, RetryLater)  # every DatabaseError is; a rejected password also needs a person:
    assert isinstance(err, NeedsOperator) is (kind is AuthenticationError)
    text = str(err)
    assert text.startswith(f"127.0.0.1:{port}: ") and needle in text
    assert text.isprintable() and len(text) < 400  # one line, no control characters or raw bytes
    assert "\\x" not in text and "b'" not in text
    assert_no_secret(err)
    assert took < 3 * T + LOADED_SLACK
