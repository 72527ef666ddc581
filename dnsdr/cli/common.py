"""What every dnsdr command shares: options, output, and the one place errors become exit codes.

Exit codes: 0 ok; 1 invalid input or a failure before anything changed; 2 usage error (click's
own); 3 drift found (``serials``); 4 refused by a safety gate, nothing changed (a dry run whose
verdict is "refused" too); 5 failed part-way: run the same command again to resume. A user mistake
never shows a traceback; messages never carry secrets.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from dnsdr.adapters import kube
from dnsdr.adapters.secrets import SECRETS_ENV
from dnsdr.app.settings import STATE_ENV, KubeState, Settings, config_path, load_spec, state_dir
from dnsdr.domain.errors import DnsdrError, IncompleteError, InvalidInput, RefusedError
from dnsdr.domain.spec import DesignateDR

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_DRIFT = 3
EXIT_REFUSED = 4
EXIT_INCOMPLETE = 5

EXIT_CODES_HELP = """\b
Exit codes:
  0  ok
  1  invalid input, or could not run (nothing changed)
  2  usage error
  3  drift found (serials), or changes the primary lacks remain (divergence)
  4  refused by a safety gate: nothing changed (also a dry run that would be refused)
  5  failed part-way: run the same command again to resume"""

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("dnsdr.cli")


def exit_code(exc: DnsdrError) -> int:
    if isinstance(exc, RefusedError):
        return EXIT_REFUSED
    if isinstance(exc, IncompleteError):
        return EXIT_INCOMPLETE
    return EXIT_INVALID


def fail(message: str, code: int = EXIT_INVALID) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _guarded(invoke: Callable[[click.Context], Any], ctx: click.Context) -> Any:
    try:
        return invoke(ctx)
    except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
        raise
    except DnsdrError as exc:
        fail(str(exc), exit_code(exc))
    except Exception as exc:  # a bug: one line for the user, the traceback with --debug
        log.debug("unexpected error", exc_info=True)
        fail(f"internal error ({type(exc).__name__}: {exc}); run with --debug for the traceback")


class Command(click.Command):
    """A command whose DnsdrErrors become one line and the documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        return _guarded(super().invoke, ctx)


class Group(click.Group):
    command_class = Command

    def invoke(self, ctx: click.Context) -> Any:
        return _guarded(super().invoke, ctx)


Group.group_class = Group


def config_option(func: F) -> F:
    func = click.option(
        "--secrets-dir", metavar="DIR", envvar=SECRETS_ENV, type=click.Path(file_okay=False),
        help=f"Where secretKeyRef credentials are read, as <DIR>/<name>/<key> [${SECRETS_ENV}, "
             "default /etc/dnsdr/secrets].",
    )(func)
    return click.option(
        "-c", "--config", "config", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True),
        help="The DesignateDR document (the YAML you would `kubectl apply`) [$DNSDR_CONFIG, "
             "default /etc/dnsdr/designatedr.yaml].",
    )(func)


STORE_ENV = "DNSDR_STATE_STORE"
NAMESPACE_ENV = "DNSDR_NAMESPACE"
_STORE_KEY = "dnsdr.state_store"


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    ctx.meta[f"{_STORE_KEY}.{param.name}"] = value
    return value


def state_dir_option(func: F) -> F:
    """Where the state lives: ``--state-dir`` (the file store), or ``--state-store kubernetes`` with ``--kubeconfig``
    and ``--namespace``, the store the operator uses. The last three reach :func:`spec_and_settings` through the
    click context, so no command has to pass them on."""
    for option in (
        click.option("--namespace", metavar="NS", envvar=NAMESPACE_ENV, expose_value=False, callback=_remember,
                     help=f"With --state-store kubernetes: the namespace of the state [${NAMESPACE_ENV}, default "
                          "the spec's metadata.namespace, else the kubeconfig context's]."),
        click.option("--kubeconfig", metavar="FILE", expose_value=False, callback=_remember,
                     type=click.Path(dir_okay=False),
                     help="With --state-store kubernetes: the cluster to use [default: in a pod its service "
                          "account, else $KUBECONFIG or ~/.kube/config]."),
        click.option("--state-store", type=click.Choice(["file", "kubernetes"]), default="file", show_default=True,
                     envvar=STORE_ENV, expose_value=False, callback=_remember,
                     help=f"Keep the state in --state-dir, or in Kubernetes, shared with the operator [${STORE_ENV}]."),
        click.option("--state-dir", metavar="DIR", envvar=STATE_ENV,
                     help=f"Where the journal, lease, history and cluster record live [${STATE_ENV}, "
                          "default /var/lib/dnsdr]."),
    ):
        func = option(func)
    return func


def _kube_state(spec: DesignateDR) -> KubeState | None:
    """The Kubernetes state store the command line asked for, if it did."""
    ctx = click.get_current_context(silent=True)
    meta = ctx.meta if ctx is not None else {}
    if meta.get(f"{_STORE_KEY}.state_store", "file") != "kubernetes":
        return None
    api, context_namespace = kube.connect(meta.get(f"{_STORE_KEY}.kubeconfig"))
    namespace = meta.get(f"{_STORE_KEY}.namespace") or spec.namespace or context_namespace or "default"
    return KubeState(api, namespace)


def output_option(func: F) -> F:
    return click.option(
        "-o", "--output", "output", type=click.Choice(["table", "json"]), default="table",
        show_default=True, help="Human table or machine-readable JSON.",
    )(func)


def spec_and_settings(config: str | None, secrets_dir: str | None,
                      state: str | None = None) -> tuple[str, DesignateDR, Settings]:
    try:
        path = config_path(config)
    except InvalidInput as exc:  # nothing given and nothing at the default place: a usage error
        raise click.UsageError(str(exc)) from None
    spec = load_spec(path)
    return path, spec, Settings(state_dir=state_dir(state), secrets_dir=Path(secrets_dir) if secrets_dir else None,
                                kube=_kube_state(spec))


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false", "no")
