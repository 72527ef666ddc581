"""``dnsdr operator``: the Kubernetes operator for DesignateDR resources (kopf, in ``dnsdr.operator``)."""

from __future__ import annotations

from pathlib import Path

import click

from dnsdr.adapters.secrets import SECRETS_ENV
from dnsdr.cli import logs
from dnsdr.cli.common import NAMESPACE_ENV, Command
from dnsdr.cli.monitor import parse_listen


@click.command("operator", cls=Command)
@click.option("--kubeconfig", metavar="FILE", type=click.Path(dir_okay=False),
              help="The cluster to watch [default: in a pod its service account, else $KUBECONFIG or ~/.kube/config].")
@click.option("-n", "--namespace", "namespaces", metavar="NS", multiple=True, envvar=NAMESPACE_ENV,
              help=f"Watch DesignateDRs here; repeat for several [${NAMESPACE_ENV}, default the pod's or the "
                   "kubeconfig context's namespace].")
@click.option("--metrics", "metrics", default="0.0.0.0:9154", show_default=True, metavar="HOST:PORT",
              help="Serve the controller's Prometheus metrics here ('off' for none).")
@click.option("--liveness", default="http://0.0.0.0:8080/healthz", show_default=True, metavar="URL",
              help="kopf's liveness endpoint ('off' for none); it fails when a resource's rounds stall.")
@click.option("--interval", type=click.FloatRange(min=0.1),
              help="Seconds between rounds [default: each spec's policy.probeIntervalSeconds].")
@click.option("--sweep-every", type=click.FloatRange(min=1), default=30.0, show_default=True,
              help="Seconds between zone serial sweeps (they read every zone).")
@click.option("--secrets-ttl", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="Seconds a Secret read for a credential is reused (a rotated one is used after this).")
@click.option("--secrets-dir", metavar="DIR", envvar=SECRETS_ENV, type=click.Path(file_okay=False),
              help="Only for `file` credential references; secretKeyRef is read from the resource's namespace.")
def operator_command(kubeconfig: str | None, namespaces: tuple[str, ...], metrics: str, liveness: str,
                     interval: float | None, sweep_every: float, secrets_ttl: float, secrets_dir: str | None) -> None:
    """The operator: for each DesignateDR, render pools into Secrets and run the controller's rounds.

    Validates each resource (the same model as `dnsdr spec validate`), renders each database
    region's pools.yml into a Secret, and every probe interval observes, decides and (when the
    policy says automatic) fails over, as `dnsdr run` does, writing status conditions and Events.
    Credentials come from Secrets in the resource's namespace; the journal and the lease from
    ConfigMaps and a Lease there, shared with `dnsdr ... --state-store kubernetes`.
    Run it in the monitor region's cluster: see manifests/.
    """
    from dnsdr.operator.main import OperatorOptions, run  # kopf is imported only by this command

    logs.include("kopf")
    run(OperatorOptions(
        kubeconfig=kubeconfig, namespaces=namespaces,
        metrics=None if metrics == "off" else parse_listen(metrics),
        liveness=None if liveness == "off" else liveness, interval=interval, sweep_every=sweep_every,
        secrets_ttl=secrets_ttl, secrets_dir=Path(secrets_dir) if secrets_dir else None))
