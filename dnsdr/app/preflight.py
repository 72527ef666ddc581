"""Everything that can be checked before an operation's first change, checked before it.

A failover that stops half-done (after fence, promote and the epoch bump) because the rendered
pools are invalid, a credential is missing or a control command does not exist is worse than one
that never starts. So, before the first step and in every dry run: the pools of the end state pass
dnsdr's checks and Designate's own parser (when Designate is installed here) and, where the
database is reachable (switchover, rejoin), ``designate-manage pool update --dry-run``; every
credential the plan uses resolves (Keystone's and the CA for the canary write too; a clouds.yaml auth
names its cloud); every control command exists (or, for the kubernetes driver, its kubeconfig
reference resolves to a kubeconfig); the state store is writable.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass

import yaml

from dnsdr.adapters import kube
from dnsdr.adapters.designate_manage import pool_update
from dnsdr.adapters.designate_parser import designate_accepts, designate_available
from dnsdr.adapters.service_control import STOP_ORDER, fill
from dnsdr.adapters.state import StateStore
from dnsdr.domain.errors import DnsdrError, RefusedError
from dnsdr.domain.plan import Operation, Plan, StepKind
from dnsdr.domain.pools import render_pools_yaml
from dnsdr.domain.pools_check import check_pools
from dnsdr.domain.spec import AuthType, DesignateDR, RegionSpec, SecretLookup, SecretRef


class PreflightError(RefusedError):
    """A check before the first change failed; nothing was changed."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("preflight failed, nothing was changed:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class PreflightReport:
    problems: tuple[str, ...]
    checked: tuple[str, ...]  # what was checked, for the dry run

    @property
    def ok(self) -> bool:
        return not self.problems


def _credentials(spec: DesignateDR, plan: Plan) -> list[tuple[str, SecretRef]]:
    refs: list[tuple[str, SecretRef]] = []
    for name in dict.fromkeys((plan.from_region, plan.to_region, plan.final_state.primary)):
        db = spec.region(name).database
        if db is not None:
            refs += [(f"{name} database password", db.password),
                     (f"{name} replication password", db.replication_password)]
    for region in spec.regions:
        refs += [(f"backend {b.name} credential", b.credential) for b in region.backends]
        refs += [(f"backend {b.name} {key}", ref) for b in region.backends for key, ref in b.secret_settings]
    if any(s.kind is StepKind.VERIFY_WRITE for s in plan.steps):
        refs += list(spec.auth.references())
        if spec.tls.ca is not None:
            refs.append(("the CA bundle (spec.tls.caRef)", spec.tls.ca))
    return refs


def _auth_problems(spec: DesignateDR, plan: Plan) -> list[str]:
    """A clouds.yaml auth must name its cloud (here or in OS_CLOUD): checked without contacting Keystone."""
    if spec.auth.type is AuthType.CLOUD and not any(s.kind is StepKind.VERIFY_WRITE for s in plan.steps):
        return []
    if spec.auth.type is AuthType.CLOUD and not (spec.auth.cloud or os.environ.get("OS_CLOUD")):
        return ["spec.auth: no cloud is named and OS_CLOUD is not set: say how dnsdr authenticates to Keystone "
                "for the canary write (type password, applicationCredential, or cloud with its name)"]
    return []


def _controlled_regions(spec: DesignateDR, plan: Plan) -> list[RegionSpec]:
    names = {s.region for s in plan.steps if s.kind in (StepKind.STOP_DESIGNATE, StepKind.REPOINT_DESIGNATE,
                                                        StepKind.RESTART_WORKER)}
    if any(s.kind is StepKind.APPLY_POOLS for s in plan.steps):
        names |= {r.name for r in spec.regions if r.designate is not None and r.name not in plan.final_state.lost}
    return [r for r in spec.regions if r.name in names]


def _program_missing(argv0: str) -> bool:
    if os.sep in argv0:
        return not (os.path.isfile(argv0) and os.access(argv0, os.X_OK))
    return shutil.which(argv0) is None


def _kubernetes_problems(region: RegionSpec, resolver: SecretLookup) -> list[str]:
    """The kubeconfig the driver will use resolves and is one; the cluster is not contacted."""
    assert region.designate is not None
    ref = region.designate.control.kubeconfig
    if ref is None:
        return [f"region {region.name}: the kubernetes driver needs control.kubeconfigRef"]
    try:
        kube.close(kube.client_from_kubeconfig(resolver(ref), ref.describe()))
    except DnsdrError as exc:
        return [f"region {region.name}: kubeconfig: {exc}"]
    return []


def _control_problems(region: RegionSpec, resolver: SecretLookup) -> list[str]:
    designate = region.designate
    if designate is None:
        return [f"region {region.name} has no Designate to control"]
    control = designate.control
    if control.driver == "kubernetes":
        return _kubernetes_problems(region, resolver)
    if control.driver != "command":
        return [f"region {region.name}: service control driver {control.driver!r} is not available in standalone "
                "mode; use driver: command"]
    problems = []
    for action, template in control.commands:
        try:
            argv = fill(template, STOP_ORDER, region=region.name, service="api", db_host="h", db_port="1")
        except (KeyError, ValueError, IndexError) as exc:
            problems.append(f"region {region.name}: bad {action!r} command template: {exc}")
            continue
        if not argv:
            problems.append(f"region {region.name}: the {action!r} command is empty")
        elif _program_missing(argv[0]):
            problems.append(f"region {region.name}: the {action!r} command's program {argv[0]!r} is not found")
    return problems


def preflight(spec: DesignateDR, plan: Plan, store: StateStore, resolver: SecretLookup,
              manage_dry_run: bool = True, manage: Callable[..., object] = pool_update) -> PreflightReport:
    problems: list[str] = []
    checked: list[str] = []
    secrets: list[str] = []
    for what, ref in _credentials(spec, plan):
        try:
            secrets.append(resolver(ref))
        except DnsdrError as exc:
            problems.append(f"{what}: {exc}")
    problems += _auth_problems(spec, plan)
    checked.append("credentials")
    for region in _controlled_regions(spec, plan):
        problems += _control_problems(region, resolver)
        if region.name == plan.final_state.primary and region.designate is not None \
                and region.designate.control.driver == "command":  # the kubernetes driver runs it in a Job
            manage_argv0 = region.designate.manage_command[0]
            if _program_missing(manage_argv0):
                problems.append(f"region {region.name}: designate-manage {manage_argv0!r} is not found")
    checked.append("control commands")
    text = None
    try:
        text = render_pools_yaml(spec, plan.final_state, resolver)
    except DnsdrError as exc:
        problems.append(f"pools for {plan.final_state.describe()}: {exc}")
    if text is not None:
        document = yaml.safe_load(text)
        problems += [f"rendered pools: {p}" for p in check_pools(document)]
        checked.append("rendered pools (dnsdr)")
        if designate_available():
            accepted, reason = designate_accepts(document)
            if not accepted:
                problems.append(f"rendered pools: Designate's parser rejects them: {reason}")
            checked.append("rendered pools (Designate's parser)")
    try:
        store.check_writable()
    except DnsdrError as exc:
        problems.append(f"state store: {exc}")
    checked.append("state store writable")
    primary = spec.region(plan.final_state.primary).designate
    # The kubernetes driver's dry run is a Job in the region's cluster, a change there: the apply step runs it first.
    if manage_dry_run and not problems and text is not None and primary is not None \
            and primary.control.driver == "command" and plan.operation is not Operation.FAILOVER:
        # Only where the database it talks to is reachable: after a loss, the surviving region's
        # Designate may still point at the dead primary until the repoint step.
        try:
            manage(primary.manage_command, text, secrets, dry_run=True)
            checked.append("designate-manage pool update --dry-run")
        except DnsdrError as exc:
            problems.append(str(exc))
    return PreflightReport(tuple(problems), tuple(checked))
