"""Fixtures for the step-handler tests: the example spec, a virtual clock, a healthy fake cluster.

Every test here is cut off from the network: a socket connect fails the test instead of waiting.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

import dnsdr.adapters.mysql
from dnsdr.app.settings import load_spec
from dnsdr.domain.serials import ExpectedZone
from dnsdr.domain.spec import DesignateDR
from dnsdr.engine.steps import database as database_steps
from tests.conftest import EXAMPLE
from tests.unit.engine import fakes
from tests.unit.engine.fakes import FakeCluster, FakeControllers, VirtualClock
from tests.unit.engine.steps.dns_fakes import FakeDataPlane, install_data_plane

PRIMARY_POS = "0-1-100"


@pytest.fixture(scope="session")
def spec() -> DesignateDR:
    return load_spec(str(EXAMPLE))


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def cluster(spec: DesignateDR, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch) -> FakeCluster:
    """r1 the primary at 0-1-100, r2 its caught-up replica; the epoch row lives on the fake nodes."""
    c = FakeCluster(spec, clock)
    c["r1"].as_primary(PRIMARY_POS)
    c["r2"].as_replica(c["r1"].spec.endpoint, PRIMARY_POS)
    monkeypatch.setattr(database_steps, "read_epoch", fakes.read_epoch)
    monkeypatch.setattr(database_steps, "write_epoch", fakes.write_epoch)
    # `repoint` observes the new source through a fresh adapter: give it the fake server instead.
    monkeypatch.setattr(dnsdr.adapters.mysql, "adapter_for", c.adapter_for)
    return c


@pytest.fixture
def controllers() -> FakeControllers:
    return FakeControllers()


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"a unit test tried to open a network connection: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket.socket, "sendto", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


ZONES = (ExpectedZone("id-a", "a.example.", 200), ExpectedZone("id-b", "b.example.", 200),
         ExpectedZone("id-c", "c.example.", 200))
OLD_MASTERS = ("127.0.1.1:5354",)


@pytest.fixture
def plane(clock: VirtualClock, monkeypatch: pytest.MonkeyPatch) -> FakeDataPlane:
    """Three zones at serial 200, on all four backends with the old primary's mdns as masters, all in sync."""
    fake = FakeDataPlane(clock, ZONES, ["r1-pdns", "r1-bind", "r2-pdns", "r2-bind"], OLD_MASTERS)
    return install_data_plane(monkeypatch, fake)
