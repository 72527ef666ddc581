"""A fast SOA prober: every (zone, target) pair over a few long-lived UDP sockets per target.

A failover's exit test and the continuous drift report both need thousands of zones on four or more
servers in seconds; one dnspython query at a time manages ~5k q/s, so this keeps a window of queries
in flight on connected non-blocking sockets driven by epoll, with per-target token buckets, bounded
retries and a TCP retry on truncation (:mod:`dnsdr.adapters.dns_tcp`). Wire queries are built once;
answers are read with the small strict parser of :mod:`dnsdr.adapters.dns_answer`. Anything invalid
is a failure for that pair, never a crash and never a serial. Every wait is bounded by the options:
:func:`worst_case_seconds` is the bound ``dnsdr serials --help`` states.
"""

from __future__ import annotations

import errno
import math
import random
import select
import socket
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from heapq import heappop, heappush

from dnsdr.adapters.dns_answer import IGNORE, OK, QUERY_HEADER_TAIL, RCODE, TRUNCATED, parse_answer, question_wire
from dnsdr.adapters.dns_tcp import soa_over_tcp
from dnsdr.domain.serials import ExpectedZone, Observation, SweepReport, Target, build_report

_ID_BYTES = [i.to_bytes(2, "big") for i in range(65536)]
_READS_PER_WAKEUP = 512


@dataclass(frozen=True)
class ProbeOptions:
    """Tuning of one sweep. ``rate`` is queries per second per target (None: no limit).

    ``timeout`` and ``retries`` bound both the UDP attempts and the TCP fallback.
    """

    timeout: float = 1.0
    retries: int = 2
    # Before the last attempt, a query is sent again after max(min_rto, srtt + 4 rttvar), doubling per
    # attempt (RFC 6298 style); only the last attempt waits the full ``timeout``. A lost datagram
    # then costs milliseconds, while a slow server still gets ``timeout`` to answer.
    min_rto: float = 0.25
    rate: float | None = 50_000.0
    window: int = 100
    sockets: int = 2
    tcp_window: int = 8  # TCP connections at once per target (PowerDNS allows 20 by default)
    source: str | None = None


@dataclass
class ProbeResult:
    observations: list[list[Observation]]
    queries: int
    stats: dict[str, int] = field(default_factory=dict)


class _Sock:
    """One connected socket; query IDs walk a random odd stride through all 65,536 values, so an ID
    comes back only after every other one was used (and is skipped while still in flight)."""

    __slots__ = ("inflight", "next_id", "sock", "stride", "timeouts")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.inflight: dict[int, tuple[int, float]] = {}  # id -> (zone index, time sent)
        self.timeouts: list[tuple[float, int, int]] = []  # heap of (deadline, id, zone index)
        self.next_id = random.getrandbits(16)
        self.stride = random.getrandbits(15) * 2 + 1

    def new_id(self) -> int:
        qid = self.next_id
        while qid in self.inflight:
            qid = (qid + self.stride) & 0xFFFF
        self.next_id = (qid + self.stride) & 0xFFFF
        return qid


class _Target:
    __slots__ = ("addr", "attempts", "inflight", "last", "queue", "reasons", "results", "rttvar", "socks", "srtt",
                 "tokens")

    def __init__(self, addr: tuple[str, int], count: int) -> None:
        self.addr = addr
        self.queue: deque[int] = deque(range(count))
        self.results: list[Observation | None] = [None] * count
        self.attempts = [0] * count
        self.reasons: list[str | None] = [None] * count
        self.socks: list[_Sock] = []
        self.inflight = 0
        self.tokens = 0.0
        self.srtt = -1.0
        self.rttvar = 0.0
        self.last = 0.0


def _open(addr: tuple[str, int], source: str | None) -> socket.socket:
    family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        if source:
            sock.bind((source, 0))
        sock.connect(addr)  # the kernel then drops datagrams from any other address
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def probe_soa(names: Sequence[str], targets: Sequence[tuple[str, int]],
              options: ProbeOptions | None = None) -> ProbeResult:
    """Query SOA of every name on every target; ``observations[t][z]`` is aligned with the inputs."""
    opts = options or ProbeOptions()
    qwires = [question_wire(n) for n in names]
    tails = [QUERY_HEADER_TAIL + q for q in qwires]
    stats = {"sent": 0, "retries": 0, "ignored": 0, "tcp": 0, "send_errors": 0}
    states = [_Target(addr, len(names)) for addr in targets]
    ep = select.epoll()
    by_fd: dict[int, tuple[_Target, _Sock]] = {}
    remaining = 0
    tcp_todo: list[tuple[_Target, int]] = []
    try:
        for st in states:
            try:
                for _ in range(max(1, opts.sockets)):
                    s = _Sock(_open(st.addr, opts.source))
                    st.socks.append(s)
                    by_fd[s.sock.fileno()] = (st, s)
                    ep.register(s.sock.fileno(), select.EPOLLIN)
            except OSError as exc:
                reason = f"cannot open socket: {exc.strerror or exc}"
                st.results = [Observation(error=reason)] * len(names)
                st.queue.clear()
                continue
            remaining += len(names)
        start = time.monotonic()
        for st in states:
            st.last = start
            st.tokens = float(opts.window)
        timeout = opts.timeout
        min_rto = min(timeout, opts.min_rto)
        max_attempts = opts.retries + 1
        rate = opts.rate
        window = opts.window

        def give_up_or_retry(st: _Target, z: int, reason: str) -> int:
            """Returns 1 when the pair is finished (failed), 0 when it was queued again."""
            st.reasons[z] = st.reasons[z] or reason
            if st.attempts[z] >= max_attempts:
                st.results[z] = Observation(error=st.reasons[z])
                return 1
            stats["retries"] += 1
            st.queue.append(z)
            return 0

        while remaining > 0:
            now = time.monotonic()
            wait = timeout
            for st in states:
                for s in st.socks:  # expire first, so a retry is sent now rather than after the next wait
                    tq = s.timeouts
                    while tq and tq[0][0] <= now:
                        _, qid, z = heappop(tq)
                        entry = s.inflight.get(qid)
                        if entry is not None and entry[0] == z:
                            del s.inflight[qid]
                            st.inflight -= 1
                            remaining -= give_up_or_retry(st, z, "timeout")
                if st.queue:
                    if rate is not None:
                        st.tokens = min(float(window), st.tokens + (now - st.last) * rate)
                        st.last = now
                    budget = min(window - st.inflight, len(st.queue),
                                 int(st.tokens) if rate is not None else window)
                    socks = st.socks
                    nsock = len(socks)
                    k = sent = 0
                    while k < budget:
                        k += 1
                        z = st.queue.popleft()
                        s = socks[k % nsock]
                        qid = s.new_id()
                        try:
                            s.sock.send(_ID_BYTES[qid] + tails[z])
                        except BlockingIOError:
                            st.queue.appendleft(z)
                            break
                        except OSError as exc:  # EPERM (firewall), ENETUNREACH, a pending ECONNREFUSED
                            stats["send_errors"] += 1
                            st.attempts[z] += 1
                            remaining -= give_up_or_retry(st, z, exc.strerror or str(exc))
                            if exc.errno != errno.ECONNREFUSED:
                                break
                            continue
                        attempt = st.attempts[z] = st.attempts[z] + 1
                        s.inflight[qid] = (z, now)
                        if attempt >= max_attempts:
                            heappush(s.timeouts, (now + timeout, qid, z))
                        else:  # early retransmission, from the measured round trip, doubling each time
                            rto = min_rto if st.srtt < 0 else max(min_rto, st.srtt + 4 * st.rttvar)
                            heappush(s.timeouts, (now + min(timeout, rto * (1 << (attempt - 1))), qid, z))
                        sent += 1
                    stats["sent"] += sent
                    st.inflight += sent
                    if rate is not None:
                        st.tokens -= k
                    if st.queue and st.inflight < window:
                        wait = min(wait, 0.0005 if rate is None else max(0.0005, (1 - st.tokens) / rate))
                for s in st.socks:
                    if s.timeouts:
                        wait = min(wait, s.timeouts[0][0] - now)
            if remaining <= 0:
                break
            for fd, _ev in ep.poll(max(wait, 0.0)):
                st, s = by_fd[fd]
                sock = s.sock
                inflight = s.inflight
                for _ in range(_READS_PER_WAKEUP):  # a flooding target cannot starve the timeouts
                    try:
                        data = sock.recv(4096)
                    except BlockingIOError:
                        break
                    except OSError as exc:  # ICMP errors on a connected socket (port unreachable)
                        for z, _sent in inflight.values():
                            st.reasons[z] = exc.strerror or str(exc)
                        continue
                    entry = inflight.get(int.from_bytes(data[:2], "big")) if len(data) >= 2 else None
                    if entry is None:
                        stats["ignored"] += 1
                        continue
                    z = entry[0]
                    kind, value = parse_answer(data, qwires[z])
                    if kind == IGNORE:
                        stats["ignored"] += 1
                        st.reasons[z] = str(value)
                        continue
                    qid = (data[0] << 8) | data[1]
                    del inflight[qid]
                    st.inflight -= 1
                    remaining -= 1
                    rtt = time.monotonic() - entry[1]
                    if st.srtt < 0:
                        st.srtt, st.rttvar = rtt, rtt / 2
                    else:
                        st.rttvar += (abs(st.srtt - rtt) - st.rttvar) / 4
                        st.srtt += (rtt - st.srtt) / 8
                    if kind == OK:
                        st.results[z] = Observation(serial=value)  # type: ignore[arg-type]
                    elif kind == RCODE:
                        st.results[z] = Observation(rcode=value)  # type: ignore[arg-type]
                    elif kind == TRUNCATED:
                        tcp_todo.append((st, z))
                    else:
                        st.results[z] = Observation(error=str(value))
    finally:
        ep.close()
        for st in states:
            for s in st.socks:
                s.sock.close()
    if tcp_todo:
        stats["tcp"] = len(tcp_todo)
        answers, stats["tcp_attempts"] = soa_over_tcp(
            [(st.addr, qwires[z]) for st, z in tcp_todo], timeout=opts.timeout, retries=opts.retries,
            per_target=opts.tcp_window, source=opts.source)
        for (st, z), obs in zip(tcp_todo, answers, strict=True):
            st.results[z] = obs
    observations = [[r if r is not None else Observation(error="not probed") for r in st.results] for st in states]
    return ProbeResult(observations, stats["sent"] + stats.get("tcp_attempts", 0), stats)


def worst_case_seconds(zones: int, options: ProbeOptions | None = None) -> float:
    """The longest a sweep of ``zones`` zones waits on the network, however many targets and whatever they do.

    Targets are probed in parallel, so their number does not appear. Per target every UDP attempt
    waits at most ``timeout``, a pair has ``retries + 1`` attempts and ``window`` are in flight, so
    the UDP phase is at most ``(ceil(zones / window) + 1) * (retries + 1) * timeout`` (list
    scheduling: the work spread over the window, plus one pair's chain of attempts), plus the
    sending time at ``rate``; the TCP phase for truncated answers ends ``(retries + 1) * timeout``
    after it starts. CPU time (huge sweeps) and timer granularity (~1 ms a wait) come on top.
    """
    opts = options or ProbeOptions()
    attempts = opts.retries + 1
    seconds = (math.ceil(zones / max(1, opts.window)) + 2) * attempts * opts.timeout
    if opts.rate:
        seconds += zones * attempts / opts.rate
    return seconds


def sweep(zones: Sequence[ExpectedZone], targets: Sequence[Target], options: ProbeOptions | None = None) -> SweepReport:
    """Probe every zone on every target and classify each pair against the database's serial.

    This is what the failover engine calls as its exit test: ``sweep(...).converged(min_serials)``.
    """
    start = time.monotonic()
    result = probe_soa([z.name for z in zones], [(t.host, t.port) for t in targets], options)
    return build_report(zones, targets, result.observations, seconds=time.monotonic() - start,
                        queries=result.queries, stats=result.stats)
