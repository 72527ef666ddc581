"""rewrite_masters against hostile backends on loopback: whatever one backend answers (junk, nothing,
half a zone config), it is reported for that backend, in bounded time and without the credential,
and the caller goes on with the next one."""

from __future__ import annotations

import base64
import json
import time

import pytest

from dnsdr.adapters.backends import bind9, pdns4
from dnsdr.adapters.backends.base import MastersReport, ZoneStatus
from dnsdr.adapters.backends.masters import create_missing, rewrite_masters
from dnsdr.adapters.backends.pdns4 import Pdns4Driver
from dnsdr.domain.spec import BackendSpec, Endpoint, SecretRef
from tests.support.hostile import MARKER, Behaviour, hostile_tcp, http, http_routes, named, silent
from tests.support.waiting import LOADED_SLACK

T = 0.2
ZONES = ["a.example.", "b.example.", "c.example."]
MASTERS = [Endpoint("192.0.2.1", 5354), Endpoint("192.0.2.2", 5354)]
RNDC_MATERIAL = base64.b64encode(MARKER.encode()).decode()  # bare base64: hmac-sha256 with MARKER as secret


def pdns_backend(name: str, port: int) -> BackendSpec:
    return pdns4.backend(name, Endpoint("127.0.0.1", 53), Endpoint("127.0.0.1", port), SecretRef(env="PDNS_KEY"))


def bind_backend(name: str, port: int) -> BackendSpec:
    return bind9.backend(name, Endpoint("127.0.0.1", 53), Endpoint("127.0.0.1", port), SecretRef(env="RNDC_KEY"))


def pdns_zone(name: str, masters: list[str] | None = None) -> dict[str, object]:
    return {"id": name, "name": name, "kind": "Slave", "masters": masters or ["192.0.2.9:53"], "serial": 1}


def pdns_honest(status: int = 204) -> Behaviour:
    listing = json.dumps([pdns_zone("a.example."), pdns_zone("b.example.", ["nonsense:port"]),
                          pdns_zone("c.example.", [f"{m.host}:{m.port}" for m in MASTERS])]).encode()
    return http_routes(lambda method, path: (200, listing) if method == "GET" else (status, b""))


def showzone(command: str) -> tuple[int, str]:
    zone = command.split()[-1]
    if not command.startswith("showzone"):
        return 0, ""
    if zone == "a.example":
        return 0, f'zone "{zone}" {{ type slave; file "x"; masters {{ 192.0.2.9 port 53; }}; }};'
    if zone == "b.example":
        return 0, "<html>this is not a zone</html>"
    return 0, f'zone "{zone}" {{ type; }};'


def check(report: MastersReport, port: int) -> None:
    blob = repr(report) + str(report.error) + "".join(o.detail for o in report.outcomes)
    assert MARKER not in blob and RNDC_MATERIAL not in blob
    if report.error is not None:
        assert f"127.0.0.1:{port}" in report.error and "\n" not in report.error
        assert {o.status for o in report.outcomes} == {ZoneStatus.FAILED}


@pytest.mark.parametrize(("kind", "behaviour", "needle"), [
    ("pdns", http(200, b"<html>Welcome</html>"), "not JSON"),
    ("pdns", http(200, json.dumps([{"kind": "Slave"}]).encode()), "without a name"),
    ("pdns", http(200, b"[]", length=10 << 30), "allowed"),
    ("pdns", silent, "timed out"),
    ("bind9", silent, "timed out"),
    ("bind9", named(b"another key", showzone), "wrong key"),
])
def test_a_broken_backend_is_reported_and_the_next_one_is_still_processed(kind: str, behaviour: Behaviour,
                                                                          needle: str) -> None:
    with hostile_tcp(behaviour) as bad_port, hostile_tcp(pdns_honest()) as good_port:
        bad = pdns_backend("bad", bad_port) if kind == "pdns" else bind_backend("bad", bad_port)
        credential = MARKER if kind == "pdns" else RNDC_MATERIAL
        start = time.monotonic()
        first = rewrite_masters(bad, credential, ZONES, MASTERS, retrieve_changed=True, timeout=T)
        took = time.monotonic() - start
        second = rewrite_masters(pdns_backend("good", good_port), MARKER, ZONES, MASTERS, retrieve_changed=True,
                                 timeout=T)
    assert first.error is not None and needle in first.error, first.error
    assert took < 3 * 2 * T + LOADED_SLACK  # bounded by the timeout (a stale connection is retried once)
    check(first, bad_port)
    check(second, good_port)
    assert second.error is None
    assert [o.status for o in second.outcomes] == [ZoneStatus.CHANGED, ZoneStatus.FAILED, ZoneStatus.UNCHANGED]
    assert "not address[:port]" in second.outcomes[1].detail
    assert second.retrieved == ("a.example.",)


def test_unexpected_bind_showzone_output_fails_that_zone_only() -> None:
    with hostile_tcp(named(MARKER.encode(), showzone)) as port:
        report = rewrite_masters(bind_backend("bind", port), RNDC_MATERIAL, ZONES, MASTERS, timeout=T)
    check(report, port)
    assert report.error is None
    assert [o.status for o in report.outcomes] == [ZoneStatus.CHANGED, ZoneStatus.FAILED, ZoneStatus.FAILED]
    assert "unexpected showzone output" in report.outcomes[1].detail
    assert "unexpected type clause" in report.outcomes[2].detail


def test_junk_per_zone_answers_are_failed_outcomes_not_a_stop() -> None:
    with hostile_tcp(pdns_honest(status=500)) as port:
        report = rewrite_masters(pdns_backend("p", port), MARKER, ZONES, MASTERS, timeout=T)
    check(report, port)
    assert report.error is None
    assert report.outcomes[0].status is ZoneStatus.FAILED and "HTTP 500" in report.outcomes[0].detail


def test_a_driver_surprise_is_reported_without_the_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object) -> object:
        raise KeyError(f"something with {MARKER} inside")

    monkeypatch.setattr(Pdns4Driver, "set_masters", boom)
    monkeypatch.setattr(Pdns4Driver, "create_secondary", boom)
    backend = pdns_backend("p", 9)
    report = rewrite_masters(backend, MARKER, ZONES, MASTERS, timeout=T)
    assert report.error is not None and "unexpected KeyError from the pdns4 driver" in report.error
    assert MARKER not in report.error
    created, failed = create_missing(backend, MARKER, [("a.example.", "id1")], MASTERS, timeout=T)
    assert created == () and MARKER not in failed[0].detail and "unexpected KeyError" in failed[0].detail
