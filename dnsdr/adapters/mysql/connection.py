"""PyMySQL connections with bounded timeouts, and server errors translated into clean exceptions.

No message, log line, exception or repr produced here ever carries a password: credentials live in
:class:`Credentials` (whose repr hides them) and every message is scrubbed of them as a last guard.
"""

from __future__ import annotations

import re
import socket
import ssl
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Protocol

import pymysql
import pymysql.cursors

from dnsdr.adapters.shown import brief
from dnsdr.adapters.tls import certificate_problem
from dnsdr.domain.errors import NeedsOperator, RetryLater

# Server error codes we translate.
ER_DBACCESS_DENIED = 1044
ER_ACCESS_DENIED = 1045
ER_KILL_DENIED = 1095
ER_TABLEACCESS_DENIED = 1142
ER_COLUMNACCESS_DENIED = 1143
ER_SPECIFIC_ACCESS_DENIED = 1227
ER_OPTION_PREVENTS_STATEMENT = 1290
ER_ACCESS_DENIED_NO_PASSWORD = 1698
CR_CONNECTION_ERROR = 2002
CR_CONN_HOST_ERROR = 2003
CR_SERVER_GONE = 2006
CR_SERVER_LOST = 2013
ER_LOCK_WAIT_TIMEOUT = 1205
ER_QUERY_TIMEOUT = 1969          # MariaDB max_statement_time
ER_QUERY_INTERRUPTED = 3024      # MySQL max_execution_time
CR_SSL_CONNECTION_ERROR = 2026


class DatabaseError(RetryLater):
    """Base for every database failure; ``str()`` is one clean line with no secret in it."""

    def __init__(self, endpoint: str, message: str, code: int | None = None) -> None:
        super().__init__(f"{endpoint}: {message}")
        self.endpoint = endpoint
        self.code = code


class UnreachableError(DatabaseError):
    """Nothing answered (refused, no route, connect timeout)."""


class AuthenticationError(DatabaseError, NeedsOperator):
    """Wrong user name or password (or the account may not connect from here)."""


class DatabaseTlsError(DatabaseError, NeedsOperator):
    """The server's certificate was refused (wrong CA, name not in it, expired) or it offers no TLS."""


class PrivilegeError(DatabaseError, NeedsOperator):
    """The account lacks a privilege; ``privilege`` names it."""

    def __init__(self, endpoint: str, message: str, privilege: str, code: int | None = None) -> None:
        super().__init__(endpoint, message, code)
        self.privilege = privilege


class NotMySQLError(UnreachableError):
    """Something answered, but not the MySQL protocol: for dnsdr that database is unreachable."""


class QueryTimeoutError(DatabaseError):
    """The server answered too slowly (read timeout, lock wait, statement time limit)."""


class ReadOnlyError(DatabaseError):
    """A write was refused because of read_only/super_read_only (expected while fenced)."""


class OperationRefused(DatabaseError, NeedsOperator):
    """dnsdr refused an operation to protect data; ``details`` lists why (e.g. errant GTIDs)."""

    def __init__(self, endpoint: str, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(endpoint, message)
        self.details = tuple(details)


_PRIV = re.compile(r"need \(at least one of\) the (.+?) privilege", re.IGNORECASE)
_CMD_DENIED = re.compile(r"^(\w+) command denied", re.IGNORECASE)


def privilege_from(code: int, message: str) -> str:
    """The privilege a denied-access error names, as the server spells it."""
    m = _PRIV.search(message)
    if m:
        return m.group(1)
    if code == ER_KILL_DENIED:
        return "CONNECTION ADMIN (or SUPER)"
    m = _CMD_DENIED.match(message)
    if m:
        table = re.search(r"for table [`']?([^`'\s]+)[`']?", message)
        return f"{m.group(1).upper()} on {table.group(1)}" if table else m.group(1).upper()
    if code == ER_DBACCESS_DENIED:
        db = re.search(r"to database [`']?([^`'\s]+)[`']?", message)
        return f"access to database {db.group(1)}" if db else "database access"
    return "unknown privilege"


# What PyMySQL raises when the peer is not a MySQL server: its handshake parser meets bytes it does
# not expect (wrong sequence numbers, short packets, undecodable names, unknown auth requests).
_PROTOCOL_ERRORS = (struct.error, IndexError, UnicodeDecodeError, UnboundLocalError, pymysql.err.InternalError)
NOT_MYSQL = "did not answer like a MySQL/MariaDB server (another service on that port?)"


def _is_server_code(code: int | None) -> bool:
    """Codes a real server or PyMySQL's client side use (ERR packets of a fake server may carry any)."""
    return code is not None and 1000 <= code < 65536


def translate(exc: BaseException, endpoint: str, user: str, secrets: Sequence[str] = ()) -> DatabaseError:
    """A clean :class:`DatabaseError` for any PyMySQL or socket failure: one line naming the endpoint,
    server text bounded and scrubbed of ``secrets``, never the bytes a non-MySQL peer sent."""
    if isinstance(exc, DatabaseError):
        return exc
    if isinstance(exc, socket.timeout | TimeoutError):
        return QueryTimeoutError(endpoint, "timed out waiting for the server")
    if (problem := certificate_problem(exc)) is not None:
        return DatabaseTlsError(endpoint, f"TLS: {brief(problem, 300, secrets)} (the certificate must chain to the "
                                          "spec's CA and name the host dnsdr connects to)")
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    code = args[0] if args and isinstance(args[0], int) and not isinstance(args[0], bool) else None
    if code == CR_SSL_CONNECTION_ERROR:
        return DatabaseTlsError(endpoint, "TLS: the server offers no TLS, and the spec requires it (enable ssl_cert "
                                          "and ssl_key on the server, or set tls.mode: disabled for this database)",
                                code)
    if isinstance(exc, _PROTOCOL_ERRORS) and not _is_server_code(code):
        return NotMySQLError(endpoint, NOT_MYSQL)
    if isinstance(exc, pymysql.err.MySQLError) and not isinstance(exc, pymysql.err.InterfaceError) \
            and not _is_server_code(code):
        return NotMySQLError(endpoint, NOT_MYSQL)  # an ERR packet with a made-up code, an unknown auth request
    text = brief(str(args[1]) if len(args) > 1 else str(exc), 300, secrets)
    if code in (ER_ACCESS_DENIED, ER_ACCESS_DENIED_NO_PASSWORD):
        return AuthenticationError(endpoint, f"access denied for user {user!r}: wrong user name or password, "
                                             "or the account may not connect from this host", code)
    if code in (ER_SPECIFIC_ACCESS_DENIED, ER_KILL_DENIED, ER_TABLEACCESS_DENIED, ER_COLUMNACCESS_DENIED,
                ER_DBACCESS_DENIED):
        priv = privilege_from(code, text)
        return PrivilegeError(endpoint, f"user {user!r} lacks the {priv} privilege ({text})", priv, code)
    if code == ER_OPTION_PREVENTS_STATEMENT:
        return ReadOnlyError(endpoint, text, code)
    if code in (CR_CONNECTION_ERROR, CR_CONN_HOST_ERROR):
        why = "connection timed out" if "timed out" in text else text
        return UnreachableError(endpoint, f"cannot connect: {why}", code)
    if code in (CR_SERVER_LOST, CR_SERVER_GONE):
        if "timed out" in text or "timeout" in text.lower():
            return QueryTimeoutError(endpoint, "timed out waiting for the server", code)
        return UnreachableError(endpoint, f"connection lost: {text}", code)
    if code in (ER_LOCK_WAIT_TIMEOUT, ER_QUERY_TIMEOUT, ER_QUERY_INTERRUPTED):
        return QueryTimeoutError(endpoint, text, code)
    if isinstance(exc, OSError):
        return UnreachableError(endpoint, f"cannot connect: {brief(exc.strerror or str(exc), 200, secrets)}")
    return DatabaseError(endpoint, f"error {code}: {text}" if code else f"{type(exc).__name__}: {text}", code)


class RefuseCleartext:
    """An authentication plugin handler that refuses to send the password in clear text.

    PyMySQL answers a server's switch to ``mysql_clear_password`` (or PAM's ``dialog``) with the
    password as is; over a plain connection anyone who can pose as the database would read it.
    """

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def authenticate(self, packet: Any) -> Any:
        raise pymysql.err.OperationalError(
            2059, "the server asked for the password in clear text; refused on a connection without TLS")


CLEARTEXT_REFUSED: dict[Any, type[RefuseCleartext]] = {
    b"mysql_clear_password": RefuseCleartext, b"dialog": RefuseCleartext,
}


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(user={self.user!r}, password=***)"


class Cursor(Protocol):
    """The part of a DB-API dict cursor dnsdr uses (PyMySQL's DictCursor, or a fake in tests)."""

    def execute(self, query: str, args: Any = None) -> Any: ...
    def fetchall(self) -> Any: ...
    def fetchone(self) -> Any: ...


@dataclass
class Timeouts:
    connect: float = 5.0
    read: float = 15.0
    write: float = 15.0


class Session:
    """One open connection; every call translates failures. Rows are dicts keyed by column name."""

    def __init__(self, cursor: Cursor, endpoint: str, user: str, secrets: Sequence[str] = (),
                 closer: Any = None) -> None:
        self._cur = cursor
        self.endpoint = endpoint
        self.user = user
        self._secrets = tuple(secrets)
        self._closer = closer

    def __repr__(self) -> str:
        return f"Session({self.endpoint}, user={self.user!r})"

    def error(self, exc: BaseException) -> DatabaseError:
        return translate(exc, self.endpoint, self.user, self._secrets)

    def rows(self, query: str, args: Any = None) -> list[dict[str, Any]]:
        try:
            self._cur.execute(query, args)
            return list(self._cur.fetchall() or ())
        except Exception as exc:
            raise self.error(exc) from None

    def row(self, query: str, args: Any = None) -> dict[str, Any]:
        got = self.rows(query, args)
        return got[0] if got else {}

    def scalar(self, query: str, args: Any = None) -> Any:
        got = self.row(query, args)
        return next(iter(got.values())) if got else None

    def run(self, query: str, args: Any = None) -> None:
        try:
            self._cur.execute(query, args)
        except Exception as exc:
            raise self.error(exc) from None

    def close(self) -> None:
        if self._closer is not None:
            with suppress(Exception):  # closing a broken connection may fail; nothing to do
                self._closer()


class Connector:
    """Opens sessions to one server as one account.

    ``tls``: a context that verifies the server (see ``dnsdr.adapters.tls``); PyMySQL then refuses a
    server that offers no TLS before it sends anything of the password. None: a plain connection,
    which only a spec's ``tls: {mode: disabled}`` asks for.
    """

    def __init__(self, host: str, port: int, credentials: Credentials, timeouts: Timeouts | None = None,
                 extra_secrets: Sequence[str] = (), tls: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.port = port
        self.credentials = credentials
        self.timeouts = timeouts or Timeouts()
        self.tls = tls
        self._secrets = (credentials.password, *extra_secrets)

    @property
    def endpoint(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"Connector({self.endpoint}, user={self.credentials.user!r})"

    def open(self, read_timeout: float | None = None) -> Session:
        try:
            conn = pymysql.connect(
                host=self.host, port=self.port, user=self.credentials.user, password=self.credentials.password,
                connect_timeout=self.timeouts.connect, read_timeout=read_timeout or self.timeouts.read,
                write_timeout=self.timeouts.write, autocommit=True, charset="utf8mb4",
                cursorclass=pymysql.cursors.DictCursor, auth_plugin_map=CLEARTEXT_REFUSED,
                **({"ssl": self.tls} if self.tls is not None else {"ssl_disabled": True}),
            )
        except Exception as exc:
            raise translate(exc, self.endpoint, self.credentials.user, self._secrets) from None
        return Session(conn.cursor(), self.endpoint, self.credentials.user, self._secrets, conn.close)

    @contextmanager
    def session(self, read_timeout: float | None = None) -> Iterator[Session]:
        s = self.open(read_timeout)
        try:
            yield s
        finally:
            s.close()
