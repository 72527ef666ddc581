"""Designate's own verdict on a pools.yml document: the oracle for dnsdr's renderer and checker.

``designate_accepts`` is the product's wrapper (dnsdr.adapters.designate_parser: what `pool update`
and the storage layer would refuse); the field checks below let tests compare single values.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

warnings.filterwarnings("ignore")
logging.getLogger("designate").setLevel(logging.CRITICAL)

from designate.objects import fields  # noqa: E402

from dnsdr.adapters.designate_parser import designate_accepts  # noqa: E402

__all__ = ["designate_accepts", "designate_takes_domain", "designate_takes_host"]


def designate_takes_host(value: Any) -> bool:
    """Designate's IPOrHost, the field of pools.yml nameservers, masters and also_notifies hosts."""
    try:
        fields.IPOrHost().coerce(None, "host", value)
    except Exception:  # ValueError, TypeError, AddrFormatError: all rejections
        return False
    return True


def designate_takes_domain(value: Any) -> bool:
    """Designate's DomainField as PoolNsRecord.hostname declares it."""
    try:
        fields.DomainField(maxLength=255).coerce(None, "hostname", value)
    except Exception:
        return False
    return True
