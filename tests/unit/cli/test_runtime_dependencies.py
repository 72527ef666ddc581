"""dnsdr runs with its runtime dependencies only: the packages of the test extra (the lab's Keystone,
Designate, CA, the test tools) must not be imported by the CLI's start-up (an installed dnsdr has none)."""

from __future__ import annotations

import subprocess
import sys

TEST_ONLY = ("cryptography", "openstack", "keystone", "designate", "gunicorn", "jsonschema", "hypothesis", "pytest")


def _run(code: str) -> subprocess.CompletedProcess[str]:
    blocked = "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in TEST_ONLY)
    return subprocess.run([sys.executable, "-c", blocked + code], capture_output=True, text=True, timeout=120)


def test_the_cli_starts_without_the_test_extra() -> None:
    run = _run("from dnsdr.cli.main import cli\ncli(['--version'])")
    assert run.returncode == 0 and "version" in run.stdout, run.stderr


def test_the_lab_says_in_one_line_what_it_lacks() -> None:
    run = _run("from pathlib import Path\nfrom dnsdr.lab import pki\nfrom dnsdr.lab.layout import Paths\n"
               "pki.ensure(Paths(Path('/nonexistent/lab')))")
    last = run.stderr.strip().splitlines()[-1]
    assert run.returncode == 1 and "needs the Python package cryptography" in last and "dnsdr[test]" in last
