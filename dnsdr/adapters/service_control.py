"""Stop, start, restart and repoint a region's Designate services.

The ``command`` driver runs operator-supplied commands (systemctl over ssh, an Ansible playbook,
or the local lab's `dnsdr lab service ...`) with ``{service}``, ``{region}``, ``{db_host}`` and
``{db_port}`` filled in. Commands are split with shlex, then filled in word by word (a value never
splits into two arguments), and run without a shell.

A command with ``{service}`` runs once per service, in order. A word with ``{services}`` instead
repeats once per service, so one command acts on all of them (``ssh host systemctl stop
designate-{services}``): one connection instead of five, which matters most when the host is gone and
every connection waits out its timeout.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from dnsdr.domain.errors import RetryLater
from dnsdr.domain.spec import Endpoint, RegionSpec

# Stop order: no new API writes first, then no serial bumps, no NOTIFY, no RPC, no AXFR.
STOP_ORDER = ("api", "producer", "worker", "central", "mdns")
# Start order: central first (others' RPC casts are dropped until it consumes), API last.
START_ORDER = ("central", "mdns", "worker", "producer", "api")


SERVICES = "{services}"


def fill(template: str, services: Sequence[str] = (), **values: str) -> list[str]:
    """``template`` as argv: split first, then each word filled in; a word with ``{services}``
    becomes one word per service."""
    argv: list[str] = []
    for word in shlex.split(template):
        if SERVICES in word:
            head, _, tail = word.partition(SERVICES)
            argv += [(head.format(**values) + s + tail.format(**values)) for s in services]
        else:
            argv.append(word.format(**values))
    return argv


class ServiceControlError(RetryLater):
    """A control command failed or timed out; the message names the command and its output tail."""


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int
    output: str


class CommandController:
    def __init__(self, region: RegionSpec, timeout: float = 120.0) -> None:
        if region.designate is None:
            raise ServiceControlError(f"region {region.name} has no Designate to control")
        self.region = region
        self.control = region.designate.control
        self.timeout = timeout
        if self.control.driver != "command":
            raise ServiceControlError(
                f"region {region.name}: service control driver {self.control.driver!r} is not available in "
                "standalone mode; use driver: command"
            )

    def _template(self, action: str) -> str:
        template = self.control.command(action)
        if template is None:
            raise ServiceControlError(f"region {self.region.name}: no {action!r} command configured")
        return template

    def _run(self, action: str, services: Sequence[str] = (), **values: str) -> CommandResult:
        template = self._template(action)
        try:
            argv = tuple(fill(template, services, region=self.region.name, **values))
        except (KeyError, ValueError, IndexError) as exc:
            raise ServiceControlError(f"region {self.region.name}: bad {action!r} command template: {exc}") from None
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout, check=False)
        except FileNotFoundError:
            raise ServiceControlError(f"{action} in {self.region.name}: command not found: {argv[0]}") from None
        except subprocess.TimeoutExpired:
            raise ServiceControlError(
                f"{action} in {self.region.name}: {argv[0]} did not finish within {self.timeout:g} s"
            ) from None
        output = (proc.stdout + proc.stderr).strip()
        if proc.returncode != 0:
            tail = "\n".join(output.splitlines()[-5:])
            raise ServiceControlError(
                f"{action} in {self.region.name} failed (exit {proc.returncode}): {' '.join(argv[:3])}...\n{tail}"
            )
        return CommandResult(argv, proc.returncode, output)

    def _each(self, action: str, services: Sequence[str]) -> None:
        if SERVICES in self._template(action):
            self._run(action, services)
            return
        for service in services:
            self._run(action, service=service)

    def stop(self, services: Sequence[str] = STOP_ORDER) -> None:
        self._each("stop", services)

    def start(self, services: Sequence[str] = START_ORDER) -> None:
        self._each("start", services)

    def restart(self, services: Sequence[str]) -> None:
        self._each("restart", services)

    def repoint(self, database: Endpoint) -> None:
        """Point every service of the region at ``database`` and restart them."""
        self._run("repoint", START_ORDER, db_host=database.host, db_port=str(database.port), service="all")
