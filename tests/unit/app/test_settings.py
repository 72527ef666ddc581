"""Loading the spec: a file or stdin within 1 MiB, YAML through the guarded loader, and a validation
message that stays short whatever the file holds."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from dnsdr.adapters.files import UnusableFile
from dnsdr.app.settings import SpecFileError, load_spec, read_yaml
from dnsdr.cli.main import cli
from dnsdr.domain.yaml_text import YamlError
from tests.conftest import EXAMPLE


def test_the_spec_can_come_from_stdin() -> None:
    result = CliRunner().invoke(cli, ["spec", "validate", "-c", "-"], input=EXAMPLE.read_text())
    assert result.exit_code == 0, result.output


def test_stdin_has_the_same_limit_and_is_named() -> None:
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["spec", "validate", "-c", "-"], input=b"\0" * (2 * 1024 * 1024))
    assert time.monotonic() - started < 2.0
    assert result.exit_code == 1
    assert result.stderr == "error: cannot read spec file <stdin>: larger than 1 MiB, the limit for a spec file\n"


def test_an_empty_spec_names_its_file(tmp_path: Path) -> None:
    empty = tmp_path / "dr.yaml"
    empty.write_text("")
    with pytest.raises(YamlError, match=f"^{empty}: no YAML document"):
        load_spec(str(empty))


def test_a_spec_with_a_duplicate_key_is_refused_naming_both_lines(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace("  primaryRegion: r1\n", "  primaryRegion: r1\n  primaryRegion: r2\n", 1)
    doubled = tmp_path / "dr.yaml"
    doubled.write_text(text)
    line = text.splitlines().index("  primaryRegion: r2") + 1
    result = CliRunner().invoke(cli, ["spec", "validate", "-c", str(doubled)])
    assert result.exit_code == 1
    assert result.stderr == (f"error: {doubled}: duplicate key 'primaryRegion', first on line {line - 1} "
                             f"(line {line}, column 3)\n")


def test_pools_files_are_read_with_their_own_name_and_limit(tmp_path: Path) -> None:
    big = tmp_path / "pools.yml"
    big.write_bytes(b"#" * 100)
    with pytest.raises(UnusableFile, match=f"^cannot read pools file {big}: larger than 64 bytes, the limit for a pools"):
        read_yaml(str(big), "pools file", 64)


def test_a_validation_message_is_bounded_whatever_the_file_holds() -> None:
    error = SpecFileError("dr.yaml", [f"spec.x[{i}]: expected a number, got '" + "y" * 10_000 + "'" for i in range(80)])
    lines = str(error).splitlines()
    assert lines[0] == "dr.yaml is not a valid DesignateDR (80 problems):"
    assert len(lines) == 52 and lines[-1] == "  ... and 30 more"
    assert max(len(line) for line in lines) <= 242
    assert len(error.problems) == 80
