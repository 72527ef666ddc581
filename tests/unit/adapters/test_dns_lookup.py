"""The canary lookup against hostile servers: any misbehaviour is "not served yet", within its time bound."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dns.flags
import dns.message
import dns.rrset
import pytest

from dnsdr.adapters.dns_lookup import txt_values
from tests.support.hostile import hostile_tcp, silent, udp_and_tcp_on_one_port

TIMEOUT = 0.3


@contextmanager
def udp_server(answer: Callable[[bytes], bytes], sock: socket.socket | None = None) -> Iterator[int]:
    if sock is None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            sock.sendto(answer(data), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        sock.close()


def truncated(data: bytes) -> bytes:
    r = dns.message.make_response(dns.message.from_wire(data))
    r.flags |= dns.flags.TC | dns.flags.AA
    return r.to_wire()


def good(data: bytes) -> bytes:
    q = dns.message.from_wire(data)
    r = dns.message.make_response(q)
    r.flags |= dns.flags.AA
    r.answer.append(dns.rrset.from_text(q.question[0].name, 60, "IN", "TXT", '"hello"'))
    return r.to_wire()


@pytest.mark.parametrize("answer", [
    lambda data: os.urandom(40),
    lambda data: data[:2] + os.urandom(30),
    lambda data: data[:2] + b"\x84\x00\x00\x01\x00\x01\x00\x00\x00\x00" + os.urandom(25),
    lambda data: good(data)[:-3],
])
def test_garbage_over_udp_is_no_answer(answer: Callable[[bytes], bytes]) -> None:
    with udp_server(answer) as port:
        start = time.monotonic()
        assert txt_values("127.0.0.1", port, "canary.example.", timeout=TIMEOUT) is None
        assert time.monotonic() - start < 3 * TIMEOUT


def test_truncated_then_silent_tcp_is_no_answer_within_two_timeouts() -> None:
    udp, tcp = udp_and_tcp_on_one_port()
    with udp_server(truncated, udp) as port, hostile_tcp(silent, listener=tcp):
        start = time.monotonic()
        assert txt_values("127.0.0.1", port, "canary.example.", timeout=TIMEOUT) is None
        assert time.monotonic() - start < 3 * 2 * TIMEOUT


def test_a_valid_answer_is_read() -> None:
    with udp_server(good) as port:
        assert txt_values("127.0.0.1", port, "canary.example.", timeout=TIMEOUT) == ("hello",)
