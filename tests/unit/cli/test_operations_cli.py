"""promote/switchover/rejoin at the CLI over fake databases: the dry-run verdict and its exit code,
nothing to do, credentials that do not resolve."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from click.testing import CliRunner

from dnsdr.app import operations as app_ops
from dnsdr.cli.main import cli
from dnsdr.domain.replication import Channel, ReplicationState
from dnsdr.domain.spec import DatabaseSpec, SecretLookup
from dnsdr.engine.runtime import Runtime
from tests.conftest import EXAMPLE


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


def promote(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["promote", "-c", str(EXAMPLE), "--state-dir", str(tmp_path), *args])
    return result.exit_code, result.output


def test_a_refused_dry_run_exits_4_and_changes_nothing(tmp_path: Path, states: dict[str, ReplicationState]) -> None:
    states.update({"127.0.1.1": WRITABLE, "127.0.2.1": REPLICA})
    code, out = promote(tmp_path, "--region", "r2", "--dry-run")
    assert code == 4, out
    assert "would be REFUSED" in out and "reachable and writable" in out and "Dry run: nothing was changed." in out
    assert not list(tmp_path.glob("*.journal.json"))


def test_an_allowed_dry_run_exits_0(tmp_path: Path, states: dict[str, ReplicationState]) -> None:
    stopped = ReplicationState(endpoint="127.0.2.1:3306", flavour="mariadb", reachable=True, server_id=2,
                               read_only=True, channel=Channel(source_host="127.0.1.1", source_port=3306))
    states.update({"127.0.1.1": DOWN, "127.0.2.1": stopped})
    code, out = promote(tmp_path, "--region", "r2", "--dry-run")
    assert code == 0, out
    assert "Safety verdict now: allowed" in out and "could not be fenced" in out


def test_promoting_the_primary_is_nothing_to_do(tmp_path: Path, states: dict[str, ReplicationState]) -> None:
    code, out = promote(tmp_path, "--region", "r1", "--yes")
    assert code == 0 and "r1 is already the primary" in out


def test_an_unknown_region_is_invalid_input(tmp_path: Path, states: dict[str, ReplicationState]) -> None:
    code, out = promote(tmp_path, "--region", "r9", "--dry-run")
    assert code == 1 and "unknown candidate region 'r9'" in out and "Traceback" not in out


def test_unresolvable_credentials_fail_before_anything(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["promote", "-c", str(EXAMPLE), "--state-dir", str(tmp_path), "--region", "r2",
                                      "--secrets-dir", str(tmp_path / "none"), "--yes"])
    assert result.exit_code == 1 and "cannot resolve a database credential" in result.output
    assert not list(tmp_path.glob("*.journal.json"))
