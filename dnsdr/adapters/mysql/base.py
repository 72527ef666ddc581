"""The database adapter interface and the flow both dialects share.

One adapter instance is bound to one server. Dialects (``mariadb.py``, ``mysql8.py``) supply the
SQL; this module owns the order of steps and the safety checks, so both behave the same:

* ``observe()`` never raises: an unreachable server is a state (``reachable=False``).
* ``fence()``: read_only (super_read_only) on; client sessions killed except our own, replication
  threads and binlog dump threads (a fenced primary keeps feeding its replica so a switchover can
  catch up to its very last transaction; read_only already stops new writes, and the kill ends open
  transactions); then a proof that the server refuses a write from an account without a read_only
  bypass. The probe statement targets a schema that never exists, so even if the fence failed no
  data is written: the server answers "read-only" (1290) before it checks privileges or tables.
* ``promote()`` refuses to discard received-but-unapplied transactions unless told to.
* ``repoint()`` refuses a node that holds errant transactions, and lists them.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from dnsdr.adapters.mysql.connection import (
    AuthenticationError,
    Connector,
    DatabaseError,
    DatabaseTlsError,
    OperationRefused,
    PrivilegeError,
    QueryTimeoutError,
    ReadOnlyError,
    Session,
    UnreachableError,
)
from dnsdr.domain.replication import (
    CatchUpResult,
    FenceResult,
    PromoteResult,
    ReplicationState,
    RepointResult,
    errant_transactions,
)
from dnsdr.domain.spec import DatabaseSpec

PROBE_SQL = "INSERT INTO dnsdr_fence_probe.never_created (x) VALUES (1)"
PROBE_SCHEMA = "dnsdr"
# Threads a fence leaves alone (besides our own session).
KEEP_USERS = frozenset({"system user", "event_scheduler"})
KEEP_COMMANDS = frozenset({"Binlog Dump", "Binlog Dump GTID", "Daemon", "Slave_IO", "Slave_SQL",
                           "Slave_worker", "Killed"})
ER_NO_SUCH_THREAD = 1094


def error_kind(exc: DatabaseError) -> str:
    if isinstance(exc, DatabaseTlsError):
        return "tls"
    if isinstance(exc, UnreachableError):
        return "unreachable"
    if isinstance(exc, QueryTimeoutError):
        return "timeout"
    if isinstance(exc, AuthenticationError):
        return "authentication"
    if isinstance(exc, PrivilegeError):
        return "privilege"
    return "error"


class DatabaseAdapter(ABC):
    """Replication control of one server. Subclasses implement the dialect's SQL."""

    flavour: str = ""
    # On this server's host: the CA file it checks its source's certificate with (the spec's replicaCaFile).
    replica_ca_file: str | None = None

    def __init__(self, connector: Connector, probe: Connector | None = None, *,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.connector = connector
        # An account without a read_only bypass, used to prove the fence (the replication account).
        self.probe = probe
        self.clock = clock
        self.wall = wall
        self.sleep = sleep

    @property
    def endpoint(self) -> str:
        return self.connector.endpoint

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.endpoint})"

    # ------------------------------------------------------------ dialect hooks

    @abstractmethod
    def read_state(self, s: Session) -> ReplicationState:
        """Observe over an open session (may raise DatabaseError)."""

    @abstractmethod
    def set_read_only(self, s: Session, on: bool) -> None: ...

    @abstractmethod
    def wait_applied(self, s: Session, target: str, timeout: float) -> bool:
        """Block until ``target`` is applied; False on timeout."""

    @abstractmethod
    def missing(self, state: ReplicationState, target: str) -> str:
        """What of ``target`` the server has not applied yet ('' when nothing)."""

    @abstractmethod
    def detach(self, s: Session) -> None:
        """Stop the replica threads and forget the replica configuration."""

    @abstractmethod
    def attach(self, s: Session, state: ReplicationState, source: DatabaseSpec, source_password: str) -> str:
        """Configure and start replication from ``source`` (threads stopped, read_only on); return the
        start position."""

    @abstractmethod
    def stop_replica(self, s: Session) -> None: ...

    def replication_tls(self, source: DatabaseSpec, prefix: str) -> tuple[str, tuple[str, ...]]:
        """The TLS clauses of CHANGE MASTER/REPLICATION SOURCE (``prefix`` MASTER or SOURCE) and their arguments:
        TLS with the source's certificate verified against its host, unless the source's spec disables TLS."""
        if not source.tls.enabled:
            return f", {prefix}_SSL = 0", ()
        clauses = f", {prefix}_SSL = 1, {prefix}_SSL_VERIFY_SERVER_CERT = 1"
        if self.replica_ca_file:
            return clauses + f", {prefix}_SSL_CA = %s", (self.replica_ca_file,)
        return clauses, ()

    @abstractmethod
    def stop_io(self, s: Session) -> None: ...

    def server_errant(self, s: Session, candidate: ReplicationState, source: ReplicationState) -> tuple[str, ...]:
        return errant_transactions(candidate, source)

    # ------------------------------------------------------------ observe / errant

    def observe(self) -> ReplicationState:
        try:
            with self.connector.session() as s:
                return self.read_state(s)
        except DatabaseError as exc:
            return ReplicationState.unreachable(self.endpoint, self.flavour, str(exc), error_kind(exc), self.wall())

    def errant(self, candidate: ReplicationState, source: ReplicationState) -> tuple[str, ...]:
        """Transactions ``candidate`` holds that ``source`` never had, computed on this server."""
        with self.connector.session() as s:
            return self.server_errant(s, candidate, source)

    # ------------------------------------------------------------ fence

    def _kill_clients(self, s: Session) -> int:
        own = s.scalar("SELECT CONNECTION_ID() AS id")
        killed = 0
        for row in s.rows("SELECT ID, USER, COMMAND FROM information_schema.PROCESSLIST"):
            if row["ID"] == own or row["USER"] in KEEP_USERS or row["COMMAND"] in KEEP_COMMANDS:
                continue
            try:
                s.run(f"KILL CONNECTION {int(row['ID'])}")
                killed += 1
            except DatabaseError as exc:
                if exc.code != ER_NO_SUCH_THREAD:
                    raise
        return killed

    def _probe_refused(self, s: Session) -> tuple[bool, str]:
        """(refused, how) for a write attempt that can never write anything."""
        attempts: list[tuple[str, Callable[[], Session], bool]] = [
            (f"our own account {s.user!r}", lambda: s, False)]
        if self.probe is not None:
            probe = self.probe
            attempts.append((f"account {probe.credentials.user!r}", probe.open, True))
        notes = []
        for who, opener, close in attempts:
            try:
                session = opener()
            except DatabaseError as exc:
                notes.append(f"{who} could not connect ({exc})")
                continue
            try:
                session.run(PROBE_SQL)
                notes.append(f"{who}: probe statement unexpectedly succeeded")
            except ReadOnlyError:
                return True, f"a write by {who} was refused as read-only"
            except DatabaseError as exc:
                notes.append(f"{who} bypasses read_only (the server went past the read-only check: {exc.code})")
            finally:
                if close:
                    session.close()
        return False, "; ".join(notes)

    def fence(self) -> FenceResult:
        """Make the server refuse writes, end client sessions, and prove it. Idempotent."""
        with self.connector.session() as s:
            before = self.read_state(s)
            was_fenced = before.read_only and before.super_read_only is not False
            if not was_fenced:
                self.set_read_only(s, True)
            killed = self._kill_clients(s)
            after = self.read_state(s)
            if not after.read_only:
                raise DatabaseError(self.endpoint, "read_only did not stay on after setting it")
            refused, how = self._probe_refused(s)
        changed = not was_fenced or killed > 0
        msg = ("fenced: read-only" if not was_fenced else "already read-only") + f", {killed} client sessions killed"
        msg += "; write refusal proven" if refused else "; write refusal NOT proven"
        return FenceResult(self.endpoint, changed, msg, (how,), write_refused=refused, proof=how,
                           killed_sessions=killed)

    # ------------------------------------------------------------ catch up

    def stop_io_thread(self) -> str:
        """Fence from the replica side (as MOCO does): stop receiving from the source, keep applying.

        When the old primary cannot be reached it may still be alive behind a partition; once the
        candidate's IO thread is stopped it can no longer acknowledge semi-sync commits there, so no
        client of the old primary is told a write succeeded that the new primary will not have.
        """
        with self.connector.session() as s:
            state = self.read_state(s)
            if state.channel is None:
                return "not a replica: nothing to stop"
            if state.channel.io_running == "No":
                return "IO thread already stopped"
            self.stop_io(s)
            return f"IO thread stopped (was {state.channel.io_running}); applying what was received"

    def catch_up(self, timeout: float, until: str | None = None) -> CatchUpResult:
        """Wait until everything received (or ``until``, e.g. a fenced source's final position) is
        applied. Never raises on timeout: the result says what remains."""
        start = self.clock()
        with self.connector.session(read_timeout=timeout + 10) as s:
            state = self.read_state(s)
            ch = state.channel
            target = until if until is not None else (ch.received if ch else "")
            if not target:
                return CatchUpResult(self.endpoint, False, "nothing received, nothing to apply", applied=True)
            remaining = self.missing(state, target)
            if not remaining:
                return CatchUpResult(self.endpoint, False, f"already applied {target}", applied=True,
                                     target=target)
            if ch is not None and not ch.sql_ok:
                why = f" (error {ch.last_sql_errno}: {ch.last_sql_error})" if ch.last_sql_errno else ""
                return CatchUpResult(self.endpoint, False, f"SQL thread is not running{why}; cannot apply",
                                     applied=False, target=target, remaining=remaining)
            ok = self.wait_applied(s, target, timeout)
            waited = self.clock() - start
            if ok:
                return CatchUpResult(self.endpoint, False, f"applied {target} after {waited:.1f} s",
                                     applied=True, waited_seconds=waited, target=target)
            remaining = self.missing(self.read_state(s), target) or remaining
            return CatchUpResult(self.endpoint, False, f"timed out after {waited:.1f} s; still missing {remaining}",
                                 applied=False, waited_seconds=waited, target=target, remaining=remaining)

    # ------------------------------------------------------------ promote

    def _prove_write(self, s: Session) -> None:
        s.run(f"CREATE DATABASE IF NOT EXISTS {PROBE_SCHEMA}")
        s.run(f"CREATE TABLE IF NOT EXISTS {PROBE_SCHEMA}.write_probe (id TINYINT UNSIGNED PRIMARY KEY, "
              "server_id INT UNSIGNED NOT NULL, written_at DATETIME(6) NOT NULL) ENGINE=InnoDB")
        s.run(f"REPLACE INTO {PROBE_SCHEMA}.write_probe (id, server_id, written_at) VALUES (1, @@server_id, NOW(6))")

    def promote(self, allow_unapplied: bool = False) -> PromoteResult:
        """Detach from the source and open for writes; a second call changes nothing."""
        with self.connector.session() as s:
            state = self.read_state(s)
            if state.channel is None and state.writable:
                return PromoteResult(self.endpoint, False, "already a writable primary; nothing changed",
                                     position=state.position)
            details: list[str] = []
            if state.channel is not None:
                if state.channel.io_ok:
                    # Stop receiving first so the applied position can be compared with a final one.
                    self.stop_replica(s)
                    state = self.read_state(s)
                ch = state.channel
                remaining = self.missing(state, ch.received) if ch and ch.received else ""
                if remaining and not allow_unapplied:
                    raise OperationRefused(self.endpoint, "refusing to promote: received transactions are not "
                                           f"applied yet ({remaining}); run catch_up first", (remaining,))
                if remaining:
                    details.append(f"discarded unapplied transactions: {remaining}")
                self.detach(s)
                details.append("replica threads stopped and replica configuration reset")
            self.set_read_only(s, False)
            details.append("read_only off")
            self._prove_write(s)
            after = self.read_state(s)
            if after.channel is not None or not after.writable:
                raise DatabaseError(self.endpoint, "promotion did not take: still a replica or read-only")
        return PromoteResult(self.endpoint, True, "promoted: now a writable primary (write proven)",
                             tuple(details), write_proven=True, position=after.position)

    # ------------------------------------------------------------ repoint

    def repoint(self, source: DatabaseSpec, source_password: str, source_state: ReplicationState,
                settle_seconds: float = 10.0) -> RepointResult:
        """Make this server a read-only GTID replica of ``source``; refuse if it holds errant transactions.

        ``source_password`` is the source's replication password (the account this server uses to
        connect to it); ``source_state`` a fresh observation of the source.
        """
        src = str(source.endpoint)
        if not source_state.reachable:
            raise OperationRefused(self.endpoint, f"new source {src} is not reachable: {source_state.error}")
        with self.connector.session() as s:
            state = self.read_state(s)
            errant = self.server_errant(s, state, source_state)
            if errant:
                raise OperationRefused(self.endpoint, f"refusing to replicate from {src}: this server holds "
                                       f"{len(errant)} errant transaction ranges {src} never had: {', '.join(errant)}",
                                       errant)
            ch = state.channel
            tls_as_wanted = ch is not None and ch.tls in (None, source.tls.enabled) \
                and (not source.tls.enabled or ch.tls_verified in (None, True))
            if (ch is not None and ch.source_host == source.endpoint.host and ch.source_port == source.endpoint.port
                    and ch.io_running in ("Yes", "Connecting") and ch.sql_ok and state.read_only and tls_as_wanted):
                return RepointResult(self.endpoint, False, f"already replicating from {src}; nothing changed",
                                     source=src, start_position=ch.executed)
            if ch is not None:
                self.stop_replica(s)
            self.set_read_only(s, True)
            start = self.attach(s, self.read_state(s), source, source_password)
            deadline = self.clock() + settle_seconds
            while True:
                now = self.read_state(s).channel
                if now is not None and now.io_ok and now.sql_ok:
                    break
                broken = now is None or now.last_sql_errno or (now.io_running == "No" and now.last_io_errno)
                if broken or self.clock() > deadline:
                    why = "no channel" if now is None else (
                        f"IO {now.io_running} {now.last_io_errno or ''} {now.last_io_error}; "
                        f"SQL {now.sql_running} {now.last_sql_errno or ''} {now.last_sql_error}")
                    raise DatabaseError(self.endpoint, f"replication from {src} did not start: {why.strip()}")
                self.sleep(0.2)
        return RepointResult(self.endpoint, True, f"now a read-only GTID replica of {src} from {start}",
                             source=src, start_position=start)


def as_bool(value: Any) -> bool:
    """A status variable or column as a boolean (1/ON/YES/TRUE), as both dialects print them."""
    return str(value).upper() in ("1", "ON", "YES", "TRUE")


def as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def as_float(value: Any) -> float | None:
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def first_row(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    return rows[0] if rows else None
