"""Resolve credential references (never inline secrets) to their values.

Standalone mode reads files and environment variables; a Kubernetes ``secretKeyRef`` is read from
``<secrets dir>/<name>/<key>``, which is exactly how a Secret volume is mounted in a pod, so one
document works in both modes. Error messages name the reference, never the value.
"""

from __future__ import annotations

import os
from pathlib import Path

from dnsdr.domain.errors import InvalidInput
from dnsdr.domain.spec import SecretRef

DEFAULT_SECRETS_DIR = "/etc/dnsdr/secrets"
SECRETS_ENV = "DNSDR_SECRETS_DIR"
# Every value resolved in this process, so that log output can be scrubbed of them (defence in depth:
# messages are written not to carry secrets in the first place).
_RESOLVED: set[str] = set()


class SecretError(InvalidInput):
    """A reference could not be resolved; the message says where dnsdr looked."""


def secrets_dir() -> Path:
    return Path(os.environ.get(SECRETS_ENV) or DEFAULT_SECRETS_DIR)


def resolved_values() -> frozenset[str]:
    """Secret values resolved so far in this process (for scrubbing output, never for display)."""
    return frozenset(_RESOLVED)


def _remember(value: str) -> str:
    if len(value) >= 4:
        _RESOLVED.add(value)
    return value


def resolve(ref: SecretRef, directory: Path | None = None) -> str:
    """The value behind ``ref``, with one trailing newline stripped (as files usually end)."""
    if ref.env is not None:
        value = os.environ.get(ref.env)
        if value is None:
            raise SecretError(f"environment variable {ref.env} is not set")
        return _remember(value)
    path = Path(ref.file) if ref.file is not None else (
        (directory or secrets_dir()) / str(ref.secret_name) / str(ref.secret_key)
    )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SecretError(f"cannot read {ref.describe()} at {path}: {exc.strerror}") from None
    return _remember(text[:-1] if text.endswith("\n") else text)
