"""The local two-region lab: MariaDB, RabbitMQ, Designate, PowerDNS and BIND on loopback.

``from dnsdr.lab import Lab``: ``Lab(root).up()``, ``.status()``, faults (``kill``, ``stop``, ``cont``,
``partition``, ``heal``), ``.create_zones(n)``, ``.restore_healthy()``, ``.down()``.
"""

from __future__ import annotations

from dnsdr.lab.errors import LabError
from dnsdr.lab.lab import Lab

__all__ = ["Lab", "LabError"]
