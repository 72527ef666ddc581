"""The CLI as a newcomer meets it: exit codes, one clear line per problem, no traceback, no secret."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from dnsdr.cli.main import cli
from tests.conftest import EXAMPLE
from tests.support.designate_verdict import designate_accepts
from tests.unit.domain.test_pools_check import HAND_WRITTEN


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_render_r1_lost_is_accepted_by_designate_and_holds_no_r1_address() -> None:
    code, out, _ = run("pools", "render", "-c", str(EXAMPLE), "--primary", "r2", "--lost", "r1")
    assert code == 0
    assert "127.0.1." not in out
    assert designate_accepts(yaml.safe_load(out))[0]


def test_render_to_file_resolves_secrets_privately(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = tmp_path / "secrets" / "dnsdr-credentials"
    secrets.mkdir(parents=True)
    for key in ("r1-pdns-api-key", "r2-pdns-api-key"):
        (secrets / key).write_text(f"value-of-{key}\n")
    monkeypatch.setenv("DNSDR_SECRETS_DIR", str(tmp_path / "secrets"))
    target = tmp_path / "pools.yml"
    code, out, err = run("pools", "render", "-c", str(EXAMPLE), "-o", str(target))
    assert code == 0 and "value-of" not in out + err
    assert "api_token: value-of-r1-pdns-api-key" in target.read_text()
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


def test_render_with_missing_secret_fails_cleanly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DNSDR_SECRETS_DIR", str(tmp_path))
    code, _, err = run("pools", "render", "-c", str(EXAMPLE), "-o", str(tmp_path / "p.yml"))
    assert code == 1
    assert "cannot resolve a credential" in err and "Traceback" not in err
    assert not (tmp_path / "p.yml").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--primary", "r1", "--lost", "r1"), "cannot also be lost"),
        (("--primary", "nowhere"), "unknown region"),
    ],
)
def test_render_refuses_impossible_states(args: tuple[str, ...], message: str) -> None:
    code, _, err = run("pools", "render", "-c", str(EXAMPLE), *args)
    assert code == 1 and message in err


def test_validate_accepts_hand_written_and_rendered(tmp_path: Path) -> None:
    hand = tmp_path / "hand.yml"
    hand.write_text(HAND_WRITTEN)
    assert run("pools", "validate", str(hand))[0] == 0
    _, rendered, _ = run("pools", "render", "-c", str(EXAMPLE))
    ours = tmp_path / "ours.yml"
    ours.write_text(rendered)
    assert run("pools", "validate", str(ours))[0] == 0


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("- name: default\n  description", "- description", "[0].name: is required"),
        ("port: 5354", "port: 70000", "must be 1..65535, got 70000"),
        ("hostname: ns1-1.example.org.", "hostname: ns1-1.example.org", "must be fully qualified"),
        ("  description: Default", "  colour: blue\n  description: Default", "[0].colour: unknown key"),
        ("type: pdns4", "type: powerdns", "unknown backend type 'powerdns'"),
    ],
)
def test_validate_rejects_broken_files_with_one_line_each(tmp_path: Path, old: str, new: str, message: str) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(HAND_WRITTEN.replace(old, new, 1))
    code, _, err = run("pools", "validate", str(broken))
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1
    assert message in lines[0]
    assert len(lines) == 2  # the problem, then the summary
    assert "Traceback" not in err


def test_validate_reports_yaml_syntax_errors_with_position(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("- name: [unclosed\n")
    code, _, err = run("pools", "validate", str(bad))
    assert code == 1 and "line" in err


def test_missing_file_and_usage_errors_have_documented_codes(tmp_path: Path) -> None:
    assert run("pools", "validate", str(tmp_path / "absent.yml"))[0] == 1
    assert run("pools", "render")[0] == 2  # -c missing: usage error


def test_spec_validate_lists_problems_with_paths(tmp_path: Path) -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["spec"]["regions"][1]["backends"][0]["api"]["port"] = 70000
    bad = tmp_path / "dr.yaml"
    bad.write_text(yaml.safe_dump(doc))
    code, _, err = run("spec", "validate", "-c", str(bad))
    assert code == 1
    assert "spec.regions[1].backends[0].api.port: must be 1..65535" in err
    assert run("spec", "validate", "-c", str(EXAMPLE))[0] == 0


def test_help_explains_exit_codes() -> None:
    code, out, _ = run("--help")
    assert code == 0 and "Exit codes" in out


def _secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = tmp_path / "secrets" / "dnsdr-credentials"
    secrets.mkdir(parents=True)
    for key in ("r1-pdns-api-key", "r2-pdns-api-key"):
        (secrets / key).write_text(f"value-of-{key}\n")
    monkeypatch.setenv("DNSDR_SECRETS_DIR", str(tmp_path / "secrets"))


def test_render_to_file_never_writes_through_planted_symlinks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _secrets(tmp_path, monkeypatch)
    shared, elsewhere = tmp_path / "shared", tmp_path / "elsewhere"
    shared.mkdir()
    elsewhere.mkdir()
    victim, trap = elsewhere / "victim", elsewhere / "readable-by-all"
    victim.write_text("precious\n")
    (shared / ".pools.yml.tmp").symlink_to(trap)
    (shared / "pools.yml").symlink_to(victim)
    code, _, err = run("pools", "render", "-c", str(EXAMPLE), "-o", str(shared / "pools.yml"))
    assert code == 0, err
    target = shared / "pools.yml"
    assert not target.is_symlink() and stat.S_IMODE(target.lstat().st_mode) == 0o600
    assert "api_token: value-of-r1-pdns-api-key" in target.read_text()
    assert victim.read_text() == "precious\n" and not trap.exists()


def test_render_to_an_unwritable_place_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _secrets(tmp_path, monkeypatch)
    code, _, err = run("pools", "render", "-c", str(EXAMPLE), "-o", str(tmp_path / "absent" / "pools.yml"))
    assert code == 1 and err.strip() == f"error: cannot write {tmp_path}/absent/pools.yml: No such file or directory"


def _one_line_failure(args: list[str], path: str, expected: str, stdin: bytes | None = None) -> None:
    started = time.monotonic()
    result = CliRunner().invoke(cli, args, input=stdin)
    assert time.monotonic() - started < 2.0
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and path in lines[0], result.stderr
    assert expected in lines[0] and "Traceback" not in result.output
    assert result.stdout == ""


def bad_files(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """name -> (path, what the one line says) for every kind of unusable input file."""
    fifo = tmp_path / "fifo.yml"
    os.mkfifo(fifo)
    files = {
        "big.yml": b"# " + b"x" * (1024 * 1024) + b"\n",
        "latin1.yml": "description: caf\xe9\n".encode("latin-1"),
        "empty.yml": b"",
        "duplicate.yml": b"a: 1\nb: 2\na: 3\n",
        "deep.yml": b"[" * 10_000 + b"]" * 10_000,
        "laughs.yml": ("a: &a [" + ",".join(['"lol"'] * 9) + "]\n" + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8))).encode(),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return {
        "fifo": (str(fifo), "a FIFO (named pipe), not a regular file; to read a pipe, pass '-' and redirect it"),
        "dev-zero": ("/dev/zero", "a character device, not a regular file"),
        "big": (str(tmp_path / "big.yml"), "larger than 1 MiB"),
        "not-utf8": (str(tmp_path / "latin1.yml"), "not UTF-8 text (byte 16)"),
        "empty": (str(tmp_path / "empty.yml"), "no YAML document"),
        "duplicate": (str(tmp_path / "duplicate.yml"), "duplicate key 'a', first on line 1 (line 3, column 1)"),
        "deep": (str(tmp_path / "deep.yml"), "nest"),
        "laughs": (str(tmp_path / "laughs.yml"), "aliases expand to more than 10000 nodes"),
        "absent": (str(tmp_path / "absent.yml"), "no such file"),
    }


BAD = ["fifo", "dev-zero", "big", "not-utf8", "empty", "duplicate", "deep", "laughs", "absent"]


@pytest.mark.parametrize("kind", BAD)
def test_validate_refuses_unusable_files_in_one_line(tmp_path: Path, kind: str) -> None:
    path, expected = bad_files(tmp_path)[kind]
    _one_line_failure(["pools", "validate", path], path, expected)


@pytest.mark.parametrize("kind", BAD)
def test_render_with_an_unusable_spec_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      kind: str) -> None:
    _secrets(tmp_path, monkeypatch)
    path, expected = bad_files(tmp_path)[kind]
    before = sorted(tmp_path.iterdir())
    _one_line_failure(["pools", "render", "-c", path, "-o", str(tmp_path / "out.yml")], path, expected)
    assert sorted(tmp_path.iterdir()) == before


def test_validate_reads_stdin_within_the_same_limit() -> None:
    result = CliRunner().invoke(cli, ["pools", "validate", "-"], input=HAND_WRITTEN)
    assert result.exit_code == 0 and "-: valid" in result.stdout
    _one_line_failure(["pools", "validate", "-"], "<stdin>", "larger than 1 MiB", stdin=b"\0" * (2 * 1024 * 1024))
    _one_line_failure(["pools", "validate", "-"], "<stdin>", "no YAML document", stdin=b"")
