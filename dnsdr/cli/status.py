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

from dnsdr.adapters.mysql import DatabaseAdapter, Timeouts, adapter_for
from dnsdr.adapters.secrets import SecretError
from dnsdr.cli.common import config_option, echo_json, load_spec, output_option
from dnsdr.domain.replication import ReplicationState, assess, errant_transactions, transactions_behind
from dnsdr.domain.spec import DatabaseSpec, DesignateDR

AdapterFactory = Callable[[DatabaseSpec], DatabaseAdapter]


def _default_factory(spec: DatabaseSpec) -> DatabaseAdapter:
    return adapter_for(spec, timeouts=Timeouts(connect=3, read=10, write=10))


def _observe(region: str, db: DatabaseSpec, factory: AdapterFactory) -> ReplicationState:
    try:
        return factory(db).observe()
    except SecretError as exc:
        return ReplicationState.unreachable(str(db.endpoint), db.flavour.value, f"credentials: {exc}", "configuration")


def database_status(spec: DesignateDR, factory: AdapterFactory | None = None) -> list[dict[str, Any]]:
    """One JSON-ready row per region with a database: role, health verdict, state, distance, errant."""
    factory = factory or _default_factory
    regions = spec.database_regions
    with ThreadPoolExecutor(max_workers=max(1, len(regions))) as pool:
        futures = [pool.submit(_observe, r.name, r.database, factory) for r in regions if r.database]
        states = {r.name: f.result() for r, f in zip(regions, futures, strict=True)}
    primary = states.get(spec.primary_region)
    rows = []
    for r in regions:
        state = states[r.name]
        expect_replica = r.name != spec.primary_region
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


@click.command("status")
@config_option
@output_option
def status(config: str, output: str) -> None:
    """Show each region's database: role, health, replication threads, lag, semi-sync, GTID position.

    Unreachable servers are shown as such. Exit code 0 whatever the health (this is a report).
    """
    spec = load_spec(config)
    rows = database_status(spec)
    if output == "json":
        echo_json({"name": spec.name, "primary_region": spec.primary_region, "databases": rows})
    else:
        click.echo(database_table(rows))
