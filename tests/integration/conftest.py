"""Fixtures for integration tests: one real lab per test run, torn down even on failure or Ctrl-C.

``lab`` (session): the lab, up, in a fresh temporary directory (or ``$DNSDR_LAB_TEST_DIR``).
``healthy_lab`` (function): the same lab, first brought back to the healthy two-region state.

The lab uses fixed addresses (127.0.1.x, 127.0.2.x), so only one can run per host: test sessions
queue on a host-wide lock, a lab left behind by a killed test session is taken down, and a lab
someone started by hand (``dnsdr lab up``) makes the session fail with the command to stop it.
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from dnsdr.lab import Lab
from tests.support.lab_lock import release_lock, take_lock

LOCK_WAIT_S = float(os.environ.get("DNSDR_LAB_LOCK_WAIT", "1800"))
TEST_PREFIX = "dnsdr-lab-test-"


def _progress(message: str) -> None:
    print(f"[lab] {message}", flush=True)


def _take_lock() -> int:
    return take_lock(LOCK_WAIT_S, _progress, pytest.fail)


def _clear_stale(lab: Lab) -> None:
    for other in lab.other_labs():
        if other.name.startswith(TEST_PREFIX):
            _progress(f"taking down a lab left behind by an earlier test session: {other}")
            Lab(other).destroy()
        else:
            pytest.fail(f"a lab is running at {other}; stop it first: dnsdr lab --dir {other} down")


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root (ports 53/953, cgroups, nftables)")
    fd = _take_lock()
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    given = os.environ.get("DNSDR_LAB_TEST_DIR")
    root = Path(given) if given else Path(tempfile.mkdtemp(prefix=TEST_PREFIX, dir="/tmp"))
    the_lab = Lab(root, progress=_progress)
    try:
        _clear_stale(the_lab)
        t0 = time.monotonic()
        the_lab.up()
        _progress(f"up in {time.monotonic() - t0:.1f} s at {root}")
        yield the_lab
    finally:
        try:
            t0 = time.monotonic()
            if given:
                the_lab.down()
            else:
                the_lab.destroy()
            _progress(f"down in {time.monotonic() - t0:.1f} s")
        finally:
            signal.signal(signal.SIGTERM, previous)
            release_lock(fd)


@pytest.fixture
def healthy_lab(lab: Lab) -> Lab:
    lab.restore_healthy()
    return lab
