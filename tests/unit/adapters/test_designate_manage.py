"""designate-manage pool update: the pool stored without touching every zone, in designate-manage's own
interpreter; the full update when that is not possible or for a dry run."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from dnsdr.adapters import designate_manage
from dnsdr.adapters.designate_manage import WITHOUT_ZONES, pool_update, python_of


def script(tmp_path: Path, first_line: str) -> Path:
    path = tmp_path / "designate-manage"
    path.write_text(first_line + "\nimport sys\n")
    path.chmod(0o755)
    return path


def test_the_interpreter_comes_from_the_scripts_first_line(tmp_path: Path) -> None:
    direct = script(tmp_path, "#!/usr/bin/python3")
    assert python_of(str(direct)) == "/usr/bin/python3"
    via_env = script(tmp_path, "#!/usr/bin/env python3")
    found = python_of(str(via_env))
    assert found is not None and found.endswith("python3")
    shell = script(tmp_path, "#!/bin/sh")
    assert python_of(str(shell)) is None
    assert python_of(str(tmp_path / "absent")) is None


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    seen: list[list[str]] = []

    def run(argv: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        seen.append(list(argv))
        return subprocess.CompletedProcess(argv, 0, "Updated", "")

    monkeypatch.setattr(designate_manage.subprocess, "run", run)
    return seen


def test_the_pool_is_stored_without_touching_zones(tmp_path: Path, runs: list[list[str]]) -> None:
    manage = script(tmp_path, "#!/usr/bin/python3")
    result = pool_update([str(manage), "--config-file", "/etc/designate.conf"], "- name: default\n", [],
                         dry_run=False, touch_zones=False)
    argv = runs[0]
    assert argv[:3] == ["/usr/bin/python3", "-c", WITHOUT_ZONES]
    assert argv[3:6] == ["--config-file", "/etc/designate.conf", "pool"] and argv[6:8] == ["update", "--file"]
    assert not result.zones_touched


def test_a_dry_run_or_a_non_python_designate_manage_runs_the_command_itself(tmp_path: Path,
                                                                            runs: list[list[str]]) -> None:
    manage = script(tmp_path, "#!/bin/sh")
    result = pool_update([str(manage)], "- name: default\n", [], dry_run=False, touch_zones=False)
    assert runs[0][0] == str(manage) and result.zones_touched
    python = script(tmp_path, "#!/usr/bin/python3")
    pool_update([str(python)], "- name: default\n", [], dry_run=True, touch_zones=False)
    assert runs[1][0] == str(python) and runs[1][-1] == "--dry-run"


def test_the_no_op_replaces_designates_per_zone_update() -> None:
    assert "pool.PoolCommands._update_zones = lambda self, pool: None" in WITHOUT_ZONES
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from designate.manage import pool  # the name it patches must exist in the installed Designate
    assert callable(pool.PoolCommands._update_zones)
