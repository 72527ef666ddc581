"""promote/switchover/rejoin at the CLI over fake databases: the dry-run verdict and its exit code,
nothing to do, credentials that do not resolve."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dnsdr.app import operations as app_ops
from dnsdr.cli.main import cli
from dnsdr.domain.replication import Channel, ReplicationState
from dnsdr.domain.spec import DatabaseSpec, SecretLookup
from dnsdr.engine.runtime import Runtime
from tests.conftest import EXAMPLE
from tests.unit.cli.conftest import Runnable


class FakeNode:
    def __init__(self, state: ReplicationState) -> None:
        self.state = state

    def observe(self) -> ReplicationState:
        return self.state


WRITABLE = ReplicationState(endpoint="127.0.1.1:3306", flavour="mariadb", reachable=True, server_id=1)
REPLICA = ReplicationState(endpoint="127.0.2.1:3306", flavour="mariadb", reachable=True, server_id=2, read_only=True,
                           channel=Channel(source_host="127.0.1.1", source_port=3306, io_running="Yes",
                                           sql_running="Yes"))
DOWN = ReplicationState.unreachable("127.0.1.1:3306", "mariadb", "refused")


@pytest.fixture
def states(monkeypatch: pytest.MonkeyPatch) -> dict[str, ReplicationState]:
    found: dict[str, ReplicationState] = {}

    def node(spec: DatabaseSpec, resolver: SecretLookup) -> FakeNode:
        return FakeNode(found[spec.endpoint.host])

    monkeypatch.setattr(app_ops, "Runtime", functools.partial(Runtime, node_factory=node))
    return found


def promote(env: Runnable, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["promote", *env.args(), *args])
    return result.exit_code, result.output


def test_a_refused_dry_run_exits_4_and_changes_nothing(runnable: Runnable, states: dict[str, ReplicationState]) -> None:
    states.update({"127.0.1.1": WRITABLE, "127.0.2.1": REPLICA})
    code, out = promote(runnable, "--region", "r2", "--dry-run")
    assert code == 4, out
    assert "would be REFUSED" in out and "reachable and writable" in out and "Dry run: nothing was changed." in out
    assert "Preflight: ok" in out
    assert not runnable.state.exists() or not list(runnable.state.glob("*.journal.json"))


def test_an_allowed_dry_run_exits_0(runnable: Runnable, states: dict[str, ReplicationState]) -> None:
    stopped = ReplicationState(endpoint="127.0.2.1:3306", flavour="mariadb", reachable=True, server_id=2,
                               read_only=True, channel=Channel(source_host="127.0.1.1", source_port=3306))
    states.update({"127.0.1.1": DOWN, "127.0.2.1": stopped})
    code, out = promote(runnable, "--region", "r2", "--dry-run")
    assert code == 0, out
    assert "Preflight: ok (credentials, control commands, rendered pools (dnsdr), rendered pools (Designate's parser)" \
        in out
    assert "Safety verdict now: allowed" in out and "could not be fenced" in out


def test_promoting_the_primary_is_nothing_to_do(runnable: Runnable, states: dict[str, ReplicationState]) -> None:
    code, out = promote(runnable, "--region", "r1", "--yes")
    assert code == 0 and "r1 is already the primary" in out


def test_an_unknown_region_is_invalid_input(runnable: Runnable, states: dict[str, ReplicationState]) -> None:
    code, out = promote(runnable, "--region", "r9", "--dry-run")
    assert code == 1 and "unknown candidate region 'r9'" in out and "Traceback" not in out


def test_preflight_lists_every_problem_and_refuses_before_anything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   states: dict[str, ReplicationState]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))  # the example's ansible-playbook is not installed
    states.update({"127.0.1.1": DOWN, "127.0.2.1": REPLICA})
    result = CliRunner().invoke(cli, ["promote", "-c", str(EXAMPLE), "--state-dir", str(tmp_path / "state"),
                                      "--region", "r2", "--secrets-dir", str(tmp_path / "none"), "--yes"])
    assert result.exit_code == 4, result.output
    assert "preflight failed, nothing was changed" in result.output
    assert "r1 database password: cannot read secret dnsdr-credentials/r1-db-password" in result.output
    assert "backend r2-bind credential" in result.output
    assert "the 'repoint' command's program 'ansible-playbook' is not found" in result.output
    assert "command template" not in result.output  # the example's designate-{services} is a valid template
    assert not (tmp_path / "state").exists() or not list((tmp_path / "state").glob("*.journal.json"))


def test_a_dry_run_shows_the_preflight_and_exits_4_when_it_fails(tmp_path: Path,
                                                                 states: dict[str, ReplicationState]) -> None:
    states.update({"127.0.1.1": DOWN, "127.0.2.1": REPLICA})
    result = CliRunner().invoke(cli, ["promote", "-c", str(EXAMPLE), "--state-dir", str(tmp_path / "state"),
                                      "--region", "r2", "--secrets-dir", str(tmp_path / "none"), "--dry-run"])
    assert result.exit_code == 4
    assert "Preflight: FAILED" in result.output and "not evaluated (preflight failed)" in result.output


def test_an_unusable_state_store_stops_before_anything(runnable: Runnable,
                                                        states: dict[str, ReplicationState]) -> None:
    states.update({"127.0.1.1": DOWN, "127.0.2.1": REPLICA})
    runnable.state.parent.mkdir(exist_ok=True)
    runnable.state.write_text("a file where the state directory should be")
    code, out = promote(runnable, "--region", "r2", "--dry-run")
    assert code == 1 and f"cannot read state record {runnable.state}/example.cluster.json: Not a directory" in out
    assert "Traceback" not in out


def test_the_preflight_checks_the_state_store_is_writable(runnable: Runnable) -> None:
    from dnsdr.adapters.state import FileStateStore, StateStoreError
    from dnsdr.app.preflight import preflight
    from dnsdr.app.settings import Settings, load_spec
    from dnsdr.domain.plan import failover_plan

    class ReadOnly(FileStateStore):
        def check_writable(self) -> None:
            raise StateStoreError(f"state directory {self.directory} is not writable: Read-only file system")

    spec = load_spec(str(runnable.spec))
    report = preflight(spec, failover_plan(spec, "r1", "r2"), ReadOnly(runnable.state, spec.name),
                       Settings(secrets_dir=runnable.secrets).resolver)
    assert report.problems == (f"state store: state directory {runnable.state} is not writable: "
                               "Read-only file system",)


def test_a_rejoin_over_a_divergence_lists_it_and_the_force_adds_the_rebuild(
        runnable: Runnable, monkeypatch: pytest.MonkeyPatch) -> None:
    from dnsdr.adapters.state import FileStateStore
    from dnsdr.domain.divergence import Change, ChangeKind, Divergence, Value
    from dnsdr.domain.journal import ClusterRecord
    from tests.unit.engine.fakes import FakeRebuilder

    lost = Divergence("r1", "r2", ("0-1-101",), "binlog", None, (Change(
        ChangeKind.RECORDSET_CREATED, "a.test.", "lost.a.test.", "A", Value(120, ("192.0.2.77",)), None),))
    back = ReplicationState(endpoint="127.0.1.1:3306", flavour="mariadb", reachable=True, server_id=1, read_only=True,
                            gtid_binlog_state="0-1-101", gtid_binlog_pos="0-1-101", gtid_current_pos="0-1-101")
    primary = ReplicationState(endpoint="127.0.2.1:3306", flavour="mariadb", reachable=True, server_id=2,
                               gtid_binlog_state="0-1-100,0-2-105", gtid_binlog_pos="0-2-105",
                               gtid_current_pos="0-2-105")
    found = {"127.0.1.1": back, "127.0.2.1": primary}
    monkeypatch.setattr(app_ops, "Runtime", functools.partial(
        Runtime, node_factory=lambda spec, _: FakeNode(found[spec.endpoint.host]), rebuilder=FakeRebuilder(lost)))
    FileStateStore(runnable.state, "example").save_cluster(ClusterRecord(primary="r2", epoch=1, lost=["r1"]))
    result = CliRunner().invoke(cli, ["rejoin", *runnable.args(), "--region", "r1", "--dry-run", "-o", "json"])
    assert result.exit_code == 4, result.output
    doc = json.loads(result.output)
    assert [c["name"] for c in doc["divergence"]["changes"]] == ["lost.a.test."]
    assert any("lost.a.test. A created: [192.0.2.77] ttl 120" in r for r in doc["verdict"]["refusals"])
    assert "rebuild-r1" not in [s["name"] for s in doc["plan"]]
    forced = CliRunner().invoke(cli, ["rejoin", *runnable.args(), "--region", "r1", "--dry-run",
                                      "--force", "discard-divergence"])
    assert forced.exit_code == 0, forced.output
    assert "rebuild-r1" in forced.output and "divergent writes are DISCARDED" in forced.output
    assert "forced past: r1's Designate database holds 1 change r2 never received" in forced.output
