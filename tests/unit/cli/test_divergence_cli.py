"""``dnsdr divergence`` at the command line: the table, JSON, the private export and the exit codes
(the comparison and the replay are the app layer's, replaced here)."""

from __future__ import annotations

import json
import stat
from typing import Any

import pytest
from click.testing import CliRunner

from dnsdr.app.divergence import Replayed
from dnsdr.cli import divergence as cli_divergence
from dnsdr.cli.main import cli
from dnsdr.domain.divergence import Change, ChangeKind, Divergence, Value
from dnsdr.domain.errors import RetryLater
from tests.unit.cli.conftest import Runnable

CREATED = Change(ChangeKind.RECORDSET_CREATED, "a.test.", "lost.a.test.", "A", Value(120, ("192.0.2.77",)), None,
                 False, "p1", "written by an errant transaction (binlog)")
CONFLICT = Change(ChangeKind.RECORDSET_CHANGED, "a.test.", "x.a.test.", "A", Value(None, ("192.0.2.1",)),
                  Value(None, ("192.0.2.2",)), True, "p1")
LOST = Divergence("r1", "r2", ("0-1-101..103",), "binlog", None, (CREATED, CONFLICT), 4,
                  ("designate.recordsets", "designate.service_statuses"))


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    seen: list[Any] = []

    def find(spec: Any, store: Any, resolver: Any, region: str) -> Divergence:
        seen.append(("find", region))
        if region == "r9":
            raise RetryLater("r9's database is unreachable: refused")
        return LOST if region == "r1" else Divergence("r3", "r2")

    def replay(spec: Any, store: Any, d: Divergence, apply: bool, **kw: Any) -> list[Replayed]:
        seen.append(("replay", apply, kw["timeout"]))
        return [Replayed(CREATED, "created" if apply else "would create", apply),
                Replayed(CONFLICT, "not replayed (conflict)")]

    monkeypatch.setattr(cli_divergence, "find", find)
    monkeypatch.setattr(cli_divergence, "replay", replay)
    return seen


def run(env: Runnable, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["divergence", *env.args(), *args])
    return result.exit_code, result.output


def test_the_table_names_each_change_with_both_values_and_exits_3(runnable: Runnable, calls: list[Any]) -> None:
    code, out = run(runnable, "--region", "r1")
    assert code == 3, out
    assert "r1 holds transactions r2 lacks: 0-1-101..103 (they wrote designate.recordsets, " \
           "designate.service_statuses)" in out
    assert "2 Designate changes on r1 never reached r2; not losses: 4 changes r2 made since the split (attributed by binlog)" in out
    header = next(line for line in out.splitlines() if line.startswith("ZONE"))
    assert header.split() == ["ZONE", "RECORDSET", "CHANGE", "ON", "R1", "ON", "R2", "(PRIMARY)"]
    assert any(line.split()[:5] == ["a.test.", "lost.a.test.", "A", "created", "[192.0.2.77]"]
               and line.rstrip().endswith("absent") for line in out.splitlines())
    assert calls == [("find", "r1")]  # no replay unless asked


def test_json_and_the_export_carry_the_same_changes_in_a_private_file(runnable: Runnable, calls: list[Any],
                                                                      tmp_path: Any) -> None:
    export = tmp_path / "out.json"
    code, out = run(runnable, "--region", "r1", "-o", "json", "--export", str(export))
    assert code == 3
    doc = json.loads(out)
    assert doc["changes"][0]["old"] == {"ttl": 120, "records": ["192.0.2.77"], "email": ""}
    assert doc["replay"] is None and doc["exported"] == str(export)
    assert stat.S_IMODE(export.stat().st_mode) == 0o600
    saved = json.loads(export.read_text())
    assert saved["changes"] == doc["changes"] and saved["spec"] == "example" and saved["generated_at"].endswith("Z")


def test_replay_is_a_dry_run_without_yes(runnable: Runnable, calls: list[Any]) -> None:
    code, out = run(runnable, "--region", "r1", "--replay")
    assert code == 3 and ("replay", False, 180.0) in calls
    assert "(dry run: nothing was changed; add --yes to apply)" in out and "would create" in out
    code, out = run(runnable, "--region", "r1", "--replay", "--yes", "--timeout", "30")
    assert ("replay", True, 30.0) in calls and "created" in out
    assert code == 3  # the conflict remains, for a person to resolve


def test_nothing_lost_exits_0_and_errors_are_one_line(runnable: Runnable, calls: list[Any]) -> None:
    code, out = run(runnable, "--region", "r3", "--replay", "--yes")
    assert code == 0 and "r3 holds no transaction r2 lacks: nothing was lost." in out
    assert all(c[0] == "find" for c in calls)  # nothing to replay
    code, out = run(runnable, "--region", "r9")
    assert code == 1 and out.strip() == "error: r9's database is unreachable: refused"
