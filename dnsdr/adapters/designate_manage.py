"""`designate-manage pool update`: dry-run first, then apply, with secrets kept out of messages.

designate-manage prints the whole pool object on a dry run, target options included, so every
line it prints is scrubbed of the secret values dnsdr put in the file before it is shown.
"""

from __future__ import annotations

import os
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


def scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "REDACTED")
    return text


def pool_update(
    manage_command: Sequence[str], pools_yaml: str, secrets: Iterable[str], dry_run: bool, timeout: float = 180.0
) -> ManageResult:
    """Run `pool update --file` on ``pools_yaml`` (written to a private temporary file)."""
    secrets = tuple(secrets)
    fd, name = tempfile.mkstemp(prefix="dnsdr-pools-", suffix=".yaml")
    path = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(pools_yaml)
        argv = [*manage_command, "pool", "update", "--file", str(path)]
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
        return ManageResult(dry_run, output)
    finally:
        path.unlink(missing_ok=True)
