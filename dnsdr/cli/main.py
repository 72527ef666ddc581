"""The ``dnsdr`` command line. click lives in ``dnsdr.cli`` only."""

from __future__ import annotations

import click

from dnsdr.cli.lab import lab
from dnsdr.cli.operations import promote, rejoin, switchover
from dnsdr.cli.pools import pools
from dnsdr.cli.serials import serials
from dnsdr.cli.spec import spec
from dnsdr.cli.status import status

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="dnsdr")
def cli() -> None:
    """dnsdr: disaster recovery for OpenStack Designate.

    Observes replication and zone serials, renders pools.yml for any state of the world, and fails
    over, switches over and rejoins regions safely. Every command reads the DesignateDR document
    given with -c (the same YAML the Kubernetes operator serves).

    \b
    Exit codes: 0 ok, 1 invalid input or refused/failed operation, 2 usage error.
    """


for command in (status, serials, pools, spec, promote, switchover, rejoin, lab):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="dnsdr")
