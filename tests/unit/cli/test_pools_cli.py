"""The CLI as a newcomer meets it: exit codes, one clear line per problem, no traceback, no secret."""

from __future__ import annotations

import os
import stat
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
