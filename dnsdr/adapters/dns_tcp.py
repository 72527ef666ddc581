"""SOA over TCP for the pairs whose UDP answer was truncated, within a fixed time bound.

Truncated SOA answers are rare (an SOA fits in 512 octets; rate-limiting "slips" make them), but
a target that sets TC on every answer and then drops or stalls TCP must not stretch a sweep: the
whole phase ends ``(retries + 1) * timeout`` after it starts, whatever the targets do (accept and
stay silent, refuse, close, trickle one octet at a time). A few non-blocking connections per target
run at once, one query each, in one thread; an answer is at most one 16-bit-length frame and is
checked by the same strict parser as over UDP.
"""

from __future__ import annotations

import errno
import os
import random
import selectors
import socket
import time
from collections import deque
from collections.abc import Sequence

from dnsdr.adapters.dns_answer import OK, QUERY_HEADER_TAIL, RCODE, TRUNCATED, parse_answer
from dnsdr.domain.serials import Observation

Addr = tuple[str, int]
_FRAME = 2 + 65535  # a length-prefixed TCP DNS message: nothing longer is ever read


class _Query:
    """One attempt: connect, send, read one length-prefixed answer."""

    __slots__ = ("buf", "deadline", "fd", "index", "out", "qid", "sock")

    def __init__(self, index: int, sock: socket.socket, qid: int, qwire: bytes, deadline: float) -> None:
        self.index, self.sock, self.fd, self.qid, self.deadline = index, sock, sock.fileno(), qid, deadline
        wire = qid.to_bytes(2, "big") + QUERY_HEADER_TAIL + qwire
        self.out = len(wire).to_bytes(2, "big") + wire
        self.buf = bytearray()

    def step(self, events: int, qwire: bytes) -> tuple[Observation | None, str]:
        """Progress on readiness: (observation, "") once answered, (None, reason) on a transport
        failure (worth another attempt), (None, "") while more is to come."""
        try:
            if events & selectors.EVENT_WRITE:
                err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    return None, os.strerror(err)
                self.out = self.out[self.sock.send(self.out):]
                return None, ""
            got = self.sock.recv(_FRAME - len(self.buf))
        except BlockingIOError:
            return None, ""
        except OSError as exc:
            return None, exc.strerror or type(exc).__name__
        if not got:
            return None, "connection closed before an answer"
        self.buf += got
        n = (self.buf[0] << 8) | self.buf[1] if len(self.buf) >= 2 else -1
        if n < 0 or len(self.buf) < 2 + n:
            return None, ""
        return outcome(bytes(self.buf[2:2 + n]), self.qid, qwire), ""


def outcome(data: bytes, qid: int, qwire: bytes) -> Observation:
    """A whole answer read on our own connection: anything but a valid answer is a bad answer."""
    if len(data) < 2 or int.from_bytes(data[:2], "big") != qid:
        return Observation(error="TCP: answer with another query ID")
    kind, value = parse_answer(data, qwire)
    if kind == OK:
        return Observation(serial=value)  # type: ignore[arg-type]
    if kind == RCODE:
        return Observation(rcode=value)  # type: ignore[arg-type]
    if kind == TRUNCATED:
        return Observation(error="TCP: truncated answer")
    return Observation(error=f"TCP: {value}")


def _connect(addr: Addr, source: str | None) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in addr[0] else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        if source:
            sock.bind((source, 0))
        err = sock.connect_ex(addr)
        if err not in (0, errno.EINPROGRESS):
            raise OSError(err, os.strerror(err))
    except OSError:
        sock.close()
        raise
    return sock


def soa_over_tcp(pairs: Sequence[tuple[Addr, bytes]], *, timeout: float, retries: int, per_target: int = 8,
                 source: str | None = None) -> tuple[list[Observation], int]:
    """Ask SOA for each (target address, question wire) over TCP: observations in input order, and
    the number of attempts made. Each attempt waits at most ``timeout``; a pair has ``retries + 1``
    attempts; at most ``per_target`` connections per target are open at once."""
    end = time.monotonic() + (retries + 1) * timeout
    results: list[Observation | None] = [None] * len(pairs)
    queues: dict[Addr, deque[int]] = {}
    for i, (addr, _) in enumerate(pairs):
        queues.setdefault(addr, deque()).append(i)
    busy = dict.fromkeys(queues, 0)
    tries = [0] * len(pairs)
    reasons = ["timeout"] * len(pairs)
    active: dict[int, _Query] = {}
    sel = selectors.DefaultSelector()

    def failed(i: int, reason: str) -> None:
        reasons[i] = reason
        if tries[i] <= retries:
            queues[pairs[i][0]].append(i)
        else:
            results[i] = Observation(error=f"TCP: {reason}")

    def finish(q: _Query, obs: Observation | None, reason: str) -> None:
        sel.unregister(q.sock)
        q.sock.close()
        del active[q.fd]
        busy[pairs[q.index][0]] -= 1
        if obs is not None:
            results[q.index] = obs
        else:
            failed(q.index, reason)

    try:
        while (now := time.monotonic()) < end:
            for addr, queue in queues.items():
                while queue and busy[addr] < max(1, per_target):
                    i = queue.popleft()
                    tries[i] += 1
                    try:
                        sock = _connect(addr, source)
                    except OSError as exc:  # refused at once, no route, out of descriptors
                        failed(i, exc.strerror or type(exc).__name__)
                        continue
                    q = _Query(i, sock, random.getrandbits(16), pairs[i][1], min(end, now + timeout))
                    active[q.fd] = q
                    busy[addr] += 1
                    sel.register(sock, selectors.EVENT_WRITE, q)
            if not active:
                if not any(queues.values()):
                    break
                time.sleep(min(0.005, max(0.0, end - now)))
                continue
            for q in [q for q in active.values() if q.deadline <= now]:
                finish(q, None, "timeout")
            wait = min((q.deadline for q in active.values()), default=now) - now
            for key, events in sel.select(max(0.0, wait)):
                q = key.data
                obs, reason = q.step(events, pairs[q.index][1])
                if obs is not None or reason:
                    finish(q, obs, reason)
                elif not q.out and events & selectors.EVENT_WRITE:
                    sel.modify(q.sock, selectors.EVENT_READ, q)
    finally:
        for q in active.values():
            q.sock.close()
        sel.close()
    made = sum(tries)
    return [r if r is not None else Observation(error=f"TCP: {reasons[i]}") for i, r in enumerate(results)], made
