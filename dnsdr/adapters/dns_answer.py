"""Strict, fast reading of SOA answers: the hot path of the serial sweep.

dnspython's full parse costs more than the rest of a sweep together, so the common layout (question
echoed, answer owner compressed to the question) is read by hand: header, question, every record's
structure and the SOA serial, with the same checks dnspython makes (ID matched by the caller, QR,
opcode, question, AA, rcode, names and pointers, lengths). Anything else goes through dnspython.
"""

from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype

_SOA_IN = b"\x00\x06\x00\x01"
_RCODES = {int(r): r.name for r in dns.rcode.Rcode}

# A query's header after its ID: flags 0 (QUERY, RD off: we want the authoritative data only), QDCOUNT 1.
QUERY_HEADER_TAIL = b"\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00"

# Outcomes of parsing one answer.
OK, RCODE, TRUNCATED, BAD, IGNORE = range(5)


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
