"""The ISC command-channel ("isccc") wire format that rndc speaks to named, signed with HMAC.

Pure encoding and decoding, no sockets, so it can be checked byte for byte against a capture.
Layout (BIND ``lib/isccc/cc.c``, and the ``isc/rndc.py`` client BIND shipped):

* frame: ``uint32 length`` (of what follows) ``uint32 version (=1)`` then one table;
* table: repeated ``uint8 keylen, key, value``; value: ``uint8 type, uint32 len, bytes`` with
  type 1 = binary, 2 = table, 3 = list (of values without keys);
* ``_auth`` comes first: ``{hsha: alg(1 byte) + base64(HMAC) zero-padded to 88}`` (``hmd5``:
  22 bytes for MD5). The HMAC covers the encoded table *after* the ``_auth`` element, i.e.
  ``_ctrl`` (``_ser``, ``_tim``, ``_exp``, ``_nonce`` as decimal strings) and ``_data``.

Decoding never trusts the peer: anything malformed (truncated, nested too deep, non-ASCII keys) is
an :class:`IscccError`, and only the ``_auth`` section is decoded before the HMAC is checked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from collections.abc import Mapping
from typing import Union

from dnsdr.domain.errors import RetryLater

TYPE_BINARY = 1
TYPE_TABLE = 2
TYPE_LIST = 3
VERSION = 1
HSHA_LENGTH = 88
HMD5_LENGTH = 22
MAX_DEPTH = 16  # named nests three levels; a hostile peer could nest until the stack overflows

# ISCCC_ALG_* (lib/isccc/include/isccc/cc.h): the octet in front of a SHA digest.
ALGORITHMS: dict[str, int] = {"md5": 157, "sha1": 161, "sha224": 162, "sha256": 163, "sha384": 164, "sha512": 165}

Value = Union[bytes, "Table", list["Value"]]
Table = dict[str, Value]


class IscccError(RetryLater, ValueError):
    """A malformed or unauthenticated message."""


class IscccAuthError(IscccError):
    """A well-formed message signed with another key."""


def normalise_algorithm(name: str) -> str:
    algo = name.lower().removeprefix("hmac-")
    if algo not in ALGORITHMS:
        raise IscccError(f"unsupported rndc key algorithm {name!r}")
    return algo


def _encode_value(value: Value | str | Mapping[str, object]) -> bytes:
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes | bytearray):
        return struct.pack(">BI", TYPE_BINARY, len(value)) + bytes(value)
    if isinstance(value, Mapping):
        body = encode_table(value)
        return struct.pack(">BI", TYPE_TABLE, len(body)) + body
    if isinstance(value, list):
        body = b"".join(_encode_value(v) for v in value)
        return struct.pack(">BI", TYPE_LIST, len(body)) + body
    raise IscccError(f"cannot encode {type(value).__name__}")


def encode_table(table: Mapping[str, object]) -> bytes:
    """Encode ``table`` in insertion order (order matters: it is what gets signed)."""
    out = bytearray()
    for key, value in table.items():
        raw = key.encode("ascii")
        if len(raw) > 255:
            raise IscccError("key too long")
        out += bytes([len(raw)]) + raw + _encode_value(value)  # type: ignore[arg-type]
    return bytes(out)


def _decode_value(buf: memoryview, pos: int, depth: int = 0) -> tuple[Value, int]:
    if depth > MAX_DEPTH:
        raise IscccError("tables nested too deep")
    if len(buf) - pos < 5:
        raise IscccError("truncated value header")
    vtype, length = struct.unpack_from(">BI", buf, pos)
    pos += 5
    end = pos + length
    if end > len(buf):
        raise IscccError("truncated value")
    if vtype == TYPE_BINARY:
        return bytes(buf[pos:end]), end
    if vtype == TYPE_TABLE:
        return decode_table(buf[pos:end], depth + 1), end
    if vtype == TYPE_LIST:
        items: list[Value] = []
        p = pos
        while p < end:
            item, p = _decode_value(buf[:end], p, depth + 1)
            items.append(item)
        return items, end
    raise IscccError(f"unknown value type {vtype}")


def decode_table(data: bytes | memoryview, depth: int = 0) -> Table:
    """Decode a table; IscccError for anything malformed (peers may send anything)."""
    buf = memoryview(data)
    table: Table = {}
    pos = 0
    while pos < len(buf):
        klen = buf[pos]
        if pos + 1 + klen > len(buf):
            raise IscccError("truncated key")
        try:
            key = bytes(buf[pos + 1 : pos + 1 + klen]).decode("ascii")
        except UnicodeDecodeError:
            raise IscccError("key is not ASCII") from None
        pos += 1 + klen
        table[key], pos = _decode_value(buf, pos, depth)
    return table


def _digest_b64(algo: str, secret: bytes, signed: bytes) -> bytes:
    return base64.b64encode(hmac.new(secret, signed, getattr(hashlib, algo)).digest())


def sign(algo: str, secret: bytes, ctrl: Mapping[str, str], data: Mapping[str, object]) -> bytes:
    """One complete frame (length prefix included) carrying ``_ctrl`` and ``_data``, signed."""
    algo = normalise_algorithm(algo)
    signed = encode_table({"_ctrl": dict(ctrl), "_data": dict(data)})
    b64 = _digest_b64(algo, secret, signed)
    if algo == "md5":
        auth: Table = {"hmd5": b64[:HMD5_LENGTH]}
    else:
        auth = {"hsha": bytes([ALGORITHMS[algo]]) + b64.ljust(HSHA_LENGTH, b"\0")}
    body = struct.pack(">I", VERSION) + encode_table({"_auth": auth}) + signed
    return struct.pack(">I", len(body)) + body


def verify(algo: str, secret: bytes, payload: bytes) -> Table:
    """Decode a frame's payload (after the length prefix) and check its signature.

    The HMAC is recomputed over the received bytes after ``_auth`` (not a re-encoding), as named
    does, so element order and unknown keys cannot break verification.
    """
    algo = normalise_algorithm(algo)
    if len(payload) < 4 or struct.unpack_from(">I", payload)[0] != VERSION:
        raise IscccError("unsupported isccc version")
    buf = memoryview(payload)[4:]
    if len(buf) < 1 or bytes(buf[1 : 1 + buf[0]]) != b"_auth":
        raise IscccError("message has no _auth section first")
    auth, after_auth = _decode_value(buf, 1 + buf[0])
    if not isinstance(auth, dict):
        raise IscccError("bad _auth section")
    expected = _digest_b64(algo, secret, bytes(buf[after_auth:]))
    if algo == "md5":
        got = auth.get("hmd5")
        ok = isinstance(got, bytes) and hmac.compare_digest(got, expected[:HMD5_LENGTH])
    else:
        got = auth.get("hsha")
        ok = (
            isinstance(got, bytes)
            and len(got) == HSHA_LENGTH + 1
            and got[0] == ALGORITHMS[algo]
            and hmac.compare_digest(got[1:], expected.ljust(HSHA_LENGTH, b"\0"))
        )
    if not ok:
        raise IscccAuthError("bad HMAC on response (wrong rndc key?)")
    return decode_table(buf)  # only what the key signed is decoded beyond _auth


def text(table: Table, key: str) -> str | None:
    """A binary value as text (isccc strings are NUL-free bytes)."""
    value = table.get(key)
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else None


def subtable(table: Table, key: str) -> Table:
    value = table.get(key)
    return value if isinstance(value, dict) else {}
