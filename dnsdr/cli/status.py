"""``dnsdr status``: each region's database, who is primary and whether everyone agrees, the recorded
epoch and any unfinished run, and the zone serial drift per target."""

from __future__ import annotations

import time
from typing import Any

import click

from dnsdr.app.observe import Observation, Observer
from dnsdr.cli.common import Command, config_option, echo_json, output_option, spec_and_settings, state_dir_option


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


def operation_lines(obs: Observation) -> list[str]:
    """Primary, epoch, agreement and unfinished runs, as the few lines above the table."""
    cluster = obs.cluster
    if cluster is not None:
        recorded = f"recorded primary {cluster.primary}, epoch {cluster.epoch}" + (
            f", lost {','.join(cluster.lost)}" if cluster.lost else "")
    else:
        recorded = "recorded state unreadable" if obs.state_error else "no operation recorded"
    lines = [f"primary: {obs.primary} ({recorded})"]
    if cluster is not None and cluster.kept:
        lines.append(f"kept from the lost region (in the pool, mastered by {cluster.primary}'s mdns): "
                     + ", ".join(cluster.kept))
    if cluster is not None and cluster.fenced:
        lines.append("fenced in the lost region (every zone removed; they must answer for none): "
                     + ", ".join(cluster.fenced))
    if obs.state_error:
        lines.append(f"state store: cannot read ({obs.state_error})")
    for reason in obs.agreement.reasons:
        lines.append(f"DISAGREE: {reason}")
    control = obs.control
    if control is not None and control.paused:
        lines.append("automatic failover: PAUSED" + (f" ({control.paused_reason})" if control.paused_reason else "")
                     + "; `dnsdr resume` to allow it")
    if control is not None and control.last_auto_failover_at is not None and (
            control.acknowledged_at is None or control.acknowledged_at < control.last_auto_failover_at):
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(control.last_auto_failover_at))
        lines.append(f"automatic failover at {when} not yet acknowledged: the next one waits for the cool-down or "
                     "`dnsdr ack`")
    if control is not None and control.failed_attempts:
        lines.append(f"automatic failover failed {control.failed_attempts} time(s): {control.last_error}")
    op = obs.operation
    if op is not None:
        at = op.last_step
        lines.append(f"UNFINISHED: {op.operation} {op.from_region}->{op.to_region} (run {op.run_id}) {op.outcome.value}"
                     + (f" at {at.name}: {at.detail}" if at and at.detail else f" at {at.name}" if at else "")
                     + "; run the same command again to resume, or `dnsdr journal abandon`")
    return lines


@click.command("status", cls=Command)
@config_option
@state_dir_option
@output_option
@click.option("--no-serials", is_flag=True, help="Skip the zone serial sweep (databases only).")
def status(config: str | None, secrets_dir: str | None, state_dir: str | None, output: str, no_serials: bool) -> None:
    """Show who is primary, each region's database (role, health, replication, lag, semi-sync, GTID),
    the recorded epoch, any unfinished run, and zone serial drift.

    The primary is the region whose database is writable and not a replica (after a failover that
    is not the spec's primaryRegion); a disagreement between the servers, the recorded state and
    the spec is shown. Unreachable servers are rows. Exit code 0 whatever the health (this is a
    report; `dnsdr serials` exits 3 on drift).
    """
    _, spec, settings = spec_and_settings(config, secrets_dir, state_dir)
    observer = Observer(spec, settings.resolver)
    obs = observer.observe(settings.store(spec), with_serials=not no_serials)
    if output == "json":
        echo_json(obs.to_dict())
        return
    click.echo("\n".join(operation_lines(obs)) + "\n")
    click.echo(database_table([r.to_dict() for r in obs.databases]))
    if obs.serials is not None:
        click.echo("\n" + serial_table(obs.serials.to_dict()))
