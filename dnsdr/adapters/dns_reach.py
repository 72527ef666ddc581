"""Does a DNS server answer at all? Any well-formed response counts, whatever its rcode.

A failover's assessment asks this of a lost region's backends: one that answers anything (even
REFUSED for the zone asked) is a server resolvers may still reach, so it must be kept in the pool
and re-pointed, or fenced, never forgotten. The socket is connected, so a dead server's ICMP
port-unreachable comes back at once as "refused" instead of costing the whole timeout.
"""

from __future__ import annotations

import socket
import time

import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype


def dns_answers(host: str, port: int, zone: str, timeout: float = 1.5) -> tuple[bool, str]:
    query = dns.message.make_query(zone, dns.rdatatype.SOA)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    deadline = time.monotonic() + timeout
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((host, port))
            sock.send(query.to_wire())
            while True:
                sock.settimeout(max(0.001, deadline - time.monotonic()))
                wire = sock.recv(65535)
                try:
                    response = dns.message.from_wire(wire)
                except dns.exception.DNSException:
                    continue  # not an answer to us: keep waiting until the deadline
                if response.id == query.id:
                    return True, f"answers ({dns.rcode.to_text(response.rcode())} for {zone})"
    except TimeoutError:
        return False, f"no answer within {timeout:g} s"
    except ConnectionRefusedError:
        return False, "refused (nothing listens)"
    except OSError as exc:
        return False, exc.strerror or type(exc).__name__
