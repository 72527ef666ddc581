"""Validate any pools.yml (ours or hand-written) the way `designate-manage pool update` would.

Designate parses the file with its YAML adapters, validates NS records, looks the target types up
among its backend drivers and finally stores rows whose keys are NOT NULL. Its messages are hard
to act on ("Got a KeyError error with message 'options'"). This module applies the same rules and
says which key is wrong and why, one line per problem. It mirrors the field rules of Designate
23.0.0 (designate/objects/pool*.py); the test suite checks both verdicts agree.
"""

from __future__ import annotations

import ipaddress
import numbers
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

# Designate's constants.RE_ZONENAME: labels each followed by a dot, at most 254 characters.
ZONE_NAME = re.compile(r"^(?!.{255,})(?:(?!\-)[A-Za-z0-9_\-]{1,63}(?<!\-)\.)+\Z")
# Entry points of designate.backend in designate 23.0.0 (pyproject.toml).
BACKEND_TYPES = ("akamai_v2", "bind9", "designate", "dynect", "fake", "infoblox", "ns1", "nsd4", "pdns4")

POOL_KEYS = {"id", "name", "description", "attributes", "ns_records", "nameservers", "targets",
             "also_notifies", "catalog_zone"}
TARGET_KEYS = {"type", "tsigkey_id", "description", "masters", "options"}
HOST_PORT_KEYS = {"host", "port"}
NAMESERVER_KEYS = {"host", "port", "tsigkey_id"}
NS_RECORD_KEYS = {"hostname", "priority"}
CATALOG_KEYS = {"catalog_zone_fqdn", "catalog_zone_refresh", "catalog_zone_tsig_key",
                "catalog_zone_tsig_algorithm"}


def check_pools(document: Any) -> list[str]:
    """Every problem in a loaded pools.yml document, as ``path: message`` lines."""
    if not isinstance(document, list):
        return ["(top level): must be a list of pools (each item starts with '- name: ...')"]
    if not document:
        return ["(top level): the list of pools is empty"]
    problems: list[str] = []
    names: dict[str, int] = {}
    for i, pool in enumerate(document):
        _pool(pool, f"[{i}]", problems)
        if isinstance(pool, Mapping) and isinstance(pool.get("name"), str):
            if pool["name"] in names:
                problems.append(f"[{i}].name: duplicate pool name {pool['name']!r} (also at [{names[pool['name']]}])")
            names.setdefault(pool["name"], i)
    return problems


def _keys(value: Any, path: str, allowed: set[str], problems: list[str]) -> bool:
    if not isinstance(value, Mapping):
        problems.append(f"{path}: must be a mapping, got {_kind(value)}")
        return False
    for key in value:
        if key not in allowed:
            problems.append(f"{path}.{key}: unknown key (allowed: {', '.join(sorted(allowed))})")
    return True


def _pool(pool: Any, path: str, problems: list[str]) -> None:
    if not _keys(pool, path, POOL_KEYS, problems):
        return
    if "name" not in pool:
        problems.append(f"{path}.name: is required")
    else:
        _string(pool["name"], f"{path}.name", 50, problems)
    if "id" in pool:
        _uuid(pool["id"], f"{path}.id", problems)
    if "description" in pool and pool["description"] is not None:
        _string(pool["description"], f"{path}.description", 160, problems)
    if "attributes" in pool:
        attrs = pool["attributes"]
        if not isinstance(attrs, Mapping):
            problems.append(f"{path}.attributes: must be a mapping of name: value, got {_kind(attrs)}")
        else:
            for key, value in attrs.items():
                _string(key, f"{path}.attributes.{key}", 50, problems, what="attribute name")
                _string(value, f"{path}.attributes.{key}", 50, problems)
    for j, ns in enumerate(_list(pool, "ns_records", path, problems)):
        p = f"{path}.ns_records[{j}]"
        if _keys(ns, p, NS_RECORD_KEYS, problems):
            _required(ns, p, ("hostname", "priority"), problems)
            if "hostname" in ns:
                _ns_hostname(ns["hostname"], f"{p}.hostname", problems)
            if "priority" in ns:
                _integer(ns["priority"], f"{p}.priority", 1, 10000, problems)
    for j, ns in enumerate(_list(pool, "nameservers", path, problems)):
        _host_port(ns, f"{path}.nameservers[{j}]", NAMESERVER_KEYS, problems)
    for j, target in enumerate(_list(pool, "targets", path, problems)):
        _target(target, f"{path}.targets[{j}]", problems)
    for j, an in enumerate(_list(pool, "also_notifies", path, problems)):
        _host_port(an, f"{path}.also_notifies[{j}]", HOST_PORT_KEYS, problems)
    if pool.get("catalog_zone") is not None:
        cz = pool["catalog_zone"]
        if _keys(cz, f"{path}.catalog_zone", CATALOG_KEYS, problems) and "catalog_zone_fqdn" in cz:
            _ns_hostname(cz["catalog_zone_fqdn"], f"{path}.catalog_zone.catalog_zone_fqdn", problems)


def _target(target: Any, path: str, problems: list[str]) -> None:
    if not _keys(target, path, TARGET_KEYS, problems):
        return
    if "type" not in target or target["type"] is None:
        problems.append(f"{path}.type: is required (one of {', '.join(BACKEND_TYPES)})")
    elif target["type"] not in BACKEND_TYPES:
        problems.append(
            f"{path}.type: unknown backend type {target['type']!r} (designate knows {', '.join(BACKEND_TYPES)})"
        )
    if target.get("description") is not None:
        _string(target["description"], f"{path}.description", 160, problems)
    if "tsigkey_id" in target and target["tsigkey_id"] is not None:
        _uuid(target["tsigkey_id"], f"{path}.tsigkey_id", problems)
    for k, master in enumerate(_list(target, "masters", path, problems)):
        _host_port(master, f"{path}.masters[{k}]", HOST_PORT_KEYS, problems)
    if "options" in target:
        options = target["options"]
        if not isinstance(options, Mapping):
            problems.append(f"{path}.options: must be a mapping of option: value, got {_kind(options)}")
        else:
            for key, value in options.items():
                _string(key, f"{path}.options.{key}", 255, problems, what="option name")
                if value is None:
                    problems.append(f"{path}.options.{key}: must have a value")


def _list(parent: Mapping[str, Any], key: str, path: str, problems: list[str]) -> list[Any]:
    if key not in parent:
        return []
    value = parent[key]
    if not isinstance(value, list):
        problems.append(f"{path}.{key}: must be a list, got {_kind(value)}")
        return []
    return value


def _required(item: Mapping[str, Any], path: str, keys: tuple[str, ...], problems: list[str]) -> None:
    for key in keys:
        if key not in item or item[key] is None:
            problems.append(f"{path}.{key}: is required")


def _host_port(item: Any, path: str, allowed: set[str], problems: list[str]) -> None:
    if not _keys(item, path, allowed, problems):
        return
    _required(item, path, ("host", "port"), problems)
    if item.get("host") is not None:
        _host(item["host"], f"{path}.host", problems)
    if item.get("port") is not None:
        _integer(item["port"], f"{path}.port", 1, 65535, problems)
    if item.get("tsigkey_id") is not None:
        _uuid(item["tsigkey_id"], f"{path}.tsigkey_id", problems)


def _host(value: Any, path: str, problems: list[str]) -> None:
    if isinstance(value, str):
        try:
            ipaddress.ip_address(value)
            return
        except ValueError:
            if ZONE_NAME.match(value):
                return
            hint = " (hostnames must end with '.')" if ZONE_NAME.match(value + ".") else ""
            problems.append(f"{path}: {value!r} is neither an IP address nor a hostname{hint}")
            return
    problems.append(f"{path}: must be an IP address or a hostname, got {_kind(value)}")


def _ns_hostname(value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, str):
        problems.append(f"{path}: must be a hostname, got {_kind(value)}")
    elif any(len(label) > 63 for label in value.split(".")):
        problems.append(f"{path}: {value!r} has a label longer than 63 characters")
    elif len(value) > 255:
        problems.append(f"{path}: {value!r} is longer than 255 characters")
    elif not value.endswith("."):
        problems.append(f"{path}: {value!r} must be fully qualified, ending with '.' (write {value}.)")
    elif not ZONE_NAME.match(value):
        problems.append(f"{path}: {value!r} is not a valid hostname")


def _string(value: Any, path: str, limit: int, problems: list[str], what: str = "value") -> None:
    if value is None or isinstance(value, (list, dict)) or not isinstance(
        value, (str, numbers.Number, datetime)
    ):
        problems.append(f"{path}: the {what} must be a string, got {_kind(value)}")
    elif len(str(value)) > limit:
        problems.append(f"{path}: the {what} must be at most {limit} characters, got {len(str(value))}")


def _integer(value: Any, path: str, low: int, high: int, problems: list[str]) -> None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        problems.append(f"{path}: must be an integer {low}..{high}, got {value!r}")
        return
    if not low <= number <= high:
        problems.append(f"{path}: must be {low}..{high}, got {number}")


def _uuid(value: Any, path: str, problems: list[str]) -> None:
    try:
        uuid.UUID(str(value))
    except ValueError:
        problems.append(f"{path}: {value!r} is not a UUID")


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number"}.get(type(value), type(value).__name__)
