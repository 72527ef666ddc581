"""`dnsdr lab` command line surface (no lab needed)."""

from __future__ import annotations

from click.testing import CliRunner

from dnsdr.cli.main import cli


def test_lab_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["lab", "--help"])
    assert result.exit_code == 0
    for name in ("up", "down", "status", "kill", "stop", "cont", "start", "partition", "heal", "zones",
                 "service", "repoint", "restore"):
        assert f"  {name}" in result.output


def test_unknown_region_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["lab", "--dir", "/nonexistent", "kill", "r9"])
    assert result.exit_code == 2


def test_unknown_service_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["lab", "service", "restart", "r1", "sink"])
    assert result.exit_code == 2


def test_status_of_a_lab_that_never_ran(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["lab", "--dir", str(tmp_path / "none"), "status", "-o", "json"])
    assert result.exit_code == 0, result.output
    assert '"state": "down"' in result.output
