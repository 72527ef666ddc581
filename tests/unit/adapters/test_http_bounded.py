"""How one HTTP exchange's failures are told apart: a TLS session the peer cut is a dropped connection (worth one
more try on a fresh one), a refused certificate is not."""

from __future__ import annotations

import ssl
from typing import Any

import pytest

from dnsdr.adapters.http_bounded import TLS, TRANSPORT, HttpFailure, _Deadline, exchange


class _Conn:
    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.deadline = _Deadline(5.0)
        self.closed = False

    def request(self, *a: Any, **k: Any) -> None:
        raise self.error

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("error", [ssl.SSLEOFError(8, "EOF occurred in violation of protocol"),
                                   ssl.SSLZeroReturnError(6, "TLS/SSL connection has been closed")])
def test_a_cut_tls_session_is_a_dropped_connection(error: ssl.SSLError) -> None:
    conn = _Conn(error)
    with pytest.raises(HttpFailure) as info:
        exchange(conn, "GET", "/", None, {}, seconds=5, max_body=100)  # type: ignore[arg-type]
    assert info.value.kind == TRANSPORT and conn.closed


def test_a_refused_certificate_stays_a_tls_failure() -> None:
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_message = "unable to get local issuer certificate"
    conn = _Conn(error)
    with pytest.raises(HttpFailure) as info:
        exchange(conn, "GET", "/", None, {}, seconds=5, max_body=100)  # type: ignore[arg-type]
    assert info.value.kind == TLS and "unable to get local issuer certificate" in str(info.value)
