"""The host-wide lock around the lab: it uses fixed addresses (127.0.1.x, 127.0.2.x), so only one lab can run per
host. Integration test sessions and benchmarks that drive a lab take it first, and queue on it."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

LOCK = Path("/tmp/dnsdr-lab-test.lock")


def take_lock(wait_s: float, progress: Callable[[str], None], too_long: Callable[[str], NoReturn]) -> int:
    """Hold ``LOCK`` (the returned descriptor), waiting up to ``wait_s`` seconds for whoever holds it; says once
    through ``progress`` that it waits, and calls ``too_long`` with the reason when the wait is over."""
    fd = os.open(LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    deadline = time.monotonic() + wait_s
    announced = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                too_long(f"another test session holds {LOCK} (its lab uses the same addresses) for too long")
            if not announced:
                progress(f"waiting for another test session's lab to finish ({LOCK})")
                announced = True
            time.sleep(1)


def release_lock(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
