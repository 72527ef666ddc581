"""``dnsdr pools``: render pools.yml for any state of the world, and validate any pools.yml."""

from __future__ import annotations

import click

from dnsdr.adapters.files import POOLS_LIMIT, write_private
from dnsdr.adapters.secrets import SecretError
from dnsdr.app.settings import read_yaml
from dnsdr.cli.common import Group, config_option, fail, spec_and_settings
from dnsdr.domain.pools import WorldState, redacted, render_pools_yaml
from dnsdr.domain.pools_check import check_pools


@click.group(cls=Group)
def pools() -> None:
    """Render and validate Designate pools.yml files."""


@pools.command("render")
@config_option
@click.option("--primary", metavar="REGION",
              help="Region whose database is writable (default: spec.primaryRegion).")
@click.option("--lost", metavar="REGION", multiple=True,
              help="A region that is gone; repeat for several. Its addresses vanish from the output.")
@click.option("-o", "--output-file", "output_file", metavar="FILE",
              type=click.Path(dir_okay=False, writable=True),
              help="Write to FILE (mode 0600, with real API tokens) instead of stdout.")
def render(config: str | None, secrets_dir: str | None, primary: str | None, lost: tuple[str, ...],
           output_file: str | None) -> None:
    """Render the pools.yml that Designate needs in a given state.

    \b
    Healthy:       dnsdr pools render -c dr.yaml
    After r1 loss: dnsdr pools render -c dr.yaml --primary r2 --lost r1 -o pools.yml

    On stdout, API tokens are shown as REDACTED; with -o they are resolved from their references
    and written to a private file ready for `designate-manage pool update --file`.
    """
    _, spec, settings = spec_and_settings(config, secrets_dir)
    state = WorldState(primary=primary or spec.primary_region, lost=frozenset(lost))
    if output_file is None:
        click.echo(render_pools_yaml(spec, state, redacted), nl=False)
        return
    try:
        text = render_pools_yaml(spec, state, settings.resolver)
    except SecretError as exc:
        fail(f"cannot resolve a credential: {exc}")
    write_private(output_file, text)  # a fresh 0600 file renamed into place: never through a planted symlink
    click.echo(f"wrote {output_file} ({state.describe()})", err=True)


@pools.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
def validate(file: str) -> None:
    """Check FILE as `designate-manage pool update` would, with clearer messages.

    Accepts any pools.yml, written by dnsdr, by hand or by other tools. Exit 0 when valid,
    1 with one line per problem otherwise.
    """
    problems = check_pools(read_yaml(file, "pools file", POOLS_LIMIT))
    if problems:
        for line in problems:
            click.echo(f"{file}: {line}", err=True)
        fail(f"{file}: {len(problems)} problem(s); Designate would reject this file")
    click.echo(f"{file}: valid")
