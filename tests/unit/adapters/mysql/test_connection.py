"""Error translation and secret hygiene of the connection layer; MariaDB channel parsing."""

from __future__ import annotations

import socket

import pymysql
import pytest

from dnsdr.adapters.mysql import adapter_for
from dnsdr.adapters.mysql.connection import (
    AuthenticationError,
    Connector,
    Credentials,
    DatabaseError,
    PrivilegeError,
    QueryTimeoutError,
    ReadOnlyError,
    Timeouts,
    UnreachableError,
    translate,
)
from dnsdr.adapters.mysql.mariadb import MariaDBAdapter
from dnsdr.domain.spec import DatabaseFlavour, DatabaseSpec, Endpoint, SecretRef

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
