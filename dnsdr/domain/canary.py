"""The canary zone: one small zone per spec that dnsdr itself writes and watches.

The failover's write check creates a record in it through the surviving API, and the third-region
monitor asks every nameserver and mdns for its SOA. Both must name the same zone, so the name is
derived here, from the spec alone: ``spec.monitor.canaryZone`` when set (a name the deployment's TLD
policy accepts), else one under ``.test.``. Its serial moves only when dnsdr writes to it, so two
nameservers serving different canary serials for long is a real divergence, not zone churn.
"""

from __future__ import annotations

from dnsdr.domain.spec import DesignateDR


def canary_zone(spec: DesignateDR) -> str:
    """The absolute name of the spec's canary zone (by default under ``.test.``, which never resolves publicly)."""
    return spec.canary_zone or default_canary_zone(spec.name)


def default_canary_zone(name: str) -> str:
    return f"dnsdr-canary-{name or 'default'}.test."
