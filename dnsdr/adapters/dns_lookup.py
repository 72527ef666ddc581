"""Single authoritative lookups (the canary write's proof), as opposed to the bulk SOA sweep.

Only answers with the AA flag, the right question and NOERROR count; anything else is "not yet".
A lookup waits at most ``timeout`` over UDP plus ``timeout`` over TCP after a truncated answer.
"""

from __future__ import annotations

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype


def txt_values(host: str, port: int, name: str, timeout: float = 2.0) -> tuple[str, ...] | None:
    """The TXT strings an authoritative server gives for ``name``; None when it gives no valid answer."""
    query = dns.message.make_query(name, dns.rdatatype.TXT)
    try:
        response = dns.query.udp(query, host, port=port, timeout=timeout)
        if response.flags & dns.flags.TC:
            response = dns.query.tcp(query, host, port=port, timeout=timeout)
    except (dns.exception.DNSException, OSError):
        return None
    except Exception:  # garbage makes dnspython raise many other types; all mean "no valid answer"
        return None
    if response.rcode() != dns.rcode.NOERROR or not response.flags & dns.flags.AA:
        return None
    values: list[str] = []
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.TXT:
            for rdata in rrset:
                values.append(b"".join(rdata.strings).decode(errors="replace"))
    return tuple(values)


def rrset_values(host: str, port: int, name: str, rtype: str, timeout: float = 2.0) -> frozenset[str] | None:
    """The records (canonical text) an authoritative server serves for ``name``/``rtype``.

    Empty for an authoritative "no such name" or "no such type"; None without a valid answer.
    """
    query = dns.message.make_query(name, rtype)
    try:
        response = dns.query.udp(query, host, port=port, timeout=timeout)
        if response.flags & dns.flags.TC:
            response = dns.query.tcp(query, host, port=port, timeout=timeout)
    except Exception:  # network errors and garbage alike: no valid answer
        return None
    if not response.flags & dns.flags.AA or response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return None
    wanted = dns.rdatatype.from_text(rtype)
    return frozenset(rd.to_text() for rrset in response.answer if rrset.rdtype == wanted for rd in rrset)


def canonical(rtype: str, values: tuple[str, ...], origin: str) -> frozenset[str]:
    """Records as Designate stores them, in the text a server's answer gives (relative names made absolute)."""
    try:
        zone = dns.name.from_text(origin)
        return frozenset(dns.rdata.from_text(dns.rdataclass.IN, rtype, v, origin=zone, relativize=False).to_text()
                         for v in values)
    except Exception:  # a type or value dnspython cannot parse: compare the text as stored
        return frozenset(values)
