"""``dnsdr lab``: the local two-region lab (placeholder until the lab lands)."""

from __future__ import annotations

import click


@click.group()
def lab() -> None:
    """Run the local two-region lab (MariaDB, RabbitMQ, Designate, PowerDNS, BIND) on loopback."""
