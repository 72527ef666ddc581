"""Pure replication logic: GTID parsing, errant rules for both dialects, health verdicts, JSON."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dnsdr.domain import gtid
from dnsdr.domain.replication import (
    Channel,
    Health,
    ReplicationState,
    SemiSync,
    assess,
    errant_transactions,
    self_written,
    to_view,
    transactions_behind,
)

U1 = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
U2 = "4f22ab58-71ca-11e1-9e33-c80aa9429563"


def maria(binlog_state: str, current: str | None = None, slave: str = "", **kw: object) -> ReplicationState:
    cur = current if current is not None else ",".join(
        str(g) for g in gtid.by_domain(gtid.parse_mariadb_gtids(binlog_state)).values())
    return ReplicationState(endpoint="h:3306", flavour="mariadb", reachable=True, gtid_binlog_state=binlog_state,
                            gtid_binlog_pos=cur, gtid_current_pos=cur, gtid_slave_pos=slave,
                            gtid_strict_mode=True, **kw)  # type: ignore[arg-type]


def mysql(executed: str, **kw: object) -> ReplicationState:
    return ReplicationState(endpoint="h:3306", flavour="mysql", reachable=True, gtid_executed=executed,
                            **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------ MariaDB GTID lists


def test_parse_mariadb_list() -> None:
    assert gtid.parse_mariadb_gtids("0-1-10,1-2-5") == (gtid.MariaGtid(0, 1, 10), gtid.MariaGtid(1, 2, 5))
    assert gtid.parse_mariadb_gtids("") == ()
    assert gtid.parse_mariadb_gtids(None) == ()
    assert gtid.parse_mariadb_gtids(" 0-1-10 ,\n1-2-5") == gtid.parse_mariadb_gtids("1-2-5,0-1-10")
    with pytest.raises(gtid.GtidParseError):
        gtid.parse_mariadb_gtids("0-1")


def test_mariadb_missing_and_distance() -> None:
    ahead = gtid.parse_mariadb_gtids("0-1-15,1-1-3")
    behind = gtid.parse_mariadb_gtids("0-1-10")
    assert gtid.mariadb_distance(ahead, behind) == 8
    assert gtid.mariadb_missing(ahead, behind) == "0-1-11..15,1-1-1..3"
    assert gtid.mariadb_missing(behind, ahead) == ""
    assert gtid.mariadb_missing(gtid.parse_mariadb_gtids("0-1-11"), behind) == "0-1-11"


class TestMariaErrant:
    """The scenarios the rule is designed for (module docstring of dnsdr.domain.gtid)."""

    def test_healthy_replica_has_none(self) -> None:
        primary = maria("0-1-120")
        replica = maria("0-1-118", slave="0-1-118")
        assert errant_transactions(replica, primary) == ()

    def test_write_on_replica_is_errant(self) -> None:
        primary = maria("0-1-100")
        replica = maria("0-1-100,0-2-101", slave="0-1-100")
        assert errant_transactions(replica, primary) == ("0-2-..101",)

    def test_errant_hidden_behind_a_higher_domain_position(self) -> None:
        # Replica wrote 0-2-101, the primary later went on to 0-1-150: per-domain positions alone would
        # call the replica merely "behind"; the per-server rule still finds 0-2-101.
        primary = maria("0-1-150")
        replica = maria("0-1-100,0-2-101")
        assert errant_transactions(replica, primary) == ("0-2-..101",)

    def test_old_primary_unshipped_tail(self) -> None:
        # r1 wrote up to 0-1-105, r2 only received 0-1-100, was promoted and wrote to 0-2-150.
        new_primary = maria("0-1-100,0-2-150", slave="0-1-100")
        old_primary = maria("0-1-105")
        assert errant_transactions(old_primary, new_primary) == ("0-1-101..105",)
        assert errant_transactions(new_primary, old_primary) == ("0-2-..150",)

    def test_after_switchover_both_histories_known(self) -> None:
        new_primary = maria("0-1-100,0-2-150", slave="0-1-100")
        old_primary_replicating = maria("0-1-100,0-2-140", slave="0-2-140")
        assert errant_transactions(old_primary_replicating, new_primary) == ()

    def test_source_knows_position_only_from_slave_pos(self) -> None:
        # A source without binlog history (restored backup) that applied up to 0-1-100.
        source = maria("", current="0-1-100", slave="0-1-100")
        assert errant_transactions(maria("0-1-100"), source) == ()
        assert errant_transactions(maria("0-1-101"), source) == ("0-1-101",)

    def test_other_domain_unknown_to_source(self) -> None:
        assert errant_transactions(maria("0-1-10,7-2-3"), maria("0-1-10")) == ("7-2-..3",)

    def test_unreachable_is_an_error(self) -> None:
        with pytest.raises(ValueError):
            errant_transactions(ReplicationState.unreachable("h:1", "mariadb", "down"), maria("0-1-1"))


# ------------------------------------------------------------------ MySQL GTID sets


def test_parse_mysql_set_with_newlines_and_tags() -> None:
    text = f"{U1}:1-5:7-9,\n{U2.upper()}:3,{U2}:4-6,{U1}:tag_a:1-2"
    parsed = gtid.parse_gtid_set(text)
    assert parsed == {U1: ((1, 5), (7, 9)), U2: ((3, 6),), f"{U1}:tag_a": ((1, 2),)}
    assert gtid.format_gtid_set(parsed) == f"{U1}:1-5:7-9,{U1}:tag_a:1-2,{U2}:3-6"
    assert gtid.count_gtid_set(parsed) == 5 + 3 + 4 + 2


@pytest.mark.parametrize("bad", ["nope:1-3", f"{U1}:5-3", f"{U1}:0", f"{U1}:x-y"])
def test_parse_mysql_set_rejects(bad: str) -> None:
    with pytest.raises(gtid.GtidParseError):
        gtid.parse_gtid_set(bad)


def test_mysql_errant_is_gtid_subtract() -> None:
    candidate = mysql(f"{U1}:1-100,{U2}:1-3")
    source = mysql(f"{U1}:1-90:95-120")
    assert errant_transactions(candidate, source) == (f"{U1}:91-94", f"{U2}:1-3")
    assert errant_transactions(source, mysql(f"{U1}:1-120")) == ()


intervals = st.lists(st.tuples(st.integers(1, 60), st.integers(0, 10)).map(lambda t: (t[0], t[0] + t[1])),
                     max_size=5)


def _members(gs: gtid.GtidSet) -> set[tuple[str, int]]:
    return {(k, n) for k, ivs in gs.items() for a, b in ivs for n in range(a, b + 1)}


@given(intervals, intervals, intervals)
def test_subtract_matches_set_semantics(a1: list[tuple[int, int]], a2: list[tuple[int, int]],
                                        b1: list[tuple[int, int]]) -> None:
    def text(u: str, ivs: list[tuple[int, int]]) -> str:
        return f"{u}:" + ":".join(f"{x}-{y}" for x, y in ivs) if ivs else ""

    a = gtid.parse_gtid_set(",".join(t for t in (text(U1, a1), text(U2, a2)) if t))
    b = gtid.parse_gtid_set(text(U1, b1))
    diff = gtid.subtract_gtid_sets(a, b)
    assert _members(diff) == _members(a) - _members(b)
    assert gtid.parse_gtid_set(gtid.format_gtid_set(diff)) == diff


# ------------------------------------------------------------------ health verdicts


def channel(**kw: object) -> Channel:
    base: dict[str, object] = dict(source_host="127.0.1.1", source_port=3306, io_running="Yes", sql_running="Yes",
                                   lag_seconds=0.0, heartbeat_period=1.0, heartbeat_age_seconds=0.5)
    base.update(kw)
    return Channel(**base)  # type: ignore[arg-type]


REPLICA_SEMI = SemiSync(replica_enabled=True, replica_active=True)
PRIMARY_SEMI = SemiSync(source_enabled=True, source_active=True, source_clients=1)


def test_healthy_pair() -> None:
    primary = maria("0-1-5", semi_sync=PRIMARY_SEMI)
    replica = maria("0-1-5", read_only=True, channel=channel(), semi_sync=REPLICA_SEMI)
    assert assess(primary, expect_replica=False, semi_sync_required=True).health is Health.HEALTHY
    assert assess(replica, expect_replica=True, semi_sync_required=True).health is Health.HEALTHY


def test_connecting_channel_is_unhealthy() -> None:
    replica = maria("0-1-5", read_only=True,
                    channel=channel(io_running="Connecting", last_io_errno=2003, last_io_error="can't connect"))
    a = assess(replica, expect_replica=True)
    assert a.health is Health.UNHEALTHY
    assert "Connecting" in a.reasons[0] and "2003" in a.reasons[0]
    assert to_view("r2", replica).source_alive is False


def test_stale_heartbeat_with_io_yes_is_unhealthy() -> None:
    replica = maria("0-1-5", read_only=True, channel=channel(heartbeat_age_seconds=10.0))
    a = assess(replica, expect_replica=True)
    assert a.health is Health.UNHEALTHY and "heartbeat" in a.reasons[0]
    view = to_view("r2", replica)
    assert not view.source_alive and not view.replication_running


def test_sql_error_lag_and_writable_replica() -> None:
    broken = maria("0-1-5", read_only=True, channel=channel(sql_running="No", last_sql_errno=1062,
                                                            last_sql_error="Duplicate entry"))
    assert assess(broken).health is Health.UNHEALTHY
    lagging = maria("0-1-5", read_only=True, channel=channel(lag_seconds=30.0))
    assert assess(lagging, max_lag_seconds=10).health is Health.DEGRADED
    writable = maria("0-1-5", read_only=False, channel=channel())
    assert "writable" in assess(writable).reasons[0]


def test_semi_sync_fallback_is_degraded() -> None:
    fell = maria("0-1-5", semi_sync=SemiSync(source_enabled=True, source_active=False))
    a = assess(fell, expect_replica=False)
    assert a.health is Health.DEGRADED and "async" in a.reasons[0]
    assert fell.to_dict()["semi_sync"]["fell_back_to_async"] is True
    required = maria("0-1-5", semi_sync=SemiSync())
    assert assess(required, semi_sync_required=True).health is Health.DEGRADED


def test_unreachable_and_missing_channel() -> None:
    down = ReplicationState.unreachable("h:1", "mariadb", "cannot connect", "unreachable")
    assert assess(down).health is Health.UNREACHABLE
    assert to_view("r1", down).reachable is False
    assert assess(maria("0-1-5"), expect_replica=True).health is Health.UNHEALTHY


def test_state_json_round_trip() -> None:
    state = maria("0-1-5,0-2-6", slave="0-1-5", read_only=True, channel=channel(), semi_sync=REPLICA_SEMI)
    data = json.loads(json.dumps(state.to_dict()))
    assert data["is_replica"] is True and data["channel"]["heartbeat_stale"] is False
    assert ReplicationState.from_dict(data) == state


def test_transactions_behind() -> None:
    assert transactions_behind(maria("0-1-100", slave="0-1-100"), maria("0-1-110")) == 10
    assert transactions_behind(mysql(f"{U1}:1-100"), mysql(f"{U1}:1-110,{U2}:1-2")) == 12
    assert transactions_behind(maria("0-1-1"), ReplicationState.unreachable("h:1", "mariadb", "x")) is None


def test_source_own_transactions_are_never_errant() -> None:
    # The primary (server 1) was observed a moment before the replica, which already applied 0-1-101.
    primary = maria("0-1-100", server_id=1)
    replica = maria("0-1-101", slave="0-1-101", server_id=2)
    assert errant_transactions(replica, primary) == ()
    # ...but a returning old primary's own tail is errant against the new primary (server 2).
    assert errant_transactions(maria("0-1-105", server_id=1), maria("0-1-100,0-2-150", server_id=2)) == ("0-1-101..105",)
    m_source = mysql(f"{U1}:1-100", server_uuid=U1)
    assert errant_transactions(mysql(f"{U1}:1-101,{U2}:1"), m_source) == (f"{U2}:1",)


def test_self_written_gtids_of_a_replica_are_errant_without_its_source() -> None:
    replica = ReplicationState(endpoint="r2", flavour="mariadb", reachable=True, server_id=2, read_only=True,
                               gtid_binlog_pos="0-1-18,1-2-4", channel=Channel(source_host="r1", source_port=3306))
    assert self_written(replica) == ("1-2-4",)
    clean = ReplicationState(endpoint="r2", flavour="mariadb", reachable=True, server_id=2, read_only=True,
                             gtid_binlog_pos="0-1-18", channel=Channel(source_host="r1", source_port=3306))
    assert self_written(clean) == ()
    not_a_replica = ReplicationState(endpoint="r1", flavour="mariadb", reachable=True, server_id=2,
                                     gtid_binlog_pos="0-2-9")
    assert self_written(not_a_replica) == ()
    mysql = ReplicationState(endpoint="m", flavour="mysql", reachable=True, server_id=2, gtid_binlog_pos="0-2-9",
                             channel=Channel(source_host="r1", source_port=3306))
    assert self_written(mysql) == ()
    garbage = ReplicationState(endpoint="r2", flavour="mariadb", reachable=True, server_id=2,
                               gtid_binlog_pos="not-a-gtid", channel=Channel(source_host="r1", source_port=3306))
    assert self_written(garbage) == ()


def test_a_primary_with_the_after_commit_wait_point_is_degraded() -> None:
    primary = ReplicationState(endpoint="r1", flavour="mariadb", reachable=True, server_id=1, gtid_strict_mode=True,
                               semi_sync=SemiSync(source_enabled=True, source_active=True, source_clients=1,
                                                  wait_point="AFTER_COMMIT"))
    verdict = assess(primary, expect_replica=False)
    assert verdict.health.value == "degraded"
    assert any("wait point is AFTER_COMMIT" in r for r in verdict.reasons)
    safe = ReplicationState(endpoint="r1", flavour="mariadb", reachable=True, server_id=1, gtid_strict_mode=True,
                            semi_sync=SemiSync(source_enabled=True, source_active=True, source_clients=1,
                                               wait_point="AFTER_SYNC"))
    assert assess(safe, expect_replica=False).health.value == "healthy"
