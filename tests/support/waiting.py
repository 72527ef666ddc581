"""Polling with a deadline: integration tests wait for effects, they never assert on speed."""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually(check: Callable[[], bool], timeout: float = 120.0, interval: float = 0.25) -> bool:
    """True as soon as ``check()`` is; after ``timeout`` seconds, its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()


# Added to a duration bound that only shows a call is cut by its timeout (rather than hanging): a
# loaded machine may stall a thread for seconds, and the bound must not turn that into a failure.
LOADED_SLACK = 5.0
