"""`dnsdr lab` command line surface (no lab needed)."""

from __future__ import annotations

from click.testing import CliRunner

from dnsdr.cli.main import cli


def test_lab_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["lab", "--help"])
    assert result.exit_code == 0
    for name in ("up", "down", "status", "kill", "stop", "cont", "start", "partition", "heal", "zones",
                 "service", "repoint", "restore", "controller"):
        assert f"  {name}" in result.output


def test_unknown_region_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["lab", "--dir", "/nonexistent", "kill", "r9"])
    assert result.exit_code == 2


def test_faults_accept_the_monitor_region_but_designate_commands_do_not() -> None:
    for args in (["partition", "r1", "r9"], ["service", "restart", "r3", "worker"], ["repoint", "r3", "--db-host", "h"]):
        assert CliRunner().invoke(cli, ["lab", "--dir", "/nonexistent", *args]).exit_code == 2, args
    result = CliRunner().invoke(cli, ["lab", "--dir", "/nonexistent", "partition", "r3", "r9"])
    assert result.exit_code == 2 and "'r9' is not one of 'r1', 'r2', 'r3'" in result.output, result.output
    # not a usage error (as root: nothing to resume in a lab that never ran; otherwise: needs root)
    assert CliRunner().invoke(cli, ["lab", "--dir", "/nonexistent", "cont", "r3"]).exit_code in (0, 1)


def test_controller_commands() -> None:
    result = CliRunner().invoke(cli, ["lab", "controller", "--help"])
    assert result.exit_code == 0
    assert "  start" in result.output and "  stop" in result.output
    result = CliRunner().invoke(cli, ["lab", "controller", "start", "--help"])
    for option in ("--name", "--listen", "--state-dir"):
        assert option in result.output


def test_unknown_service_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["lab", "service", "restart", "r1", "sink"])
    assert result.exit_code == 2


def test_status_of_a_lab_that_never_ran(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["lab", "--dir", str(tmp_path / "none"), "status", "-o", "json"])
    assert result.exit_code == 0, result.output
    assert '"state": "down"' in result.output
