"""Process supervision: start a component in its own cgroup, check it, signal it, stop it.

Each component runs in the cgroup v2 directory ``<lab cgroup>/<region>/<kind>``, so every process
it forks (Designate's worker child, gunicorn's workers, Erlang's epmd) is known, a region can be
killed or frozen as a whole, and nftables can tell the regions' sockets apart (see faults.py).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dnsdr.lab.errors import LabError

CGROUP_FS_DEFAULT = "/sys/fs/cgroup"
_children: dict[int, subprocess.Popen[bytes]] = {}


def cgroup2_mount() -> Path:
    """Where the cgroup v2 hierarchy is mounted (pure v2: /sys/fs/cgroup; hybrid: .../unified)."""
    try:
        mounts = Path("/proc/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        mounts = []
    for line in mounts:
        fields = line.split()
        if len(fields) >= 3 and fields[2] == "cgroup2":
            return Path(fields[1])
    raise LabError("cgroups", "no cgroup v2 hierarchy is mounted (mount -t cgroup2 none /sys/fs/cgroup)")


def lab_cgroup_name(root: Path) -> str:
    """A short name unique to one lab directory, so two labs never touch each other's processes."""
    return "dnsdr-lab-" + hashlib.sha256(str(root).encode()).hexdigest()[:8]


class Cgroups:
    """The lab's cgroup tree: ``<mount>/<lab>/<region>/<kind>``."""

    def __init__(self, root: Path, mount: Path | None = None) -> None:
        self.mount = mount or cgroup2_mount()
        self.name = lab_cgroup_name(root)
        self.base = self.mount / self.name

    def region(self, region: str) -> Path:
        return self.base / region

    def component(self, region: str, kind: str) -> Path:
        return self.base / region / kind

    def nft_path(self, region: str) -> str:
        """The region's cgroup as nftables names it: relative to /sys/fs/cgroup."""
        rel = os.path.relpath(self.region(region), CGROUP_FS_DEFAULT)
        return rel

    def nft_level(self) -> int:
        """Depth of a region cgroup in the cgroup v2 hierarchy (the mount root is level 0)."""
        return 2

    def ensure(self, region: str, kind: str) -> Path:
        path = self.component(region, kind)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def pids(self, region: str, kind: str | None = None) -> list[int]:
        dirs = [self.component(region, kind)] if kind else sorted(self.region(region).glob("*/"))
        found: list[int] = []
        for d in dirs:
            try:
                text = (d / "cgroup.procs").read_text(encoding="utf-8")
            except OSError:
                continue
            found.extend(int(x) for x in text.split())
        return [p for p in found if alive(p)]

    def remove(self) -> None:
        """Remove the (empty) cgroup directories of this lab."""
        if not self.base.exists():
            return
        for d in sorted(self.base.glob("*/*/"), reverse=True) + sorted(self.base.glob("*/")) + [self.base]:
            with contextlib.suppress(OSError):
                d.rmdir()


def other_labs(mount: Path, mine: str) -> list[Path]:
    """Roots of other labs that still run processes on this host (found through their cgroups)."""
    roots: list[Path] = []
    for base in sorted(mount.glob("dnsdr-lab-*/")):
        if base.name == mine:
            continue
        for procs in sorted(base.glob("*/*/cgroup.procs")):
            pids = [int(p) for p in procs.read_text(encoding="utf-8").split() if alive(int(p))]
            root = _root_of(pids, procs.parent.parent.name)
            if root is not None:
                roots.append(root)
                break
            if pids:
                roots.append(base)
                break
    return roots


def _root_of(pids: list[int], region: str) -> Path | None:
    """A lab root from a process's command line (configs live under <root>/<region>/)."""
    for pid in pids:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_text(encoding="utf-8").split("\0")
        except OSError:
            continue
        for arg in argv:
            path = arg.split("=", 1)[-1]
            marker = f"/{region}/"
            if path.startswith("/") and marker in path:
                return Path(path[: path.index(marker)])
            if path.startswith("/") and path.endswith("/designatedr.yaml"):  # r3's monitor and controllers
                return Path(path).parent
    return None


def _reap() -> None:
    for pid, child in list(_children.items()):
        if child.poll() is not None:
            _children.pop(pid, None)


def alive(pid: int) -> bool:
    """True when ``pid`` runs (a zombie counts as dead)."""
    _reap()
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


def spawn(
    argv: Sequence[str], *, cgroup: Path, log: Path, pidfile: Path,
    env: Mapping[str, str] | None = None, cwd: Path | None = None,
) -> int:
    """Start ``argv`` inside ``cgroup`` (joined before exec), output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("PYTHONWARNINGS", "ignore")
    wrapper = ["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(cgroup), *argv]
    with open(log, "ab") as out:
        child = subprocess.Popen(
            wrapper, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env=full_env, cwd=str(cwd) if cwd else None, start_new_session=True, close_fds=True,
        )
    _children[child.pid] = child
    pidfile.write_text(f"{child.pid}\n", encoding="utf-8")
    return child.pid


def read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text(encoding="utf-8").split()[0])
    except (OSError, ValueError, IndexError):
        return None


def process_state(pid: int) -> str:
    """The one-letter state from /proc/<pid>/stat; "X" once the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return "X"
    return stat.rsplit(")", 1)[-1].split()[0]


def is_stopped(pid: int) -> bool:
    """Stopped by a signal or the tracer, or already exiting: nothing of it will run again."""
    return process_state(pid) in {"T", "t", "Z", "X"}


def send(pids: Iterable[int], sig: signal.Signals) -> int:
    count = 0
    for pid in pids:
        try:
            os.kill(pid, sig)
            count += 1
        except ProcessLookupError:
            pass
    return count


def terminate(pids: Callable[[], list[int]], main: int | None, timeout: float = 20.0) -> None:
    """Stop a component: SIGTERM its main process and wait for it (it reaps its own children),
    then SIGTERM what is left (e.g. epmd), then SIGKILL whatever still runs."""
    current = pids()
    send(current, signal.SIGCONT)
    deadline = time.monotonic() + timeout
    if main is not None and main in current:
        send([main], signal.SIGTERM)
        while time.monotonic() < deadline and alive(main):
            time.sleep(0.05)
    send(pids(), signal.SIGTERM)
    while time.monotonic() < deadline and pids():
        time.sleep(0.05)
    send(pids(), signal.SIGKILL)
    deadline = time.monotonic() + 5
    while pids() and time.monotonic() < deadline:
        time.sleep(0.05)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tcp_listeners() -> set[tuple[str, int]]:
    """Every listening TCP (IPv4) endpoint on the host, read from /proc/net/tcp."""
    found: set[tuple[str, int]] = set()
    try:
        lines = Path("/proc/net/tcp").read_text(encoding="utf-8").splitlines()[1:]
    except OSError:
        return found
    for line in lines:
        fields = line.split()
        if len(fields) < 4 or fields[3] != "0A":
            continue
        addr, port = fields[1].split(":")
        raw = bytes.fromhex(addr)[::-1]
        found.add((socket.inet_ntoa(raw), int(port, 16)))
    return found


def udp_bound() -> set[tuple[str, int]]:
    found: set[tuple[str, int]] = set()
    try:
        lines = Path("/proc/net/udp").read_text(encoding="utf-8").splitlines()[1:]
    except OSError:
        return found
    for line in lines:
        fields = line.split()
        if len(fields) < 2:
            continue
        addr, port = fields[1].split(":")
        found.add((socket.inet_ntoa(bytes.fromhex(addr)[::-1]), int(port, 16)))
    return found


def log_tail(log: Path, lines: int = 15) -> str:
    try:
        with open(log, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 16384))
            text = f.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"(no log: {os.strerror(exc.errno or errno.ENOENT)})"
    return "\n".join(text.splitlines()[-lines:])


def parallel(tasks: Iterable[Callable[[], object]]) -> None:
    """Run ``tasks`` at once, wait for all, then raise the first error (none is left running)."""
    tasks = list(tasks)
    if not tasks:
        return
    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        futures = [pool.submit(t) for t in tasks]
        errors = [f.exception() for f in futures]
    for err in errors:
        if err is not None:
            raise err


def wait_until(
    check: Callable[[], bool], *, timeout: float, interval: float = 0.1,
    abort: Callable[[], bool] | None = None,
) -> bool:
    """Poll ``check`` until true or ``timeout``; stop early when ``abort`` says it never will be."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if abort is not None and abort():
            return check()
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
