"""BIND control: a native rndc client (isccc over TCP) with persistent connections.

Spawning ``rndc`` once per zone costs a process, a TCP handshake and a nonce round trip per
command; for thousands of zones that is minutes. named keeps a control connection open after a
response and reads the next request (``bin/named/controlconf.c``: the nonce is fixed per
connection and every later request must echo it), so one login serves any number of commands.
named 9.18 reads one message per read and drops bytes past it, so requests are not pipelined on
a connection; instead a few connections run in parallel. The ``rndc`` binary stays available as a
fallback (:func:`run_rndc_binary`) with the key in a private 0600 temporary rndc.conf.
"""

from __future__ import annotations

import base64
import os
import queue
import random
import re
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from dnsdr.adapters import isccc
from dnsdr.adapters.shown import brief
from dnsdr.domain.errors import NeedsOperator, RetryLater
from dnsdr.domain.spec import Endpoint

T = TypeVar("T")
MAX_FRAME = 16 * 1024 * 1024


class RndcError(RetryLater):
    """An rndc command failed; ``code`` is named's isc_result (0 when the transport failed)."""

    def __init__(self, message: str, code: int = 0, text: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.text = text


class RndcUnreachable(RndcError):
    """The control channel could not be reached, gave no answer in time, or dropped the connection."""


class RndcAuthError(RndcError, NeedsOperator):
    """named closed the connection on our first message or answered with a bad HMAC: wrong key."""


class RndcKeyError(RndcError, NeedsOperator):
    """The key material itself is unusable (not a key clause, not base64, unknown algorithm)."""


class _Closed(RndcUnreachable):
    """The peer closed or reset the connection (at login: it refused our key or our address)."""


@dataclass(frozen=True)
class RndcKey:
    name: str
    algorithm: str
    secret: bytes = field(repr=False)

    @classmethod
    def parse(cls, material: str, default_name: str = "rndc-key") -> RndcKey:
        """Key material as a ``key "n" { algorithm a; secret "s"; };`` clause, or bare base64 (sha256).

        Errors never quote the material (it is the secret).
        """
        secret = re.search(r'secret\s+"([^"]+)"', material)
        if secret is None:
            try:
                return cls(default_name, "hmac-sha256", base64.b64decode(material.strip(), validate=True))
            except ValueError:
                raise RndcKeyError("rndc key material is neither a key clause nor base64") from None
        name = re.search(r'key\s+"?([^"\s{]+)"?\s*\{', material)
        algo = re.search(r"algorithm\s+([\w-]+)\s*;", material)
        algorithm = algo.group(1) if algo else "hmac-md5"
        try:
            isccc.normalise_algorithm(algorithm)
            raw = base64.b64decode("".join(secret.group(1).split()), validate=True)
        except isccc.IscccError as exc:
            raise RndcKeyError(f"rndc key: {exc}") from None
        except ValueError:
            raise RndcKeyError("rndc key: the secret is not base64") from None
        return cls(name.group(1) if name else default_name, algorithm, raw)

    def clause(self) -> str:
        return (
            f'key "{self.name}" {{ algorithm {self.algorithm}; '
            f'secret "{base64.b64encode(self.secret).decode()}"; }};\n'
        )


@dataclass(frozen=True)
class RndcResponse:
    command: str
    text: str


class RndcConnection:
    """One logged-in control connection; not thread-safe (the client hands it to one thread at a time).

    Each exchange (send, then read one frame) ends within ``timeout`` whatever the peer does, and
    reads at most MAX_FRAME octets. At login, a peer that closes the connection refused our key
    (or our address): :class:`RndcAuthError`; one that says nothing in time is
    :class:`RndcUnreachable`; one that says something else than isccc is an :class:`RndcError`.
    """

    def __init__(self, endpoint: Endpoint, key: RndcKey, timeout: float) -> None:
        self.endpoint = endpoint
        self._key = key
        self._timeout = timeout
        self._ser = random.randint(1, 1 << 24)
        self._nonce: str | None = None
        try:
            self._sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
        except TimeoutError:
            raise RndcUnreachable(f"rndc {endpoint}: cannot connect: timed out after {timeout:g} s") from None
        except OSError as exc:
            raise RndcUnreachable(f"rndc {endpoint}: cannot connect: {exc.strerror or type(exc).__name__}") from None
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            reply = self._exchange("null")
        except _Closed:
            self.close()
            raise RndcAuthError(f"rndc {endpoint}: connection closed on our first message "
                                "(wrong key, or this address is not allowed)") from None
        except BaseException:
            self.close()
            raise
        self._nonce = isccc.text(isccc.subtable(reply, "_ctrl"), "_nonce")

    def close(self) -> None:
        self._sock.close()

    def _wait(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RndcUnreachable(f"rndc {self.endpoint}: no answer within {self._timeout:g} s (timed out)")
        self._sock.settimeout(left)

    def _recv_exact(self, n: int, deadline: float) -> bytes:
        chunks = bytearray()
        while len(chunks) < n:
            self._wait(deadline)
            try:
                got = self._sock.recv(min(n - len(chunks), 1 << 20))
            except TimeoutError:
                raise RndcUnreachable(f"rndc {self.endpoint}: no answer within {self._timeout:g} s (timed out)") \
                    from None
            except OSError as exc:
                raise _Closed(f"rndc {self.endpoint}: {exc.strerror or type(exc).__name__}") from None
            if not got:
                raise _Closed(f"rndc {self.endpoint}: connection closed")
            chunks += got
        return bytes(chunks)

    def _not_rndc(self, why: str) -> RndcError:
        return RndcError(f"rndc {self.endpoint}: did not answer like named's control channel ({why})")

    def _exchange(self, command: str) -> isccc.Table:
        deadline = time.monotonic() + self._timeout
        self._ser += 1
        now = int(time.time())
        ctrl = {"_ser": str(self._ser), "_tim": str(now), "_exp": str(now + 60)}
        if self._nonce is not None:
            ctrl["_nonce"] = self._nonce
        frame = isccc.sign(self._key.algorithm, self._key.secret, ctrl, {"type": command})
        try:
            self._wait(deadline)
            self._sock.sendall(frame)
        except TimeoutError:
            raise RndcUnreachable(f"rndc {self.endpoint}: could not send within {self._timeout:g} s") from None
        except OSError as exc:
            raise _Closed(f"rndc {self.endpoint}: {exc.strerror or type(exc).__name__}") from None
        (length,) = struct.unpack(">I", self._recv_exact(4, deadline))
        if not 4 <= length <= MAX_FRAME:
            raise self._not_rndc(f"a frame of {length} octets")
        try:
            reply = isccc.verify(self._key.algorithm, self._key.secret, self._recv_exact(length, deadline))
        except isccc.IscccAuthError:
            raise RndcAuthError(f"rndc {self.endpoint}: answer signed with another key (bad HMAC): "
                                "wrong key") from None
        except isccc.IscccError as exc:
            raise self._not_rndc(str(exc)) from None
        ctrl_in = isccc.subtable(reply, "_ctrl")
        if isccc.text(ctrl_in, "_ser") != str(self._ser):
            raise RndcError(f"rndc {self.endpoint}: response to another request")
        return reply

    def call(self, command: str) -> RndcResponse:
        data = isccc.subtable(self._exchange(command), "_data")
        result_text = isccc.text(data, "result") or "0"
        if not result_text.isdigit():
            raise self._not_rndc("a result that is not a number")
        result = int(result_text)
        out = isccc.text(data, "text") or ""
        if result != 0:
            err = brief(isccc.text(data, "err") or f"result {result}")
            detail = f": {brief(out)}" if out.strip() else ""
            raise RndcError(f"rndc {self.endpoint} {command.split()[0]}: {err}{detail}", code=result, text=out)
        return RndcResponse(command, out)


class RndcClient:
    """Commands over a small pool of persistent connections to one named.

    :meth:`call` uses one connection; :meth:`map` runs many commands over up to ``connections``
    connections in parallel and returns per-item results or errors in input order.
    """

    def __init__(self, endpoint: Endpoint, key: RndcKey, timeout: float = 30.0, connections: int = 4) -> None:
        self.endpoint = endpoint
        self._key = key
        self._timeout = timeout
        self.connections = max(1, connections)
        self._idle: queue.SimpleQueue[RndcConnection] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._all: list[RndcConnection] = []

    def __enter__(self) -> RndcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._idle = queue.SimpleQueue()

    @contextmanager
    def _connection(self) -> Iterator[RndcConnection]:
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = RndcConnection(self.endpoint, self._key, self._timeout)
            with self._lock:
                self._all.append(conn)
        try:
            yield conn
        except RndcUnreachable:
            conn.close()
            raise
        self._idle.put(conn)

    def call(self, command: str) -> RndcResponse:
        """Run one command; a connection that went stale (named restarted, idle close) is retried once."""
        for attempt in (1, 2):
            try:
                with self._connection() as conn:
                    return conn.call(command)
            except RndcUnreachable:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def map(self, fn: Callable[[str], T], items: Sequence[str]) -> list[T | RndcError]:
        """``fn(item)`` for every item over the connection pool; RndcError is returned, not raised.

        Unreachable and auth errors are raised: they would fail every other item the same way. The
        items not started by then are skipped, so a named that stops answering costs a timeout or
        two per connection, not per item.
        """
        abort: list[RndcError] = []

        def one(item: str) -> T | RndcError:
            if abort:
                return abort[0]
            try:
                return fn(item)
            except (RndcUnreachable, RndcAuthError) as exc:
                abort.append(exc)
                raise
            except RndcError as exc:
                return exc

        if len(items) <= 1 or self.connections == 1:
            return [one(i) for i in items]
        with ThreadPoolExecutor(self.connections, thread_name_prefix="rndc") as pool:
            return list(pool.map(one, items))

    def login(self) -> None:
        """Open (or check) one connection now, so a bad key or address fails before any work."""
        with self._connection():
            pass

    # Commands. Zone names are given with or without the trailing dot.
    def status(self) -> str:
        return self.call("status").text

    def showzone(self, zone: str) -> str:
        return self.call(f"showzone {_bare(zone)}").text

    def zonestatus(self, zone: str) -> str:
        return self.call(f"zonestatus {_bare(zone)}").text

    def addzone(self, zone: str, config: str) -> str:
        return self.call(f"addzone {_bare(zone)} {config}").text

    def modzone(self, zone: str, config: str) -> str:
        return self.call(f"modzone {_bare(zone)} {config}").text

    def delzone(self, zone: str, clean: bool = False) -> str:
        return self.call(f"delzone {'-clean ' if clean else ''}{_bare(zone)}").text

    def retransfer(self, zone: str) -> str:
        return self.call(f"retransfer {_bare(zone)}").text


def _bare(zone: str) -> str:
    name = zone.rstrip(".")
    if not name or any(c in name for c in " \t\n{};\"'"):
        raise RndcError(f"refusing zone name {zone!r}")
    return name


def is_not_found(exc: RndcError) -> bool:
    return "not found" in str(exc) or "not found" in exc.text


@contextmanager
def rndc_conf(key: RndcKey) -> Iterator[str]:
    """A private (0600) temporary rndc.conf holding ``key`` as the default key, for the rndc binary.

    rndc only honours ``-k`` when no rndc.conf exists, so a generated ``-c`` file is the one way
    that never picks up a stray /etc/bind/rndc.conf. The file is removed on exit.
    """
    fd, name = tempfile.mkstemp(prefix="dnsdr-rndc-", suffix=".conf")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key.clause() + f'options {{ default-key "{key.name}"; }};\n')
        yield name
    finally:
        Path(name).unlink(missing_ok=True)


def run_rndc_binary(
    endpoint: Endpoint, conf: str, args: Sequence[str], rndc: str = "rndc", timeout: float = 60.0
) -> RndcResponse:
    """The fallback: one ``rndc -c CONF -s H -p P ARGS`` process (see :func:`rndc_conf`)."""
    argv = [rndc, "-c", conf, "-s", endpoint.host, "-p", str(endpoint.port), *args]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise RndcUnreachable(f"rndc {endpoint}: the rndc binary gave no answer within {timeout:g} s") from None
    except OSError as exc:
        raise RndcUnreachable(f"rndc {endpoint}: cannot run {rndc}: {exc.strerror or type(exc).__name__}") from None
    if proc.returncode != 0:
        msg = brief((proc.stderr or proc.stdout).replace("rndc: ", ""))
        raise RndcError(f"rndc {endpoint} {args[0] if args else ''}: {msg}", code=proc.returncode, text=proc.stdout)
    return RndcResponse(" ".join(args), proc.stdout)
