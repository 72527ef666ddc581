"""``dnsdr divergence``: the Designate changes a returning region holds that the primary never received.

Shows them (zone, recordset, what changed, the returning side's value and the primary's), exports
them as JSON for review (a 0600 file), and with ``--replay`` re-applies them through the primary's
Designate API: a dry run that only says what it would do, unless ``--yes``.
"""

from __future__ import annotations

import json
import sys
import time

import click

from dnsdr.adapters.files import write_private
from dnsdr.app.divergence import Replayed, find, replay
from dnsdr.cli.common import (
    EXIT_DRIFT,
    Command,
    config_option,
    echo_json,
    output_option,
    spec_and_settings,
    state_dir_option,
)
from dnsdr.domain.divergence import Change, Divergence, summary


def _value(change: Change, old: bool) -> str:
    value = change.old if old else change.primary
    return value.render(change.is_zone) if value is not None else "absent"


def _table(d: Divergence) -> None:
    for line in summary(d):
        click.echo(line)
    for note in d.notes:
        click.echo(f"note: {note}")
    if not d.changes:
        return
    rows = [(c.zone, "" if c.is_zone else f"{c.name} {c.type}", c.what, _value(c, True), _value(c, False))
            for c in d.changes]
    head = ("ZONE", "RECORDSET", "CHANGE", f"ON {d.returning.upper()}", f"ON {d.primary.upper()} (PRIMARY)")
    widths = [max(len(r[i]) for r in [*rows, head]) for i in range(4)]
    click.echo("")
    for row in [head, *rows]:
        click.echo("  ".join(f"{cell:<{widths[i]}}" for i, cell in enumerate(row[:4])) + "  " + row[4])


def _replayed(results: list[Replayed], applied: bool) -> None:
    click.echo("\nReplay through the primary's API" + ("" if applied else " (dry run: nothing was changed; "
                                                           "add --yes to apply)") + ":")
    for r in results:
        subject = r.change.zone if r.change.is_zone else f"{r.change.name} {r.change.type}"
        click.echo(f"  {r.outcome:<34} {r.change.kind.value:<18} {subject}")


@click.command("divergence", cls=Command)
@config_option
@state_dir_option
@click.option("--region", required=True, metavar="REGION", help="The returning region (the old primary).")
@output_option
@click.option("--export", "export", metavar="FILE", type=click.Path(dir_okay=False),
              help="Also write the report as JSON to FILE (mode 0600), for review.")
@click.option("--replay", "replay_changes", is_flag=True,
              help="Re-apply the replayable changes through the primary's Designate API (a dry run unless --yes), "
                   "then wait until every serving nameserver answers with them.")
@click.option("--yes", "-y", is_flag=True, help="With --replay: apply, do not just show.")
@click.option("--timeout", type=click.FloatRange(min=1), default=180.0, show_default=True,
              help="Seconds to wait for the nameservers to serve what was replayed.")
def divergence_command(config: str | None, secrets_dir: str | None, state_dir: str | None, region: str,
                       output: str, export: str | None, replay_changes: bool, yes: bool, timeout: float) -> None:
    """What REGION's Designate database holds that the primary never received, in DNS terms.

    When the returning region holds transactions the primary lacks (errant GTIDs), its zones,
    recordsets and records are compared with the primary's and every change it made after the split
    is listed with its values; the primary's own changes since are not losses and are only counted.
    Conflicts (changed on both sides), zone deletions and zone attribute changes are never replayed.
    Exit 3 when changes remain that the primary lacks and were not replayed.
    """
    _, spec, settings = spec_and_settings(config, secrets_dir, state_dir)
    store = settings.store(spec)
    d = find(spec, store, settings.resolver, region)
    if export:
        doc = {"spec": spec.name, "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **d.to_dict()}
        write_private(export, json.dumps(doc, indent=2) + "\n")
    results = (replay(spec, store, d, yes, resolver=settings.resolver, timeout=timeout)
               if replay_changes and d.changes else [])
    if output == "json":
        echo_json({**d.to_dict(), "replay": [r.to_dict() for r in results] if replay_changes else None,
                   "exported": export})
    else:
        _table(d)
        if results:
            _replayed(results, yes)
        if export:
            click.echo(f"\nexported to {export}")
    applied = {id(r.change) for r in results if r.done}
    if any(id(c) not in applied for c in d.changes):
        sys.exit(EXIT_DRIFT)
