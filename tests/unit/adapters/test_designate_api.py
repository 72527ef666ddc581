"""The Designate API client against hostile servers on loopback: junk answers are a DesignateApiError
on one bounded line naming the endpoint, in bounded time, and no header value (the token) or URL
credential ever appears in one."""

from __future__ import annotations

import json
import os

import pytest

from dnsdr.adapters.designate_api import DesignateApi, DesignateApiError, DesignateAuthError
from dnsdr.domain.errors import NeedsOperator, RetryLater
from tests.support.hostile import (
    MARKER,
    Behaviour,
    assert_no_secret,
    close_after_read,
    elapsed,
    hostile_tcp,
    http,
    http_endless,
    send_after_read,
    silent,
    trickle,
)
from tests.support.waiting import LOADED_SLACK

T = 0.2
ZONE = {"id": "z1", "name": "a.example.", "status": "ACTIVE", "action": "NONE", "serial": 17}


def j(doc: object) -> bytes:
    return json.dumps(doc).encode()


def call(behaviour: Behaviour, fn: str = "get_zone") -> tuple[object, float, int]:
    with hostile_tcp(behaviour) as port:
        api = DesignateApi(f"http://127.0.0.1:{port}", token=MARKER, timeout=T, max_body=1 << 20)
        method = {"get_zone": lambda: api.get_zone("z1"), "list_zones": api.list_zones,
                  "get_quotas": api.get_quotas, "list_recordsets": lambda: api.list_recordsets("z1")}[fn]
        result, took = elapsed(method)
        api.close()
    return result, took, port


def assert_clean(err: object, port: int) -> None:
    assert isinstance(err, DesignateApiError), f"{type(err).__name__}: {err}"  # never a traceback
    text = str(err)
    assert text.startswith(f"Designate API http://127.0.0.1:{port}: ") and text.isprintable() and len(text) <= 410
    assert MARKER not in err.kind
    assert_no_secret(err)


@pytest.mark.parametrize(("name", "behaviour", "fn", "needle"), [
    ("html 200", http(200, b"<html>hello</html>"), "get_zone", "not JSON"),
    ("invalid utf-8", http(200, b"\xff\xfe{"), "get_zone", "not JSON"),
    ("a list, not a zone", http(200, j([ZONE])), "get_zone", "not a zone"),
    ("zone without id", http(200, j({"name": "a."})), "get_zone", "not a zone"),
    ("serial not a number", http(200, j(dict(ZONE, serial="x"))), "get_zone", "not a zone"),
    ("serial infinite", http(200, b'{"id": "z", "name": "a.", "serial": 1e400}'), "get_zone", "not a zone"),
    ("zones not a list", http(200, j({"zones": "all of them"})), "list_zones", "not a page of zones"),
    ("a zone in the list is junk", http(200, j({"zones": [ZONE, 7], "links": {}})), "list_zones", "not a zone"),
    ("next link loops", http(200, j({"zones": [ZONE], "links": {"next": "http://x/v2/zones?limit=1000"}})),
     "list_zones", "pagination does not end"),
    ("recordsets junk", http(200, j({"recordsets": [{"id": "r"}], "links": {}})), "list_recordsets",
     "not a recordset"),
    ("quotas a list", http(200, j([1, 2])), "get_quotas", "not a quota set"),
    ("500 echoing the token", http(500, f"<pre>X-Auth-Token: {MARKER}\n</pre>".encode() + b"y" * 50_000), "get_zone",
     "HTTP 500"),
    ("404 echoing the token", http(404, j({"message": f"no zone for {MARKER}", "type": f"{MARKER}\x00"})),
     "get_zone", "HTTP 404"),
    ("huge content-length", http(200, b"{}", length=1 << 40), "get_zone", "allowed"),
    ("endless body", http_endless(), "get_zone", "allowed"),
    ("silent", silent, "get_zone", "timed out"),
    ("trickles headers", trickle(b"HTTP/1.1 200 OK\r\nX-Y: "), "get_zone", "timed out"),
    ("lying content-length", http(200, b"{", length=1000), "get_zone", "timed out"),
    ("not HTTP", send_after_read(b"SSH-2.0-OpenSSH_9.6\r\n" + os.urandom(40)), "get_zone", "HTTP"),
    ("closes", close_after_read, "get_zone", "closed"),
])
def test_junk_answers_are_clean_errors(name: str, behaviour: Behaviour, fn: str, needle: str) -> None:
    err, took, port = call(behaviour, fn)
    assert_clean(err, port)
    assert isinstance(err, RetryLater) and not isinstance(err, NeedsOperator)
    assert needle in str(err), f"{name}: {err}"
    assert took < 3 * T + LOADED_SLACK  # bounded by the timeout (generous slack; not a speed test)


def test_a_refused_token_needs_an_operator_and_is_not_shown() -> None:
    err, _, port = call(http(401, j({"message": f"token {MARKER} expired", "type": "unauthorized"})))
    assert isinstance(err, DesignateAuthError) and isinstance(err, NeedsOperator) and err.status == 401
    assert_clean(err, port)


def test_the_token_is_sent_but_never_shown_and_url_credentials_are_dropped() -> None:
    requests: list[bytes] = []
    with hostile_tcp(http(500, b"oops", requests=requests)) as port:
        api = DesignateApi(f"http://admin:{MARKER}@127.0.0.1:{port}/?key={MARKER}", token=MARKER, timeout=T)
        err, _ = elapsed(lambda: api.get_zone("z1"))
    assert any(f"X-Auth-Token: {MARKER}".encode() in r for r in requests)  # the test really used the token
    assert isinstance(err, DesignateApiError) and MARKER not in str(err) and MARKER not in repr(err)
    assert MARKER not in api.endpoint and MARKER not in repr(api.__dict__.get("endpoint"))
    with pytest.raises(DesignateApiError) as bad:
        DesignateApi(f"ftp://u:{MARKER}@host/")
    assert MARKER not in str(bad.value)
