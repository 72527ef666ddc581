"""``dnsdr promote | switchover | rejoin``: the three verbs that change who serves.

Each prints its plan with --dry-run (and changes nothing; exit 4 if it would be refused), asks for
confirmation unless --yes, shows progress per step with the time of day and ends with a timeline.
A killed or failed run resumes when the same command is run again (exit 5 says so).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from dnsdr.app.operations import NothingToDo, OperationRequest, Prepared, execute, prepare
from dnsdr.app.preflight import PreflightError
from dnsdr.cli.common import (
    EXIT_INCOMPLETE,
    EXIT_REFUSED,
    Command,
    config_option,
    echo_json,
    fail,
    spec_and_settings,
    state_dir_option,
)
from dnsdr.domain.errors import DnsdrError
from dnsdr.domain.journal import Journal, StepRecord
from dnsdr.domain.plan import Operation, Plan, Step
from dnsdr.domain.safety import Force
from dnsdr.engine.errors import Refused

log = logging.getLogger("dnsdr.cli.operations")

FORCE_HELP = (
    "Override one named safety refusal, knowingly; repeat for several: "
    + ", ".join(f.value for f in Force) + ". A healthy, writable old primary can never be forced."
)


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    options: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
        config_option,
        state_dir_option,
        click.option("--dry-run", is_flag=True,
                     help="Print the plan and the safety verdict; change nothing (exit 4 if it would be refused)."),
        click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation."),
        click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _print_plan(plan: Plan) -> None:
    click.echo(f"Plan: {plan.operation.value} {plan.from_region} -> {plan.to_region} "
               f"(ends in {plan.final_state.describe()}), {len(plan.steps)} steps")
    for i, step in enumerate(plan.steps, 1):
        click.echo(f"  {i:2}. {step.name}\n      on {step.target}\n      changes: {step.changes}")


def _now() -> str:
    return time.strftime("%H:%M:%S")


def _progress(output: str) -> Callable[[str, Step, StepRecord], None]:
    def show(event: str, step: Step, record: StepRecord) -> None:
        extra = {"step": step.name, "region": step.region}
        log.info("%s %s", event, step.name, extra=extra)
        if output == "json":
            return
        if event == "start":
            click.echo(f"{_now()}  … {step.name}", err=True)
        elif event == "already":
            click.echo(f"{_now()}  = {step.name}: {record.status.value} earlier", err=True)
        elif event == "done":
            mark = "✓" if record.status.value == "done" else "-"
            click.echo(f"{_now()}  {mark} {step.name} ({record.seconds or 0:.2f} s): {record.detail}", err=True)
        elif event == "failed":
            click.echo(f"{_now()}  ✗ {step.name}: {record.detail}", err=True)
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


def _divergence(prepared: Prepared) -> dict[str, Any] | None:
    """A rejoin's comparison of the returning region's Designate data with the primary's, when one was made."""
    found = prepared.runtime.last_divergence
    return found.to_dict() if found is not None else None


def _dry_run(prepared: Prepared, output: str) -> None:
    report = prepared.preflight()
    preview = prepared.preview() if report.ok else None
    allowed = report.ok and preview is not None and preview.allowed
    assessment = prepared.assessment
    if output == "json":
        echo_json({"plan": [{"name": s.name, "target": s.target, "changes": s.changes} for s in prepared.plan.steps],
                   "preflight": {"ok": report.ok, "problems": list(report.problems), "checked": list(report.checked)},
                   "verdict": preview.to_dict() if preview else None, "allowed": allowed,
                   "assessment": assessment.to_dict() if assessment else None, "divergence": _divergence(prepared)})
    else:
        _print_plan(prepared.plan)
        if assessment is not None:
            click.echo(f"\nWhat still runs in {assessment.region} (lost: gone; kept: stays in the pool, re-pointed; "
                       "fenced: loses every zone; stopped: Designate services stopped):")
            for c in assessment.components:
                click.echo(f"  {c.treatment:15} {c.name}: {c.detail}")
            for risk in assessment.risks:
                click.echo(f"  risk: {risk}")
        click.echo("\nPreflight: " + ("ok (" + ", ".join(report.checked) + ")" if report.ok else "FAILED"))
        for problem in report.problems:
            click.echo(f"  - {problem}")
        if preview is None:
            click.echo("Safety verdict now: not evaluated (preflight failed): would be REFUSED")
        elif preview.allowed:
            click.echo("Safety verdict now: " + "\n".join(["allowed"] + [f"  risk: {r}" for r in preview.risks]))
        else:
            refusals = [f"  - {r}" for r in preview.refusals]
            click.echo("Safety verdict now: " + "\n".join(["would be REFUSED", *refusals]))
        click.echo("Dry run: nothing was changed.")
    if not allowed:
        sys.exit(EXIT_REFUSED)


def _run(config: str | None, secrets_dir: str | None, state_dir: str | None, request: OperationRequest,
         dry_run: bool, yes: bool, output: str) -> None:
    _, spec, settings = spec_and_settings(config, secrets_dir, state_dir)
    store = settings.store(spec)
    prepared = prepare(spec, request, store, settings.resolver)
    if isinstance(prepared, NothingToDo):
        click.echo(prepared.message)
        return
    try:
        if dry_run:
            _dry_run(prepared, output)
            return
        report = prepared.preflight()
        if not report.ok:
            raise PreflightError(list(report.problems))
        if not yes:
            if not sys.stdin.isatty():
                fail("refusing to act without confirmation: pass --yes (no terminal to ask on)")
            _print_plan(prepared.plan)
            click.confirm(f"Run this {prepared.plan.operation.value} now?", abort=True)
        try:
            result = execute(prepared, _progress(output), checked=report)
        except Refused as exc:
            if output == "json":
                echo_json({"outcome": "refused", "refusals": [r.render() for r in exc.verdict.refusals],
                           "divergence": _divergence(prepared)})
            else:
                click.echo("\nRefused; nothing more was changed:", err=True)
                for refusal in exc.verdict.refusals:
                    click.echo(f"  - {refusal.render()}", err=True)
            sys.exit(EXIT_REFUSED)
        except DnsdrError as exc:
            journal = _journal_of(store, prepared)
            if journal is not None:
                _report(journal, [], output)
                fail(f"{exc}\nFix the cause and run the same command again: it resumes where it stopped.",
                     EXIT_INCOMPLETE)
            raise
    finally:
        prepared.close()
    if result.resumed and output != "json":
        click.echo(f"(resumed run {result.journal.run_id})")
    _report(result.journal, result.risks, output)


def _journal_of(store: Any, prepared: Prepared) -> Journal | None:
    """The journal of this run if it got as far as starting one (not a refused lease or plan)."""
    try:
        journal: Journal | None = store.load_journal()
    except DnsdrError:
        return None
    return journal if journal is not None and journal.fingerprint == prepared.plan.fingerprint else None


FORCE_OPTION = click.option("--force", "force", multiple=True, type=click.Choice([f.value for f in Force]),
                            metavar="NAME", help=FORCE_HELP)


@click.command(cls=Command)
@_common
@click.option("--region", required=True, metavar="REGION", help="The region to promote (the surviving one).")
@click.option("--from", "from_region", metavar="REGION", help="The lost primary (default: the current primary).")
@FORCE_OPTION
def promote(config: str | None, secrets_dir: str | None, state_dir: str | None, dry_run: bool, yes: bool,
            output: str, region: str, from_region: str | None, force: tuple[str, ...]) -> None:
    """Fail over: the primary region is lost; promote REGION and serve DNS from the survivors.

    Fences the old primary when reachable, waits for the relay log, promotes, repoints Designate,
    applies pools without the lost region, rewrites backend masters and proves every zone converged.
    """
    request = OperationRequest(Operation.FAILOVER, region, from_region, frozenset(Force(v) for v in force))
    _run(config, secrets_dir, state_dir, request, dry_run, yes, output)


@click.command(cls=Command)
@_common
@click.option("--to", "to_region", required=True, metavar="REGION", help="The region that becomes primary.")
def switchover(config: str | None, secrets_dir: str | None, state_dir: str | None, dry_run: bool, yes: bool,
               output: str, to_region: str) -> None:
    """Planned move of the primary to another region, with zero loss.

    The current primary goes read-only, the target catches up to its last transaction, is promoted,
    and the old primary becomes its replica; both regions keep serving.
    """
    _run(config, secrets_dir, state_dir, OperationRequest(Operation.SWITCHOVER, to_region), dry_run, yes, output)


@click.command(cls=Command)
@_common
@click.option("--region", required=True, metavar="REGION", help="The returning region.")
@FORCE_OPTION
def rejoin(config: str | None, secrets_dir: str | None, state_dir: str | None, dry_run: bool, yes: bool,
           output: str, region: str, force: tuple[str, ...]) -> None:
    """Bring a region back after a failover: as a replica of the primary, with its targets restored.

    Refuses when the returning database holds transactions the primary never had, listing them and
    the zones and recordsets they created, changed or deleted (see `dnsdr divergence`, which can
    replay them). --force discard-divergence rebuilds its database from the primary instead,
    discarding them.
    """
    request = OperationRequest(Operation.REJOIN, region, forces=frozenset(Force(v) for v in force))
    _run(config, secrets_dir, state_dir, request, dry_run, yes, output)
