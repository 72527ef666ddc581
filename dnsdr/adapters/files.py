"""Local files read with a bound and written privately: the one place dnsdr touches a file it was pointed at.

Reading: a path may name anything (a FIFO that never delivers, ``/dev/zero`` that never ends, a
file of gigabytes), so only regular files are read, never more than a limit, and only as UTF-8
text; each refusal is one line naming the file. The limits, far above any real file:

==============  =======  ==========================================
what            limit    why
==============  =======  ==========================================
spec (``-c``)   1 MiB    a DesignateDR is a few KiB
pools file      1 MiB    a pools.yml is a few KiB
secret          64 KiB   a password, token or key clause is < 1 KiB
state record    16 MiB   a journal or history entry is < 100 KiB
==============  =======  ==========================================

Writing: a file that may hold credentials goes through :func:`write_private`: a fresh temporary
file made by ``mkstemp`` (``O_CREAT|O_EXCL``, so a symlink planted at its name is never followed)
in the target's directory, mode 0600, fsynced, renamed over the target (a symlink at the target is
replaced, not followed) and the directory fsynced: a reader sees the old file or the new one.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO

from dnsdr.domain.errors import InvalidInput

KiB = 1024
MiB = 1024 * KiB
SPEC_LIMIT = 1 * MiB
POOLS_LIMIT = 1 * MiB
SECRET_LIMIT = 64 * KiB
STATE_LIMIT = 16 * MiB

_KINDS = {
    stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket",
}


class UnreadableFile(InvalidInput):
    """A file could not be read (permissions, I/O); the message names it, never its content."""

    def __init__(self, what: str, path: str | Path, reason: str) -> None:
        super().__init__(f"cannot read {what} {path}: {reason}")
        self.path = str(path)
        self.reason = reason


class MissingFile(UnreadableFile):
    """The file does not exist (a state store treats this as "no record yet")."""


class UnusableFile(UnreadableFile):
    """The file is there but is not acceptable text: not a regular file, too large, or not UTF-8."""


class UnwritableFile(InvalidInput):
    """A file could not be written (or its rename could not be made durable)."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"cannot write {path}: {reason}")
        self.path = str(path)
        self.reason = reason


def size_text(size: int) -> str:
    for unit, name in ((MiB, "MiB"), (KiB, "KiB")):
        if size >= unit and size % unit == 0:
            return f"{size // unit} {name}"
    return f"{size} bytes"


def _decode(data: bytes, what: str, path: str | Path, limit: int) -> str:
    if len(data) > limit:
        raise UnusableFile(what, path, f"larger than {size_text(limit)}, the limit for a {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnusableFile(what, path, f"not UTF-8 text (byte {exc.start})") from None


def read_text_bounded(path: str | Path, limit: int, what: str, pipe_hint: str = "") -> str:
    """The UTF-8 text of the regular file ``path``; refuse anything else in one line naming it.

    Opened non-blocking (a FIFO then neither hangs the open nor is read) and checked with
    ``fstat`` on the open descriptor, so the file checked is the file read. ``pipe_hint`` is added
    to the refusal of a pipe (``-c <(command)`` gives one) where the caller can read stdin instead.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except FileNotFoundError:
        raise MissingFile(what, path, "no such file") from None
    except OSError as exc:
        if _is_socket(path):  # open() on a Unix socket fails with ENXIO, which reads as a device problem
            raise UnusableFile(what, path, "a socket, not a regular file") from None
        raise UnreadableFile(what, path, exc.strerror or type(exc).__name__) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
            hint = f"; {pipe_hint}" if pipe_hint and stat.S_ISFIFO(mode) else ""
            raise UnusableFile(what, path, f"{kind}, not a regular file{hint}")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise UnreadableFile(what, path, exc.strerror or type(exc).__name__) from None
    finally:
        os.close(fd)
    return _decode(data, what, path, limit)


def _is_socket(path: str | Path) -> bool:
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


def read_stream_bounded(stream: BinaryIO | None, limit: int, what: str, name: str = "<stdin>") -> str:
    """At most ``limit`` bytes of UTF-8 text from ``stream`` (standard input for '-')."""
    if stream is None:
        raise UnreadableFile(what, name, "there is no standard input")
    try:
        data = stream.read(limit + 1)
    except OSError as exc:
        raise UnreadableFile(what, name, exc.strerror or type(exc).__name__) from None
    return _decode(data, what, name, limit)


def write_private(path: str | Path, text: str) -> None:
    """Replace ``path`` atomically with ``text`` in a new file readable by its owner only (mode 0600)."""
    target = Path(path)
    directory = target.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise UnwritableFile(path, exc.strerror or type(exc).__name__) from None
    try:
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8", closefd=False) as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise UnwritableFile(path, exc.strerror or type(exc).__name__) from None
    _fsync_directory(directory, path)


def _fsync_directory(directory: Path, path: str | Path) -> None:
    """Make the rename durable: without it a crash may bring back the old file."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise UnwritableFile(path, f"written, but its directory could not be synced: {exc.strerror}") from None
