"""Does a DNS server answer at all? Any well-formed response counts, whatever its rcode.

A failover's assessment asks this of a lost region's backends: one that answers anything (even
REFUSED for the zone asked) is a server resolvers may still reach, so it must be kept in the pool
and re-pointed, or fenced, never forgotten.
"""

from __future__ import annotations

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype


def dns_answers(host: str, port: int, zone: str, timeout: float = 1.5) -> tuple[bool, str]:
    query = dns.message.make_query(zone, dns.rdatatype.SOA)
    try:
        response = dns.query.udp(query, host, port=port, timeout=timeout)
    except dns.exception.Timeout:
        return False, f"no answer within {timeout:g} s"
    except (OSError, dns.exception.DNSException) as exc:
        return False, str(exc)[:200] or type(exc).__name__
    return True, f"answers ({dns.rcode.to_text(response.rcode())} for {zone})"
