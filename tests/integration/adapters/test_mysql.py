"""The database layer against the lab's real MariaDB 10.11 pair (r1 primary, r2 GTID semi-sync replica).

Every wait polls with a generous deadline: nothing here asserts machine speed. Tests that change roles
put them back through the adapter itself (a switchover back to r1) and leave anything else to the
fixture's ``restore_healthy()``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pymysql
import pytest

from dnsdr.adapters.mysql import (
    AuthenticationError,
    DatabaseAdapter,
    OperationRefused,
    PrivilegeError,
    adapter_for,
    repoint,
)
from dnsdr.adapters.mysql.connection import Connector, Credentials
from dnsdr.adapters.mysql.mariadb import MariaDBAdapter
from dnsdr.adapters.secrets import resolve
from dnsdr.adapters.tls import client_context
from dnsdr.app.observe import Observer
from dnsdr.domain.replication import Health, ReplicationState, assess, errant_transactions, to_view, transactions_behind
from dnsdr.domain.spec import DatabaseSpec, DesignateDR

pytestmark = pytest.mark.integration

SCHEMA = "dnsdr_itest"
DEADLINE = 60.0


def database_rows(spec: DesignateDR) -> list[dict[str, Any]]:
    """What `dnsdr status` shows per region (the use case behind it)."""
    return [r.to_dict() for r in Observer(spec, resolve).observe(with_serials=False).databases]


def wait_until(what: str, predicate: Callable[[], Any], timeout: float = DEADLINE, every: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


@dataclass
class Pair:
    lab: Any
    spec: DesignateDR
    designate_password: str = field(repr=False)

    def db(self, region: str) -> DatabaseSpec:
        db = self.spec.region(region).database
        assert db is not None
        return db

    def node(self, region: str) -> DatabaseAdapter:
        return adapter_for(self.db(region), heartbeat_period=2.0)

    def connect(self, region: str, admin: bool = True) -> Any:
        """``admin``: the lab's root over the Unix socket (the test's own hand; dnsdr's account is least
        privilege); else the application's account over verified TLS, as Designate connects."""
        if admin:
            return pymysql.connect(unix_socket=str(self.lab.paths.mysql_socket(region)), user="root",
                                   autocommit=True, connect_timeout=5, read_timeout=30)
        db = self.db(region)
        return pymysql.connect(host=db.endpoint.host, port=db.endpoint.port, user="designate",
                               password=self.designate_password, autocommit=True, connect_timeout=5, read_timeout=30,
                               ssl=client_context(db.tls, resolve))

    def sql(self, region: str, statement: str, args: Any = None) -> list[tuple[Any, ...]]:
        conn = self.connect(region)
        try:
            with conn.cursor() as cur:
                cur.execute(statement, args)
                return list(cur.fetchall())
        finally:
            conn.close()


@pytest.fixture
def pair(healthy_lab: Any) -> Iterator[Pair]:
    p = Pair(healthy_lab, healthy_lab.spec(), healthy_lab.secrets().designate_db)
    p.sql("r1", f"CREATE DATABASE IF NOT EXISTS {SCHEMA}")
    p.sql("r1", f"GRANT ALL PRIVILEGES ON {SCHEMA}.* TO 'designate'@'%'")
    yield p


def make_table(p: Pair, name: str) -> str:
    """A fresh table on r1, replicated to r2 before the test uses it."""
    table = f"{SCHEMA}.{name}"
    p.sql("r1", f"DROP TABLE IF EXISTS {table}")
    p.sql("r1", f"CREATE TABLE {table} (id BIGINT AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB")
    final = p.node("r1").observe().gtid_binlog_pos
    assert p.node("r2").catch_up(DEADLINE, until=final).applied
    return table


@dataclass
class Writer:
    """Inserts one row per transaction as the (non-admin) designate account; records acknowledged ids."""

    pair: Pair
    region: str
    table: str
    acked: list[int] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def run(self) -> None:
        conn = None
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = self.pair.connect(self.region, admin=False)
                with conn.cursor() as cur:
                    cur.execute(f"INSERT INTO {self.table} (v) VALUES (1)")
                    self.acked.append(int(cur.lastrowid))
            except pymysql.MySQLError as exc:
                self.errors.append(int(exc.args[0]) if exc.args and isinstance(exc.args[0], int) else -1)
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.05)
        if conn is not None:
            conn.close()

    def __enter__(self) -> Writer:
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        wait_until("the writer's first commit", lambda: self.acked, timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        assert self.thread is not None
        self.thread.join(30)


def switch(p: Pair, old: str, new: str) -> None:
    """A planned switchover with the adapter: fence old, catch up new, promote new, repoint old."""
    fenced = p.node(old).fence()
    assert fenced.write_refused, fenced.proof
    final = p.node(old).observe().gtid_binlog_pos
    caught = p.node(new).catch_up(DEADLINE, until=final)
    assert caught.applied, caught.message
    assert p.node(new).promote().changed
    result = repoint(p.node(old), p.db(new))
    assert result.changed


def healthy_roles(p: Pair, primary: str, replica: str) -> tuple[ReplicationState, ReplicationState]:
    def check() -> tuple[ReplicationState, ReplicationState] | None:
        a, b = p.node(primary).observe(), p.node(replica).observe()
        ok = (assess(a, expect_replica=False, semi_sync_required=True).health is Health.HEALTHY
              and assess(b, expect_replica=True, semi_sync_required=True).health is Health.HEALTHY
              and b.channel is not None and b.channel.source_host == p.db(primary).endpoint.host)
        return (a, b) if ok else None
    return wait_until(f"{primary} primary with {replica} replicating, both healthy", check)


# ---------------------------------------------------------------------------------------------------------


def test_healthy_state(pair: Pair) -> None:
    r1, r2 = healthy_roles(pair, "r1", "r2")
    assert r1.flavour == "mariadb" and "MariaDB" in r1.version and r1.writable and not r1.is_replica
    assert r1.semi_sync.source_active and r1.semi_sync.source_clients >= 1 and r1.gtid_strict_mode
    assert r2.read_only and r2.is_replica and r2.channel is not None
    assert r2.channel.io_ok and r2.channel.sql_ok and r2.channel.heartbeat_period == pytest.approx(2.0)
    assert r2.semi_sync.replica_active and r2.server_id != r1.server_id
    assert errant_transactions(r2, r1) == () and errant_transactions(r1, r2) == ()
    assert to_view("r2", r2).source_alive
    json.dumps(r2.to_dict())
    rows = database_rows(pair.spec)
    assert [(r["region"], r["health"]) for r in rows] == [("r1", "healthy"), ("r2", "healthy")]


def test_wrong_password_and_missing_privilege_are_clean(pair: Pair) -> None:
    db = pair.db("r1")
    tls = client_context(db.tls, resolve)
    wrong = MariaDBAdapter(Connector(db.endpoint.host, db.endpoint.port, Credentials(db.user, "not-the-password-x9"),
                                     tls=tls))
    state = wrong.observe()
    assert not state.reachable and state.error_kind == "authentication"
    assert "not-the-password-x9" not in json.dumps(state.to_dict())
    with pytest.raises(AuthenticationError):
        wrong.fence()
    repl_password = resolve(db.replication_password)
    weak = MariaDBAdapter(Connector(db.endpoint.host, db.endpoint.port, Credentials(db.replication_user, repl_password),
                                    tls=tls))
    with pytest.raises(PrivilegeError) as err:
        weak.fence()  # the replication account may stream the binlog and nothing else: not even observe
    assert "SLAVE MONITOR" in err.value.privilege and repl_password not in str(err.value)
    assert pair.node("r1").observe().writable  # nothing changed


def test_lag_under_write_load(pair: Pair) -> None:
    table = make_table(pair, "lag")
    blocker = pair.connect("r2")  # holds next-key locks on r2 so its applier falls behind
    try:
        with Writer(pair, "r1", table), blocker.cursor() as cur:
            cur.execute("START TRANSACTION")
            cur.execute(f"SELECT * FROM {table} FOR UPDATE")
            node = pair.node("r2")

            def lagging() -> ReplicationState | None:
                s = node.observe()
                return s if s.channel and s.channel.unapplied > 0 and (s.channel.lag_seconds or 0) >= 2 else None

            state = wait_until("r2 to lag behind r1", lagging)
            assert state.channel is not None and state.channel.io_ok and state.channel.sql_ok
            primary = pair.node("r1").observe()
            assert (transactions_behind(state, primary) or 0) > 0
            assert assess(state, expect_replica=True, max_lag_seconds=1).health is Health.DEGRADED
            cur.execute("ROLLBACK")
        final = pair.node("r1").observe().gtid_binlog_pos
        caught = pair.node("r2").catch_up(DEADLINE, until=final)
        assert caught.applied, caught.message
        # The lab's Designate keeps writing to r1: poll until r2 has caught up with a moving primary.
        wait_until("r2 to catch up with r1",
                   lambda: transactions_behind(pair.node("r2").observe(), pair.node("r1").observe()) == 0)
    finally:
        blocker.close()


def test_partition_cuts_io_thread_and_shows_unhealthy(pair: Pair) -> None:
    node = pair.node("r2")
    assert assess(node.observe(), expect_replica=True).health is Health.HEALTHY
    pair.lab.partition("r1", "r2")
    try:
        started = time.monotonic()

        def broken() -> ReplicationState | None:
            s = node.observe()
            return s if assess(s, expect_replica=True).health is Health.UNHEALTHY else None

        state = wait_until("r2 to report its channel unhealthy", broken, every=0.2)
        elapsed = time.monotonic() - started
        assert not to_view("r2", state).source_alive
        ch = state.channel
        assert ch is not None and (ch.io_running == "Connecting" or ch.heartbeat_stale), ch
        print(f"partition seen as unhealthy after {elapsed:.1f} s (heartbeat period {ch.heartbeat_period} s)")
    finally:
        pair.lab.heal()
    healthy_roles(pair, "r1", "r2")


def test_errant_write_on_replica_is_detected_and_blocks_repoint(pair: Pair) -> None:
    table = make_table(pair, "errant")
    pair.sql("r2", "SET GLOBAL read_only = 0")
    try:
        conn = pair.connect("r2", admin=False)
        with conn.cursor() as cur:
            cur.execute(f"INSERT INTO {table} (v) VALUES (42)")
        conn.close()
    finally:
        pair.sql("r2", "SET GLOBAL read_only = 1")
    try:
        def caught_up() -> tuple[ReplicationState, ReplicationState] | None:
            """r1 then r2 observed once r2 applied all r1 had written (Designate writes to r1 meanwhile)."""
            a, b = pair.node("r1").observe(), pair.node("r2").observe()
            return (a, b) if errant_transactions(a, b) == () else None

        r1, r2 = wait_until("r2 to apply what r1 wrote", caught_up)
        errant = errant_transactions(r2, r1)
        assert errant and all(e.startswith(f"0-{r2.server_id}-") for e in errant), errant
        assert pair.node("r2").errant(r2, r1) == errant
        with pytest.raises(OperationRefused) as err:
            repoint(pair.node("r2"), pair.db("r1"), source_state=r1)
        assert err.value.details == errant and errant[0] in str(err.value)
        assert database_rows(pair.spec)[1]["errant"] == list(errant)
    finally:  # undo the divergence on r2: drop its binlog record of the errant write and the row
        pair.sql("r2", "STOP SLAVE")
        conn = pair.connect("r2")
        with conn.cursor() as cur:
            cur.execute("SET SESSION sql_log_bin = 0")
            cur.execute(f"DELETE FROM {table} WHERE v = 42")
        conn.close()
        slave_pos = pair.sql("r2", "SELECT @@gtid_slave_pos")[0][0]
        pair.sql("r2", "RESET MASTER")
        pair.sql("r2", "SET GLOBAL gtid_slave_pos = %s", (slave_pos,))
        pair.sql("r2", "START SLAVE")
    healthy_roles(pair, "r1", "r2")
    assert errant_transactions(pair.node("r2").observe(), pair.node("r1").observe()) == ()


def test_fence_blocks_writes(pair: Pair) -> None:
    table = make_table(pair, "fence")
    app = pair.connect("r1", admin=False)
    try:
        with app.cursor() as cur:
            cur.execute(f"INSERT INTO {table} (v) VALUES (1)")
        result = pair.node("r1").fence()
        assert result.changed and result.write_refused and result.killed_sessions >= 1, result
        again = pair.node("r1").fence()
        assert again.write_refused and "already read-only" in again.message
        with pytest.raises(pymysql.MySQLError), app.cursor() as cur:  # our session was killed
            cur.execute(f"INSERT INTO {table} (v) VALUES (2)")
        fresh = pair.connect("r1", admin=False)
        with pytest.raises(pymysql.MySQLError) as err, fresh.cursor() as cur:
            cur.execute(f"INSERT INTO {table} (v) VALUES (3)")
        fresh.close()
        assert err.value.args[0] == 1290
        r2 = pair.node("r2").observe()  # the fence keeps the binlog dump: r2 still hears from r1
        assert r2.channel is not None and r2.channel.io_ok
    finally:
        app.close()
        pair.sql("r1", "SET GLOBAL read_only = 0")
    healthy_roles(pair, "r1", "r2")


def test_catch_up_then_promote_under_write_load_loses_nothing(pair: Pair) -> None:
    table = make_table(pair, "promote")
    with Writer(pair, "r1", table) as writer:
        wait_until("a few hundred commits", lambda: len(writer.acked) >= 300, timeout=120, every=0.1)
        fenced = pair.node("r1").fence()
        assert fenced.write_refused
        wait_until("the writer to be refused", lambda: 1290 in writer.errors, timeout=30)
        final = pair.node("r1").observe().gtid_binlog_pos
        caught = pair.node("r2").catch_up(DEADLINE, until=final)
        assert caught.applied, caught.message
        first = pair.node("r2").promote()
        assert first.changed and first.write_proven
        second = pair.node("r2").promote()
        assert not second.changed and "nothing changed" in second.message
    acked = set(writer.acked)
    on_r2 = {int(r[0]) for r in pair.sql("r2", f"SELECT id FROM {table}")}
    on_r1 = {int(r[0]) for r in pair.sql("r1", f"SELECT id FROM {table}")}
    assert acked <= on_r2, f"lost {len(acked - on_r2)} acknowledged rows"
    assert on_r2 == on_r1
    print(f"{len(acked)} acknowledged rows, {len(on_r2)} on the promoted node, none lost")
    r2 = pair.node("r2").observe()
    assert r2.writable and not r2.is_replica
    # Put roles back: r1 follows r2, then a switchover back to r1.
    assert repoint(pair.node("r1"), pair.db("r2")).changed
    switch(pair, "r2", "r1")
    healthy_roles(pair, "r1", "r2")


def test_switchover_and_back(pair: Pair) -> None:
    table = make_table(pair, "switch")
    switch(pair, "r1", "r2")
    _r2, r1 = healthy_roles(pair, "r2", "r1")
    assert r1.channel is not None and r1.channel.source_port == pair.db("r2").endpoint.port
    again = repoint(pair.node("r1"), pair.db("r2"))
    assert not again.changed and "nothing changed" in again.message
    pair.sql("r2", f"INSERT INTO {table} (v) VALUES (7)")
    final = pair.node("r2").observe().gtid_binlog_pos
    assert pair.node("r1").catch_up(DEADLINE, until=final).applied
    assert pair.sql("r1", f"SELECT COUNT(*) FROM {table} WHERE v = 7")[0][0] == 1
    assert errant_transactions(pair.node("r1").observe(), pair.node("r2").observe()) == ()
    switch(pair, "r2", "r1")
    healthy_roles(pair, "r1", "r2")
