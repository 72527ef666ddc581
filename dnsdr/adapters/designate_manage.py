"""`designate-manage pool update`: dry-run first, then apply, with secrets kept out of messages.

designate-manage prints the whole pool object on a dry run, target options included, so every
line it prints is scrubbed of the secret values dnsdr put in the file before it is shown.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dnsdr.domain.errors import RetryLater


class DesignateManageError(RetryLater):
    """designate-manage failed; the message carries its (scrubbed) output tail."""


@dataclass(frozen=True)
class ManageResult:
    dry_run: bool
    output: str
    zones_touched: bool = False  # every zone's serial bumped and re-pushed (the full `pool update`)


def scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "REDACTED")
    return text


# `pool update` stores the pool with one central call, then calls central's update_zone for every zone
# of the pool (designate/manage/pool.py _update_zones) to push the pool's masters to the backends: one RPC
# and one serial bump per zone, and every zone PENDING until the workers caught up (minutes at thousands
# of zones). dnsdr rewrites and verifies every backend's masters itself, so it can skip that part: it
# runs designate-manage's own main() with _update_zones replaced by a no-op, in designate-manage's own
# interpreter (read from its script's first line).
WITHOUT_ZONES = (
    "import sys\n"
    "from designate.manage import pool\n"
    "pool.PoolCommands._update_zones = lambda self, pool: None\n"
    "from designate.cmd.manage import main\n"
    "sys.argv[0] = 'designate-manage'\n"
    "sys.exit(main())\n"
)


def python_of(program: str) -> str | None:
    """The Python interpreter a console script runs with (its ``#!`` line), or None if it is not one."""
    path = shutil.which(program)
    if path is None:
        return None
    try:
        with open(path, "rb") as handle:
            first = handle.readline(512).decode("utf-8", "replace").strip()
    except OSError:
        return None
    if not first.startswith("#!"):
        return None
    words = first[2:].split()
    if words and words[0].endswith("/env") and len(words) > 1:
        words = words[1:]
    if not words or "python" not in Path(words[0]).name:
        return None
    return shutil.which(words[0]) or (words[0] if Path(words[0]).is_file() else None)


def pool_update(
    manage_command: Sequence[str], pools_yaml: str, secrets: Iterable[str], dry_run: bool, timeout: float = 180.0,
    touch_zones: bool = True,
) -> ManageResult:
    """Run `pool update --file` on ``pools_yaml`` (written to a private temporary file).

    ``touch_zones=False`` stores the pool without updating every zone (see ``WITHOUT_ZONES``) when
    designate-manage is a Python console script; otherwise it falls back to the full update.
    """
    secrets = tuple(secrets)
    fd, name = tempfile.mkstemp(prefix="dnsdr-pools-", suffix=".yaml")
    path = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(pools_yaml)
        argv = [*manage_command, "pool", "update", "--file", str(path)]
        python = None if touch_zones or dry_run else python_of(manage_command[0])
        if python is not None:
            argv = [python, "-c", WITHOUT_ZONES, *argv[1:]]
        if dry_run:
            argv.append("--dry-run")
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, env=env)
        except FileNotFoundError:
            raise DesignateManageError(f"designate-manage not found: {manage_command[0]}") from None
        except subprocess.TimeoutExpired:
            raise DesignateManageError(f"designate-manage pool update did not finish within {timeout:g} s") from None
        output = scrub((proc.stdout + proc.stderr).strip(), secrets)
        if proc.returncode != 0:
            lines = [ln for ln in output.splitlines() if ln.strip() and "Warning" not in ln]
            tail = "\n".join(lines[-6:])
            mode = "dry run" if dry_run else "update"
            raise DesignateManageError(
                f"designate-manage pool update ({mode}) failed (exit {proc.returncode}):\n{tail}"
            )
        return ManageResult(dry_run, output, zones_touched=not dry_run and python is None)
    finally:
        path.unlink(missing_ok=True)
