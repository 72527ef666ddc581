"""``dnsdr run`` (the controller) and ``dnsdr pause | resume | ack`` (its switches)."""

from __future__ import annotations

import signal
from types import FrameType

import click

from dnsdr.app.control import Controller, acknowledge, monitor_source, monitor_url, pause, resume
from dnsdr.cli.common import Command, config_option, echo_json, spec_and_settings, state_dir_option
from dnsdr.controller.service import ControllerService
from dnsdr.domain.errors import InvalidInput
from dnsdr.domain.spec import Endpoint


def _endpoint(text: str) -> Endpoint:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInput(f"--listen must be HOST:PORT, got {text!r}")
    return Endpoint(host.strip("[]") or "127.0.0.1", int(port))


@click.command("run", cls=Command)
@config_option
@state_dir_option
@click.option("--monitor-url", "monitor_url_", metavar="URL",
              help="The monitor's /verdict (default: from the monitor region's endpoint in the spec).")
@click.option("--listen", default="127.0.0.1:9154", show_default=True, metavar="HOST:PORT",
              help="Serve /healthz, /readyz, /status and /metrics here.")
@click.option("--interval", type=click.FloatRange(min=0.1), help="Seconds between rounds "
              "(default: policy.probeIntervalSeconds).")
@click.option("--sweep-every", type=click.FloatRange(min=1), default=30.0, show_default=True,
              help="Seconds between zone serial sweeps (they read every zone).")
@click.option("--once", is_flag=True, help="Run one round, print it as JSON and exit.")
def run_command(config: str | None, secrets_dir: str | None, state_dir: str | None, monitor_url_: str | None,
                listen: str, interval: float | None, sweep_every: float, once: bool) -> None:
    """The controller: observe -> decide -> act every probe interval, until stopped.

    Fails over by itself only when policy.failover is automatic and every vantage point (this
    controller, the candidate's replica, the monitor) agrees the primary region is lost for
    policy.consecutiveFailures rounds; otherwise it alerts. Run it in the monitor region, beside
    the monitor and the state store, never in a region that can be lost.
    """
    _, spec, settings = spec_and_settings(config, secrets_dir, state_dir)
    every = interval or spec.policy.probe_interval_seconds
    controller = Controller(spec, settings, monitor_source(monitor_url(spec, monitor_url_), every))
    service = ControllerService(controller, every, sweep_every)
    if once:
        service.one_round()
        echo_json(service.status())
        return
    server = service.serve(_endpoint(listen))

    def stop(signum: int, frame: FrameType | None) -> None:
        service.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"dnsdr run: watching {spec.name} every {every:g} s; http://{listen}/status", err=True)
    try:
        service.run()
    finally:
        server.shutdown()
        controller.close()


@click.command("pause", cls=Command)
@config_option
@state_dir_option
@click.option("--reason", default="", help="Shown in status and alerts.")
def pause_command(config: str | None, secrets_dir: str | None, state_dir: str | None, reason: str) -> None:
    """Stop automatic failover (maintenance); the controller keeps watching and alerting."""
    _, spec, settings = spec_and_settings(config, secrets_dir, state_dir)
    pause(settings.store(spec), reason)
    click.echo(f"automatic failover of {spec.name} paused" + (f" ({reason})" if reason else ""))


@click.command("resume", cls=Command)
@config_option
@state_dir_option
def resume_command(config: str | None, secrets_dir: str | None, state_dir: str | None) -> None:
    """Allow automatic failover again after `dnsdr pause`."""
    _, spec, settings = spec_and_settings(config, secrets_dir, state_dir)
    resume(settings.store(spec))
    click.echo(f"automatic failover of {spec.name} resumed")


@click.command("ack", cls=Command)
@config_option
@state_dir_option
def ack_command(config: str | None, secrets_dir: str | None, state_dir: str | None) -> None:
    """Acknowledge the last automatic failover: lift its cool-down (and a failed attempt's back-off)."""
    _, spec, settings = spec_and_settings(config, secrets_dir, state_dir)
    record = acknowledge(settings.store(spec))
    click.echo(f"acknowledged; the next automatic failover of {spec.name} may run when needed"
               + ("" if not record.paused else " (automatic failover is still paused)"))


