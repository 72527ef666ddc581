"""The ``dnsdr`` command line. click lives in ``dnsdr.cli`` only."""

from __future__ import annotations

import click

from dnsdr.cli import logs
from dnsdr.cli.common import EXIT_CODES_HELP, Group
from dnsdr.cli.control import ack_command, pause_command, resume_command, run_command
from dnsdr.cli.divergence import divergence_command
from dnsdr.cli.history import history_command, journal
from dnsdr.cli.lab import lab
from dnsdr.cli.monitor import monitor
from dnsdr.cli.operations import promote, rejoin, switchover
from dnsdr.cli.operator import operator_command
from dnsdr.cli.pools import pools
from dnsdr.cli.serials import serials
from dnsdr.cli.spec import spec
from dnsdr.cli.status import status

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=Group, context_settings=CONTEXT, epilog=EXIT_CODES_HELP)
@click.version_option(package_name="dnsdr")
@click.option("-v", "--verbose", count=True, help="Log what dnsdr does (info level) on stderr.")
@click.option("--debug", is_flag=True, help="Log everything, with tracebacks of unexpected errors.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Log line format; json lines carry run_id, step and region.")
def cli(verbose: int, debug: bool, log_format: str) -> None:
    """dnsdr: disaster recovery for OpenStack Designate.

    Observes replication and zone serials, renders pools.yml for any state of the world, and fails
    over, switches over and rejoins regions safely. Every command reads the DesignateDR document
    given with -c (the same YAML the Kubernetes operator serves).
    """
    logs.configure(verbose, debug, log_format)


for command in (status, serials, pools, spec, promote, switchover, rejoin, divergence_command, history_command, journal,
                run_command, pause_command, resume_command, ack_command, monitor, operator_command, lab):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="dnsdr")
