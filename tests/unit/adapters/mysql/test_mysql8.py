"""MySQL 8.0.23+/8.4 SQL paths over the result shapes MySQL returns (no MySQL server here)."""

from __future__ import annotations

import datetime as dt

import pymysql
import pytest

from dnsdr.adapters.mysql import MySQL8Adapter, OperationRefused, PrivilegeError, UnreachableError
from dnsdr.adapters.mysql.mysql8 import heartbeat_age
from dnsdr.domain.replication import Health, ReplicationState, assess
from dnsdr.domain.spec import DatabaseFlavour, DatabaseSpec, Endpoint, SecretRef

from .fakes import NOW, OWN_UUID, SOURCE_UUID, FakeConnector, FakeMySQL, replica_status_row


def adapter(server: FakeMySQL) -> MySQL8Adapter:
    return MySQL8Adapter(FakeConnector(server), sleep=lambda _s: None)


def replica_server(**kw: object) -> FakeMySQL:
    server = FakeMySQL(read_only=True, super_read_only=True, replica=replica_status_row(**kw))
    server.semi.update(rpl_semi_sync_source_enabled="OFF", rpl_semi_sync_replica_enabled="ON")
    server.semi_status.update(Rpl_semi_sync_source_status="OFF", Rpl_semi_sync_source_clients="0",
                              Rpl_semi_sync_replica_status="ON")
    return server


SOURCE = DatabaseSpec(DatabaseFlavour.MYSQL, Endpoint("127.0.1.1", 3306), "dnsdr", SecretRef(env="X"),
                      "repl", SecretRef(env="Y"))


def source_state(executed: str = f"{SOURCE_UUID}:1-120") -> ReplicationState:
    return ReplicationState(endpoint="127.0.1.1:3306", flavour="mysql", reachable=True, gtid_executed=executed)


class TestObserve:
    def test_healthy_replica(self) -> None:
        state = adapter(replica_server()).observe()
        assert state.reachable and state.flavour == "mysql" and state.version == "8.4.3"
        assert state.super_read_only is True and state.server_uuid == OWN_UUID
        ch = state.channel
        assert ch is not None and ch.io_ok and ch.sql_ok and ch.source_host == "127.0.1.1"
        assert ch.heartbeat_period == 2.0 and ch.heartbeat_age_seconds == pytest.approx(1.0)
        assert ch.received == f"{SOURCE_UUID}:1-100" and ch.unapplied == 0
        assert state.semi_sync.replica_active and not state.semi_sync.fell_back_to_async
        assert assess(state, expect_replica=True, semi_sync_required=True).health is Health.HEALTHY

    def test_received_not_executed_counts_gtid_distance(self) -> None:
        server = replica_server(Retrieved_Gtid_Set=f"{SOURCE_UUID}:1-130", Seconds_Behind_Source=12)
        ch = adapter(server).observe().channel
        assert ch is not None and ch.unapplied == 30 and ch.lag_seconds == 12.0

    def test_connecting_from_performance_schema(self) -> None:
        server = replica_server(Replica_IO_Running="Connecting", Last_IO_Errno=2003,
                                Last_IO_Error="error connecting to source 'repl@127.0.1.1:3306' - retry-time: 1")
        server.service_state = "CONNECTING"
        state = adapter(server).observe()
        assert state.channel is not None and state.channel.io_running == "Connecting"
        assert assess(state, expect_replica=True).health is Health.UNHEALTHY

    def test_stale_heartbeat(self) -> None:
        server = replica_server()
        server.last_heartbeat = NOW - dt.timedelta(seconds=30)
        state = adapter(server).observe()
        assert state.channel is not None and state.channel.heartbeat_stale
        assert assess(state).health is Health.UNHEALTHY

    def test_zero_timestamps_mean_unknown(self) -> None:
        assert heartbeat_age({"now": NOW, "last_heartbeat": "0000-00-00 00:00:00.000000",
                              "last_queued": "0000-00-00 00:00:00.000000"}) is None
        assert heartbeat_age({"now": NOW, "last_heartbeat": NOW - dt.timedelta(seconds=3),
                              "last_queued": NOW - dt.timedelta(seconds=1)}) == pytest.approx(1.0)

    def test_primary_semi_sync_fallback_and_old_plugin_names(self) -> None:
        server = FakeMySQL()
        server.semi = {"rpl_semi_sync_master_enabled": "ON", "rpl_semi_sync_slave_enabled": "OFF"}
        server.semi_status = {"Rpl_semi_sync_master_status": "OFF", "Rpl_semi_sync_master_clients": "0"}
        state = adapter(server).observe()
        assert state.channel is None and state.writable
        assert state.semi_sync.fell_back_to_async
        assert assess(state, expect_replica=False).health is Health.DEGRADED

    def test_unreachable_is_a_state(self) -> None:
        down = MySQL8Adapter(FakeConnector(FakeMySQL(), refuse=UnreachableError("127.0.2.1:3306", "cannot connect")))
        state = down.observe()
        assert not state.reachable and state.error_kind == "unreachable"
        assert assess(state).health is Health.UNREACHABLE


def test_errant_runs_gtid_subtract_on_the_server() -> None:
    server = FakeMySQL(executed=f"{SOURCE_UUID}:1-100,{OWN_UUID}:1-2")
    node = adapter(server)
    mine = node.observe()
    assert node.errant(mine, source_state()) == (f"{OWN_UUID}:1-2",)
    assert any(q.startswith("SELECT GTID_SUBTRACT") for q, _ in server.log)
    assert node.errant(source_state(f"{SOURCE_UUID}:1-90"), source_state()) == ()


class TestFence:
    def test_fence_sets_super_read_only_kills_clients_and_proves(self) -> None:
        server = FakeMySQL(processlist=[
            {"ID": 10, "USER": "dnsdr", "COMMAND": "Query"},
            {"ID": 11, "USER": "designate", "COMMAND": "Sleep"},
            {"ID": 12, "USER": "repl", "COMMAND": "Binlog Dump GTID"},
            {"ID": 13, "USER": "system user", "COMMAND": "Connect"},
            {"ID": 14, "USER": "event_scheduler", "COMMAND": "Daemon"},
        ])
        result = adapter(server).fence()
        assert result.changed and result.write_refused and result.killed_sessions == 1
        assert server.super_read_only and server.read_only
        assert [p["ID"] for p in server.processlist] == [10, 12, 13, 14]
        assert "refused as read-only" in result.proof

    def test_fence_is_idempotent(self) -> None:
        server = FakeMySQL(read_only=True, super_read_only=True)
        node = adapter(server)
        again = node.fence()
        assert not again.changed and again.write_refused and "already read-only" in again.message

    def test_missing_privilege_is_named(self) -> None:
        server = FakeMySQL(fail={"SET GLOBAL super_read_only": pymysql.err.OperationalError(
            1227, "Access denied; you need (at least one of) the SUPER or SYSTEM_VARIABLES_ADMIN privilege(s) "
                  "for this operation")})
        with pytest.raises(PrivilegeError) as err:
            adapter(server).fence()
        assert err.value.privilege == "SUPER or SYSTEM_VARIABLES_ADMIN"
        assert "admin-pw-123" not in str(err.value)


class TestCatchUpPromote:
    def test_catch_up_waits_for_retrieved_set(self) -> None:
        server = replica_server(Retrieved_Gtid_Set=f"{SOURCE_UUID}:1-130")
        result = adapter(server).catch_up(5)
        assert result.applied and result.target == f"{SOURCE_UUID}:1-130"
        _q, args = next((q, a) for q, a in server.log if q.startswith("SELECT WAIT_FOR_EXECUTED_GTID_SET"))
        assert args == (f"{SOURCE_UUID}:1-130", 5.0)

    def test_catch_up_timeout_reports_what_remains(self) -> None:
        server = replica_server(Retrieved_Gtid_Set=f"{SOURCE_UUID}:1-130")
        server.apply_on_wait = False
        result = adapter(server).catch_up(1)
        assert not result.applied and result.remaining == f"{SOURCE_UUID}:101-130"

    def test_catch_up_with_stopped_sql_thread_does_not_wait(self) -> None:
        server = replica_server(Retrieved_Gtid_Set=f"{SOURCE_UUID}:1-130", Replica_SQL_Running="No",
                                Last_SQL_Errno=1062, Last_SQL_Error="Duplicate entry")
        result = adapter(server).catch_up(30)
        assert not result.applied and "1062" in result.message
        assert not any(q.startswith("SELECT WAIT_FOR") for q, _ in server.log)

    def test_promote_then_promote_again(self) -> None:
        server = replica_server()
        node = adapter(server)
        first = node.promote()
        assert first.changed and first.write_proven
        assert server.replica is None and not server.read_only and not server.super_read_only
        statements = [q for q, _ in server.log]
        assert statements.index("STOP REPLICA") < statements.index("RESET REPLICA ALL")
        second = node.promote()
        assert not second.changed and "nothing changed" in second.message

    def test_promote_refuses_to_drop_unapplied(self) -> None:
        server = replica_server(Retrieved_Gtid_Set=f"{SOURCE_UUID}:1-130")
        with pytest.raises(OperationRefused) as err:
            adapter(server).promote()
        assert err.value.details == (f"{SOURCE_UUID}:101-130",)
        assert server.replica is not None
        assert adapter(server).promote(allow_unapplied=True).changed


class TestRepoint:
    def test_repoint_former_primary(self) -> None:
        server = FakeMySQL()
        result = adapter(server).repoint(SOURCE, "repl-pw-456", source_state())
        assert result.changed and server.super_read_only
        assert server.replica is not None and server.replica["Source_Host"] == "127.0.1.1"
        change = next((q, a) for q, a in server.log if q.startswith("CHANGE REPLICATION SOURCE TO"))
        assert "SOURCE_AUTO_POSITION = 1" in change[0] and change[1][3] == "repl-pw-456"
        assert "SOURCE_SSL = 1, SOURCE_SSL_VERIFY_SERVER_CERT = 1" in change[0]  # the spec's default: verified TLS
        assert server.replica["Source_SSL_Allowed"] == "Yes"
        assert server.semi["rpl_semi_sync_replica_enabled"] == "ON"
        assert "repl-pw-456" not in repr(result)
        again = adapter(server).repoint(SOURCE, "repl-pw-456", source_state())
        assert not again.changed

    def test_repoint_refuses_errant_and_lists_them(self) -> None:
        server = FakeMySQL(executed=f"{SOURCE_UUID}:1-100,{OWN_UUID}:1-7")
        with pytest.raises(OperationRefused) as err:
            adapter(server).repoint(SOURCE, "repl-pw-456", source_state())
        assert err.value.details == (f"{OWN_UUID}:1-7",)
        assert f"{OWN_UUID}:1-7" in str(err.value)
        assert server.replica is None and not any(q.startswith("CHANGE") for q, _ in server.log)

    def test_repoint_refuses_unreachable_source(self) -> None:
        down = ReplicationState.unreachable("127.0.1.1:3306", "mysql", "cannot connect")
        with pytest.raises(OperationRefused):
            adapter(FakeMySQL()).repoint(SOURCE, "pw", down)


def test_server_errant_leaves_out_the_source_uuid() -> None:
    node = adapter(FakeMySQL(executed=f"{SOURCE_UUID}:1-130,{OWN_UUID}:1"))
    source = ReplicationState(endpoint="127.0.1.1:3306", flavour="mysql", reachable=True, server_uuid=SOURCE_UUID,
                              gtid_executed=f"{SOURCE_UUID}:1-120")
    assert node.errant(node.observe(), source) == (f"{OWN_UUID}:1",)
