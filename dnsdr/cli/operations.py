"""``dnsdr promote | switchover | rejoin``: the three verbs that change who serves.

Each prints its plan with --dry-run (and changes nothing), asks for confirmation unless --yes,
shows progress per step and ends with a timeline. A killed or failed run resumes when the same
command is run again.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from dnsdr.adapters.journal_store import DEFAULT_STATE_DIR, JournalStore, LockedError, StateStoreError
from dnsdr.cli.common import EXIT_INVALID, config_option, echo_json, fail, load_spec
from dnsdr.domain.journal import Journal, StepRecord
from dnsdr.domain.plan import Plan, PlanError, Step, failover_plan, rejoin_plan, switchover_plan
from dnsdr.domain.safety import Force
from dnsdr.domain.spec import DesignateDR
from dnsdr.engine.executor import Executor, Refused, StepFailed
from dnsdr.engine.runtime import EngineError, Runtime

FORCE_HELP = (
    "Override one named safety refusal, knowingly; repeat for several: "
    + ", ".join(f.value for f in Force) + ". A healthy, writable old primary can never be forced."
)


def state_dir_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--state-dir", metavar="DIR", default=lambda: os.environ.get("DNSDR_STATE_DIR", DEFAULT_STATE_DIR),
        show_default="$DNSDR_STATE_DIR or " + DEFAULT_STATE_DIR,
        help="Where the journal, lock and epoch record live.",
    )(func)


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    options: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
        config_option,
        state_dir_option,
        click.option("--dry-run", is_flag=True, help="Print the plan and the safety verdict; change nothing."),
        click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation."),
        click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _current_primary(spec: DesignateDR, store: JournalStore) -> str:
    try:
        record = store.load_cluster()
    except StateStoreError as exc:
        fail(str(exc))
    return record.primary if record else spec.primary_region


def _print_plan(plan: Plan) -> None:
    click.echo(f"Plan: {plan.operation.value} {plan.from_region} -> {plan.to_region} "
               f"(ends in {plan.final_state.describe()}), {len(plan.steps)} steps")
    for i, step in enumerate(plan.steps, 1):
        click.echo(f"  {i:2}. {step.name}\n      on {step.target}\n      changes: {step.changes}")


def _progress(output: str) -> Callable[[str, Step, StepRecord], None]:
    def show(event: str, step: Step, record: StepRecord) -> None:
        if output == "json":
            return
        if event == "start":
            click.echo(f"  … {step.name}", err=True)
        elif event == "already":
            click.echo(f"  = {step.name}: {record.status.value} earlier", err=True)
        elif event == "done":
            mark = "✓" if record.status.value == "done" else "-"
            click.echo(f"  {mark} {step.name} ({record.seconds or 0:.2f} s): {record.detail}", err=True)
        elif event == "failed":
            click.echo(f"  ✗ {step.name}: {record.detail}", err=True)
    return show


def _report(journal: Journal, risks: list[str], output: str) -> None:
    steps = [{"name": s.name, "status": s.status.value, "seconds": s.seconds, "attempts": s.attempts,
              "started_at": s.started_at, "finished_at": s.finished_at, "detail": s.detail} for s in journal.steps]
    total = round((journal.finished_at or journal.started_at) - journal.started_at, 3)
    if output == "json":
        echo_json({"operation": journal.operation, "from": journal.from_region, "to": journal.to_region,
                   "run_id": journal.run_id, "outcome": journal.outcome.value, "epoch": journal.epoch,
                   "total_seconds": total, "steps": steps, "risks": risks, "notes": journal.notes})
        return
    click.echo(f"\nTimeline of run {journal.run_id} ({journal.operation} {journal.from_region} -> "
               f"{journal.to_region}):")
    for s in steps:
        seconds = f"{s['seconds']:7.2f} s" if s["seconds"] is not None else "      - "
        click.echo(f"  {seconds}  {s['status']:8} {s['name']}")
    click.echo(f"  {total:7.2f} s  total; outcome: {journal.outcome.value}"
               + (f"; epoch {journal.epoch}" if journal.epoch is not None else ""))
    for risk in risks:
        click.echo(f"  risk: {risk}")


def _execute(spec: DesignateDR, plan: Plan, store: JournalStore, forces: frozenset[Force], dry_run: bool,
             yes: bool, output: str, secrets_dir: Path | None = None) -> None:
    try:
        runtime = Runtime(spec, plan, store, forces, secrets_dir=secrets_dir)
    except EngineError as exc:
        fail(str(exc))
    if dry_run:
        if output == "json":
            echo_json({"plan": [{"name": s.name, "target": s.target, "changes": s.changes} for s in plan.steps],
                       "verdict": runtime.preview()})
        else:
            _print_plan(plan)
            click.echo("\nSafety verdict now: " + runtime.preview_text())
            click.echo("Dry run: nothing was changed.")
        return
    if not yes:
        if not sys.stdin.isatty():
            fail("refusing to act without confirmation: pass --yes (no terminal to ask on)")
        _print_plan(plan)
        click.confirm(f"Run this {plan.operation.value} now?", abort=True)
    executor = Executor(plan, store, runtime.handlers(), forces, on_event=_progress(output))
    runtime.attach(executor)
    try:
        result = executor.run()
    except LockedError as exc:
        fail(str(exc))
    except Refused as exc:
        if output == "json":
            echo_json({"outcome": "refused", "refusals": [r.render() for r in exc.verdict.refusals]})
        else:
            click.echo("\nRefused; nothing more was changed:", err=True)
            for refusal in exc.verdict.refusals:
                click.echo(f"  - {refusal.render()}", err=True)
        sys.exit(EXIT_INVALID)
    except (StepFailed, StateStoreError, EngineError) as exc:
        journal = store.load_journal()
        if journal is not None:
            _report(journal, executor.risks, output)
        fail(f"{exc}\nFix the cause and run the same command again: it resumes where it stopped.")
    finally:
        runtime.close()
    if result.resumed and output != "json":
        click.echo(f"(resumed run {result.journal.run_id})")
    _report(result.journal, result.risks, output)


def _forces(values: tuple[str, ...]) -> frozenset[Force]:
    return frozenset(Force(v) for v in values)


FORCE_OPTION = click.option("--force", "force", multiple=True, type=click.Choice([f.value for f in Force]),
                            metavar="NAME", help=FORCE_HELP)


@click.command()
@_common
@click.option("--region", required=True, metavar="REGION", help="The region to promote (the surviving one).")
@click.option("--from", "from_region", metavar="REGION", help="The lost primary (default: the current primary).")
@FORCE_OPTION
def promote(config: str, state_dir: str, dry_run: bool, yes: bool, output: str, region: str,
            from_region: str | None, force: tuple[str, ...]) -> None:
    """Fail over: the primary region is lost; promote REGION and serve DNS from the survivors.

    Fences the old primary when reachable, waits for the relay log, promotes, repoints Designate,
    applies pools without the lost region, rewrites backend masters and proves every zone converged.
    """
    spec = load_spec(config)
    store = JournalStore(Path(state_dir), spec.name)
    old = from_region or _current_primary(spec, store)
    if old == region and from_region is None and not dry_run:
        click.echo(f"{region} is already the primary (recorded in {state_dir}); nothing to do")
        return
    try:
        plan = failover_plan(spec, old, region)
    except PlanError as exc:
        fail(str(exc))
    _execute(spec, plan, store, _forces(force), dry_run, yes, output)


@click.command()
@_common
@click.option("--to", "to_region", required=True, metavar="REGION", help="The region that becomes primary.")
def switchover(config: str, state_dir: str, dry_run: bool, yes: bool, output: str, to_region: str) -> None:
    """Planned move of the primary to another region, with zero loss.

    The current primary goes read-only, the target catches up to its last transaction, is promoted,
    and the old primary becomes its replica; both regions keep serving.
    """
    spec = load_spec(config)
    store = JournalStore(Path(state_dir), spec.name)
    try:
        plan = switchover_plan(spec, _current_primary(spec, store), to_region)
    except PlanError as exc:
        fail(str(exc))
    _execute(spec, plan, store, frozenset(), dry_run, yes, output)


@click.command()
@_common
@click.option("--region", required=True, metavar="REGION", help="The returning region.")
def rejoin(config: str, state_dir: str, dry_run: bool, yes: bool, output: str, region: str) -> None:
    """Bring a region back after a failover: as a replica of the primary, with its targets restored.

    Refuses (and lists them) when the returning database holds transactions the primary never had.
    """
    spec = load_spec(config)
    store = JournalStore(Path(state_dir), spec.name)
    try:
        plan = rejoin_plan(spec, region, _current_primary(spec, store))
    except PlanError as exc:
        fail(str(exc))
    _execute(spec, plan, store, frozenset(), dry_run, yes, output)
