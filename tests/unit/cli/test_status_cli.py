"""`dnsdr status`: database rows from fake adapters; unreachable regions shown, not a crash; the
recorded state, disagreements and an unfinished run are shown."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest
from click.testing import CliRunner

from dnsdr.adapters.secrets import resolve
from dnsdr.adapters.state import FileStateStore
from dnsdr.app import observe as observe_mod
from dnsdr.app.observe import Observer
from dnsdr.app.settings import load_spec
from dnsdr.cli.status import status
from dnsdr.domain.journal import ClusterRecord, Journal, StepRecord, StepStatus
from dnsdr.domain.replication import Channel, ReplicationState, SemiSync
from dnsdr.domain.spec import DatabaseSpec, SecretLookup
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
    def make(spec: DatabaseSpec, resolver: SecretLookup) -> FakeNode:
        return FakeNode(states[spec.endpoint.host])
    return make


@pytest.fixture
def fake_states(monkeypatch: pytest.MonkeyPatch) -> dict[str, ReplicationState]:
    states: dict[str, ReplicationState] = {}
    monkeypatch.setattr(observe_mod, "default_factory", factory(states))
    return states


def run(tmp_path: Path, *args: str) -> tuple[int, str]:
    out = CliRunner().invoke(status, ["-c", str(EXAMPLE), "--state-dir", str(tmp_path), "--no-serials", *args])
    return out.exit_code, out.output


def test_status_json_and_table(fake_states: dict[str, ReplicationState], tmp_path: Path) -> None:
    fake_states.update({"127.0.1.1": PRIMARY, "127.0.2.1": REPLICA})
    code, output = run(tmp_path, "-o", "json")
    assert code == 0, output
    data = json.loads(output)
    r1, r2 = data["databases"]
    assert r1["role"] == "primary" and r1["health"] == "healthy"
    assert r2["errant"] == ["0-2-..19"] and r2["health"] == "unhealthy" and r2["transactions_behind_primary"] == 1
    assert data["agreement"]["agrees"] and data["epoch"] is None
    code, table = run(tmp_path)
    assert code == 0 and "r2" in table and "errant" in table and "no operation recorded" in table


def test_unreachable_region_is_a_row(fake_states: dict[str, ReplicationState], tmp_path: Path) -> None:
    down = ReplicationState.unreachable("127.0.1.1:3306", "mariadb", "127.0.1.1:3306: cannot connect: refused")
    fake_states.update({"127.0.1.1": down, "127.0.2.1": REPLICA})
    code, output = run(tmp_path)
    assert code == 0, output
    assert "UNREACHABLE" in output and "cannot connect" in output


def test_missing_secret_is_a_row(tmp_path: Path) -> None:
    spec = load_spec(str(EXAMPLE))
    observer = Observer(spec, partial(resolve, directory=tmp_path))  # secrets do not exist there
    obs = observer.observe(with_serials=False)
    assert [r.health for r in obs.databases] == ["unreachable", "unreachable"]
    assert all(r.state.error_kind == "configuration" for r in obs.databases)


def test_recorded_epoch_disagreement_and_unfinished_run_are_shown(fake_states: dict[str, ReplicationState],
                                                                  tmp_path: Path) -> None:
    fake_states.update({"127.0.1.1": PRIMARY, "127.0.2.1": REPLICA})
    store = FileStateStore(tmp_path, "example")
    store.save_cluster(ClusterRecord(primary="r2", epoch=4, lost=["r1"]))
    store.save_journal(Journal("abc123", "rejoin", "r1", "r2", "f", 1.0, steps=[
        StepRecord("assess", StepStatus.DONE), StepRecord("replicate-r1", StepStatus.FAILED, detail="boom")]))
    code, output = run(tmp_path)
    assert code == 0, output
    assert "recorded primary r2, epoch 4, lost r1" in output
    assert "DISAGREE: the servers say r1 is primary, the recorded state says r2" in output
    assert "UNFINISHED: rejoin r1->r2 (run abc123)" in output and "replicate-r1: boom" in output
    assert "journal abandon" in output
    data = json.loads(run(tmp_path, "-o", "json")[1])
    assert data["epoch"] == 4 and not data["agreement"]["agrees"]
    assert data["unfinished_operation"]["stopped_at"] == "replicate-r1"
