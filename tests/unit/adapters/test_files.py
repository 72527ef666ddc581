"""Bounded reading refuses what is not a small UTF-8 regular file, at once and in one line naming it;
private writes never follow a planted symlink and leave a fresh 0600 file or nothing."""

from __future__ import annotations

import io
import os
import stat
import time
from pathlib import Path

import pytest

from dnsdr.adapters.files import (
    MissingFile,
    UnreadableFile,
    UnusableFile,
    UnwritableFile,
    read_stream_bounded,
    read_text_bounded,
    size_text,
    write_private,
)
from dnsdr.domain.errors import InvalidInput


def test_a_small_utf8_file_is_read_through_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "real").write_text("clé: 1\n", encoding="utf-8")
    (tmp_path / "link").symlink_to(tmp_path / "real")  # how a Kubernetes Secret volume presents its keys
    assert read_text_bounded(tmp_path / "link", 100, "spec file") == "clé: 1\n"


def _refused(path: Path | str, limit: int = 1024) -> str:
    started = time.monotonic()
    with pytest.raises(UnusableFile) as caught:
        read_text_bounded(path, limit, "spec file")
    assert time.monotonic() - started < 2.0
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    return message


def test_a_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert "a FIFO (named pipe), not a regular file" in _refused(fifo)


def test_dev_zero_is_refused_without_reading_it() -> None:
    assert "a character device, not a regular file" in _refused("/dev/zero")


def test_a_directory_is_refused(tmp_path: Path) -> None:
    assert "a directory, not a regular file" in _refused(tmp_path)


def test_a_file_over_the_limit_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a" * 2049)
    assert "larger than 2 KiB, the limit for a spec file" in _refused(big, 2048)
    big.write_bytes(b"a" * 2048)
    assert len(read_text_bounded(big, 2048, "spec file")) == 2048


def test_a_file_that_is_not_utf8_is_refused_naming_it(tmp_path: Path) -> None:
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes("name: café\n".encode("latin-1"))
    assert "not UTF-8 text (byte 9)" in _refused(latin)


def test_a_missing_or_unreadable_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(MissingFile, match=r"cannot read spec file .*absent\.yaml: no such file$"):
        read_text_bounded(tmp_path / "absent.yaml", 10, "spec file")
    with pytest.raises(UnreadableFile, match="Not a directory"):
        (tmp_path / "file").write_text("x")
        read_text_bounded(tmp_path / "file" / "below", 10, "spec file")
    assert issubclass(UnreadableFile, InvalidInput)


def test_a_stream_is_bounded_too() -> None:
    assert read_stream_bounded(io.BytesIO(b"a: 1\n"), 10, "pools file") == "a: 1\n"
    with pytest.raises(UnusableFile, match="cannot read pools file <stdin>: larger than 1 KiB"):
        read_stream_bounded(io.BytesIO(b"\0" * 5000), 1024, "pools file")
    with pytest.raises(UnusableFile, match="not UTF-8"):
        read_stream_bounded(io.BytesIO(b"\xff\xfe"), 1024, "pools file")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_write_private_creates_and_replaces_with_mode_0600(tmp_path: Path) -> None:
    target = tmp_path / "pools.yml"
    old_umask = os.umask(0)
    try:
        write_private(target, "first\n")
        assert target.read_text() == "first\n" and _mode(target) == 0o600
        target.chmod(0o644)
        write_private(target, "second\n")
    finally:
        os.umask(old_umask)
    assert target.read_text() == "second\n" and _mode(target) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["pools.yml"]


def test_symlinks_at_the_target_and_the_old_temporary_name_are_never_followed(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim, trap = elsewhere / "victim.conf", elsewhere / "world-readable"
    victim.write_text("do not touch\n")
    victim.chmod(0o644)
    (shared / ".pools.yml.tmp").symlink_to(trap)  # the fixed name the old code wrote through
    target = shared / "pools.yml"
    target.symlink_to(victim)

    write_private(target, "api_token: real\n")

    assert not target.is_symlink() and stat.S_ISREG(target.lstat().st_mode) and _mode(target) == 0o600
    assert target.read_text() == "api_token: real\n"
    assert victim.read_text() == "do not touch\n" and _mode(victim) == 0o644
    assert not trap.exists()
    assert (shared / ".pools.yml.tmp").is_symlink()  # left as found
    assert sorted(p.name for p in shared.iterdir()) == [".pools.yml.tmp", "pools.yml"]


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(UnwritableFile, match=r"cannot write .*nowhere/pools\.yml: No such file or directory"):
        write_private(tmp_path / "nowhere" / "pools.yml", "x")
    (tmp_path / "taken").mkdir()
    with pytest.raises(UnwritableFile, match="Is a directory"):
        write_private(tmp_path / "taken", "x")
    assert [p.name for p in tmp_path.iterdir()] == ["taken"] and not any((tmp_path / "taken").iterdir())


def test_sizes_are_named_in_their_unit() -> None:
    assert [size_text(n) for n in (16 * 1024 * 1024, 64 * 1024, 1536, 100)] == ["16 MiB", "64 KiB", "1536 bytes",
                                                                                 "100 bytes"]


def test_a_socket_or_no_stdin_is_one_line(tmp_path: Path) -> None:
    import socket

    path = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        with pytest.raises(UnusableFile, match="a socket, not a regular file"):
            read_text_bounded(path, 10, "spec file")
    with pytest.raises(UnreadableFile, match="cannot read spec file <stdin>: there is no standard input"):
        read_stream_bounded(None, 10, "spec file")
