"""``dnsdr spec``: check a DesignateDR document before anything acts on it."""

from __future__ import annotations

import click

from dnsdr.cli.common import config_option, load_spec


@click.group()
def spec() -> None:
    """Work with the DesignateDR document (the topology and policy)."""


@spec.command("validate")
@config_option
def validate(config: str) -> None:
    """Validate the document: every problem is listed with its path; exit 1 if any."""
    dr = load_spec(config)
    regions = ", ".join(
        f"{r.name}({'db' if r.database else 'monitor' if r.name == dr.monitor_region else 'no db'})"
        for r in dr.regions
    )
    click.echo(f"{config}: valid DesignateDR {dr.name!r}: regions {regions}; primary {dr.primary_region}")
