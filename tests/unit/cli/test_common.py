"""The one place errors become exit codes, the config fallbacks, logging, and `python -m dnsdr`."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from dnsdr.adapters.secrets import resolve
from dnsdr.cli import logs
from dnsdr.cli.common import Command, exit_code
from dnsdr.cli.main import cli
from dnsdr.domain.errors import IncompleteError, InvalidInput, RefusedError, RetryLater
from dnsdr.domain.spec import SecretRef
from tests.conftest import EXAMPLE, ROOT


@pytest.mark.parametrize(("error", "code"), [
    (InvalidInput("bad"), 1), (RetryLater("down"), 1), (RefusedError("no"), 4), (IncompleteError("half"), 5),
])
def test_each_kind_of_error_has_its_exit_code(error: Exception, code: int) -> None:
    @click.command(cls=Command)
    def boom() -> None:
        raise error

    result = CliRunner().invoke(boom, [])
    assert result.exit_code == code and exit_code(error) == code  # type: ignore[arg-type]
    assert result.output.strip() == f"error: {error}" and "Traceback" not in result.output


def test_an_unexpected_exception_is_one_line_not_a_traceback() -> None:
    @click.command(cls=Command)
    def bug() -> None:
        raise KeyError("oops")

    result = CliRunner().invoke(bug, [])
    assert result.exit_code == 1
    assert result.output.startswith("error: internal error (KeyError: 'oops'); run with --debug")
    assert "Traceback" not in result.output


def test_config_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DNSDR_CONFIG", str(EXAMPLE))
    result = CliRunner().invoke(cli, ["spec", "validate"])
    assert result.exit_code == 0 and "valid DesignateDR 'example'" in result.output


def test_no_config_anywhere_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DNSDR_CONFIG", raising=False)
    result = CliRunner().invoke(cli, ["spec", "validate"])
    assert result.exit_code == 2 and "pass -c FILE, set $DNSDR_CONFIG" in result.output


def test_python_dash_m_runs_the_same_command_line() -> None:
    out = subprocess.run([sys.executable, "-m", "dnsdr", "--version"], capture_output=True, text=True, cwd=ROOT,
                         timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("dnsdr, version ")


def test_json_log_lines_carry_context_and_never_a_resolved_secret(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    secret_file = tmp_path / "s"
    secret_file.write_text("marker-S3CRET-value\n")
    value = resolve(SecretRef(file=str(secret_file)))
    logs.configure(verbose=1, debug=False, fmt="json")
    try:
        logging.getLogger("dnsdr.test").info("connecting with %s", value,
                                             extra={"run_id": "r1d", "step": "promote", "region": "r2"})
    finally:
        logs.configure(verbose=0, debug=False, fmt="text")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["run_id"] == "r1d" and line["step"] == "promote" and line["region"] == "r2"
    assert "marker-S3CRET-value" not in json.dumps(line) and "<secret>" in line["message"]


def test_exit_codes_are_in_the_help() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert "  4  refused by a safety gate" in result.output and "  5  failed part-way" in result.output
