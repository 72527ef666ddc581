"""``dnsdr status``: each region's database state (more rows, zone serials and Designate, come later).

The database part is two plain functions other status sections can reuse:
:func:`database_status` (observe every region's database, never raising for an unreachable one) and
:func:`database_table` (render those rows as text).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import click

from dnsdr.adapters.designate_db import DesignateDBError, read_zones
from dnsdr.adapters.dns_prober import sweep
from dnsdr.adapters.mysql import DatabaseAdapter, Timeouts, adapter_for
from dnsdr.adapters.secrets import SecretError
from dnsdr.cli.common import config_option, echo_json, load_spec, output_option
from dnsdr.domain.replication import ReplicationState, assess, errant_transactions, transactions_behind
from dnsdr.domain.serials import targets_from_spec
from dnsdr.domain.spec import DatabaseSpec, DesignateDR

AdapterFactory = Callable[[DatabaseSpec], DatabaseAdapter]


def _default_factory(spec: DatabaseSpec) -> DatabaseAdapter:
    return adapter_for(spec, timeouts=Timeouts(connect=3, read=10, write=10))


def _observe(region: str, db: DatabaseSpec, factory: AdapterFactory) -> ReplicationState:
    try:
        return factory(db).observe()
    except SecretError as exc:
        return ReplicationState.unreachable(str(db.endpoint), db.flavour.value, f"credentials: {exc}", "configuration")


def observed_primary(spec: DesignateDR, states: dict[str, ReplicationState]) -> str:
    """The region whose database is the one writable non-replica; the spec's primary if that is unclear.

    After a failover the spec still names the old primary; the servers say who it is now.
    """
    writable = [name for name, st in states.items() if st.writable and not st.is_replica]
    return writable[0] if len(writable) == 1 else spec.primary_region


def observe_all(spec: DesignateDR, factory: AdapterFactory | None = None) -> dict[str, ReplicationState]:
    factory = factory or _default_factory
    regions = [r for r in spec.database_regions if r.database]
    with ThreadPoolExecutor(max_workers=max(1, len(regions))) as pool:
        futures = [pool.submit(_observe, r.name, r.database, factory) for r in regions if r.database]
        return {r.name: f.result() for r, f in zip(regions, futures, strict=True)}


def database_status(spec: DesignateDR, factory: AdapterFactory | None = None) -> list[dict[str, Any]]:
    """One JSON-ready row per region with a database: role, health verdict, state, distance, errant."""
    regions = spec.database_regions
    states = observe_all(spec, factory)
    primary_name = observed_primary(spec, states)
    primary = states.get(primary_name)
    rows = []
    for r in regions:
        state = states[r.name]
        expect_replica = r.name != primary_name
        verdict = assess(state, expect_replica=expect_replica, max_lag_seconds=spec.policy.max_lag_seconds,
                         semi_sync_required=spec.policy.semi_sync_required)
        behind: int | None = None
        errant: list[str] | None = None
        if expect_replica and primary is not None and primary.reachable and state.reachable:
            behind = transactions_behind(state, primary)
            errant = list(errant_transactions(state, primary))
        health, reasons = verdict.health.value, list(verdict.reasons)
        if errant:
            health = "unhealthy"
            reasons.insert(0, f"holds transactions the primary never had (errant): {', '.join(errant)}")
        rows.append({
            "region": r.name,
            "role": "replica" if expect_replica else "primary",
            "health": health,
            "reasons": reasons,
            "transactions_behind_primary": behind,
            "errant": errant,
            "state": state.to_dict(),
        })
    return rows


def _yn(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def database_table(rows: list[dict[str, Any]]) -> str:
    header = ("REGION", "ROLE", "ENDPOINT", "HEALTH", "READ-ONLY", "IO", "SQL", "LAG", "BEHIND", "SEMI-SYNC",
              "POSITION")
    lines: list[tuple[str, ...]] = [header]
    notes: list[str] = []
    for row in rows:
        st = row["state"]
        ch = st.get("channel")
        semi = st["semi_sync"]
        if not st["reachable"]:
            lines.append((row["region"], row["role"], st["endpoint"], row["health"].upper(), *("-",) * 7))
        else:
            if ch is not None:
                semi_text = "on" if semi["replica_active"] else ("off" if semi["replica_enabled"] else "disabled")
                lag = "-" if ch["lag_seconds"] is None else f"{ch['lag_seconds']:g}s"
            else:
                semi_text = ("async-fallback" if semi["fell_back_to_async"] else
                             f"on ({semi['source_clients']})" if semi["source_active"] else "disabled")
                lag = "-"
            behind = row.get("transactions_behind_primary")
            lines.append((
                row["region"], row["role"], st["endpoint"], row["health"].upper(),
                _yn(st["read_only"] or bool(st.get("super_read_only"))),
                ch["io_running"] if ch else "-", ch["sql_running"] if ch else "-", lag,
                "-" if behind is None else str(behind), semi_text, st["gtid_executed"] or st["gtid_current_pos"] or "-",
            ))
        notes.extend(f"  {row['region']}: {reason}" for reason in row["reasons"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
                     for line in lines)
    return text + ("\n" + "\n".join(notes) if notes else "")


def serial_summary(spec: DesignateDR, primary: str) -> dict[str, Any]:
    """Zone serial drift per target against the primary's Designate database (never raises)."""
    db = spec.region(primary).database
    if db is None:
        return {"error": f"region {primary} has no database"}
    try:
        zones = read_zones(db, timeout=5.0)
        report = sweep(zones, targets_from_spec(spec))
    except (DesignateDBError, SecretError, OSError) as exc:
        return {"error": str(exc)}
    return {"database_region": primary, "zones": len(zones), "in_sync": report.in_sync,
            "per_target": report.per_target(), "stuck": len(report.stuck_zones())}


def serial_table(summary: dict[str, Any]) -> str:
    if "error" in summary:
        return f"zone serials: not swept ({summary['error']})"
    lines = [f"zone serials: {summary['zones']} zones from {summary['database_region']}'s database; "
             f"{'all in sync' if summary['in_sync'] else 'DRIFT'}; {summary['stuck']} stuck PENDING/ERROR"]
    classes = ["in_sync", "behind", "ahead", "missing", "unreachable"]
    lines.append("TARGET".ljust(16) + "".join(c.upper().ljust(13) for c in classes))
    for target, counts in summary["per_target"].items():
        lines.append(target.ljust(16) + "".join(str(counts.get(c, 0)).ljust(13) for c in classes))
    return "\n".join(line.rstrip() for line in lines)


@click.command("status")
@config_option
@output_option
@click.option("--no-serials", is_flag=True, help="Skip the zone serial sweep (databases only).")
def status(config: str, output: str, no_serials: bool) -> None:
    """Show each region's database (role, health, replication, lag, semi-sync, GTID) and zone serial drift.

    The primary is the region whose database is writable and not a replica (after a failover that
    is not the spec's primaryRegion). Unreachable servers are shown as such. Exit code 0 whatever
    the health (this is a report; `dnsdr serials` exits 3 on drift).
    """
    spec = load_spec(config)
    rows = database_status(spec)
    primary = next((r["region"] for r in rows if r.get("role") == "primary"), spec.primary_region)
    summary = None if no_serials else serial_summary(spec, primary)
    if output == "json":
        echo_json({"name": spec.name, "primary_region": primary, "databases": rows, "serials": summary})
    else:
        click.echo(database_table(rows))
        if summary is not None:
            click.echo("\n" + serial_table(summary))
