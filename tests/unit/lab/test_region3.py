"""The monitor region's pure parts: the launcher, spawn records, names, the verdict's states."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dnsdr.lab.errors import LabError
from dnsdr.lab.region3 import Spawned, check_name, code_root, launcher_text, verdict_states


def _fake_package(root: Path, says: str) -> None:
    (root / "dnsdr").mkdir(parents=True)
    (root / "dnsdr" / "__init__.py").write_text("")
    (root / "dnsdr" / "__main__.py").write_text(f"import sys\nprint({says!r}, *sys.argv[1:])\n")


def test_launcher_runs_the_tree_that_wrote_it_whatever_the_working_directory(tmp_path: Path) -> None:
    _fake_package(tmp_path / "tree", "tree")
    _fake_package(tmp_path / "cwd", "cwd")  # `python -m` would import this one without -P
    launcher = tmp_path / "dnsdr"
    launcher.write_text(launcher_text(sys.executable, tmp_path / "tree"))
    launcher.chmod(0o755)
    out = subprocess.run([str(launcher), "lab", "--dir", "/x y"], cwd=tmp_path / "cwd", capture_output=True,
                         text=True, check=True, env={"PATH": "/usr/bin:/bin"}).stdout
    assert out == "tree lab --dir /x y\n"


def test_launcher_of_an_installed_package_sets_no_path() -> None:
    text = launcher_text("/opt/venv/bin/python", None)
    assert "PYTHONPATH" not in text
    assert text.endswith('exec /opt/venv/bin/python -P -m dnsdr "$@"\n')


def test_code_root_is_this_source_tree() -> None:
    root = code_root()
    assert root is not None and (root / "dnsdr" / "lab" / "region3.py").is_file()


def test_spawn_records_round_trip() -> None:
    s = Spawned("r3", "controller-b", ("/lab/bin/dnsdr", "run"), "http://127.0.3.1:9155")
    assert Spawned.from_dict(s.to_dict()) == s


@pytest.mark.parametrize("name", ["controller", "b", "ctl-2"])
def test_valid_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "Controller", "../x", "monitor", "mariadb", "designate-api", "a" * 40])
def test_names_that_would_collide_or_escape_are_refused(name: str) -> None:
    with pytest.raises(LabError):
        check_name(name)


def test_verdict_states() -> None:
    doc = {"regions": {"r1": {"state": "healthy"}, "r2": {"state": "lost"}}}
    assert verdict_states(doc) == {"r1": "healthy", "r2": "lost"}
    assert verdict_states(None) == {} and verdict_states({"ready": False}) == {}
