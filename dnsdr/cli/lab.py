"""``dnsdr lab``: the local two-region lab (MariaDB, RabbitMQ, Designate, PowerDNS, BIND on loopback),
with the monitor (and, on request, controllers) in the third region."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from dnsdr.cli.common import echo_json, fail, output_option
from dnsdr.lab import Lab, LabError
from dnsdr.lab.layout import ALL_REGIONS, DESIGNATE_SERVICES, REGIONS

F = TypeVar("F", bound=Callable[..., Any])
REGION = click.Choice(REGIONS)  # a database region (Designate, MariaDB, backends)
ANY_REGION = click.Choice(ALL_REGIONS)  # faults apply to the monitor region too


def _progress(message: str) -> None:
    click.echo(f"  {message}", err=True)


def handled(func: F) -> F:
    """Turn lab errors into one clean message (component + log tail) and exit 1; no traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LabError as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            fail("interrupted")

    return wrapper  # type: ignore[return-value]


def _check_root() -> None:
    if os.geteuid() != 0:
        fail("the lab runs servers on ports 53/953 and manages cgroups and nftables: run it as root")


@click.group()
@click.option("--dir", "directory", default=".lab", show_default=True, type=click.Path(file_okay=False),
              help="Where the lab keeps configs, data, logs, pid files and secrets.")
@click.pass_context
def lab(ctx: click.Context, directory: str) -> None:
    """Run the local two-region lab (MariaDB, RabbitMQ, Designate, PowerDNS, BIND) on loopback.

    \b
    r1 on 127.0.1.x (MariaDB primary), r2 on 127.0.2.x (GTID semi-sync replica), r3 on 127.0.3.x
    (the monitor, :9153; controllers started with `lab controller start`, from :9154).
    .1 = MariaDB :3306, RabbitMQ :5672, designate-api :9001, designate-mdns :5354;
    .2 = PowerDNS :53 (API :8081); .3 = BIND :53 (rndc :953). The lab writes DIR/designatedr.yaml
    so that every dnsdr command runs against it with -c, and DIR/bin/dnsdr, which runs the dnsdr
    code that wrote the lab (the lab's processes and the spec's control commands use it).
    """
    ctx.obj = Lab(Path(directory), progress=_progress)


pass_lab = click.make_pass_decorator(Lab)


@lab.command()
@pass_lab
@handled
def up(the_lab: Lab) -> None:
    """Start the lab and the monitor in r3 (idempotent: running components are left alone)."""
    _check_root()
    t0 = time.monotonic()
    the_lab.up()
    click.echo(f"lab up in {time.monotonic() - t0:.1f} s; spec: {the_lab.spec_path}")


@lab.command()
@pass_lab
@handled
def down(the_lab: Lab) -> None:
    """Stop every process of the lab, controllers included, and remove its network rules (data is kept)."""
    _check_root()
    t0 = time.monotonic()
    the_lab.down()
    click.echo(f"lab down in {time.monotonic() - t0:.1f} s")


@lab.command()
@output_option
@pass_lab
@handled
def status(the_lab: Lab, output: str) -> None:
    """What runs where (-o json: one object per component)."""
    rows = the_lab.status()
    if output == "json":
        echo_json(rows)
        return
    header = ("REGION", "KIND", "ADDRESS", "PID", "STATE", "PROCS", "RSS MiB")
    lines = [header] + [
        (r["region"], r["kind"], f"{r['host']}:{r['port']}" if r["port"] else r["host"], str(r["pid"] or "-"),
         r["state"], str(r["processes"]), f"{r['rss_kib'] / 1024:.0f}")
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
    total = sum(r["rss_kib"] for r in rows) / 1024
    cuts = ", ".join(f"{a}|{b}" for a, b in sorted(the_lab.partitions())) or "none"
    click.echo(f"total RSS {total:.0f} MiB; partitions: {cuts}")


def _region_command(name: str, method: str, doc: str) -> None:
    @lab.command(name=name, help=doc)
    @click.argument("region", type=ANY_REGION)
    @pass_lab
    @handled
    def command(the_lab: Lab, region: str) -> None:
        _check_root()
        getattr(the_lab, method)(region)
        click.echo(f"{name} {region}: done")


_region_command("kill", "kill", "SIGKILL every process of REGION (a crash).")
_region_command("stop", "stop", "SIGSTOP every process of REGION (a hang).")
_region_command("cont", "cont", "SIGCONT every process of REGION.")
_region_command("start", "start", "Restart REGION's missing processes (controllers in r3 too) without "
                                   "re-initialising data.")


@lab.command()
@click.argument("a", type=ANY_REGION)
@click.argument("b", type=ANY_REGION)
@pass_lab
@handled
def partition(the_lab: Lab, a: str, b: str) -> None:
    """Cut every connection between regions A and B (nftables input drop: silent loss)."""
    _check_root()
    the_lab.partition(a, b)
    click.echo(f"partitioned {a} from {b}")


@lab.command()
@pass_lab
@handled
def heal(the_lab: Lab) -> None:
    """Remove every partition."""
    _check_root()
    the_lab.heal()
    click.echo("healed")


@lab.command()
@click.argument("count", type=click.IntRange(min=0))
@click.option("--prefix", default=None, help="Zone name prefix (default: random).")
@click.option("--timeout", type=float, default=None, help="Seconds to wait for ACTIVE and served.")
@click.option("--via", type=click.Choice(["import", "records"]), default="import", show_default=True,
              help="One zone-file import per zone, or a zone then one API call per recordset.")
@click.option("--fast", is_flag=True, help="Seed the healthy lab's stores directly (Designate's rows, the "
              "targets' data): thousands of zones in seconds, the same zones the API would leave.")
@pass_lab
@handled
def zones(the_lab: Lab, count: int, prefix: str | None, timeout: float | None, via: str, fast: bool) -> None:
    """Create COUNT zones (3 recordsets each) and wait until ACTIVE and served by all four targets."""
    t0 = time.monotonic()
    if fast:
        _check_root()
        names = the_lab.seed_zones(count, prefix=prefix, timeout=timeout)
    else:
        names = the_lab.create_zones(count, prefix=prefix, regions=REGIONS, timeout=timeout, via=via)
    click.echo(f"{len(names)} zones ACTIVE and served by every target in {time.monotonic() - t0:.1f} s")


@lab.command()
@click.argument("action", type=click.Choice(["start", "stop", "restart"]))
@click.argument("region", type=REGION)
@click.argument("services", nargs=-1, required=True, type=click.Choice([*DESIGNATE_SERVICES, "all"]))
@pass_lab
@handled
def service(the_lab: Lab, action: str, region: str, services: tuple[str, ...]) -> None:
    """Start, stop or restart Designate SERVICES of REGION (all: every one), at once."""
    _check_root()
    the_lab.service(action, region, *services)
    click.echo(f"{action} {region} {' '.join(services)}: done")


@lab.command()
@click.argument("region", type=REGION)
@click.option("--db-host", required=True, help="Database host for REGION's Designate.")
@click.option("--db-port", type=click.IntRange(1, 65535), default=3306, show_default=True)
@pass_lab
@handled
def repoint(the_lab: Lab, region: str, db_host: str, db_port: int) -> None:
    """Point REGION's Designate services at another database and restart them."""
    _check_root()
    the_lab.repoint(region, db_host, db_port)
    click.echo(f"{region} Designate now uses {db_host}:{db_port}")


@lab.command()
@pass_lab
@handled
def restore(the_lab: Lab) -> None:
    """Back to the healthy two-region state (rebuilds the lab if roles or pools changed)."""
    _check_root()
    the_lab.restore_healthy()
    click.echo("lab healthy")


@lab.group()
def controller() -> None:
    """Run `dnsdr run` (the controller) in r3, beside the monitor; `lab up` never starts one."""


@controller.command("start")
@click.option("--name", default="controller", show_default=True,
              help="Its name (and cgroup): several controllers may run at once under different names.")
@click.option("--listen", metavar="HOST:PORT", help="Where it serves /healthz, /readyz, /status, /metrics "
              "[default: 127.0.3.1, first free port from 9154].")
@click.option("--state-dir", type=click.Path(file_okay=False), help="Its state directory [default: DIR/state].")
@pass_lab
@handled
def controller_start(the_lab: Lab, name: str, listen: str | None, state_dir: str | None) -> None:
    """Start a controller on the lab's spec and wait until its first round is done."""
    _check_root()
    t0 = time.monotonic()
    started = the_lab.start_controller(name, listen, Path(state_dir) if state_dir else None)
    click.echo(f"controller {name} ready at {started.url} (pid {started.pid}) in {time.monotonic() - t0:.1f} s; "
               f"log: {the_lab.paths.log(started.region, name)}")


@controller.command("stop")
@click.option("--name", default="controller", show_default=True)
@pass_lab
@handled
def controller_stop(the_lab: Lab, name: str) -> None:
    """Stop a controller (SIGTERM: it finishes its round) and forget it."""
    _check_root()
    click.echo(f"r3/{name} stopped" if the_lab.stop_controller(name) else f"no controller named {name}")
