"""``dnsdr spec``: check a DesignateDR document before anything acts on it."""

from __future__ import annotations

import click

from dnsdr.cli.common import Group, config_option, spec_and_settings


@click.group(cls=Group)
def spec() -> None:
    """Work with the DesignateDR document (the topology and policy)."""


@spec.command("validate")
@config_option
def validate(config: str | None, secrets_dir: str | None) -> None:
    """Validate the document: every problem is listed with its path; exit 1 if any."""
    path, dr, _ = spec_and_settings(config, secrets_dir)
    regions = ", ".join(
        f"{r.name}({'db' if r.database else 'monitor' if r.name == dr.monitor_region else 'no db'})"
        for r in dr.regions
    )
    click.echo(f"{path}: valid DesignateDR {dr.name!r}: regions {regions}; primary {dr.primary_region}")
