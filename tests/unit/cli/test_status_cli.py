"""`dnsdr status`: database rows from fake adapters; unreachable regions shown, not a crash."""

from __future__ import annotations

import json

import yaml
from click.testing import CliRunner

from dnsdr.adapters.backends import KINDS
from dnsdr.cli import status as status_mod
from dnsdr.domain.replication import Channel, ReplicationState, SemiSync
from dnsdr.domain.spec import DatabaseSpec
from dnsdr.domain.spec_parse import parse_designatedr
from tests.conftest import EXAMPLE


class FakeNode:
    def __init__(self, state: ReplicationState) -> None:
        self.state = state

    def observe(self) -> ReplicationState:
        return self.state


PRIMARY = ReplicationState(endpoint="127.0.1.1:3306", flavour="mariadb", reachable=True, server_id=1,
                           gtid_binlog_state="0-1-20", gtid_binlog_pos="0-1-20", gtid_current_pos="0-1-20",
                           gtid_strict_mode=True,
                           semi_sync=SemiSync(source_enabled=True, source_active=True, source_clients=1))
REPLICA = ReplicationState(endpoint="127.0.2.1:3306", flavour="mariadb", reachable=True, server_id=2, read_only=True,
                           gtid_binlog_state="0-1-18,0-2-19", gtid_current_pos="0-2-19", gtid_slave_pos="0-1-18",
                           gtid_strict_mode=True, semi_sync=SemiSync(replica_enabled=True, replica_active=True),
                           channel=Channel(source_host="127.0.1.1", source_port=3306, io_running="Yes",
                                           sql_running="Yes", lag_seconds=1.0))


def factory(states: dict[str, ReplicationState]):  # type: ignore[no-untyped-def]
    def make(spec: DatabaseSpec) -> FakeNode:
        return FakeNode(states[spec.endpoint.host])
    return make


def test_status_json_and_table(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    states = {"127.0.1.1": PRIMARY, "127.0.2.1": REPLICA}
    monkeypatch.setattr(status_mod, "_default_factory", factory(states))
    out = CliRunner().invoke(status_mod.status, ["-c", str(EXAMPLE), "-o", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    r1, r2 = data["databases"]
    assert r1["role"] == "primary" and r1["health"] == "healthy"
    assert r2["errant"] == ["0-2-..19"] and r2["health"] == "unhealthy" and r2["transactions_behind_primary"] == 1
    table = CliRunner().invoke(status_mod.status, ["-c", str(EXAMPLE)])
    assert table.exit_code == 0 and "r2" in table.output and "errant" in table.output


def test_unreachable_region_is_a_row(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    down = ReplicationState.unreachable("127.0.1.1:3306", "mariadb", "127.0.1.1:3306: cannot connect: refused")
    states = {"127.0.1.1": down, "127.0.2.1": REPLICA}
    monkeypatch.setattr(status_mod, "_default_factory", factory(states))
    out = CliRunner().invoke(status_mod.status, ["-c", str(EXAMPLE)])
    assert out.exit_code == 0, out.output
    assert "UNREACHABLE" in out.output and "cannot connect" in out.output


def test_missing_secret_is_a_row(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DNSDR_SECRETS_DIR", str(tmp_path))
    spec = parse_designatedr(yaml.safe_load(EXAMPLE.read_text()), KINDS)
    got = status_mod.database_status(spec)  # secrets do not exist on this machine
    assert [r["health"] for r in got] == ["unreachable", "unreachable"]
    assert all(r["state"]["error_kind"] == "configuration" for r in got)
