"""install.yml, upgrade.yml and rollback.yml into a scratch root (-e dnsdr_root=TMP), with a local
connection: wheels built from this checkout (0.1.0, and a copy of it as 0.1.1), every run repeated
to prove it changes nothing the second time, --check changing nothing, and the rendered units
checked by systemd-analyze (verify, and security --offline: exposure at most 2.0 of 10).

Runs as root (files are chowned) but needs no lab. The units run as `daemon`: an existing system
account, so the test creates no user on the machine (dnsdr_manage_user=false) and systemd does not
warn as it would for `nobody`. No systemd PID 1 here: dnsdr_manage_services=false.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.integration.playbooks.conftest import REPO, PlaybookRun, local_host, playbook

pytestmark = pytest.mark.integration

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def ok(run: PlaybookRun) -> PlaybookRun:
    assert run.returncode == 0, str(run)
    return run


def build_wheel(source: Path, out: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(source)],
                   check=True, capture_output=True, timeout=600)
    return next(out.glob("dnsdr-*.whl"))


def copy_as_version(dest: Path, version: str) -> Path:
    """This checkout's package sources with another version number (what a release would change)."""
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, dest / name)
    shutil.copytree(REPO / "dnsdr", dest / "dnsdr", ignore=shutil.ignore_patterns("__pycache__"))
    pyproject = dest / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    assert 'version = "0.1.0"' in text
    pyproject.write_text(text.replace('version = "0.1.0"', f'version = "{version}"'), encoding="utf-8")
    return dest


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("wheels")
    (base / "a").mkdir()
    (base / "b").mkdir()
    (base / "src").mkdir()
    old = build_wheel(REPO, base / "a")
    new = build_wheel(copy_as_version(base / "src", "0.1.1"), base / "b")
    assert old.name.startswith("dnsdr-0.1.0-") and new.name.startswith("dnsdr-0.1.1-")
    return old, new


def host_inventory(tmp: Path) -> Path:
    doc = {"all": {"children": {"dnsdr": {"hosts": {"dnsdr-host": local_host()}}}, "vars": {
        "dnsdr_manage_user": False, "dnsdr_user": "daemon", "dnsdr_group": "daemon",
        "dnsdr_manage_services": False, "dnsdr_become": False,
        # The virtualenvs are built by this interpreter's base Python (what /usr/bin/python3 is on a host).
        "dnsdr_python": str(Path(getattr(sys, "_base_executable", sys.executable)).resolve()),
    }}}
    path = tmp / "inventory.yml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def tree(root: Path) -> dict[str, tuple[int, str]]:
    """Every path under root (outside the virtualenvs' contents) with its mode and link target."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        if len(rel.parts) >= 3 and rel.parts[:2] == ("opt", "dnsdr") and rel.parts[2] not in ("packages",):
            dirnames.clear()
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_mode, os.readlink(p) if p.is_symlink() else "")
    return out


def version_of(root: Path) -> str:
    proc = subprocess.run([str(root / "opt/dnsdr/current/bin/dnsdr"), "--version"], capture_output=True, text=True,
                          timeout=60, check=True)
    return proc.stdout.strip()


def test_install_upgrade_rollback(wheels: tuple[Path, Path], play_tmp: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("install.yml chowns files: run as root")
    old, new = wheels
    root = play_tmp / "root"
    inventory = host_inventory(play_tmp)
    common = ("-e", f"dnsdr_root={root}")
    secrets = '{"dnsdr_secrets": {"dnsdr-credentials": {"r1-db-password": "s3cret-value"}}}'
    install = ("install.yml", inventory, *common, "-e", f"dnsdr_package={old}",
               "-e", f"dnsdr_config_src={REPO / 'manifests/examples/designatedr.yaml'}", "-e", secrets)

    check = ok(playbook(*install, "--check", tmp=play_tmp))
    assert check.changed > 0 and not root.exists()  # --check created nothing

    first = ok(playbook(*install, tmp=play_tmp))
    assert first.changed > 0 and "s3cret-value" not in first.output
    assert os.readlink(root / "opt/dnsdr/current") == "0.1.0"
    assert version_of(root) == "dnsdr, version 0.1.0"
    secret = root / "etc/dnsdr/secrets/dnsdr-credentials/r1-db-password"
    assert secret.read_text(encoding="utf-8") == "s3cret-value\n"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o640
    assert stat.S_IMODE((root / "var/lib/dnsdr").stat().st_mode) == 0o700
    assert (root / "var/lib/dnsdr").stat().st_uid == 1  # daemon
    units = [root / "etc/systemd/system" / f"dnsdr-{s}.service" for s in ("monitor", "run")]
    run_unit = units[1].read_text(encoding="utf-8")
    for line in ("User=daemon", "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "ProtectHome=yes",
                 "CapabilityBoundingSet=\n", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                 f"ReadWritePaths={root}/var/lib/dnsdr\n", f"ExecStart={root}/opt/dnsdr/current/bin/dnsdr "):
        assert line in run_unit, line
    assert run_unit.count("ReadWritePaths=") == 1
    assert "ReadWritePaths" not in units[0].read_text(encoding="utf-8")  # the monitor writes nothing

    before = tree(root)
    ok_again = ok(playbook(*install, tmp=play_tmp))
    assert ok_again.changed == 0, str(ok_again)
    assert tree(root) == before

    upgrade = ("upgrade.yml", inventory, *common, "-e", f"dnsdr_package={new}")
    check = ok(playbook(*upgrade, "--check", tmp=play_tmp))
    assert check.changed > 0 and tree(root) == before  # --check changed nothing
    ok(playbook(*upgrade, tmp=play_tmp))
    assert os.readlink(root / "opt/dnsdr/current") == "0.1.1"
    assert os.readlink(root / "opt/dnsdr/previous") == "0.1.0"
    assert version_of(root) == "dnsdr, version 0.1.1"
    assert ok(playbook(*upgrade, tmp=play_tmp)).changed == 0

    rollback = ("rollback.yml", inventory, *common)
    upgraded = tree(root)
    check = ok(playbook(*rollback, "--check", tmp=play_tmp))
    assert check.changed > 0 and tree(root) == upgraded  # --check changed nothing
    ok(playbook(*rollback, tmp=play_tmp))
    assert os.readlink(root / "opt/dnsdr/current") == "0.1.0"
    assert version_of(root) == "dnsdr, version 0.1.0"
    assert (root / "opt/dnsdr/0.1.1/bin/dnsdr").exists()  # kept: upgrade.yml moves forward again
    assert ok(playbook(*rollback, tmp=play_tmp)).changed == 0

    if SYSTEMD_ANALYZE is None:
        pytest.skip("systemd-analyze not installed (Debian's systemd package): units rendered but not verified")
    verify = subprocess.run([SYSTEMD_ANALYZE, "verify", *map(str, units)], capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0 and verify.stderr.strip() == "", verify.stderr
    for unit in units:
        security = subprocess.run([SYSTEMD_ANALYZE, "security", "--offline=yes", "--threshold=20", str(unit)],
                                  capture_output=True, text=True, timeout=60)
        assert security.returncode == 0, security.stdout[-2000:] + security.stderr
