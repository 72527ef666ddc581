"""Resolve credential references (never inline secrets) to their values.

Standalone mode reads files and environment variables; a Kubernetes ``secretKeyRef`` is read from
``<secrets dir>/<name>/<key>``, which is exactly how a Secret volume is mounted in a pod, so one
document works in both modes. Error messages name the reference, never the value.

One rule for every resolved value, from a file or the environment:

1. a file must be a regular file of UTF-8 text, at most 64 KiB;
2. surrounding whitespace is stripped, once: spaces, tabs and any number of line ends (LF or
   CRLF) before or after the value, as editors and ``echo`` leave them;
3. what remains must be non-empty and hold no control character (U+0000-U+001F, U+007F-U+009F,
   U+2028, U+2029): a stray line break would otherwise reach an HTTP header or a protocol;
4. the exceptions are values that span lines by nature: a BIND key clause
   (``key "name" { algorithm ...; secret "..."; };`` as ``tsig-keygen`` writes it), and a document
   whose reference is marked ``multiline`` (a kubeconfig), may hold line ends and tabs between
   their lines.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from dnsdr.adapters.files import SECRET_LIMIT, UnreadableFile, read_text_bounded
from dnsdr.domain.errors import InvalidInput
from dnsdr.domain.spec import SecretRef

DEFAULT_SECRETS_DIR = "/etc/dnsdr/secrets"
SECRETS_ENV = "DNSDR_SECRETS_DIR"
# Every value resolved in this process, so that log output can be scrubbed of them (defence in depth:
# messages are written not to carry secrets in the first place).
_RESOLVED: set[str] = set()

_SURROUNDING = " \t\r\n"
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_KEY_CLAUSE = re.compile(r'key\s+("[^"\n]*"|[^\s{"]+)\s*\{')
_KEY_CLAUSE_SPACING = re.compile("[\t\r\n]")


class SecretError(InvalidInput):
    """A reference could not be resolved; the message says where dnsdr looked."""


def secrets_dir() -> Path:
    return Path(os.environ.get(SECRETS_ENV) or DEFAULT_SECRETS_DIR)


def resolved_values() -> frozenset[str]:
    """Secret values resolved so far in this process (for scrubbing output, never for display)."""
    return frozenset(_RESOLVED)


def accept(raw: str, where: str, multiline: bool = False) -> str:
    """``raw`` checked and stripped by this module's rule, and remembered for scrubbing (for other sources of
    secret values, such as a Secret read through the Kubernetes API)."""
    return _remember(checked_value(raw, where, multiline))


def _remember(value: str) -> str:
    if len(value) >= 4:
        _RESOLVED.add(value)
    return value


def remember_secret(value: str) -> str:
    """Add a secret obtained at run time (a Keystone token) to what log output is scrubbed of."""
    return _remember(value)


def checked_value(raw: str, where: str, multiline: bool = False) -> str:
    """``raw`` under the rule above; SecretError naming ``where`` (never the value) otherwise."""
    value = raw.strip(_SURROUNDING)
    if not value:
        raise SecretError(f"{where} is empty")
    allowed = _KEY_CLAUSE_SPACING if multiline or _KEY_CLAUSE.match(value) else None
    for match in _CONTROL.finditer(value):
        if allowed is None or not allowed.fullmatch(match.group()):
            kind = "a line break" if match.group() in "\r\n\u2028\u2029" else "a control character"
            raise SecretError(f"{where} contains {kind} inside the value (only a BIND key clause may span lines)")
    return value


def resolve(ref: SecretRef, directory: Path | None = None) -> str:
    """The value behind ``ref``, checked and stripped by the rule in this module's docstring."""
    if ref.env is not None:
        raw = os.environ.get(ref.env)
        if raw is None:
            raise SecretError(f"environment variable {ref.env} is not set")
        return _remember(checked_value(raw, ref.describe(), ref.multiline))
    path = Path(ref.file) if ref.file is not None else (
        (directory or secrets_dir()) / str(ref.secret_name) / str(ref.secret_key)
    )
    where = ref.describe() if ref.file is not None else f"{ref.describe()} at {path}"
    try:
        raw = read_text_bounded(path, SECRET_LIMIT, "secret")
    except UnreadableFile as exc:
        raise SecretError(f"cannot read {where}: {exc.reason}") from None
    return _remember(checked_value(raw, where, ref.multiline))
