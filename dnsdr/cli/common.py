"""What every dnsdr command shares: loading the spec, output format, exit codes, clean errors.

Exit codes: 0 ok; 1 invalid input or a refused/failed operation (with one clear message, never a
traceback); 2 usage error (click's own). Messages never carry secrets.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import yaml

from dnsdr.adapters.backends import KINDS
from dnsdr.domain.spec import DesignateDR
from dnsdr.domain.spec_parse import SpecError, parse_designatedr

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = EXIT_INVALID) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def read_yaml(path: str) -> Any:
    """Load one YAML document from ``path`` ('-' is stdin), or exit 1 with the reason."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    except UnicodeDecodeError:
        fail(f"{path} is not UTF-8 text")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        fail(f"{path}: {problem}{where}")


def load_spec(path: str) -> DesignateDR:
    """Parse and validate the DesignateDR document at ``path``; on problems list them and exit 1."""
    document = read_yaml(path)
    try:
        return parse_designatedr(document, KINDS)
    except SpecError as exc:
        click.echo(f"error: {path} is not a valid DesignateDR ({len(exc.problems)} problems):", err=True)
        for line in exc.problems:
            click.echo(f"  {line}", err=True)
        sys.exit(EXIT_INVALID)


def config_option(func: F) -> F:
    return click.option(
        "-c", "--config", "config", required=True, metavar="FILE",
        type=click.Path(dir_okay=False, allow_dash=True),
        help="The DesignateDR document (the YAML you would `kubectl apply`).",
    )(func)


def output_option(func: F) -> F:
    return click.option(
        "-o", "--output", "output", type=click.Choice(["table", "json"]), default="table",
        show_default=True, help="Human table or machine-readable JSON.",
    )(func)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
