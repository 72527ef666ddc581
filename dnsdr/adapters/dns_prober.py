"""A fast SOA prober: every (zone, target) pair over a few long-lived UDP sockets per target.

A failover's exit test and the continuous drift report both need thousands of zones on four or more
servers in seconds; one dnspython query at a time manages ~5k q/s, so this keeps a window of queries
in flight on connected non-blocking sockets driven by epoll, with per-target token buckets, bounded
retries and a TCP retry on truncation. Wire queries are built once with dnspython; answers are read
with a small parser (header, question, SOA serial) that still validates the ID, question, QR, AA,
rcode and every length, and falls back to dnspython for layouts it does not know. Anything invalid
is a failure for that pair, never a crash and never a serial.
"""

from __future__ import annotations

import errno
import random
import select
import socket
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from dnsdr.domain.serials import ExpectedZone, Observation, SweepReport, Target, build_report

_ID_BYTES = [i.to_bytes(2, "big") for i in range(65536)]
# Flags 0 (QUERY, RD off: we want the authoritative data only), QDCOUNT 1, no other sections.
_HEADER_TAIL = b"\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00"
_SOA_IN = b"\x00\x06\x00\x01"
_RCODES = {int(r): r.name for r in dns.rcode.Rcode}

# Outcomes of parsing one answer.
OK, RCODE, TRUNCATED, BAD, IGNORE = range(5)


@dataclass(frozen=True)
class ProbeOptions:
    """Tuning of one sweep. ``rate`` is queries per second per target (None: no limit)."""

    timeout: float = 1.0
    retries: int = 2
    rate: float | None = 50_000.0
    window: int = 512
    sockets: int = 2
    tcp_timeout: float = 2.0
    tcp_workers: int = 8
    source: str | None = None


@dataclass
class ProbeResult:
    observations: list[list[Observation]]
    queries: int
    stats: dict[str, int] = field(default_factory=dict)


def question_wire(name: str) -> bytes:
    """The question section for SOA/IN of ``name`` (lower-case, as answers are compared).

    Plain ASCII names are encoded directly (dnspython's parser costs ~30 us a name, a third of a
    10,000-zone sweep); names with escapes or non-ASCII characters go through dnspython.
    """
    name = name.lower()
    if "\\" not in name and name.isascii():
        labels = name.rstrip(".").encode().split(b".") if name not in (".", "") else []
        if all(0 < len(label) < 64 for label in labels):
            fast = b"".join(bytes((len(label),)) + label for label in labels) + b"\x00"
            if len(fast) <= 255:
                return fast + _SOA_IN
    wire = dns.name.from_text(name).to_wire()
    assert wire is not None  # only None when writing to a file
    return wire + _SOA_IN


def _skip_name(data: bytes, p: int, end: int) -> int:
    """Offset after the name at ``p`` (within ``end``), or -1 when it is malformed.

    Pointers are followed and checked as dnspython does (each must point before the last one, the
    whole name at most 255 octets), so a name accepted here is one dnspython would accept.
    """
    after = -1
    biggest = p
    total = 1
    limit = end
    while p < limit:
        length = data[p]
        if length == 0:
            return p + 1 if after < 0 else after
        if length >= 0xC0:
            if p + 1 >= limit:
                return -1
            ptr = ((length & 0x3F) << 8) | data[p + 1]
            if ptr >= biggest:
                return -1
            if after < 0:
                after = p + 2
            biggest = p = ptr
            limit = len(data)
            continue
        if length > 63:
            return -1
        total += length + 1
        if total > 255:
            return -1
        p += length + 1
    return -1


def parse_answer(data: bytes, qwire: bytes) -> tuple[int, object]:
    """Classify one UDP/TCP payload already matched by ID: (OK, serial), (RCODE, name), (TRUNCATED, None),
    (BAD, reason) for a definite failure, or (IGNORE, reason) for something that is not an answer to
    this question (keep waiting for the real one)."""
    n = len(data)
    qlen = len(qwire)
    if n < 12 + qlen:
        return IGNORE, "malformed answer (too short)"
    flags = data[2]
    if not flags & 0x80 or flags & 0x78:
        return IGNORE, "not a QUERY response"
    if data[4] != 0 or data[5] != 1:
        return IGNORE, "wrong question count"
    question = data[12:12 + qlen]
    if question != qwire and question.lower() != qwire:
        return IGNORE, "wrong question"
    if flags & 0x02:
        return TRUNCATED, None
    rcode = data[3] & 0x0F
    aa = flags & 0x04
    if rcode:
        if rcode == 3 and not aa:
            return BAD, "NXDOMAIN without AA flag"
        return RCODE, _RCODES.get(rcode, f"RCODE{rcode}")
    if not aa:
        return BAD, "answer without AA flag"
    ancount = (data[6] << 8) | data[7]
    others = ((data[8] << 8) | data[9]) + ((data[10] << 8) | data[11])
    off = 12 + qlen
    serial = -1
    for i in range(ancount + others):
        if i < ancount:
            if data[off:off + 2] != b"\xc0\x0c":
                return _parse_slow(data, qwire)
            off += 2
        else:
            off = _skip_name(data, off, n)
            if off < 0:
                return BAD, "malformed answer (bad name)"
        if off + 10 > n:
            return BAD, "malformed answer (truncated record)"
        end = off + 10 + ((data[off + 8] << 8) | data[off + 9])
        if end > n:
            return BAD, "malformed answer (record overruns message)"
        if i < ancount and data[off:off + 4] == _SOA_IN:
            p = _skip_name(data, off + 10, end)
            p = _skip_name(data, p, end) if p > 0 else -1
            if p < 0 or p + 20 != end:
                return BAD, "malformed SOA record"
            if serial >= 0:
                return BAD, "several SOA records in the answer"
            serial = int.from_bytes(data[p:p + 4], "big")
        off = end
    if serial < 0:
        return BAD, "no SOA for the zone in the answer"
    return OK, serial


def _parse_slow(data: bytes, qwire: bytes) -> tuple[int, object]:
    """The same checks through dnspython, for answers whose owner names are not compressed."""
    try:
        msg = dns.message.from_wire(data, ignore_trailing=True)
    except Exception as exc:  # dnspython raises many types for garbage; all mean "malformed"
        return BAD, f"malformed answer ({type(exc).__name__})"
    return message_outcome(msg, dns.name.from_wire(qwire, 0)[0])


def message_outcome(msg: dns.message.Message, qname: dns.name.Name) -> tuple[int, object]:
    """Validate a parsed answer (as from TCP) with the rules of :func:`parse_answer`."""
    if len(msg.question) != 1 or msg.question[0].name != qname or msg.question[0].rdtype != dns.rdatatype.SOA:
        return BAD, "wrong question"
    if msg.flags & dns.flags.TC:
        return BAD, "truncated answer over TCP"
    aa = msg.flags & dns.flags.AA
    rcode = msg.rcode()
    if rcode != dns.rcode.NOERROR:
        if rcode == dns.rcode.NXDOMAIN and not aa:
            return BAD, "NXDOMAIN without AA flag"
        return RCODE, dns.rcode.to_text(rcode)
    if not aa:
        return BAD, "answer without AA flag"
    rrset = msg.get_rrset(msg.answer, qname, dns.rdataclass.IN, dns.rdatatype.SOA)
    if rrset is None or len(rrset) != 1:
        return BAD, "no SOA for the zone in the answer"
    return OK, int(rrset[0].serial)


class _Sock:
    """One connected socket; query IDs walk a random odd stride through all 65,536 values, so an ID
    comes back only after every other one was used (and is skipped while still in flight)."""

    __slots__ = ("inflight", "next_id", "sock", "stride", "timeouts")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.inflight: dict[int, int] = {}
        self.timeouts: deque[tuple[float, int, int]] = deque()
        self.next_id = random.getrandbits(16)
        self.stride = random.getrandbits(15) * 2 + 1

    def new_id(self) -> int:
        qid = self.next_id
        while qid in self.inflight:
            qid = (qid + self.stride) & 0xFFFF
        self.next_id = (qid + self.stride) & 0xFFFF
        return qid


class _Target:
    __slots__ = ("addr", "attempts", "inflight", "last", "queue", "reasons", "results", "socks", "tokens")

    def __init__(self, addr: tuple[str, int], count: int) -> None:
        self.addr = addr
        self.queue: deque[int] = deque(range(count))
        self.results: list[Observation | None] = [None] * count
        self.attempts = [0] * count
        self.reasons: list[str | None] = [None] * count
        self.socks: list[_Sock] = []
        self.inflight = 0
        self.tokens = 0.0
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
    tails = [_HEADER_TAIL + q for q in qwires]
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
                        st.attempts[z] += 1
                        s.inflight[qid] = z
                        s.timeouts.append((now + timeout, qid, z))
                        sent += 1
                    stats["sent"] += sent
                    st.inflight += sent
                    if rate is not None:
                        st.tokens -= k
                    if st.queue and st.inflight < window:
                        wait = min(wait, 0.0005 if rate is None else max(0.0005, (1 - st.tokens) / rate))
                for s in st.socks:
                    tq = s.timeouts
                    while tq and tq[0][0] <= now:
                        _, qid, z = tq.popleft()
                        if s.inflight.get(qid) == z:
                            del s.inflight[qid]
                            st.inflight -= 1
                            remaining -= give_up_or_retry(st, z, "timeout")
                    if tq:
                        wait = min(wait, tq[0][0] - now)
            if remaining <= 0:
                break
            for fd, _ev in ep.poll(max(wait, 0.0)):
                st, s = by_fd[fd]
                sock = s.sock
                inflight = s.inflight
                while True:
                    try:
                        data = sock.recv(4096)
                    except BlockingIOError:
                        break
                    except OSError as exc:  # ICMP errors on a connected socket (port unreachable)
                        for z in inflight.values():
                            st.reasons[z] = exc.strerror or str(exc)
                        continue
                    z_or_none = inflight.get(int.from_bytes(data[:2], "big")) if len(data) >= 2 else None
                    if z_or_none is None:
                        stats["ignored"] += 1
                        continue
                    z = z_or_none
                    kind, value = parse_answer(data, qwires[z])
                    if kind == IGNORE:
                        stats["ignored"] += 1
                        st.reasons[z] = str(value)
                        continue
                    qid = (data[0] << 8) | data[1]
                    del inflight[qid]
                    st.inflight -= 1
                    remaining -= 1
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
        _retry_tcp(tcp_todo, names, opts)
    observations = [[r if r is not None else Observation(error="not probed") for r in st.results] for st in states]
    return ProbeResult(observations, stats["sent"] + stats["tcp"], stats)


def _tcp_one(addr: tuple[str, int], name: str, opts: ProbeOptions) -> Observation:
    qname = dns.name.from_text(name.lower())
    reason = "timeout"
    for _ in range(opts.retries + 1):
        query = dns.message.make_query(qname, dns.rdatatype.SOA)
        query.flags = 0
        try:
            answer = dns.query.tcp(query, addr[0], timeout=opts.tcp_timeout, port=addr[1], source=opts.source)
        except dns.exception.Timeout:
            continue
        except (OSError, EOFError) as exc:
            reason = f"TCP: {getattr(exc, 'strerror', None) or type(exc).__name__}"
            continue
        except Exception as exc:  # wrong id/question, malformed: dnspython raises many types
            return Observation(error=f"TCP: bad answer ({type(exc).__name__})")
        kind, value = message_outcome(answer, qname)
        if kind == OK:
            return Observation(serial=value)  # type: ignore[arg-type]
        if kind == RCODE:
            return Observation(rcode=value)  # type: ignore[arg-type]
        return Observation(error=f"TCP: {value}")
    return Observation(error=f"TCP: {reason}")


def _retry_tcp(todo: list[tuple[_Target, int]], names: Sequence[str], opts: ProbeOptions) -> None:
    """Truncated answers are rare (an SOA fits in 512 bytes), so plain blocking TCP in a few threads."""
    with ThreadPoolExecutor(max_workers=max(1, opts.tcp_workers)) as pool:
        futures = [(st, z, pool.submit(_tcp_one, st.addr, names[z], opts)) for st, z in todo]
        for st, z, fut in futures:
            st.results[z] = fut.result()


def sweep(zones: Sequence[ExpectedZone], targets: Sequence[Target], options: ProbeOptions | None = None) -> SweepReport:
    """Probe every zone on every target and classify each pair against the database's serial.

    This is what the failover engine calls as its exit test: ``sweep(...).converged(min_serials)``.
    """
    start = time.monotonic()
    result = probe_soa([z.name for z in zones], [(t.host, t.port) for t in targets], options)
    return build_report(zones, targets, result.observations, seconds=time.monotonic() - start,
                        queries=result.queries, stats=result.stats)
