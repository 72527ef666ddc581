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


class SecretError(InvalidInput):
    """A reference could not be resolved; the message says where dnsdr looked."""


def secrets_dir() -> Path:
    return Path(os.environ.get("DNSDR_SECRETS_DIR", DEFAULT_SECRETS_DIR))


def resolve(ref: SecretRef, directory: Path | None = None) -> str:
    """The value behind ``ref``, with one trailing newline stripped (as files usually end)."""
    if ref.env is not None:
        value = os.environ.get(ref.env)
        if value is None:
            raise SecretError(f"environment variable {ref.env} is not set")
        return value
    path = Path(ref.file) if ref.file is not None else (
        (directory or secrets_dir()) / str(ref.secret_name) / str(ref.secret_key)
    )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SecretError(f"cannot read {ref.describe()} at {path}: {exc.strerror}") from None
    return text[:-1] if text.endswith("\n") else text
