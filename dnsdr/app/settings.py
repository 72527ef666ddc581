"""Where a front end finds the spec, the state and the secrets, and how the spec file is loaded.

The spec path comes from ``-c``, else ``$DNSDR_CONFIG``, else ``/etc/dnsdr/designatedr.yaml``.
Secrets referenced by ``secretKeyRef`` are read from ``--secrets-dir``, else ``$DNSDR_SECRETS_DIR``,
else ``/etc/dnsdr/secrets`` (the layout of a mounted Kubernetes Secret), unless a front end gives
its own lookup (the operator reads them through the API). The state lives in a directory, or in a
Kubernetes namespace (``kube``): there a person's ``dnsdr`` and the operator share one journal and
one lease.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from kubernetes import client

from dnsdr.adapters.backends import KINDS
from dnsdr.adapters.files import SPEC_LIMIT, read_stream_bounded, read_text_bounded
from dnsdr.adapters.secrets import resolve
from dnsdr.adapters.state import DEFAULT_STATE_DIR, FileStateStore, StateStore
from dnsdr.adapters.state.kubernetes import KubernetesStateStore
from dnsdr.domain.errors import InvalidInput
from dnsdr.domain.spec import DesignateDR, SecretLookup
from dnsdr.domain.spec_parse import SpecError, parse_designatedr
from dnsdr.domain.yaml_text import clip, load_yaml

CONFIG_ENV = "DNSDR_CONFIG"
DEFAULT_CONFIG = "/etc/dnsdr/designatedr.yaml"
STATE_ENV = "DNSDR_STATE_DIR"


class SpecFileError(InvalidInput):
    """The spec file is not a valid DesignateDR; ``problems`` lists every reason with its path.

    The message shows at most :data:`MAX_SHOWN` problems, each cut to :data:`PROBLEM_LIMIT`
    characters: a problem may quote a value from the file, and the file may be anything.
    """

    MAX_SHOWN = 50
    PROBLEM_LIMIT = 240

    def __init__(self, path: str, problems: list[str]) -> None:
        shown = [clip(p, self.PROBLEM_LIMIT) for p in problems[: self.MAX_SHOWN]]
        more = len(problems) - len(shown)
        super().__init__(f"{path} is not a valid DesignateDR ({len(problems)} problems):\n"
                         + "\n".join(f"  {p}" for p in shown) + (f"\n  ... and {more} more" if more else ""))
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


def read_yaml(path: str, what: str = "spec file", limit: int = SPEC_LIMIT) -> Any:
    """The one YAML document in ``path`` ('-' is stdin), read within ``limit`` bytes.

    Every failure is one InvalidInput line naming the file: not a regular file, too large, not
    UTF-8, not YAML (with its line and column), empty, a duplicate key, too deep, too many aliases.
    """
    if path == "-":
        text = read_stream_bounded(getattr(sys.stdin, "buffer", None), limit, what)
        return load_yaml(text, "<stdin>")
    return load_yaml(read_text_bounded(path, limit, what, pipe_hint="to read a pipe, pass '-' and redirect it"), path)


def load_spec(path: str) -> DesignateDR:
    """Parse and validate the DesignateDR at ``path`` with every registered backend type."""
    document = read_yaml(path)
    try:
        return parse_designatedr(document, KINDS)
    except SpecError as exc:
        raise SpecFileError("<stdin>" if path == "-" else path, exc.problems) from None


@dataclass(frozen=True)
class KubeState:
    """The state store in a Kubernetes namespace, reached through ``api``."""

    api: client.ApiClient
    namespace: str


@dataclass(frozen=True)
class Settings:
    """What every use case needs besides the spec: where the state lives and how secrets resolve."""

    state_dir: Path = Path(DEFAULT_STATE_DIR)
    secrets_dir: Path | None = None
    kube: KubeState | None = None  # the state in Kubernetes instead of state_dir
    lookup: SecretLookup | None = None  # instead of files under secrets_dir

    @property
    def resolver(self) -> SecretLookup:
        return self.lookup or partial(resolve, directory=self.secrets_dir)

    @property
    def state_location(self) -> str:
        return f"Kubernetes namespace {self.kube.namespace}" if self.kube else str(self.state_dir)

    def store(self, spec: DesignateDR) -> StateStore:
        if self.kube is not None:
            return KubernetesStateStore(self.kube.api, self.kube.namespace, spec.name)
        return FileStateStore(self.state_dir, spec.name)
