"""What runs where: one record per component (region, kind, host, port, pid, state, ...)."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dnsdr.lab import proc
from dnsdr.lab.layout import Addresses

if TYPE_CHECKING:
    from dnsdr.lab.lab import Lab
    from dnsdr.lab.region3 import Spawned


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def spawned_status(lab: Lab, spawned: Spawned) -> dict[str, Any]:
    """A process started on request, listed like a component (its endpoint from its URL)."""
    url = urllib.parse.urlsplit(spawned.url) if spawned.url else None
    endpoint = (url.hostname or "", url.port) if url else (Addresses(spawned.region).core, None)
    return component_status(lab, spawned.region, spawned.name, endpoint)


def component_status(lab: Lab, region: str, kind: str,
                     endpoint: tuple[str, int | None] | None = None) -> dict[str, Any]:
    """``state``: running, stopped (SIGSTOP), down (no process), or not-listening (process up, port closed)."""
    host, port = endpoint or Addresses(region).main_endpoint(kind)
    pids = lab.cgroups.pids(region, kind) if lab.cgroups.base.exists() else []
    main = proc.read_pid(lab.paths.pidfile(region, kind))
    if not pids:
        state = "down"
    elif all(proc.is_stopped(p) for p in pids):
        state = "stopped"
    elif port is not None and not proc.port_open(host, port, timeout=0.3):
        state = "not-listening"
    else:
        state = "running"
    return {
        "region": region,
        "kind": kind,
        "host": host,
        "port": port,
        "pid": main if main in pids else (pids[0] if pids else None),
        "state": state,
        "processes": len(pids),
        "rss_kib": sum(rss_kib(p) for p in pids),
        "log": str(lab.paths.log(region, kind)),
    }
