"""Where a front end finds the spec, the state and the secrets, and how the spec file is loaded.

The spec path comes from ``-c``, else ``$DNSDR_CONFIG``, else ``/etc/dnsdr/designatedr.yaml``.
Secrets referenced by ``secretKeyRef`` are read from ``--secrets-dir``, else ``$DNSDR_SECRETS_DIR``,
else ``/etc/dnsdr/secrets`` (the layout of a mounted Kubernetes Secret).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from dnsdr.adapters.backends import KINDS
from dnsdr.adapters.secrets import resolve
from dnsdr.adapters.state import DEFAULT_STATE_DIR, FileStateStore, StateStore
from dnsdr.domain.errors import InvalidInput
from dnsdr.domain.spec import DesignateDR, SecretLookup
from dnsdr.domain.spec_parse import SpecError, parse_designatedr

CONFIG_ENV = "DNSDR_CONFIG"
DEFAULT_CONFIG = "/etc/dnsdr/designatedr.yaml"
STATE_ENV = "DNSDR_STATE_DIR"


class SpecFileError(InvalidInput):
    """The spec file is not a valid DesignateDR; ``problems`` lists every reason with its path."""

    def __init__(self, path: str, problems: list[str]) -> None:
        super().__init__(f"{path} is not a valid DesignateDR ({len(problems)} problems):\n"
                         + "\n".join(f"  {p}" for p in problems))
        self.path = path
        self.problems = problems


def config_path(given: str | None) -> str:
    """The spec to read: the one given, else ``$DNSDR_CONFIG``, else the default path if it exists."""
    if given:
        return given
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        return from_env
    if Path(DEFAULT_CONFIG).exists():
        return DEFAULT_CONFIG
    raise InvalidInput(f"no DesignateDR given: pass -c FILE, set ${CONFIG_ENV}, or create {DEFAULT_CONFIG}")


def state_dir(given: str | None) -> Path:
    return Path(given or os.environ.get(STATE_ENV) or DEFAULT_STATE_DIR)


def read_yaml(path: str) -> Any:
    """One YAML document from ``path`` ('-' is stdin)."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise InvalidInput(f"{path}: {problem}{where}") from None


def load_spec(path: str) -> DesignateDR:
    """Parse and validate the DesignateDR at ``path`` with every registered backend type."""
    document = read_yaml(path)
    try:
        return parse_designatedr(document, KINDS)
    except SpecError as exc:
        raise SpecFileError(path, exc.problems) from None


@dataclass(frozen=True)
class Settings:
    """What every use case needs besides the spec: where the state lives and how secrets resolve."""

    state_dir: Path = Path(DEFAULT_STATE_DIR)
    secrets_dir: Path | None = None

    @property
    def resolver(self) -> SecretLookup:
        return partial(resolve, directory=self.secrets_dir)

    def store(self, spec: DesignateDR) -> StateStore:
        return FileStateStore(self.state_dir, spec.name)
