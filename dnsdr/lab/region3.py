"""The monitor region r3: the witness the lab always runs, and processes started on demand (controllers).

r3 holds no database and no Designate: what runs there watches r1 and r2 from outside, as the
witness and the controller do in production. Each process gets a cgroup of its own under r3 (its
connections are marked 3, see faults.py), so ``partition r1 r3`` blinds the witness to r1 while r2
still replicates from r1, and ``kill r3`` crashes whatever watches.

Which code runs: every process the lab starts (the monitor, controllers, and the spec's control
commands, which a controller or ``dnsdr promote`` runs) goes through the lab's launcher
``<root>/bin/dnsdr``, which runs the dnsdr package that wrote the lab (see :func:`launcher_text`).
The virtualenv's ``dnsdr`` script would import whatever checkout the virtualenv was installed from.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dnsdr
from dnsdr.lab import proc
from dnsdr.lab.components import Component, write_private
from dnsdr.lab.errors import LabError
from dnsdr.lab.layout import (
    CONTROLLER_PORT,
    KINDS,
    MONITOR_PORT,
    MONITOR_REGION,
    REGIONS,
    Addresses,
    Paths,
    check_any_region,
)

if TYPE_CHECKING:
    from dnsdr.lab.lab import Lab

MONITOR = "monitor"
CONTROLLER = "controller"
NAME = re.compile(r"[a-z][a-z0-9-]{0,30}")
READY_TIMEOUT = 120.0  # a controller's first round reads both databases: seconds, more on a loaded host
HEALTHY_TIMEOUT = 90.0  # canary served and the witness's verdict healthy, after a restart or rebuild


# --- the launcher ------------------------------------------------------------------------------------------

def code_root() -> Path | None:
    """The directory holding the imported dnsdr package when it is a source tree; None when installed."""
    root = Path(dnsdr.__file__).resolve().parent.parent
    return None if root.name in ("site-packages", "dist-packages") else root


def launcher_text(python: str, root: Path | None) -> str:
    """``<python> -P -m dnsdr "$@"`` with ``root`` first on PYTHONPATH.

    A source tree (a checkout, a git worktree) must come first: the virtualenv's editable install may
    point at another tree. ``-P`` keeps the working directory off sys.path, so a ``dnsdr`` directory
    where a command happens to run cannot shadow it either. An installed package needs neither.
    """
    lines = ["#!/bin/sh", "# Written by `dnsdr lab`: the dnsdr code that wrote this lab, for every process it starts."]
    if root is not None:
        lines += [f"PYTHONPATH={shlex.quote(str(root))}${{PYTHONPATH:+:$PYTHONPATH}}", "export PYTHONPATH"]
    lines.append(f'exec {shlex.quote(python)} -P -m dnsdr "$@"')
    return "\n".join(lines) + "\n"


def write_launcher(paths: Paths) -> None:
    text = launcher_text(str(Path(sys.executable).absolute()), code_root())
    path = paths.dnsdr
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(0o755)
        tmp.replace(path)


# --- HTTP checks -------------------------------------------------------------------------------------------

def http_status(url: str, timeout: float = 2.0) -> int | None:
    """The status of GET ``url``; None when nothing answers in time."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return None


def http_json(url: str, timeout: float = 2.0) -> Any:
    """GET ``url`` as JSON; None when it does not answer 200 with JSON."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return None


# --- processes started on demand ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Spawned:
    """A process the lab started on request, remembered beside its pid file so that ``start REGION``
    brings it back after ``kill REGION`` and ``down`` stops it."""

    region: str
    name: str
    argv: tuple[str, ...]
    url: str | None = None  # where it serves HTTP; readiness is GET url + ready == 200
    ready: str = "/readyz"
    pid: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"region": self.region, "name": self.name, "argv": list(self.argv), "url": self.url,
                "ready": self.ready}

    @classmethod
    def from_dict(cls, data: dict[str, Any], pid: int | None = None) -> Spawned:
        return cls(str(data["region"]), str(data["name"]), tuple(str(a) for a in data["argv"]),
                   None if data.get("url") is None else str(data["url"]), str(data.get("ready") or "/readyz"), pid)


def record_path(paths: Paths, region: str, name: str) -> Path:
    return paths.region(region) / "run" / f"{name}.spawn.json"


def check_name(name: str) -> str:
    if not NAME.fullmatch(name) or name in KINDS or name == MONITOR:
        raise LabError("lab", f"{name!r} is not a valid process name (lowercase letters, digits, '-'; "
                              f"not {MONITOR} or a lab component)")
    return name


def component(spawned: Spawned, timeout: float = READY_TIMEOUT) -> Component:
    url = spawned.url

    def ready() -> bool:
        return url is None or http_status(url + spawned.ready) == 200

    return Component(spawned.region, spawned.name, list(spawned.argv), ready=ready, timeout=timeout)


def spawn(lab: Lab, region: str, name: str, argv: list[str], url: str | None = None,
          ready: str = "/readyz", timeout: float = READY_TIMEOUT) -> Spawned:
    """Start ``argv`` in ``region``'s cgroup ``name`` and wait until GET url+ready answers 200.

    Idempotent like the rest of the lab: a running process of that name with the same command is
    left alone; one with another command is an error rather than a silent mismatch.
    """
    check_any_region(region)
    check_name(name)
    wanted = Spawned(region, name, tuple(argv), url, ready)
    path = record_path(lab.paths, region, name)
    current = recorded(lab.paths, region, name)
    if lab.running(region, name):
        if current is not None and current.argv != wanted.argv:
            raise LabError(f"{region}/{name}", "already runs with another command: stop it first")
        return _with_pid(lab, current or wanted)
    write_private(path, json.dumps(wanted.to_dict(), indent=2) + "\n")  # first, so down stops it whatever happens
    try:
        lab.start_component(component(wanted, timeout))
    except LabError:
        stop(lab, region, name)
        raise
    return _with_pid(lab, wanted)


def _with_pid(lab: Lab, s: Spawned) -> Spawned:
    return Spawned(s.region, s.name, s.argv, s.url, s.ready, proc.read_pid(lab.paths.pidfile(s.region, s.name)))


def recorded(paths: Paths, region: str, name: str) -> Spawned | None:
    try:
        return Spawned.from_dict(json.loads(record_path(paths, region, name).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def spawned(lab: Lab, region: str | None = None) -> list[Spawned]:
    """Every remembered process (of ``region``), running or not, with its pid when it runs."""
    regions = [region] if region else [*REGIONS, MONITOR_REGION]
    found = []
    for r in regions:
        for path in sorted((lab.paths.region(r) / "run").glob("*.spawn.json")):
            s = recorded(lab.paths, r, path.name.removesuffix(".spawn.json"))
            if s is not None:
                found.append(_with_pid(lab, s) if lab.running(r, s.name) else s)
    return found


def stop(lab: Lab, region: str, name: str) -> bool:
    """Stop a spawned process and forget it; False when there was nothing to stop or forget."""
    known = recorded(lab.paths, region, name) is not None or lab.running(region, name)
    lab.stop_component(region, name)
    record_path(lab.paths, region, name).unlink(missing_ok=True)
    return known


def stop_all(lab: Lab, region: str | None = None) -> list[str]:
    """Stop and forget every spawned process (of ``region``); returns their region/name."""
    found = spawned(lab, region)
    lab.parallel(partial(stop, lab, s.region, s.name) for s in found)
    return [f"{s.region}/{s.name}" for s in found]


def restart(lab: Lab, region: str) -> None:
    """Bring back the remembered processes of a region (after ``kill REGION``), each waited for."""
    lab.parallel(partial(lab.start_component, component(s)) for s in spawned(lab, region)
                 if not lab.running(s.region, s.name))


# --- the controller ---------------------------------------------------------------------------------------

def free_port(lab: Lab, host: str, name: str) -> int:
    """The first port from CONTROLLER_PORT that no other remembered process claims and nothing listens on."""
    claimed = {s.url for s in spawned(lab) if s.name != name}
    listening = proc.tcp_listeners()
    for port in range(CONTROLLER_PORT, CONTROLLER_PORT + 100):
        if f"http://{host}:{port}" not in claimed and (host, port) not in listening \
                and ("0.0.0.0", port) not in listening:
            return port
    raise LabError("lab", f"no free port from {CONTROLLER_PORT} on {host}")


def start_controller(lab: Lab, name: str = CONTROLLER, listen: str | None = None,
                     state_dir: Path | None = None, extra: tuple[str, ...] = ()) -> Spawned:
    """``dnsdr run`` on the lab's spec in r3 (beside the monitor, as in production), ready when its
    first round is done. Several may run, each under its own name and endpoint."""
    check_name(name)
    current = recorded(lab.paths, MONITOR_REGION, name)
    if listen is None and current is not None and current.url:  # running, or killed with r3: same endpoint
        listen = current.url.removeprefix("http://")
    if listen is None:
        host = Addresses(MONITOR_REGION).core
        listen = f"{host}:{free_port(lab, host, name)}"
    state = Path(state_dir).absolute() if state_dir is not None else lab.paths.controller_state
    argv = [str(lab.paths.dnsdr), "run", "-c", str(lab.spec_path), "--state-dir", str(state),
            "--listen", listen, *extra]
    return spawn(lab, MONITOR_REGION, name, argv, url=f"http://{listen}")


def controllers(lab: Lab) -> list[Spawned]:
    return [s for s in spawned(lab, MONITOR_REGION) if s.argv[1:2] == ("run",)]


# --- the monitor ------------------------------------------------------------------------------------------

def monitor_url(path: str = "") -> str:
    return f"http://{Addresses(MONITOR_REGION).core}:{MONITOR_PORT}{path}"


def monitor_component(paths: Paths) -> Component:
    """``dnsdr monitor`` on the spec's monitor endpoint; ready once its first round completed."""
    argv = [str(paths.dnsdr), "monitor", "-c", str(paths.spec), "--listen",
            f"{Addresses(MONITOR_REGION).core}:{MONITOR_PORT}"]
    return Component(MONITOR_REGION, MONITOR, argv, ready=lambda: http_status(monitor_url("/readyz")) == 200,
                     timeout=READY_TIMEOUT)


def verdict_states(doc: Any) -> dict[str, str]:
    """region -> state from the monitor's /verdict document ({} when it is not one)."""
    regions = doc.get("regions") if isinstance(doc, dict) else None
    if not isinstance(regions, dict):
        return {}
    return {str(r): str(v.get("state")) for r, v in regions.items() if isinstance(v, dict)}


def wait_monitor_healthy(lab: Lab, timeout: float = HEALTHY_TIMEOUT) -> None:
    """Until the monitor's verdict says every database region is healthy; restart it once if its loop
    is stuck (/healthz not 200), since a wedged witness would make every later test wait in vain."""
    restarted = False
    deadline = time.monotonic() + timeout
    while True:
        doc = http_json(monitor_url("/verdict"))
        states = verdict_states(doc)
        if all(states.get(r) == "healthy" for r in REGIONS):
            return
        if not lab.running(MONITOR_REGION, MONITOR):
            lab.start_component(monitor_component(lab.paths))
            continue
        if not restarted and http_status(monitor_url("/healthz")) != 200:
            lab.progress("the monitor's probe loop is stuck: restarting it")
            lab.stop_component(MONITOR_REGION, MONITOR)
            lab.start_component(monitor_component(lab.paths))
            restarted = True
            continue
        if time.monotonic() > deadline:
            evidence: list[str] = []
            with contextlib.suppress(AttributeError, TypeError):
                for r in REGIONS:
                    evidence += [str(e) for e in doc["regions"][r]["evidence"]][:4]
            raise LabError("r3/monitor", f"its verdict is not healthy within {timeout:g} s: {states or 'no verdict'}",
                           "\n".join(evidence))
        time.sleep(0.25)
