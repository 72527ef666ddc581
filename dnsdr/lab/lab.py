"""The lab as a Python object: what `dnsdr lab` and the integration-test fixture drive."""

from __future__ import annotations

import json
import secrets as random_secrets
import shutil
import signal
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from keystoneauth1.exceptions import ClientException

from dnsdr.adapters.backends import KINDS as BACKEND_KINDS
from dnsdr.adapters.designate_api import DesignateApi
from dnsdr.adapters.designate_manage import DesignateManageError, pool_update
from dnsdr.adapters.keystone import KeystoneError, KeystoneSession, designate_api
from dnsdr.adapters.secrets import resolve
from dnsdr.adapters.tls import client_context
from dnsdr.domain.pools import WorldState, render_pools_yaml
from dnsdr.domain.spec import AuthSpec, AuthType, DesignateDR, SecretRef
from dnsdr.domain.spec_parse import SpecError, parse_designatedr
from dnsdr.lab import components, dbsetup, faults, keystone, pki, proc, region3
from dnsdr.lab.components import Component, bin_dir, run_tool, write_private
from dnsdr.lab.errors import LabError
from dnsdr.lab.layout import (
    ALL_REGIONS,
    API_PORT,
    DESIGNATE_SERVICES,
    KINDS,
    MONITOR_REGION,
    MYSQL_PORT,
    PRIMARY,
    REGIONS,
    Addresses,
    Paths,
    check_any_region,
    check_region,
    check_service,
)
from dnsdr.lab.region3 import Spawned
from dnsdr.lab.render import Secrets
from dnsdr.lab.spec_doc import SECRET_FILES, designatedr

Progress = Callable[[str], None]
INFRA = ("mariadb", "rabbitmq", "pdns", "bind")
REPLICA = "r2"
PROJECT = "dnsdr-lab"


def _quiet(_: str) -> None:
    pass


class Lab:
    """One lab under ``root`` (absolute). Every method is safe to call again (idempotent)."""

    def __init__(self, root: Path, progress: Progress | None = None) -> None:
        self.root = Path(root).absolute()
        self.paths = Paths(self.root)
        self.progress: Progress = progress or _quiet
        self._cgroups: proc.Cgroups | None = None

    # --- description -----------------------------------------------------------------------------

    @property
    def spec_path(self) -> Path:
        return self.paths.spec

    def spec(self) -> DesignateDR:
        try:
            return parse_designatedr(yaml.safe_load(self.spec_path.read_text(encoding="utf-8")), BACKEND_KINDS)
        except OSError as exc:
            raise LabError("lab", f"cannot read {self.spec_path}: {exc.strerror} (is the lab up?)") from None
        except SpecError as exc:
            raise LabError("lab", f"{self.spec_path} is not a valid DesignateDR: {exc.problems[0]}") from None

    @property
    def cgroups(self) -> proc.Cgroups:
        if self._cgroups is None:
            self._cgroups = proc.Cgroups(self.root)
        return self._cgroups

    def api(self, region: str, project_id: str = PROJECT) -> DesignateApi:
        """A client of ``region``'s Designate API with a Keystone token: for the project dnsdr (the canary's)
        exactly as dnsdr authenticates (the spec's application credential, the catalog's endpoint), for
        the lab's own project as the lab user. HTTPS checked against the lab's CA either way."""
        check_region(region)
        spec = self.spec()
        if project_id == keystone.DNSDR_PROJECT:
            return designate_api(spec, region, resolve, timeout=60)
        if project_id != PROJECT:
            raise LabError("lab", f"no lab identity in project {project_id!r}")
        auth = AuthSpec(type=AuthType.PASSWORD, auth_url=keystone.url(), username=keystone.LAB_USER,
                        password=SecretRef(file=str(self.paths.secret(SECRET_FILES["lab_keystone"]))),
                        project=PROJECT)
        session = KeystoneSession(auth, spec.tls, resolve, timeout=60)
        return DesignateApi(f"https://{Addresses(region).core}:{API_PORT}", auth=session,
                            tls=client_context(spec.tls, resolve), timeout=60)

    def secrets(self) -> Secrets:
        """The lab's credentials, generated on first use into secrets/ (mode 0600)."""
        values: dict[str, str] = {}
        self.paths.secrets.mkdir(parents=True, exist_ok=True)
        self.paths.secrets.chmod(0o700)
        for field, filename in SECRET_FILES.items():
            path = self.paths.secret(filename)
            if not path.exists():
                write_private(path, random_secrets.token_hex(16) + "\n")
            values[field] = resolve_file(path)
        return Secrets(**values)

    def _state(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.paths.state.read_text(encoding="utf-8"))
            return data
        except (OSError, ValueError):
            return {}

    def _save_state(self, state: dict[str, Any]) -> None:
        self.paths.state.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    def db_target(self, region: str) -> tuple[str, int]:
        """The database a region's Designate services use (r1's primary unless repointed)."""
        db = self._state().get("db", {}).get(region)
        return (str(db[0]), int(db[1])) if db else (Addresses(PRIMARY).core, MYSQL_PORT)

    # --- starting ------------------------------------------------------------------------------

    def running(self, region: str, kind: str) -> bool:
        return bool(self.cgroups.pids(region, kind))

    def start_component(self, c: Component) -> None:
        """Start ``c`` in its cgroup unless something runs there already; wait until it is ready."""
        name = f"{c.region}/{c.kind}"
        if self.running(c.region, c.kind):
            return
        self.cgroups.ensure(c.region, c.kind)
        log = self.paths.log(c.region, c.kind)
        if log.exists():
            log.replace(log.with_name(log.name + ".1"))
        pid = proc.spawn(
            c.argv, cgroup=self.cgroups.component(c.region, c.kind), log=log,
            pidfile=self.paths.pidfile(c.region, c.kind), env=c.env, cwd=c.cwd,
        )
        started = time.monotonic()
        ok = proc.wait_until(c.ready, timeout=c.timeout, interval=0.2, abort=lambda: not proc.alive(pid))
        if not ok:
            alive = proc.alive(pid)
            why = f"not ready within {c.timeout:g} s" if alive else "exited during start-up"
            raise LabError(name, why, proc.log_tail(log))
        self.progress(f"{name} ready in {time.monotonic() - started:.1f} s")

    def parallel(self, tasks: Iterable[Callable[[], object]]) -> None:
        proc.parallel(tasks)

    def _infra(self, region: str, kind: str, secrets: Secrets) -> Component:
        if kind == "mariadb":
            return components.mariadb(self.paths, region)
        if kind == "rabbitmq":
            return components.rabbitmq(self.paths, region, secrets)
        if kind == "pdns":
            return components.pdns(self.paths, region, secrets)
        return components.bind(self.paths, region)

    def _designate(self, region: str, service: str) -> Component:
        return components.designate_service(
            self.paths, region, service, lambda: components.rabbit_consumers(self.paths, region),
        )

    def _start_infra(self, region: str, kind: str, secrets: Secrets) -> None:
        self.start_component(self._infra(region, kind, secrets))

    def _start_designate(self, region: str, service: str) -> None:
        self.start_component(self._designate(region, service))

    def _prepare(self, regions: Iterable[str]) -> Secrets:
        secrets = self.secrets()
        for r in REGIONS:
            for kind in KINDS:
                self.cgroups.ensure(r, kind)
        # nftables resolves a cgroup path to its inode when a rule is loaded: r3's must exist first
        self.cgroups.ensure(MONITOR_REGION, region3.MONITOR)
        self.cgroups.ensure(MONITOR_REGION, keystone.KEYSTONE)
        self._ensure_table()
        pki.ensure(self.paths)
        region3.write_launcher(self.paths)
        write_private(self.spec_path, yaml.safe_dump(designatedr(self.paths, bin_dir()), sort_keys=False))
        for r in regions:
            host, port = self.db_target(r)
            components.designate_files(self.paths, r, secrets, host, port)
        return secrets

    def other_labs(self) -> list[Path]:
        """Other labs running on this host (they hold the same fixed addresses)."""
        return proc.other_labs(self.cgroups.mount, self.cgroups.name)

    def up(self) -> None:
        """Start whatever is not running, in order, health-checked; initialise data the first time."""
        others = self.other_labs()
        if others:
            other = others[0]
            raise LabError("lab", f"another lab is running at {other}; stop it first: dnsdr lab --dir {other} down")
        self.root.mkdir(parents=True, exist_ok=True)
        secrets = self._prepare(REGIONS)
        # Keystone (r3) comes up beside r1 and r2: nothing of theirs needs it before the first token.
        self.parallel([partial(self._start_regions, REGIONS, secrets), partial(self._start_keystone, secrets)])
        if not self._state().get("canary"):
            self.ensure_canary()
        self.start_component(region3.monitor_component(self.paths))

    def _start_keystone(self, secrets: Secrets) -> None:
        """Keystone in r3, provisioned (regions, catalog, accounts, dnsdr's application credential) once."""
        if not self.running(MONITOR_REGION, keystone.KEYSTONE):
            keystone.prepare(self.paths, secrets)
            self.start_component(keystone.component(self.paths))
        if not keystone.provisioned(self.paths):
            t0 = time.monotonic()
            try:
                keystone.provision(self.paths, secrets)
            except (KeystoneError, OSError, ClientException) as exc:
                raise LabError(f"{MONITOR_REGION}/keystone", f"provisioning failed: {type(exc).__name__}: {exc}",
                               proc.log_tail(self.paths.log(MONITOR_REGION, keystone.KEYSTONE))) from None
            self.progress(f"{MONITOR_REGION}/keystone provisioned in {time.monotonic() - t0:.1f} s")

    def ensure_canary(self) -> None:
        """The canary zone exists, ACTIVE and served by every target: the witness probes it."""
        from dnsdr.lab.zones import ensure_canary

        ensure_canary(self)
        state = self._state()
        state["canary"] = True
        self._save_state(state)

    def start(self, region: str) -> None:
        """Restart a killed or stopped region's processes, without re-initialising data; in any region,
        also the processes started there on request (see :meth:`spawn`)."""
        check_any_region(region)
        self.cont(region)
        if not self._state().get("initialised"):
            self.up()
            return
        if region == MONITOR_REGION:
            self._start_keystone(self._prepare(()))
            self.start_component(region3.monitor_component(self.paths))
        else:
            self._start_regions((region,), self._prepare((region,)))
        region3.restart(self, region)
    def _start_regions(self, regions: tuple[str, ...], secrets: Secrets) -> None:
        self.parallel(partial(self._start_infra, r, k, secrets) for r in regions for k in INFRA)
        state = self._state()
        if not state.get("initialised"):
            self._initialise(secrets)
        else:
            self._open_primary()
        self.parallel(partial(self._start_designate, r, "central") for r in regions)
        state = self._state()
        if not state.get("pools_applied"):
            self._apply_pools()
        rest = [s for s in DESIGNATE_SERVICES if s != "central"]
        self.parallel(partial(self._start_designate, r, s) for r in regions for s in rest)

    def _open_primary(self) -> None:
        """Servers start read-only; open a region only when the other one replicates from it.

        After a failover without rejoin neither replicates from the other, so a restarted old
        primary stays fenced until `dnsdr rejoin` (two writable primaries are never created here).
        """
        roles = {r: dbsetup.role(self.paths, r) for r in REGIONS}
        for r in REGIONS:
            replicas = [o for o in REGIONS if o != r and roles[o].source_host == Addresses(r).core]
            if roles[r].reachable and roles[r].source_host is None and replicas and roles[r].read_only:
                dbsetup.query(self.paths, r, "SET GLOBAL read_only = 0")

    def _initialise(self, secrets: Secrets) -> None:
        """First start: accounts on r1, r2 replicating from r1, Designate's schema (replicated)."""
        t0 = time.monotonic()
        dbsetup.query(self.paths, PRIMARY, "SET GLOBAL read_only = 0")
        dbsetup.create_accounts(self.paths, PRIMARY, secrets)
        dbsetup.start_replica(self.paths, REPLICA, PRIMARY, secrets)
        manage = [str(bin_dir() / "designate-manage"), "--config-file", str(self.paths.designate_conf(PRIMARY))]
        run_tool(f"{PRIMARY}/designate-manage", [*manage, "database", "sync"], timeout=300)
        dbsetup.grant_zone_reads(self.paths, PRIMARY)
        dbsetup.wait_replicating(self.paths, PRIMARY, REPLICA)
        state = self._state()
        state.update(initialised=True, primary=PRIMARY, db={r: [Addresses(PRIMARY).core, MYSQL_PORT] for r in REGIONS})
        self._save_state(state)
        self.progress(f"databases initialised, {REPLICA} replicating from {PRIMARY} in {time.monotonic() - t0:.1f} s")

    def pools_yaml(self) -> str:
        """The initial pools.yml (every target, masters = own region's mdns), secrets filled in."""
        return render_pools_yaml(self.spec(), WorldState(PRIMARY), resolve)

    def _apply_pools(self) -> None:
        t0 = time.monotonic()
        spec = self.spec()
        text = self.pools_yaml()
        write_private(self.paths.pools, text)
        region = spec.region(PRIMARY)
        assert region.designate is not None
        secret_values = [resolve(b.credential) for r in spec.regions for b in r.backends if b.type == "pdns4"]
        try:
            pool_update(region.designate.manage_command, text, secret_values, dry_run=False)
        except DesignateManageError as exc:
            raise LabError(f"{PRIMARY}/designate-manage", str(exc)) from None
        state = self._state()
        state["pools_applied"] = True
        self._save_state(state)
        self.progress(f"pools applied in {time.monotonic() - t0:.1f} s")

    # --- stopping ------------------------------------------------------------------------------

    def stop_component(self, region: str, kind: str) -> None:
        main = proc.read_pid(self.paths.pidfile(region, kind))
        proc.terminate(lambda: self.cgroups.pids(region, kind), main)

    def down(self) -> None:
        """Stop every process of the lab (by PID, children waited for); remove its nft table and cgroups."""
        if self.cgroups.base.exists():
            for r in ALL_REGIONS:
                proc.send(self._region_pids(r), signal.SIGCONT)
            # watchers first: a controller left running would act on regions going down
            region3.stop_all(self)
            self.stop_component(MONITOR_REGION, region3.MONITOR)
            self.stop_component(MONITOR_REGION, keystone.KEYSTONE)
            designate = [f"designate-{s}" for s in DESIGNATE_SERVICES]
            self.parallel(partial(self.stop_component, r, k) for r in REGIONS for k in designate)
            self.parallel(partial(self.stop_component, r, k) for r in REGIONS for k in INFRA)
            # anything else in a region's cgroup (a process spawned and never recorded)
            self.parallel(partial(self.stop_component, r, d.name) for r in ALL_REGIONS
                          for d in self.cgroups.region(r).glob("*/") if self.cgroups.pids(r, d.name))
            left = [p for r in ALL_REGIONS for p in self._region_pids(r)]
            if left:
                raise LabError("lab", f"processes still running after down: {left}")
            self.cgroups.remove()
        if self.other_labs():
            return  # the nft table, loopback addresses and endpoints now belong to the other lab
        faults.remove()
        for r in REGIONS:
            components.lo_address(Addresses(r).bind, False)
        listening = self.listeners()
        if listening:
            where = ", ".join(f"{h}:{p}" for h, p in listening)
            raise LabError("lab", f"endpoints still listening after down: {where}")

    def destroy(self) -> None:
        """down, then delete the lab directory (data, logs, secrets)."""
        self.down()
        shutil.rmtree(self.root, ignore_errors=True)

    def listeners(self) -> list[tuple[str, int]]:
        """Lab endpoints something listens on (TCP), whoever owns them."""
        wanted = {e for r in REGIONS for k in KINDS for e in Addresses(r).listeners(k)}
        wanted |= {e for k in (region3.MONITOR, keystone.KEYSTONE) for e in Addresses(MONITOR_REGION).listeners(k)}
        return sorted(wanted & proc.tcp_listeners())

    def service(self, action: str, region: str, *names: str) -> None:
        """start | stop | restart Designate services (``all``: every one) of a region, in parallel."""
        check_region(region)
        services = tuple(dict.fromkeys(s for name in names for s in check_service(name)))
        if action in ("stop", "restart"):
            self.parallel(partial(self.stop_component, region, f"designate-{s}") for s in services)
        if action in ("start", "restart"):
            secrets = self.secrets()
            host, port = self.db_target(region)
            components.designate_files(self.paths, region, secrets, host, port)
            self.parallel(partial(self._start_designate, region, s) for s in services)

    def repoint(self, region: str, db_host: str, db_port: int) -> None:
        """Point a region's Designate at another database and restart its services."""
        check_region(region)
        state = self._state()
        state.setdefault("db", {})[region] = [db_host, db_port]
        self._save_state(state)
        running = [s for s in DESIGNATE_SERVICES if self.running(region, f"designate-{s}")]
        self.service("stop", region, "all")
        components.designate_files(self.paths, region, self.secrets(), db_host, db_port)
        self.parallel(partial(self._start_designate, region, s)
                       for s in DESIGNATE_SERVICES if s in running or not running)

    # --- faults --------------------------------------------------------------------------------

    def _region_pids(self, region: str) -> list[int]:
        return self.cgroups.pids(check_any_region(region))

    def kill(self, region: str) -> None:
        """SIGKILL every process of the region (a crash)."""
        deadline = time.monotonic() + 10
        while (pids := self._region_pids(region)) and time.monotonic() < deadline:
            proc.send(pids, signal.SIGKILL)
            time.sleep(0.05)

    def stop(self, region: str) -> None:
        """SIGSTOP every process of the region (a hang) and return once all of them are stopped.

        A signal is delivered asynchronously and a process may fork while it is sent, so send again
        to whatever still runs until the whole region is still."""
        deadline = time.monotonic() + 10
        while True:
            running = [p for p in self._region_pids(region) if not proc.is_stopped(p)]
            if not running:
                return
            if time.monotonic() > deadline:
                raise LabError(region, f"{len(running)} process(es) did not stop within 10 s")
            proc.send(running, signal.SIGSTOP)
            time.sleep(0.02)

    def cont(self, region: str) -> None:
        proc.send(self._region_pids(region), signal.SIGCONT)

    def _ensure_table(self) -> None:
        faults.ensure({r: self.cgroups.nft_path(r) for r in ALL_REGIONS}, self.cgroups.nft_level())

    def partition(self, a: str, b: str) -> None:
        """Cut every connection between two regions (any pair of r1, r2, r3)."""
        check_any_region(a)
        check_any_region(b)
        self._ensure_table()
        faults.partition(a, b)

    def heal(self) -> None:
        faults.heal()

    def partitions(self) -> set[tuple[str, str]]:
        return faults.partitions()

    # --- state -----------------------------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        """Every component of r1 and r2, then r3's monitor and whatever was spawned on request."""
        from dnsdr.lab.status import component_status, spawned_status

        rows = [component_status(self, r, k) for r in REGIONS for k in KINDS]
        rows += [component_status(self, MONITOR_REGION, k) for k in (keystone.KEYSTONE, region3.MONITOR)]
        return rows + [spawned_status(self, s) for s in region3.spawned(self)]

    # --- processes on request (controllers) -------------------------------------------------------

    def spawn(self, region: str, name: str, argv: list[str], url: str | None = None,
              ready: str = "/readyz") -> Spawned:
        """Run ``argv`` in ``region``'s cgroup ``name`` (so faults of the region hit it), ready when
        GET url+ready answers 200; ``start REGION`` restarts it after a kill, ``down`` stops it."""
        return region3.spawn(self, region, name, argv, url, ready)

    def stop_spawned(self, region: str, name: str) -> bool:
        return region3.stop(self, region, name)

    def start_controller(self, name: str = region3.CONTROLLER, listen: str | None = None,
                         state_dir: Path | None = None, extra: tuple[str, ...] = ()) -> Spawned:
        """``dnsdr run`` on the lab's spec in r3 (default: 127.0.3.1:9154, state in <root>/state)."""
        return region3.start_controller(self, name, listen, state_dir, extra)

    def stop_controller(self, name: str = region3.CONTROLLER) -> bool:
        return region3.stop(self, MONITOR_REGION, name)

    def create_zones(self, n: int, prefix: str | None = None, regions: tuple[str, ...] = ("r1",),
                     timeout: float | None = None, via: str = "import") -> list[str]:
        """Create ``n`` zones (three recordsets each) through the API of ``regions`` (round robin), by
        zone-file import or (``via="records"``) one call per recordset; wait until every zone is
        ACTIVE and served with its DB serial by all four targets. Returns the zone names."""
        from dnsdr.lab.zones import create_and_wait

        return create_and_wait(self, n, prefix, regions, timeout, via)

    def seed_zones(self, n: int, prefix: str | None = None, timeout: float | None = None) -> list[str]:
        """Like :meth:`create_zones`, but written straight into Designate's database and the four
        targets (the healthy lab only): seconds for thousands of zones. See :mod:`dnsdr.lab.fastzones`."""
        from dnsdr.lab.fastzones import seed

        return seed(self, n, prefix, timeout)

    def restore_healthy(self) -> None:
        from dnsdr.lab.restore import restore_healthy

        restore_healthy(self)


def resolve_file(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    return text[:-1] if text.endswith("\n") else text
