"""``dnsdr monitor``: the third-region witness, serving its verdict over HTTP (or one round with --once)."""

from __future__ import annotations

import click

from dnsdr.adapters.secrets import resolve
from dnsdr.adapters.tls import client_context
from dnsdr.app.settings import config_path, load_spec
from dnsdr.cli.common import Command, echo_json
from dnsdr.domain.errors import InvalidInput
from dnsdr.domain.spec import DesignateDR, Endpoint
from dnsdr.monitor.server import make_server, serve
from dnsdr.monitor.service import Monitor


def parse_listen(text: str) -> Endpoint:
    """HOST:PORT or [IPv6]:PORT; port 0 picks a free port."""
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise click.BadParameter(f"{text!r} is not HOST:PORT", param_hint="--listen")
    return Endpoint(host, int(port))


def listen_endpoint(spec: DesignateDR, given: str | None) -> Endpoint:
    if given:
        return parse_listen(given)
    if spec.monitor_region is None:
        raise click.UsageError("the spec names no monitor region (spec.monitor.region): pass --listen HOST:PORT")
    endpoint = spec.region(spec.monitor_region).monitor
    if endpoint is None:
        raise click.UsageError(f"region {spec.monitor_region} has no monitor endpoint: pass --listen HOST:PORT")
    return endpoint


@click.command("monitor", cls=Command)
@click.option("-c", "--config", "config", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True),
              help="The DesignateDR document [$DNSDR_CONFIG, default /etc/dnsdr/designatedr.yaml].")
@click.option("--listen", metavar="HOST:PORT",
              help="Where to serve /verdict, /healthz, /readyz, /metrics [default: the monitor region's "
                   "monitor endpoint in the spec].")
@click.option("--timeout", type=click.FloatRange(min=0.05, max=30), metavar="SECONDS",
              help="Per-probe timeout [default: half of policy.probeIntervalSeconds, at most 2].")
@click.option("--once", is_flag=True, help="Run one probe round, print the verdict JSON and exit (serves nothing).")
def monitor(config: str | None, listen: str | None, timeout: float | None, once: bool) -> None:
    """Witness from the monitor region: probe every database region's nameservers and mdns (the canary
    zone's SOA), Designate API and database every policy.probeIntervalSeconds, and serve the verdict.

    \b
    GET /verdict  per-region verdict (lost, healthy, evidence), split-brain, age of the last round
    GET /healthz  200 while the probe loop runs (last round younger than 3 intervals)
    GET /readyz   200 once the first round completed
    GET /metrics  Prometheus metrics (dnsdr_monitor_*)

    Needs no credential; an HTTPS API is checked with the spec's CA (spec.tls.caRef). Stops cleanly on
    SIGTERM or SIGINT.
    """
    try:
        path = config_path(config)
    except InvalidInput as exc:
        raise click.UsageError(str(exc)) from None
    spec = load_spec(path)
    endpoint = None if once else listen_endpoint(spec, listen)
    witness = Monitor(spec, timeout=timeout, tls=client_context(spec.tls, resolve))
    if once:
        try:
            witness.run_round()
            _, doc = witness.verdict()
        finally:
            witness.close()
        echo_json(doc)
        return
    assert endpoint is not None
    try:
        server = make_server(witness, endpoint.host, endpoint.port)
    except OSError as exc:
        witness.close()
        raise InvalidInput(f"cannot serve on {endpoint}: {exc.strerror or exc}") from None
    serve(witness, server)
