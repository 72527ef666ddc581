"""The TCP fallback on its own: answers checked like UDP ones, connections per target capped, and the
whole phase over (retries + 1) x timeout after it starts, whatever the server does."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable

import dns.flags
import dns.message
import dns.rrset

from dnsdr.adapters.dns_answer import question_wire
from dnsdr.adapters.dns_tcp import soa_over_tcp
from tests.support.hostile import Behaviour, free_port, hostile_tcp, silent
from tests.support.waiting import LOADED_SLACK

T = 0.2


def serve(build: Callable[[dns.message.Message], bytes] | None = None, *, gate: threading.Event | None = None,
          held: list[int] | None = None) -> Behaviour:
    """Reads one length-prefixed query and answers ``build(query)``; with ``gate``, holds queries until
    it opens and records in ``held`` the most held at once."""
    lock = threading.Lock()

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        (n,) = struct.unpack("!H", conn.recv(2, socket.MSG_WAITALL))
        query = dns.message.from_wire(conn.recv(n, socket.MSG_WAITALL))
        if gate is not None and held is not None and not gate.is_set():
            with lock:
                held[0] += 1
                held[1] = max(held[1], held[0])
            gate.wait(5)
        out = build(query) if build else b""
        conn.sendall(struct.pack("!H", len(out)) + out)

    return behaviour


def soa(query: dns.message.Message, serial: int = 99, *, tc: bool = False, qid: int | None = None) -> bytes:
    r = dns.message.make_response(query)
    r.flags |= dns.flags.AA | (dns.flags.TC if tc else 0)
    r.answer.append(dns.rrset.from_text(query.question[0].name, 300, "IN", "SOA",
                                        f"ns. host. {serial} 1 1 1 1"))
    if qid is not None:
        r.id = qid
    return r.to_wire()


def pairs(port: int, count: int) -> list[tuple[tuple[str, int], bytes]]:
    return [(("127.0.0.1", port), question_wire(f"z{i}.example.")) for i in range(count)]


def test_answers_are_read_and_checked() -> None:
    with hostile_tcp(serve(lambda q: soa(q, 1234))) as port:
        got, made = soa_over_tcp(pairs(port, 20), timeout=T, retries=1)
    assert [o.serial for o in got] == [1234] * 20 and made == 20


def test_bad_answers_are_final_failures() -> None:
    for build, reason in ((lambda q: soa(q, tc=True), "TCP: truncated answer"),
                          (lambda q: soa(q, qid=(q.id + 1) & 0xFFFF), "TCP: answer with another query ID"),
                          (lambda q: soa(dns.message.make_query("other.example.", "SOA", id=q.id)), "TCP: wrong question")):
        with hostile_tcp(serve(build)) as port:
            got, made = soa_over_tcp(pairs(port, 3), timeout=T, retries=2)
        assert {o.error for o in got} == {reason} and made == 3  # not retried: the server did answer


def test_connections_per_target_are_capped() -> None:
    held = [0, 0]
    gate = threading.Event()
    threading.Timer(0.1, gate.set).start()  # until then no query is answered: all the client may open, it has
    with hostile_tcp(serve(lambda q: soa(q), gate=gate, held=held)) as port:
        got, _ = soa_over_tcp(pairs(port, 30), timeout=1.0, retries=0, per_target=3)
    assert all(o.serial == 99 for o in got)
    assert held[1] == 3


def test_the_phase_ends_after_retries_plus_one_timeouts() -> None:
    with hostile_tcp(silent) as port:
        start = time.monotonic()
        got, _ = soa_over_tcp(pairs(port, 100), timeout=T, retries=1, per_target=8)
        took = time.monotonic() - start
    assert {o.error for o in got} == {"TCP: timeout"}
    assert took < 2 * T + LOADED_SLACK  # an upper bound with slack, not a speed test


def test_refused_is_retried_then_reported() -> None:
    got, made = soa_over_tcp(pairs(free_port(), 5), timeout=T, retries=2)
    assert {o.error for o in got} == {"TCP: Connection refused"} and made == 15
