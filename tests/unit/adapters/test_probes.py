"""The witness's probes against small local servers: only the expected answer counts, every wait is bounded."""

from __future__ import annotations

import time

import pytest

from dnsdr.adapters.probes import MONITOR_USER, probe
from dnsdr.domain.witness import ProbeKind, ProbeResult, ProbeTarget
from tests.support.waiting import LOADED_SLACK
from tests.unit.netfakes import ZONE, FakeDns, FakeHttp, FakeMysql, closed_port, running

TIMEOUT = 0.2


def run(kind: ProbeKind, port: int, host: str = "127.0.0.1", scheme: str = "http") -> ProbeResult:
    return probe(ProbeTarget("r1", kind, "x", host, port, scheme), ZONE, TIMEOUT)


@pytest.mark.parametrize("kind", [ProbeKind.DNS, ProbeKind.MDNS])
def test_good_soa_gives_its_serial(kind: ProbeKind) -> None:
    server = FakeDns("good", serial=2_000_000_001)
    with running(server):
        result = run(kind, server.port)
    assert result.ok, result.detail
    assert result.serial == 2_000_000_001
    assert result.detail == "SOA serial 2000000001"
    assert result.seconds < TIMEOUT


def test_truncated_answer_is_asked_again_over_tcp() -> None:
    server = FakeDns("tc", serial=77)
    with running(server):
        result = run(ProbeKind.DNS, server.port)
    assert (result.ok, result.serial) == (True, 77), result.detail


@pytest.mark.parametrize(("mode", "detail"), [
    ("owner", "SOA owned by other.test., not dnsdr-canary-test.test."),
    ("noaa", "answer without the AA flag"),
    ("refused", "REFUSED (is the canary zone created and served here?)"),
    ("extra", "2 RRsets in the answer"),
    ("wrongid", "does not match the query"),
])
def test_an_answer_that_is_not_the_expected_one_fails(mode: str, detail: str) -> None:
    server = FakeDns(mode)
    with running(server):
        result = run(ProbeKind.DNS, server.port)
    assert not result.ok
    assert detail in result.detail
    assert result.serial is None


def test_silent_nameserver_times_out_within_the_deadline_after_one_resend() -> None:
    server = FakeDns("silent")
    with running(server):
        started = time.monotonic()
        result = run(ProbeKind.DNS, server.port)
        took = time.monotonic() - started
    assert not result.ok
    assert result.detail == f"no answer within {TIMEOUT:g} s"
    assert TIMEOUT * 0.9 < took < TIMEOUT + LOADED_SLACK
    assert server.queries == 2


def test_database_greeting_names_the_server_and_logs_in_politely() -> None:
    server = FakeMysql("greet")
    with running(server):
        result = run(ProbeKind.DATABASE, server.port)
        deadline = time.monotonic() + 1
        while not server.logins and time.monotonic() < deadline:
            time.sleep(0.01)
    assert result.ok, result.detail
    assert result.detail == "greeted by 10.11.6-MariaDB-0+deb12u1"  # without the 5.5.5- prefix
    # The login: PROTOCOL_41 client, the monitor's user name, an empty password.
    login = server.logins[0]
    assert int.from_bytes(login[:4], "little") & 0x200
    assert login[32:].startswith(MONITOR_USER.encode() + b"\x00\x00")


def test_database_that_accepts_but_never_greets_fails_like_a_stopped_server() -> None:
    server = FakeMysql("silent")  # listening, never accept()ing: what a SIGSTOPped mariadbd looks like
    with running(server):
        started = time.monotonic()
        result = run(ProbeKind.DATABASE, server.port)
        took = time.monotonic() - started
    assert not result.ok
    assert "connected but no greeting within 0.2 s" in result.detail
    assert took < TIMEOUT + LOADED_SLACK


def test_database_answering_an_error_instead_of_a_greeting_is_alive() -> None:
    # What a real server sends a host none of its accounts match (1130), or a blocked host (1129).
    server = FakeMysql("error")
    with running(server):
        result = run(ProbeKind.DATABASE, server.port)
    assert result.ok
    assert result.detail == "alive, but refuses this monitor: error 1130 Host '127.0.0.1' is not allowed to connect"


def test_database_answering_something_else_fails() -> None:
    server = FakeMysql("garbage")
    with running(server):
        result = run(ProbeKind.DATABASE, server.port)
    assert not result.ok
    assert "not a MySQL greeting (a first packet of" in result.detail


@pytest.mark.parametrize("kind", [ProbeKind.DATABASE, ProbeKind.API])
def test_refused_connection_fails_at_once(kind: ProbeKind) -> None:
    result = run(kind, closed_port())
    assert (result.ok, result.detail) == (False, "connection refused")
    assert result.seconds < 0.1


@pytest.mark.parametrize("mode", ["versions", "multiple"])
def test_api_root_lists_versions(mode: str) -> None:
    server = FakeHttp(mode)
    with running(server):
        result = run(ProbeKind.API, server.port)
    assert result.ok, result.detail
    assert result.detail.endswith("2 versions (current v2.4)")


@pytest.mark.parametrize(("mode", "detail"), [
    ("error", "HTTP 500 Internal Server Error"),
    ("nojson", "HTTP 200 without a JSON body"),
    ("garbage", "not an HTTP answer"),
    ("trickle", "timed out after 0.2 s"),
])
def test_api_answering_something_else_fails(mode: str, detail: str) -> None:
    server = FakeHttp(mode)
    with running(server):
        started = time.monotonic()
        result = run(ProbeKind.API, server.port)
        took = time.monotonic() - started
    assert not result.ok
    assert detail in result.detail
    assert took < TIMEOUT + LOADED_SLACK


def test_https_to_a_plain_http_server_fails_without_raising() -> None:
    server = FakeHttp("versions")
    with running(server):
        result = run(ProbeKind.API, server.port, scheme="https")
    assert not result.ok
    assert result.detail


def test_unresolvable_host_fails_without_raising() -> None:
    result = run(ProbeKind.DNS, 53, host="no-such-host.invalid")
    assert not result.ok
    assert "resolve" in result.detail
