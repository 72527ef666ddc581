"""Designate's own verdict on a pools.yml document, when Designate is installed beside dnsdr.

Runs what `designate-manage pool update` runs before it talks to central: the YAML adapters,
``ns_record.validate()``, the backend driver lookup (designate/manage/pool.py), plus the NOT NULL
columns the storage layer would hit (name, host, port, type). No database, no RPC. Designate is
imported on first use only (it pulls in oslo and takes a second or two).
"""

from __future__ import annotations

import logging
import warnings
from typing import Any


def designate_available() -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import designate.objects  # noqa: F401
        except Exception:
            return False
    return True


def designate_accepts(document: Any) -> tuple[bool, str]:
    """(accepted, reason) for a whole pools.yml document (a list of pools); needs Designate installed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("designate").setLevel(logging.CRITICAL)
        from designate import objects
        from designate.backend import base as backend_base
        from designate.objects.adapters import DesignateAdapter

        logging.getLogger("designate.objects.adapters.base").disabled = True
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
                return False, f"{type(exc).__name__}: {str(exc)[:200]}"
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
