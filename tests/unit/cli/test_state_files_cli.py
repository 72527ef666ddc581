"""Damaged state files at the command line: every command that reads them says which file and the way
out in one line, fast, without a traceback and without changing anything; `status` (a report, exit 0)
shows the problem as one line next to the database rows.

The spec is the example with every address moved to an unused loopback address and the databases on
port 1, so nothing is listening and each connection is refused at once."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from dnsdr.cli.main import cli
from tests.conftest import EXAMPLE, write_auth_secrets

KEYS = ("r1-db-password", "r2-db-password", "replication-password", "r1-pdns-api-key", "r2-pdns-api-key",
        "r1-rndc-key", "r2-rndc-key")
RNDC_KEY = "c2VjcmV0LWtleS1tYXRlcmlhbC0zMi1ieXRlcy1sb25nIQ==\n"


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(spec, state directory, secrets directory) of a world where nothing answers."""
    text = re.sub(r"127\.0\.(\d)\.(\d)", r"127.0.9\1.\2", EXAMPLE.read_text()).replace("port: 3306", "port: 1")
    # Control commands that exist here, so the preflight passes and the state files are what fails.
    text = re.sub(r"(stop|start|restart|repoint): .*", r"\1: true {service}", text)
    text = text.replace("manageCommand: [designate-manage, --config-file, /etc/designate/designate.conf]",
                        "manageCommand: [\"true\"]")
    spec = tmp_path / "dr.yaml"
    spec.write_text(text)
    secrets = tmp_path / "secrets" / "dnsdr-credentials"
    secrets.mkdir(parents=True)
    for key in KEYS:
        (secrets / key).write_text(RNDC_KEY)
    write_auth_secrets(tmp_path / "secrets")
    state = tmp_path / "state"
    state.mkdir()
    return spec, state, tmp_path / "secrets"


DAMAGE: dict[str, bytes | None] = {
    "random-bytes": b"\x00\xff\x13garbage\x9c",
    "truncated": b'{"primary": "r2", "epo',
    "wrong-type": json.dumps({"primary": ["r2"], "run_id": 7, "holder": None}).encode(),
    "not-an-object": b'"r2"',
    "deep": b"[" * 50_000 + b"]" * 50_000,
    "fifo": None,
    "dev-zero": None,
    "huge": None,
}


def plant(state: Path, kind: str, damage: str) -> Path:
    path = state / f"example.{kind}.json"
    if damage == "fifo":
        os.mkfifo(path)
    elif damage == "dev-zero":
        path.symlink_to("/dev/zero")
    elif damage == "huge":
        with path.open("wb") as handle:
            handle.truncate(17 * 1024 * 1024)
    else:
        content = DAMAGE[damage]
        assert content is not None
        path.write_bytes(content)
    return path


def snapshot(state: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.lstat().st_mode, p.lstat().st_size) for p in state.rglob("*")}


def invoke(*args: str) -> tuple[int, str, float]:
    started = time.monotonic()
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output, time.monotonic() - started


def assert_one_line_error(code: int, output: str, seconds: float, path: Path) -> None:
    assert code == 1, output
    assert output.count("\n") == 1 and output.startswith("error: ") and str(path) in output, output
    assert "Traceback" not in output and "internal error" not in output
    assert re.search(r"move it aside|restore it", output), output
    assert seconds < 2.0


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_dry_run_with_a_damaged_cluster_record_stops_in_one_line(world: tuple[Path, Path, Path],
                                                                   damage: str) -> None:
    spec, state, secrets = world
    path = plant(state, "cluster", damage)
    before = snapshot(state)
    code, output, seconds = invoke("promote", "-c", str(spec), "--state-dir", str(state), "--secrets-dir",
                                   str(secrets), "--region", "r2", "--dry-run")
    assert_one_line_error(code, output, seconds, path)
    assert snapshot(state) == before


@pytest.mark.parametrize("damage", ["random-bytes", "wrong-type", "fifo", "huge"])
def test_an_operation_with_a_damaged_journal_stops_before_any_step(world: tuple[Path, Path, Path],
                                                                   damage: str) -> None:
    spec, state, secrets = world
    path = plant(state, "journal", damage)
    code, output, seconds = invoke("promote", "-c", str(spec), "--state-dir", str(state), "--secrets-dir",
                                   str(secrets), "--region", "r2", "--yes")
    assert_one_line_error(code, output, seconds, path)
    assert not (state / "example.cluster.json").exists() and not (state / "history").exists()
    assert not (state / "example.lease.json").exists()  # found while planning: not even the lease was taken


@pytest.mark.parametrize("damage", ["random-bytes", "wrong-type", "dev-zero"])
def test_an_operation_with_a_damaged_lease_stops_before_any_step(world: tuple[Path, Path, Path],
                                                                 damage: str) -> None:
    spec, state, secrets = world
    path = plant(state, "lease", damage)
    code, output, seconds = invoke("promote", "-c", str(spec), "--state-dir", str(state), "--secrets-dir",
                                   str(secrets), "--region", "r2", "--yes")
    assert_one_line_error(code, output, seconds, path)
    assert not (state / "example.journal.json").exists()


@pytest.mark.parametrize("damage", ["random-bytes", "wrong-type", "fifo"])
def test_journal_abandon_and_history_name_the_damaged_file(world: tuple[Path, Path, Path], damage: str) -> None:
    spec, state, _ = world
    path = plant(state, "journal", damage)
    assert_one_line_error(*invoke("journal", "abandon", "-c", str(spec), "--state-dir", str(state), "--yes"), path)
    history = state / "history" / "example"
    history.mkdir(parents=True)
    entry = history / "0123456789ab.json"
    os.rename(path, entry)
    assert_one_line_error(*invoke("history", "-c", str(spec), "--state-dir", str(state)), entry)


@pytest.mark.parametrize(("kind", "damage"), [("cluster", "random-bytes"), ("cluster", "huge"),
                                              ("journal", "wrong-type"), ("journal", "fifo")])
def test_status_reports_a_damaged_record_as_one_line_beside_the_databases(world: tuple[Path, Path, Path], kind: str,
                                                                         damage: str) -> None:
    spec, state, secrets = world
    path = plant(state, kind, damage)
    before = snapshot(state)
    code, output, seconds = invoke("status", "-c", str(spec), "--state-dir", str(state), "--secrets-dir",
                                   str(secrets), "--no-serials")
    assert code == 0, output  # status is a report: exit 0 whatever it finds
    assert "Traceback" not in output and "internal error" not in output and seconds < 5.0
    problems = [line for line in output.splitlines() if line.startswith("state store: cannot read (")]
    assert len(problems) == 1 and str(path) in problems[0], output
    assert "UNREACHABLE" in output
    assert snapshot(state) == before


def test_a_read_only_state_directory_is_one_line_before_anything(world: tuple[Path, Path, Path],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from dnsdr.adapters import files
    from dnsdr.adapters.state import file as file_store

    def read_only(*args: object, **kwargs: object) -> object:
        raise OSError(30, "Read-only file system")

    real_open = os.open

    def no_create(path: object, flags: int, *args: object, **kwargs: object) -> int:
        if flags & os.O_CREAT:
            raise OSError(30, "Read-only file system")
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(files.tempfile, "mkstemp", read_only)
    monkeypatch.setattr(file_store.os, "open", no_create)
    spec, state, secrets = world
    code, output, seconds = invoke("promote", "-c", str(spec), "--state-dir", str(state), "--secrets-dir",
                                   str(secrets), "--region", "r2", "--yes")
    assert code == 4 and seconds < 2.0, output  # the preflight's check that the store is writable
    assert output == ("error: preflight failed, nothing was changed:\n"
                      f"  - state store: state directory {state} is not writable: Read-only file system\n")
    assert list(state.iterdir()) == []
