"""``dnsdr history`` and ``dnsdr journal``: past runs with their timelines, and leaving a stuck run."""

from __future__ import annotations

import sys
import time

import click

from dnsdr.app.history import abandon, history, unfinished
from dnsdr.cli.common import (
    Command,
    Group,
    config_option,
    echo_json,
    fail,
    output_option,
    spec_and_settings,
    state_dir_option,
)
from dnsdr.domain.journal import Journal


def _when(stamp: float | None) -> str:
    return "-" if stamp is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def _summary(j: Journal) -> dict[str, object]:
    total = None if j.finished_at is None else round(j.finished_at - j.started_at, 3)
    return {"run_id": j.run_id, "operation": j.operation, "from": j.from_region, "to": j.to_region,
            "outcome": j.outcome.value, "started_at": j.started_at, "finished_at": j.finished_at,
            "total_seconds": total, "epoch": j.epoch, "forces": j.forces, "notes": j.notes,
            "steps": [{"name": s.name, "status": s.status.value, "seconds": s.seconds, "attempts": s.attempts,
                       "detail": s.detail} for s in j.steps]}


@click.command("history", cls=Command)
@config_option
@state_dir_option
@output_option
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="Newest runs to show.")
@click.option("--steps/--no-steps", default=True, show_default=True, help="Show each run's timeline.")
def history_command(config: str | None, secrets_dir: str | None, state_dir: str | None, output: str, limit: int,
                    steps: bool) -> None:
    """List past failovers, switchovers and rejoins of this spec, newest first, with their timelines."""
    _, spec, settings = spec_and_settings(config, secrets_dir, state_dir)
    runs = history(settings.store(spec), limit)
    if output == "json":
        echo_json([_summary(j) for j in runs])
        return
    if not runs:
        click.echo(f"no finished runs of {spec.name} in {settings.state_location}")
        return
    for j in runs:
        total = "-" if j.finished_at is None else f"{j.finished_at - j.started_at:.2f} s"
        click.echo(f"{_when(j.started_at)}  {j.run_id}  {j.operation} {j.from_region}->{j.to_region}  "
                   f"{j.outcome.value}  {total}" + (f"  epoch {j.epoch}" if j.epoch is not None else ""))
        if steps:
            for s in j.steps:
                seconds = f"{s.seconds:7.2f} s" if s.seconds is not None else "      - "
                click.echo(f"    {seconds}  {s.status.value:8} {s.name}")


@click.group(cls=Group)
def journal() -> None:
    """The journal of the current run: leave a run that cannot be resumed, knowingly."""


@journal.command("abandon")
@config_option
@state_dir_option
@click.option("--run", "run_id", metavar="ID", help="Only if the unfinished run is this one.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def abandon_command(config: str | None, secrets_dir: str | None, state_dir: str | None, run_id: str | None,
                    yes: bool) -> None:
    """Drop the unfinished (crashed or failed) run so another operation can start.

    What the run already changed stays changed: check `dnsdr status` before starting another
    operation. The run is kept in `dnsdr history` as abandoned.
    """
    _, spec, settings = spec_and_settings(config, secrets_dir, state_dir)
    store = settings.store(spec)
    current = unfinished(store)
    if current is None:
        fail(f"no unfinished run is journaled in {settings.state_location}")
    done = [s.name for s in current.steps if s.status.value in ("done", "skipped")]
    click.echo(f"unfinished: {current.operation} {current.from_region}->{current.to_region} (run {current.run_id}), "
               f"{current.outcome.value}; steps in effect: {', '.join(done) or 'none'}")
    if not yes:
        if not sys.stdin.isatty():
            fail("refusing to abandon without confirmation: pass --yes (no terminal to ask on)")
        click.confirm("Abandon it? Its completed steps stay in effect", abort=True)
    dropped = abandon(store, run_id or current.run_id)
    click.echo(f"run {dropped.run_id} abandoned; check `dnsdr status` before the next operation")
