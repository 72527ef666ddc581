"""Running the playbooks in tests: ansible-playbook from this virtualenv, a local connection, and an
inventory for the lab (every region's host is this machine; the lab's own commands control Designate).

dnsdr itself runs as ``python -m dnsdr`` with this checkout first on PYTHONPATH, so the playbooks
drive the code under test whichever dnsdr the virtualenv has installed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from dnsdr.lab import Lab

REPO = Path(__file__).resolve().parents[3]
PLAYBOOKS = REPO / "playbooks"
BIN = Path(sys.executable).parent
ANSIBLE_PLAYBOOK = BIN / "ansible-playbook"
DNSDR = [sys.executable, "-m", "dnsdr"]
RECAP = re.compile(r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
                   r"\s+failed=(?P<failed>\d+)", re.MULTILINE)


@dataclass
class PlaybookRun:
    args: list[str]
    returncode: int
    output: str
    seconds: float

    @property
    def recap(self) -> dict[str, dict[str, int]]:
        return {m["host"]: {k: int(m[k]) for k in ("ok", "changed", "unreachable", "failed")}
                for m in RECAP.finditer(self.output)}

    @property
    def changed(self) -> int:
        return sum(h["changed"] for h in self.recap.values())

    def __str__(self) -> str:
        return f"ansible-playbook {' '.join(self.args)} -> exit {self.returncode} in {self.seconds:.1f} s\n{self.output}"


def ansible_env(tmp: Path) -> dict[str, str]:
    """The environment every run gets: no colour, no retry files, a private ansible home, this checkout first."""
    home = tmp / "ansible-home"
    home.mkdir(exist_ok=True)
    return {
        **os.environ,
        "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PYTHONPATH": str(REPO) + (f":{os.environ['PYTHONPATH']}" if os.environ.get("PYTHONPATH") else ""),
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
    }


def playbook(name: str, inventory: Path, *args: str, tmp: Path, timeout: float = 900) -> PlaybookRun:
    argv = [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(PLAYBOOKS / name), *args]
    t0 = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=ansible_env(tmp),
                          stdin=subprocess.DEVNULL, cwd=REPO)
    return PlaybookRun([name, *args], proc.returncode, proc.stdout + proc.stderr, time.monotonic() - t0)


def local_host(**vars: Any) -> dict[str, Any]:
    return {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, **vars}


def lab_inventory(lab: Lab, tmp: Path, spec: Path | None = None) -> Path:
    """r1 and r2: the lab's Designate (group designate); r3: dnsdr (group dnsdr); all local."""
    the_spec = lab.spec()
    regions: dict[str, Any] = {}
    for name in ("r1", "r2"):
        designate = the_spec.region(name).designate
        assert designate is not None
        regions[name] = {
            "hosts": {f"lab-{name}": local_host()},
            "vars": {
                "dnsdr_region": name,
                "designate_control": "lab",
                "designate_conf": str(lab.paths.designate_conf(name)),
                "designate_manage_cmd": list(designate.manage_command),
                "designate_pools_file": str(tmp / f"pools-{name}.yaml"),
                "designate_user": "root",
                "designate_group": "root",
                "designate_become": False,
            },
        }
    regions["r3"] = {"hosts": {"lab-r3": local_host()}, "vars": {"dnsdr_region": "r3"}}
    doc = {"all": {
        "vars": {
            "dnsdr_cmd": DNSDR,
            "dnsdr_lab_cmd": DNSDR,
            "dnsdr_lab_dir": str(lab.root),
            "dnsdr_config": str(spec or lab.spec_path),
            "dnsdr_secrets_dir": str(tmp / "secrets"),
            "dnsdr_state_dir": str(tmp / "state"),
            "dnsdr_become": False,
            "designate_db_wait_timeout": 10,
        },
        "children": {
            **regions,
            "designate": {"children": {"r1": {}, "r2": {}}},
            "dnsdr": {"children": {"r3": {}}},
        },
    }}
    path = tmp / "inventory.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def play_tmp(tmp_path: Path) -> Path:
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.fail(f"{ANSIBLE_PLAYBOOK} is missing: install the test extra (pip install -e '.[test]')")
    return tmp_path
