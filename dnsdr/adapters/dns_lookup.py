"""Single authoritative lookups (the canary write's proof), as opposed to the bulk SOA sweep.

Only answers with the AA flag, the right question and NOERROR count; anything else is "not yet".
A lookup waits at most ``timeout`` over UDP plus ``timeout`` over TCP after a truncated answer.
"""

from __future__ import annotations

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
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
