"""Offline checks of the playbooks: ansible-lint (production profile), --syntax-check of every
playbook against the example inventory, and the lint configuration covering every playbook.
No lab, no network."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.integration.playbooks.conftest import BIN, PLAYBOOKS, ansible_env

PLAYS = sorted(p.name for p in PLAYBOOKS.glob("*.yml") if not p.name.startswith("inventory"))


def test_every_expected_playbook_exists() -> None:
    assert set(PLAYS) == {"apply-pools.yml", "failover.yml", "install.yml", "rejoin.yml", "repoint-designate.yml",
                          "rollback.yml", "upgrade.yml"}


def test_ansible_lint_production_profile_offline(play_tmp: Path) -> None:
    proc = subprocess.run([str(BIN / "ansible-lint"), "--offline", "--profile", "production", "--nocolor"],
                          cwd=PLAYBOOKS, capture_output=True, text=True, timeout=600, env=ansible_env(play_tmp))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "Profile 'production' was required, and it passed" in proc.stdout + proc.stderr


@pytest.mark.parametrize("name", PLAYS)
def test_syntax_check(name: str, play_tmp: Path) -> None:
    proc = subprocess.run([str(BIN / "ansible-playbook"), "--syntax-check", "-i", str(PLAYBOOKS / "inventory.example.yml"),
                           str(PLAYBOOKS / name)], capture_output=True, text=True, timeout=120, env=ansible_env(play_tmp))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WARNING" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
