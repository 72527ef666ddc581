"""Designate's own verdict on a pools.yml document: the oracle for dnsdr's renderer and checker.

Runs what `designate-manage pool update` runs before it talks to central: the YAML adapters,
`ns_record.validate()` and the backend driver lookup (designate/manage/pool.py), plus the NOT NULL
columns the storage layer would hit (name, host, port, type). No database, no RPC.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

warnings.filterwarnings("ignore")
logging.getLogger("designate").setLevel(logging.CRITICAL)

from designate import objects  # noqa: E402
from designate.backend import base as backend_base  # noqa: E402
from designate.objects import fields  # noqa: E402
from designate.objects.adapters import DesignateAdapter  # noqa: E402

logging.getLogger("designate.objects.adapters.base").disabled = True


def designate_accepts(document: Any) -> tuple[bool, str]:
    """(accepted, reason) for a whole pools.yml document (a list of pools)."""
    if not isinstance(document, list) or not document:
        return False, "not a non-empty list"
    for pool_data in document:
        if not isinstance(pool_data, dict):
            return False, "pool is not a mapping"
        try:
            pool = DesignateAdapter.parse("YAML", pool_data, objects.Pool())
            for ns_record in pool.ns_records:
                ns_record.validate()
            for target in pool.targets:
                backend_base.Backend.get_driver(target.type)
        except Exception as exc:  # designate raises many kinds; any of them is a rejection
            return False, f"{type(exc).__name__}: {exc}"
        missing = _missing_required(pool)
        if missing:
            return False, missing
    return True, "ok"


def _missing_required(pool: Any) -> str:
    if not pool.obj_attr_is_set("name"):
        return "pool without name"
    lists = [("nameservers", pool.nameservers), ("also_notifies", pool.also_notifies)]
    lists += [("masters", t.masters) for t in pool.targets]
    for what, items in lists:
        for item in items:
            for key in ("host", "port"):
                if not item.obj_attr_is_set(key):
                    return f"{what} item without {key}"
    return ""


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
