"""dns_answers: any well-formed answer counts; a closed port is refused at once; silence times out."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import dns.message
import dns.rcode
import pytest

from dnsdr.adapters.dns_reach import dns_answers


@pytest.fixture
def refusing_server() -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            sock.sendto(b"junk", peer)  # garbage first: must be ignored
            reply = dns.message.make_response(dns.message.from_wire(data))
            reply.set_rcode(dns.rcode.REFUSED)
            sock.sendto(reply.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join()
    sock.close()


def test_a_refused_answer_is_an_answer(refusing_server: int) -> None:
    ok, detail = dns_answers("127.0.0.1", refusing_server, "example.org.", 2.0)
    assert ok and detail == "answers (REFUSED for example.org.)"


def test_a_closed_port_is_refused_at_once() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    ok, detail = dns_answers("127.0.0.1", port, "example.org.", 5.0)
    assert not ok and detail == "refused (nothing listens)" and time.monotonic() - started < 2.0


def test_silence_times_out() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        ok, detail = dns_answers("127.0.0.1", silent.getsockname()[1], "example.org.", 0.3)
    assert not ok and detail == "no answer within 0.3 s"
