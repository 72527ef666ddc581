"""The native rndc client against hostile control channels on loopback: a silent peer is unreachable
(timed out), a peer that closes on our first message or signs with another key is a wrong key,
anything else is a clean RndcError; every exchange is bounded in time and size, and no message
carries the key."""

from __future__ import annotations

import base64
import struct
import threading
from collections.abc import Callable

import pytest

from dnsdr.adapters import isccc
from dnsdr.adapters.rndc import RndcAuthError, RndcClient, RndcError, RndcKey, RndcKeyError, RndcUnreachable
from dnsdr.domain.errors import NeedsOperator, RetryLater
from dnsdr.domain.spec import Endpoint
from tests.support.hostile import (
    MARKER,
    Behaviour,
    assert_no_secret,
    close_after_read,
    close_at_once,
    elapsed,
    free_port,
    hostile_tcp,
    named,
    send_after_read,
    silent,
    trickle,
)
from tests.support.waiting import LOADED_SLACK

T = 0.2
KEY = RndcKey("rndc-key", "hmac-sha256", MARKER.encode())
SECRETS = (MARKER, base64.b64encode(MARKER.encode()).decode())


def nested(depth: int) -> dict[str, object]:
    table: dict[str, object] = {"x": b"1"}
    for _ in range(depth):
        table = {"t": table}
    return table


def ok(command: str) -> tuple[int, str]:
    return 0, f"done: {command}"


def run(behaviour: Behaviour, call: Callable[[RndcClient], object] = lambda c: c.status()) -> tuple[object, float, int]:
    with hostile_tcp(behaviour) as port:
        client = RndcClient(Endpoint("127.0.0.1", port), KEY, timeout=T, connections=2)
        result, took = elapsed(lambda: call(client))
        client.close()
    return result, took, port


def assert_clean(err: object, port: int) -> None:
    assert isinstance(err, RndcError), f"{type(err).__name__}: {err}"  # never a traceback
    text = str(err)
    assert text.startswith(f"rndc 127.0.0.1:{port}") and "\n" not in text and len(text) < 400
    assert_no_secret(err, *SECRETS)


@pytest.mark.parametrize(("name", "behaviour", "kind", "needle"), [
    ("silent", silent, RndcUnreachable, "timed out"),
    ("closes at once", close_at_once, RndcAuthError, "closed on our first message"),
    ("closes on our first message", close_after_read, RndcAuthError, "closed on our first message"),
    ("named with another key", named(b"another key", ok), RndcAuthError, "closed on our first message"),
    ("answers signed with another key", named(MARKER.encode(), ok, sign_with=b"other"), RndcAuthError, "bad HMAC"),
    ("speaks HTTP", send_after_read(b"HTTP/1.1 400 Bad Request\r\n\r\n"), RndcError, "like named"),
    ("oversized frame", send_after_read(b"\xff\xff\xff\xff"), RndcError, "like named"),
    ("garbage frame", send_after_read(struct.pack(">I", 40) + b"\x00\x00\x00\x02" + b"\x07" * 36), RndcError,
     "like named"),
    ("no _auth first", send_after_read(struct.pack(">I", 12) + b"\x00\x00\x00\x01\x05_ctrl\x02\x00"), RndcError,
     "like named"),
    ("frame that never ends", trickle(struct.pack(">I", 1 << 20)), RndcUnreachable, "timed out"),
    ("tables nested too deep", named(MARKER.encode(), ok, extra={"deep": nested(200)}), RndcError, "too deep"),
    ("result not a number", named(MARKER.encode(), ok, extra={"result": "zero"}), RndcError, "not a number"),
])
def test_hostile_peers_are_clean_errors(name: str, behaviour: Behaviour, kind: type[RndcError], needle: str) -> None:
    err, took, port = run(behaviour)
    assert type(err) is kind, f"{name}: {type(err).__name__}: {err}"
    assert isinstance(err, NeedsOperator) is (kind is RndcAuthError)
    assert isinstance(err, RetryLater)
    assert needle in str(err)
    assert took < 3 * 2 * T + LOADED_SLACK  # a stale connection is retried once; each try is bounded by the timeout
    assert_clean(err, port)


def test_refused_port_is_unreachable() -> None:
    client = RndcClient(Endpoint("127.0.0.1", free_port()), KEY, timeout=T)
    err, took = elapsed(client.login)
    assert type(err) is RndcUnreachable and "cannot connect" in str(err) and took < 3 * T + LOADED_SLACK
    assert_clean(err, client.endpoint.port)


def test_an_honest_peer_works_and_command_errors_are_per_item() -> None:
    def answer(command: str) -> tuple[int, str]:
        return (0, "zone ok") if "good" in command else (1, "zone not found\nsecond line")

    result, _, _ = run(named(MARKER.encode(), answer),
                        lambda c: c.map(c.zonestatus, ["good.example.", "bad.example.", "good2.example."]))
    assert isinstance(result, list)
    assert result[0] == "zone ok" and result[2] == "zone ok"
    assert isinstance(result[1], RndcError) and "not found" in str(result[1]) and "\n" not in str(result[1])


def test_a_peer_that_goes_silent_costs_a_few_timeouts_not_one_per_zone() -> None:
    hung = threading.Event()

    def answer(command: str) -> tuple[int, str]:
        hung.wait()  # named hung: commands get no answer (logins still do)
        return 0, ""

    with hostile_tcp(named(MARKER.encode(), answer)) as port:
        client = RndcClient(Endpoint("127.0.0.1", port), KEY, timeout=T, connections=4)
        try:
            err, took = elapsed(lambda: client.map(client.retransfer, [f"z{i}.example." for i in range(200)]))
        finally:
            hung.set()
            client.close()
    assert type(err) is RndcUnreachable and took < 3 * 2 * T + LOADED_SLACK
    assert_clean(err, port)


def test_unusable_key_material_needs_an_operator_and_is_never_quoted() -> None:
    for material in (f"{MARKER}!", f'key "k" {{ algorithm hmac-sha256; secret "{MARKER}"; }};',
                     f'key "k" {{ algorithm hmac-gost; secret "{base64.b64encode(b"x").decode()}"; }};'):
        with pytest.raises(RndcKeyError) as err:
            RndcKey.parse(material)
        assert isinstance(err.value, NeedsOperator)
        assert MARKER not in str(err.value) and MARKER not in repr(err.value)


def test_isccc_rejects_deep_nesting_and_non_ascii_keys_without_recursion_errors() -> None:
    with pytest.raises(isccc.IscccError):
        isccc.decode_table(isccc.encode_table(nested(200)))
    with pytest.raises(isccc.IscccError):
        isccc.decode_table(b"\x02\xff\xfe\x01\x00\x00\x00\x00")
    with pytest.raises(isccc.IscccError):
        isccc.decode_table(b"\x09abc")
