"""The fast SOA prober: wire parsing against dnspython, and whole sweeps against small local responders.

Nothing here depends on machine speed: responders answer at once, and the only waits are timeouts of
pairs that must fail anyway.
"""

from __future__ import annotations

import os
import random
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsdr.adapters.dns_answer import BAD, IGNORE, OK, RCODE, TRUNCATED, message_outcome, parse_answer, question_wire
from dnsdr.adapters.dns_prober import ProbeOptions, _Sock, probe_soa, sweep, worst_case_seconds
from dnsdr.domain.serials import ExpectedZone, PairClass, Target
from tests.support.hostile import (
    Behaviour,
    close_after_read,
    hostile_tcp,
    send_after_read,
    silent,
    trickle,
    udp_and_tcp_on_one_port,
)

FAST = ProbeOptions(timeout=0.3, retries=1, rate=None, window=64, sockets=2, tcp_window=8)


def soa_answer(query: dns.message.Message, serial: int = 1234, *, aa: bool = True,
               rcode: int = dns.rcode.NOERROR, owner: str | None = None) -> dns.message.Message:
    resp = dns.message.make_response(query)
    resp.flags &= ~dns.flags.RD
    if aa:
        resp.flags |= dns.flags.AA
    resp.set_rcode(rcode)
    if rcode == dns.rcode.NOERROR:
        name = dns.name.from_text(owner) if owner else query.question[0].name
        resp.answer.append(dns.rrset.from_text(
            name, 300, "IN", "SOA", f"ns1.example. hostmaster.example. {serial} 3600 600 86400 300"))
    return resp


def query_for(name: str, qid: int = 4242) -> dns.message.Message:
    q = dns.message.make_query(name, "SOA")
    q.id = qid
    q.flags = 0
    return q


@pytest.mark.parametrize("name", ["example.com.", "Example.COM", "a.b-c.d_e.example.", "x" * 63 + ".test.",
                                  "\\046dot.example.", "bücher.example.", "."])
def test_question_wire_matches_dnspython(name: str) -> None:
    expected = dns.name.from_text(name.lower()).to_wire() + b"\x00\x06\x00\x01"
    assert question_wire(name) == expected


def test_parse_good_answer_compressed_and_not() -> None:
    q = query_for("example.com.")
    wire = soa_answer(q, 1_700_000_123).to_wire()
    assert parse_answer(wire, question_wire("example.com.")) == (OK, 1_700_000_123)
    # Uncompressed owner and SOA names: falls back to dnspython, same verdict.
    owner = dns.name.from_text("example.com.").to_wire()
    rdata = owner + owner + struct.pack("!IIIII", 77, 3600, 600, 86400, 300)
    raw = (struct.pack("!HHHHHH", 4242, 0x8400, 1, 1, 0, 0) + question_wire("example.com.")
           + owner + struct.pack("!HHIH", 6, 1, 300, len(rdata)) + rdata)
    msg = dns.message.from_wire(raw)
    assert message_outcome(msg, dns.name.from_text("example.com.")) == (OK, 77)
    assert parse_answer(raw, question_wire("example.com.")) == (OK, 77)


@pytest.mark.parametrize(("build", "kind"), [
    (lambda q: soa_answer(q, aa=False), BAD),
    (lambda q: soa_answer(q, rcode=dns.rcode.NXDOMAIN), RCODE),
    (lambda q: soa_answer(q, rcode=dns.rcode.NXDOMAIN, aa=False), BAD),
    (lambda q: soa_answer(q, rcode=dns.rcode.REFUSED, aa=False), RCODE),
    (lambda q: soa_answer(q, rcode=dns.rcode.SERVFAIL, aa=False), RCODE),
    (lambda q: soa_answer(q, owner="other.example."), BAD),
    (lambda q: soa_answer(query_for("other.example.")), IGNORE),
])
def test_parse_rejects(build: Callable[[dns.message.Message], dns.message.Message], kind: int) -> None:
    q = query_for("example.com.")
    got, _ = parse_answer(build(q).to_wire(), question_wire("example.com."))
    assert got == kind


def test_parse_flags_and_noanswer() -> None:
    q = query_for("example.com.")
    qw = question_wire("example.com.")
    wire = bytearray(soa_answer(q).to_wire())
    tc = bytearray(wire)
    tc[2] |= 0x02
    assert parse_answer(bytes(tc), qw)[0] == TRUNCATED
    not_response = bytearray(wire)
    not_response[2] &= 0x7F
    assert parse_answer(bytes(not_response), qw)[0] == IGNORE
    nodata = dns.message.make_response(q)
    nodata.flags |= dns.flags.AA
    assert parse_answer(nodata.to_wire(), qw) == (BAD, "no SOA for the zone in the answer")


def test_every_strict_prefix_of_an_answer_is_rejected() -> None:
    q = query_for("example.com.")
    qw = question_wire("example.com.")
    wire = soa_answer(q).to_wire()
    for n in range(len(wire)):
        assert parse_answer(wire[:n], qw)[0] != OK


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 255), st.integers(0, 200))
def test_corrupted_answers_never_crash_and_agree_with_dnspython(noise: bytes, value: int, where: int) -> None:
    q = query_for("example.com.")
    qw = question_wire("example.com.")
    wire = bytearray(soa_answer(q, 5).to_wire())
    wire[where % len(wire)] = value
    for data in (bytes(wire), noise, bytes(wire) + noise):
        kind, serial = parse_answer(data, qw)
        if kind == OK:  # then dnspython must agree it is a valid authoritative SOA answer for the zone
            msg = dns.message.from_wire(data, ignore_trailing=True)
            assert message_outcome(msg, dns.name.from_text("example.com.")) == (OK, serial)


# --- whole sweeps against local responders ---------------------------------------------------------

Handler = Callable[[bytes], list[bytes]]


@contextmanager
def responder(handler: Handler, tcp_handler: Handler | None = None,
              udp: socket.socket | None = None) -> Iterator[tuple[str, int]]:
    """A UDP (and optionally TCP) server on 127.0.0.1 answering through ``handler`` (on ``udp`` if given)."""
    tcp = None
    if tcp_handler is not None:
        udp, tcp = udp_and_tcp_on_one_port()
        tcp.listen(16)
        tcp.settimeout(0.1)
    elif udp is None:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
    udp.settimeout(0.1)
    port = udp.getsockname()[1]
    stop = threading.Event()

    def serve_udp() -> None:
        while not stop.is_set():
            try:
                data, peer = udp.recvfrom(4096)
            except TimeoutError:
                continue
            for out in handler(data):
                udp.sendto(out, peer)

    def serve_tcp() -> None:
        assert tcp is not None and tcp_handler is not None
        while not stop.is_set():
            try:
                conn, _ = tcp.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    (n,) = struct.unpack("!H", conn.recv(2, socket.MSG_WAITALL))
                    data = conn.recv(n, socket.MSG_WAITALL)
                    for out in tcp_handler(data):
                        conn.sendall(struct.pack("!H", len(out)) + out)
                except (OSError, struct.error):
                    pass

    threads = [threading.Thread(target=serve_udp, daemon=True)]
    if tcp is not None:
        threads.append(threading.Thread(target=serve_tcp, daemon=True))
    for t in threads:
        t.start()
    try:
        yield ("127.0.0.1", port)
    finally:
        stop.set()
        for t in threads:
            t.join()
        udp.close()
        if tcp is not None:
            tcp.close()


SERIALS = {f"z{i}.example.": 1_700_000_000 + i for i in range(300)}


def honest(data: bytes) -> list[bytes]:
    q = dns.message.from_wire(data)
    name = q.question[0].name.to_text().lower()
    if name not in SERIALS:
        return [soa_answer(q, rcode=dns.rcode.REFUSED, aa=False).to_wire()]
    return [soa_answer(q, SERIALS[name]).to_wire()]


def test_sweep_against_an_honest_server() -> None:
    zones = [ExpectedZone(f"{i:032x}", n, s) for i, (n, s) in enumerate(SERIALS.items())]
    zones.append(ExpectedZone("f" * 32, "absent.example.", 1))
    zones[0] = ExpectedZone(zones[0].id, zones[0].name, zones[0].serial + 1)  # DB ahead: target behind
    zones[1] = ExpectedZone(zones[1].id, zones[1].name, zones[1].serial - 1)  # target ahead
    with responder(honest) as addr:
        report = sweep(zones, [Target("t/a", "t", *addr), Target("t/b", "t", *addr)], FAST)
    counts = report.per_target()["t/a"]
    assert counts == {"in_sync": 298, "behind": 1, "ahead": 1, "missing": 1, "unreachable": 0}
    assert report.per_target()["t/b"] == counts
    assert report.queries >= 2 * len(zones)


def test_query_ids_cycle_through_all_values_and_skip_those_in_flight() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s = _Sock(sock)
        ids = [s.new_id() for _ in range(65536)]
        assert len(set(ids)) == 65536
        s.inflight = {s.next_id: 0, (s.next_id + s.stride) & 0xFFFF: 1}
        assert s.new_id() not in s.inflight
    finally:
        sock.close()


def fast_echo(data: bytes) -> list[bytes]:
    """Answers with serial = the number in the first label, built by hand to keep the test quick."""
    qend = data.index(b"\x00", 12) + 5
    serial = int(data[14:13 + data[12]])
    rdata = b"\xc0\x0c\xc0\x0c" + struct.pack("!IIIII", serial, 1, 1, 1, 1)
    return [data[:2] + b"\x84\x00\x00\x01\x00\x01\x00\x00\x00\x00" + data[12:qend]
            + b"\xc0\x0c\x00\x06\x00\x01\x00\x00\x01\x2c" + struct.pack("!H", len(rdata)) + rdata]


def test_a_long_sweep_keeps_answers_matched_to_their_zones() -> None:
    names = [f"n{i}.example." for i in range(3000)]
    with responder(fast_echo) as addr:
        result = probe_soa(names, [addr, addr], ProbeOptions(timeout=2, retries=2, rate=None, window=128, sockets=2))
    for observations in result.observations:
        assert [o.serial for o in observations] == list(range(3000))


def _mangle(mode: str) -> Handler:
    def handler(data: bytes) -> list[bytes]:
        q = dns.message.from_wire(data)
        good = soa_answer(q, SERIALS.get(q.question[0].name.to_text().lower(), 1)).to_wire()
        if mode == "wrong-id":
            return [struct.pack("!H", (q.id + 1) & 0xFFFF) + good[2:]]
        if mode == "wrong-question":
            other = query_for("z1.example." if q.question[0].name.to_text() != "z1.example." else "z2.example.", q.id)
            return [soa_answer(other, 1).to_wire()]
        if mode == "no-aa":
            return [soa_answer(q, aa=False).to_wire()]
        if mode == "random":
            return [os.urandom(random.randint(0, 120)), good[:2] + os.urandom(random.randint(0, 120))]
        if mode == "truncated-garbage":
            return [good[:2] + b"\x86\x00" + os.urandom(random.randint(0, 60))]
        if mode == "short":
            return [good[: random.randint(0, len(good) - 1)]]
        raise AssertionError(mode)
    return handler


@pytest.mark.parametrize("mode", ["wrong-id", "wrong-question", "no-aa", "random", "truncated-garbage", "short"])
def test_garbage_responder_never_yields_in_sync(mode: str) -> None:
    zones = [ExpectedZone(f"{i:032x}", n, s) for i, (n, s) in enumerate(list(SERIALS.items())[:20])]
    with responder(_mangle(mode)) as addr:
        report = sweep(zones, [Target("bad", "x", *addr)], FAST)
    classes = {p.cls for p in report.pairs}
    assert PairClass.IN_SYNC not in classes
    assert classes <= {PairClass.UNREACHABLE, PairClass.MISSING}
    assert all(p.error or p.rcode for p in report.pairs)


def tc_only(data: bytes) -> list[bytes]:
    q = dns.message.from_wire(data)
    r = dns.message.make_response(q)
    r.flags |= dns.flags.TC | dns.flags.AA
    return [r.to_wire()]


def test_truncated_udp_answer_is_retried_over_tcp() -> None:
    zones = [ExpectedZone("1" * 32, "z3.example.", SERIALS["z3.example."]),
             ExpectedZone("2" * 32, "z4.example.", 1)]
    with responder(tc_only, honest) as addr:
        report = sweep(zones, [Target("tc", "x", *addr)], FAST)
    assert [p.cls for p in report.pairs] == [PairClass.IN_SYNC, PairClass.AHEAD]
    assert report.stats["tcp"] == 2


def test_silent_and_closed_targets_are_unreachable() -> None:
    zones = [ExpectedZone("1" * 32, "z3.example.", 1)]
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    try:
        report = sweep(zones, [Target("silent", "x", *silent.getsockname()),
                               Target("closed", "x", "127.0.0.1", closed_port)], FAST)
    finally:
        silent.close()
    assert [p.cls for p in report.pairs] == [PairClass.UNREACHABLE, PairClass.UNREACHABLE]
    assert report.pairs[0].error == "timeout"
    assert report.pairs[1].error is not None


def test_rate_limit_is_respected() -> None:
    zones = [ExpectedZone(f"{i:032x}", n, s) for i, (n, s) in enumerate(list(SERIALS.items())[:60])]
    opts = ProbeOptions(timeout=2, retries=0, rate=100.0, window=10, sockets=1)
    with responder(honest) as addr:
        report = sweep(zones, [Target("t", "x", *addr)], opts)
    # 60 queries at 100/s with a burst of 10 cannot finish in less than 0.5 s.
    assert report.seconds >= 0.45
    assert report.in_sync


# --- a target that truncates every answer and then breaks TCP ----------------------------------------

HOSTILE_TCP: dict[str, Behaviour | None] = {
    "silent": silent,  # accepts, never answers
    "refuses": None,  # nothing listens on TCP
    "closes": close_after_read,
    "trickles": trickle(b"\xff\xff"),  # announces 65,535 octets, sends one now and then
    "garbage": send_after_read(lambda: struct.pack("!H", 40) + os.urandom(40)),
}


@pytest.mark.parametrize("mode", list(HOSTILE_TCP))
def test_truncating_target_with_broken_tcp_stays_within_the_stated_bound(mode: str) -> None:
    opts = ProbeOptions(timeout=0.2, retries=1, rate=None, window=64, sockets=2)
    zones = [ExpectedZone(f"{i:032x}", n, s) for i, (n, s) in enumerate(list(SERIALS.items())[:100])]
    behaviour = HOSTILE_TCP[mode]
    udp, tcp = udp_and_tcp_on_one_port()
    if behaviour is None:
        tcp.close()  # nothing listens on TCP: connections are refused
    with (responder(tc_only, udp=udp) as bad, responder(honest) as good,
          hostile_tcp(behaviour, listener=tcp) if behaviour else nullcontext()):
        start = time.monotonic()
        report = sweep(zones, [Target("tc", "x", *bad), Target("ok", "x", *good)], opts)
        took = time.monotonic() - start
    assert took < worst_case_seconds(len(zones), opts)  # an upper bound, not a speed test
    tc = [p for p in report.pairs if p.target == "tc"]
    assert len(tc) == 100 and {p.cls for p in tc} == {PairClass.UNREACHABLE}
    assert all(p.error and p.error.startswith("TCP: ") and "\n" not in p.error for p in tc)
    assert report.per_target()["ok"]["in_sync"] == 100  # the other target is not held up


def test_worst_case_formula() -> None:
    opts = ProbeOptions(timeout=1.0, retries=2, rate=None, window=100)
    assert worst_case_seconds(1000, opts) == (10 + 2) * 3 * 1.0
    assert worst_case_seconds(1, opts) == 3 * 3 * 1.0
    limited = ProbeOptions(timeout=1.0, retries=2, rate=1000.0, window=100)
    assert worst_case_seconds(1000, limited) == 36.0 + 3.0


def test_a_silent_target_keeps_within_the_stated_bound_when_zones_exceed_the_window() -> None:
    # Eight zones through a window of two: attempts run back to back, so a timed-out attempt's retry
    # must go out at once (it used to wait for another timeout, doubling the time).
    opts = ProbeOptions(timeout=0.1, retries=1, rate=None, window=2, sockets=1)
    zones = [ExpectedZone(f"{i:032x}", n, s) for i, (n, s) in enumerate(list(SERIALS.items())[:8])]
    silent_udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent_udp.bind(("127.0.0.1", 0))
    try:
        start = time.monotonic()
        report = sweep(zones, [Target("silent", "x", *silent_udp.getsockname())], opts)
        took = time.monotonic() - start
    finally:
        silent_udp.close()
    assert {p.error for p in report.pairs} == {"timeout"}
    assert took < worst_case_seconds(len(zones), opts)  # (4 + 2) x 2 x 0.1 = 1.2 s; the work itself is 0.8 s
