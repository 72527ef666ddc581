"""Making text from the outside safe to put in an error message: one line, bounded, no secret.

Servers may answer anything (an HTML page, megabytes, control characters, our own credential
echoed back); an error message is read by a person, logged and stored in the journal, so it is
one short printable line, and every credential the caller knows is replaced as a last guard.
"""

from __future__ import annotations

from collections.abc import Iterable


def brief(text: str, limit: int = 200, secrets: Iterable[str | bytes] = ()) -> str:
    """``text`` without ``secrets``, on one printable line of at most ``limit`` characters (then "...").

    Secrets are replaced before anything is cut, so a cut never leaves part of one behind.
    """
    flat = " ".join("".join(c if c.isprintable() else " " for c in scrub(text, secrets)[: limit * 4]).split())
    return flat if len(flat) <= limit else flat[:limit] + "..."


def scrub(text: str, secrets: Iterable[str | bytes]) -> str:
    """``text`` with every non-empty secret (and its text form, for bytes) replaced by ``***``."""
    for secret in secrets:
        if isinstance(secret, bytes):
            secret = secret.decode("utf-8", "replace")
        if secret:
            text = text.replace(secret, "***")
    return text
