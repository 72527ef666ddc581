"""Designate's own verdict on a pools.yml document, when Designate is installed beside dnsdr.

Runs what `designate-manage pool update` runs before it talks to central: the pool id check of
``_get_pool``, the YAML adapters, ``ns_record.validate()`` and the backend driver lookup
(designate/manage/pool.py). Then what the storage layer (designate/storage/sqlalchemy, tables.py)
would refuse, without a database: NOT NULL columns (name, host, port), UUID columns (tsigkey_id),
the unique keys of a pool's lists (NS hostname; host and port of nameservers, also_notifies and a
target's masters; MySQL compares them without case), option values in VARCHAR(255) that pymysql
can send (no lists or mappings, no inf/nan), and text in utf8 (three bytes a character) tables.
Designate is imported on first use only (it pulls in oslo and takes a second or two).
"""

from __future__ import annotations

import logging
import math
import uuid
import warnings
from collections.abc import Iterable
from functools import cache
from typing import Any


def designate_available() -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import designate.objects  # noqa: F401
        except Exception:
            return False
    return True


@cache
def _designate() -> tuple[Any, Any, Any, Any]:
    logging.getLogger("designate").setLevel(logging.CRITICAL)
    from designate import objects
    from designate.backend import base as backend_base
    from designate.objects.adapters import DesignateAdapter
    from oslo_utils import uuidutils

    logging.getLogger("designate.objects.adapters.base").disabled = True
    return objects, backend_base, DesignateAdapter, uuidutils


def designate_accepts(document: Any) -> tuple[bool, str]:
    """(accepted, reason) for a whole pools.yml document (a list of pools); needs Designate installed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _accepts(document)


def _accepts(document: Any) -> tuple[bool, str]:
    objects, backend_base, adapter, uuidutils = _designate()
    if not isinstance(document, list) or not document:
        return False, "not a non-empty list"
    for pool_data in document:
        if not isinstance(pool_data, dict):
            return False, "pool is not a mapping"
        if "id" in pool_data and not uuidutils.is_uuid_like(pool_data["id"]):
            return False, "Not a valid uuid"  # manage/pool.py _get_pool, before parsing
        try:
            pool = adapter.parse("YAML", pool_data, objects.Pool())
            for ns_record in pool.ns_records:  # RelationNotLoaded when ns_records is absent
                ns_record.validate()
            for target in pool.targets:
                backend_base.Backend.get_driver(target.type)
        except Exception as exc:  # designate raises many kinds; any of them is a rejection
            return False, f"{type(exc).__name__}: {str(exc)[:200]}"
        problem = _missing_required(pool) or _storage_refuses(pool)
        if problem:
            return False, problem
    return True, "ok"


def _loaded(obj: Any, name: str) -> list[Any]:
    """A list relation as storage reads it: absent means "leave as is" (create: empty)."""
    return list(getattr(obj, name)) if obj.obj_attr_is_set(name) else []


def _endpoint_lists(pool: Any) -> list[tuple[str, list[Any]]]:
    lists = [("nameservers", _loaded(pool, "nameservers")), ("also_notifies", _loaded(pool, "also_notifies"))]
    return lists + [("masters", _loaded(t, "masters")) for t in pool.targets]


def _missing_required(pool: Any) -> str:
    if not pool.obj_attr_is_set("name"):
        return "pool without name"
    for what, items in _endpoint_lists(pool):
        for item in items:
            for key in ("host", "port"):
                if not item.obj_attr_is_set(key):
                    return f"{what} item without {key}"
    return ""


def _storage_refuses(pool: Any) -> str:
    for what, items in _endpoint_lists(pool):
        if _repeats((str(i.host).lower(), i.port) for i in items):
            return f"Duplicate{what}: the same host and port twice"
    if _repeats(str(ns.hostname).lower() for ns in pool.ns_records):
        return "DuplicatePoolNsRecord"
    for item in [*_loaded(pool, "nameservers"), *pool.targets]:
        tsigkey_id = item.tsigkey_id if item.obj_attr_is_set("tsigkey_id") else None
        if tsigkey_id is not None and not _uuid(tsigkey_id):
            return f"tsigkey_id {tsigkey_id!r} is no UUID for the storage layer"
    for target in pool.targets:
        for option in _loaded(target, "options"):
            value = option.value
            if isinstance(value, (list, dict, set, tuple)):
                return f"option {option.key} holds a {type(value).__name__}"
            if isinstance(value, float) and not math.isfinite(value):
                return f"option {option.key} is {value}, which MySQL cannot store"
            if len(str(value)) > 255:
                return f"option {option.key} is longer than VARCHAR(255)"
    return _not_utf8mb3(pool)


def _not_utf8mb3(pool: Any) -> str:
    texts = [pool.name, pool.description if pool.obj_attr_is_set("description") else None]
    texts += [t for a in _loaded(pool, "attributes") for t in (a.key, a.value)]
    for target in pool.targets:
        texts.append(target.description if target.obj_attr_is_set("description") else None)
        texts += [t for o in _loaded(target, "options") for t in (o.key, o.value)]
    for text in texts:
        if isinstance(text, str) and any(ord(c) > 0xFFFF or 0xD800 <= ord(c) <= 0xDFFF for c in text):
            return f"{text!r} cannot be stored in a utf8 (three bytes) column"
    return ""


def _repeats(keys: Iterable[Any]) -> bool:
    seen: set[Any] = set()
    for key in keys:
        if key in seen:
            return True
        seen.add(key)
    return False


def _uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
