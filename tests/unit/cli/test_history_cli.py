"""`dnsdr history` and `dnsdr journal abandon` over a real state directory."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from dnsdr.adapters.state import FileStateStore
from dnsdr.cli.main import cli
from dnsdr.domain.journal import Journal, Outcome, StepRecord, StepStatus
from tests.conftest import EXAMPLE


def invoke(state: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args[:1], *(args[1:2] if args[0] == "journal" else ()), "-c", str(EXAMPLE),
                                      "--state-dir", str(state), *args[2 if args[0] == "journal" else 1:]])
    return result.exit_code, result.output


def test_history_lists_finished_runs_newest_first_with_timelines(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path, "example")
    for i, op in enumerate(("failover", "rejoin")):
        store.save_journal(Journal(f"run{i}", op, "r1", "r2", "f", 1000.0 + i, outcome=Outcome.SUCCEEDED,
                                   finished_at=1010.0 + i, epoch=1,
                                   steps=[StepRecord("assess", StepStatus.DONE, 1000.0 + i, 1001.0 + i)]))
    code, out = invoke(tmp_path, "history")
    assert code == 0
    assert out.index("run1") < out.index("run0") and "rejoin r1->r2  succeeded  10.00 s  epoch 1" in out
    assert "1.00 s  done     assess" in out
    code, out = invoke(tmp_path, "history", "-o", "json", "--limit", "1")
    runs = json.loads(out)
    assert code == 0 and [r["run_id"] for r in runs] == ["run1"] and runs[0]["steps"][0]["seconds"] == 1.0


def test_abandon_needs_an_unfinished_run_and_confirmation(tmp_path: Path) -> None:
    code, out = invoke(tmp_path, "journal", "abandon", "--yes")
    assert code == 1 and "no unfinished run" in out
    store = FileStateStore(tmp_path, "example")
    store.save_journal(Journal("stuck1", "failover", "r1", "r2", "f", 1.0, outcome=Outcome.FAILED,
                               steps=[StepRecord("promote", StepStatus.DONE), StepRecord("apply-pools",
                                                                                        StepStatus.FAILED)]))
    code, out = invoke(tmp_path, "journal", "abandon")  # no terminal: refuses without --yes
    assert code == 1 and "pass --yes" in out
    assert store.load_journal() is not None and store.load_journal().outcome is Outcome.FAILED  # type: ignore[union-attr]
    code, out = invoke(tmp_path, "journal", "abandon", "--yes")
    assert code == 0 and "steps in effect: promote" in out and "run stuck1 abandoned" in out
    journal = store.load_journal()
    assert journal is not None and journal.outcome is Outcome.ABANDONED
    assert [j.run_id for j in store.history()] == ["stuck1"]
