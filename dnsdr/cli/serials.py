"""``dnsdr serials``: which zones are behind, missing or ahead on which DNS server, in seconds."""

from __future__ import annotations

import sys

import click

from dnsdr.adapters.dns_prober import ProbeOptions
from dnsdr.app.serials import SerialSweep, sweep_serials
from dnsdr.cli.common import (
    EXIT_DRIFT,
    EXIT_OK,
    Command,
    config_option,
    echo_json,
    output_option,
    spec_and_settings,
    state_dir_option,
)
from dnsdr.domain.serials import CLASSES, PairResult


def _describe(p: PairResult) -> str:
    if p.serial is not None:
        return f"{p.cls} (serves {p.serial}, database {p.expected}, {p.serial - p.expected:+d})"
    return f"{p.cls} ({p.rcode or p.error})"


def _table(result: SerialSweep, worst: int) -> None:
    report = result.report
    width = max([len("target"), *(len(t.name) for t in report.targets)])
    click.echo(f"{'target':<{width}}  " + "  ".join(f"{c:>11}" for c in CLASSES))
    for name, counts in report.per_target().items():
        click.echo(f"{name:<{width}}  " + "  ".join(f"{counts[c]:>11}" for c in CLASSES))
    click.echo(f"{len(report.zones)} zones x {len(report.targets)} targets, {report.queries} queries "
               f"in {report.seconds:.2f} s")
    drift = [p for p in report.drift() if result.counts_as_drift(p)]
    if result.fenced:
        click.echo(f"\nfenced by a failover (expected to answer for no zone): {', '.join(sorted(result.fenced))}")
    if drift:
        click.echo(f"\nworst pairs ({len(drift)} not in sync):")
        for t in report.targets:
            for p in [p for p in drift if p.target == t.name][:worst]:
                click.echo(f"  {p.target:<{width}}  {p.zone}  {_describe(p)}")
    stuck = report.stuck_zones()
    if stuck:
        click.echo(f"\nzones stuck in Designate ({len(stuck)}):")
        for z in stuck[:worst * 4]:
            click.echo(f"  {z.name}  {z.status}/{z.action}  serial {z.serial}  id {z.id}")
    if result.outside:
        click.echo(f"\nstale servers outside the selection ({len(result.outside)} answers behind or ahead):")
        for p in result.outside[:worst * 4]:
            click.echo(f"  {p.target:<{width}}  {p.zone}  {_describe(p)}")
    click.echo("\nall in sync" if not result.drift and not stuck else "")


@click.command("serials", cls=Command)
@config_option
@state_dir_option
@click.option("--region", "regions", metavar="REGION", multiple=True,
              help="Sweep only this region's nameservers; repeat for several (default: every region).")
@click.option("--db-region", metavar="REGION",
              help="Region whose Designate database holds the expected serials (default: the writable primary).")
@click.option("--timeout", type=click.FloatRange(min=0.01), default=1.0, show_default=True,
              help="Seconds an attempt waits for an answer, over UDP or over TCP after a truncated answer "
                   "(earlier UDP attempts are resent sooner, from the measured round trip). Every network wait "
                   "is bounded: whatever the targets answer and however many there are (they are probed in "
                   "parallel), the DNS sweep waits at most (ceil(ZONES / window) + 2) x (retries + 1) x timeout "
                   "seconds, plus ZONES x (retries + 1) / rate with a rate limit (CPU time aside); e.g. 1,000 "
                   "zones with the defaults: (10 + 2) x 3 x 1 + 0.06 = 36.06 s.")
@click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True,
              help="Retries per pair after a timeout or a failed TCP attempt; then the pair is unreachable.")
@click.option("--rate", type=click.FloatRange(min=0), default=50_000.0, show_default=True,
              help="Queries per second per target (0: no limit).")
@click.option("--window", type=click.IntRange(min=1, max=4096), default=100, show_default=True,
              help="UDP queries in flight per target (TCP: 8 connections); the worst case grows with "
                   "ZONES / window.")
@click.option("--worst", type=click.IntRange(min=0), default=5, show_default=True,
              help="Pairs not in sync to list per target.")
@click.option("--pairs", is_flag=True, help="With -o json, include every (zone, target) pair.")
@output_option
def serials(config: str | None, secrets_dir: str | None, state_dir: str | None, regions: tuple[str, ...],
            db_region: str | None, timeout: float, retries: int, rate: float, window: int, worst: int, pairs: bool,
            output: str) -> None:
    """Compare every live zone's SOA serial on every DNS target with Designate's database.

    Each (zone, target) pair is in_sync, behind (serial < database), ahead (serial > database: lost
    writes or clock skew; needs a forced retransfer), missing (NXDOMAIN, REFUSED, NOTAUTH, SERVFAIL)
    or unreachable (timeout, network error, or an answer that failed validation: wrong ID or
    question, no AA flag, malformed). Serials compare with RFC 1982 arithmetic. Zones Designate
    itself left PENDING or ERROR are listed too. Every other backend the spec knows is swept as
    well: one outside --region that still answers with a stale serial is named and is drift; a
    backend a failover fenced (recorded in --state-dir) must answer for no zone.

    \b
    Exit codes:
      0  every pair in sync and no zone in ERROR
      3  drift: some pair not in sync, a stale server outside the selection, a fenced server
         answering again, or a zone in ERROR in Designate
      1  could not run (bad spec, database unreachable, ...)
      2  usage error
    """
    _, spec, settings = spec_and_settings(config, secrets_dir, state_dir)
    options = ProbeOptions(timeout=timeout, retries=retries, rate=rate or None, window=window)
    result = sweep_serials(spec, settings.resolver, regions, db_region, options, settings.store(spec))
    if output == "json":
        doc = result.report.to_dict(worst=worst, include_pairs=pairs)
        doc["database_region"] = result.database_region
        doc["fenced"] = sorted(result.fenced)
        doc["stale_outside_selection"] = [p.to_dict() for p in result.outside]
        doc["drift"] = result.drift
        echo_json(doc)
    else:
        _table(result, worst)
    sys.exit(EXIT_DRIFT if result.drift else EXIT_OK)
