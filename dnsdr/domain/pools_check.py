"""Validate any pools.yml (ours or hand-written) the way `designate-manage pool update` would.

Designate parses the file with its YAML adapters, validates NS records, looks the target types up
among its backend drivers and finally stores rows whose keys are NOT NULL, unique and of bounded
length. Its messages are hard to act on ("Got a KeyError error with message 'options'"). This
module applies the same rules and says which key is wrong and why, one line per problem. It
mirrors Designate 23.0.0 (designate/objects/pool*.py, fields.py, storage/sqlalchemy/tables.py),
including its leniency: a port of ``"53"`` or ``53.0`` is read as 53, an empty mapping as an empty
list. One deliberate difference: a host must be a string, where Designate reads the number 5 as
the address 0.0.0.5. The test suite checks both verdicts agree on mutated files.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from dnsdr.domain.fields import fqdn_problem, host_key, pool_host_problem, quote, shorten, storable_problem

# Entry points of designate.backend in designate 23.0.0 (pyproject.toml).
BACKEND_TYPES = ("akamai_v2", "bind9", "designate", "dynect", "fake", "infoblox", "ns1", "nsd4", "pdns4")
TSIG_ALGORITHMS = ("hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512")

POOL_KEYS = {"id", "name", "description", "attributes", "ns_records", "nameservers", "targets",
             "also_notifies", "catalog_zone"}
TARGET_KEYS = {"type", "tsigkey_id", "description", "masters", "options"}
HOST_PORT_KEYS = {"host", "port"}
NAMESERVER_KEYS = {"host", "port", "tsigkey_id"}
NS_RECORD_KEYS = {"hostname", "priority"}
CATALOG_KEYS = {"catalog_zone_fqdn", "catalog_zone_refresh", "catalog_zone_tsig_key",
                "catalog_zone_tsig_algorithm"}
OPTION_LIMIT = 255  # pool_target_options.value is VARCHAR(255)


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
            name = pool["name"]
            if name in names:
                problems.append(f"[{i}].name: duplicate pool name {quote(name)} (also at [{names[name]}])")
            names.setdefault(name, i)
    return problems


def _at(path: str, key: Any) -> str:
    return f"{path}.{shorten(str(key))}"


def _keys(value: Any, path: str, allowed: set[str], problems: list[str]) -> bool:
    if not isinstance(value, Mapping):
        problems.append(f"{path}: must be a mapping, got {_kind(value)}")
        return False
    for key in value:
        if key not in allowed:
            problems.append(f"{_at(path, key)}: unknown key (allowed: {', '.join(sorted(allowed))})")
    return True


def _pool(pool: Any, path: str, problems: list[str]) -> None:
    if not _keys(pool, path, POOL_KEYS, problems):
        return
    if "id" in pool:
        _pool_id(pool["id"], f"{path}.id", problems)
    if "name" not in pool:
        problems.append(f"{path}.name: is required")
    else:
        _string(pool["name"], f"{path}.name", 50, problems)
    if pool.get("description") is not None:
        _string(pool["description"], f"{path}.description", 160, problems)
    if "attributes" in pool:
        attrs = pool["attributes"]
        if not isinstance(attrs, Mapping):
            problems.append(f"{path}.attributes: must be a mapping of name: value, got {_kind(attrs)}")
        else:
            for key, value in attrs.items():
                _string(key, _at(f"{path}.attributes", key), 50, problems, what="attribute name")
                _string(value, _at(f"{path}.attributes", key), 50, problems)
    _ns_records(_list(pool, "ns_records", path, problems, required=True), f"{path}.ns_records", problems)
    nameservers = _list(pool, "nameservers", path, problems)
    _endpoints(nameservers, f"{path}.nameservers", NAMESERVER_KEYS, problems)
    for j, target in enumerate(_list(pool, "targets", path, problems, required=True)):
        _target(target, f"{path}.targets[{j}]", problems)
    _endpoints(_list(pool, "also_notifies", path, problems), f"{path}.also_notifies", HOST_PORT_KEYS, problems)
    if "catalog_zone" in pool:
        _catalog_zone(pool["catalog_zone"], f"{path}.catalog_zone", problems)


def _ns_records(records: list[Any], path: str, problems: list[str]) -> None:
    seen: dict[str, int] = {}
    for j, ns in enumerate(records):
        p = f"{path}[{j}]"
        if not _keys(ns, p, NS_RECORD_KEYS, problems):
            continue
        _required(ns, p, ("hostname", "priority"), problems)
        if "priority" in ns and ns["priority"] is not None:
            _integer(ns["priority"], f"{p}.priority", 1, 10000, problems)
        hostname = ns.get("hostname")
        if hostname is not None and _ns_hostname(hostname, f"{p}.hostname", problems):
            first = seen.setdefault(hostname.lower(), j)
            if first != j:
                problems.append(f"{p}.hostname: {quote(hostname)} is listed twice (also at [{first}])")


def _target(target: Any, path: str, problems: list[str]) -> None:
    if not _keys(target, path, TARGET_KEYS, problems):
        return
    kind = target.get("type")
    if kind is None:
        problems.append(f"{path}.type: is required (one of {', '.join(BACKEND_TYPES)})")
    elif not isinstance(kind, str) or kind not in BACKEND_TYPES:
        problems.append(f"{path}.type: unknown backend type {quote(kind)} (designate knows {', '.join(BACKEND_TYPES)})")
    if target.get("description") is not None:
        _string(target["description"], f"{path}.description", 160, problems)
    if target.get("tsigkey_id") is not None:
        _uuid(target["tsigkey_id"], f"{path}.tsigkey_id", problems)
    _endpoints(_list(target, "masters", path, problems), f"{path}.masters", HOST_PORT_KEYS, problems)
    if "options" in target:
        options = target["options"]
        if not isinstance(options, Mapping):
            problems.append(f"{path}.options: must be a mapping of option: value, got {_kind(options)}")
        else:
            for key, value in options.items():
                _string(key, _at(f"{path}.options", key), 255, problems, what="option name")
                _option_value(value, _at(f"{path}.options", key), problems)


def _option_value(value: Any, path: str, problems: list[str]) -> None:
    """What pymysql can send to a VARCHAR(255): a scalar, finite, short enough, in utf8."""
    if value is None:
        problems.append(f"{path}: must have a value")
    elif isinstance(value, (list, Mapping, set, tuple)):
        problems.append(f"{path}: must be a single value, got {_kind(value)}")
    elif isinstance(value, float) and not math.isfinite(value):
        problems.append(f"{path}: {value} cannot be stored (MySQL has no infinity or NaN)")
    elif len(str(value)) > OPTION_LIMIT:
        problems.append(f"{path}: must be at most {OPTION_LIMIT} characters, got {len(str(value))}")
    elif isinstance(value, str) and (problem := storable_problem(value)) is not None:
        problems.append(f"{path}: {problem}")


def _list(parent: Mapping[Any, Any], key: str, path: str, problems: list[str], required: bool = False) -> list[Any]:
    """The items of a pool list. Designate iterates the value, so an empty mapping or string is an
    empty list; a list it never reads (``targets``/``ns_records`` absent) fails `pool update`."""
    if key not in parent:
        if required:
            problems.append(f"{path}.{key}: is required (write '{key}: []' for none)")
        return []
    value = parent[key]
    if isinstance(value, list):
        return value
    if isinstance(value, (str, bytes, Mapping, set, tuple)) and not value:
        return []
    problems.append(f"{path}.{key}: must be a list, got {_kind(value)}")
    return []


def _required(item: Mapping[Any, Any], path: str, keys: tuple[str, ...], problems: list[str]) -> None:
    for key in keys:
        if key not in item or item[key] is None:
            problems.append(f"{path}.{key}: is required")


def _endpoints(items: list[Any], path: str, allowed: set[str], problems: list[str]) -> None:
    """Host/port items; a pool list holds each host and port once (a unique key in Designate's tables)."""
    seen: dict[tuple[str, int], int] = {}
    for j, item in enumerate(items):
        p = f"{path}[{j}]"
        if not _keys(item, p, allowed, problems):
            continue
        _required(item, p, ("host", "port"), problems)
        host = item.get("host")
        good_host = host is not None and _host(host, f"{p}.host", problems)
        port = item.get("port")
        port_number = _integer(port, f"{p}.port", 1, 65535, problems) if port is not None else None
        if item.get("tsigkey_id") is not None:
            _uuid(item["tsigkey_id"], f"{p}.tsigkey_id", problems)
        if good_host and port_number is not None:
            first = seen.setdefault((host_key(host), port_number), j)
            if first != j:
                problems.append(f"{p}: {shorten(str(host))} port {port_number} is listed twice (also at [{first}])")


def _host(value: Any, path: str, problems: list[str]) -> bool:
    if not isinstance(value, str):
        problems.append(f"{path}: must be an IP address or a hostname (a string), got {_kind(value)}")
        return False
    problem = pool_host_problem(value, strict=False)
    if problem is not None:
        problems.append(f"{path}: {problem}")
    return problem is None


def _ns_hostname(value: Any, path: str, problems: list[str]) -> bool:
    if not isinstance(value, str):
        problems.append(f"{path}: must be a hostname, got {_kind(value)}")
        return False
    problem = fqdn_problem(value, strict=False)
    if problem is not None:
        problems.append(f"{path}: {problem}")
    return problem is None


def _catalog_zone(zone: Any, path: str, problems: list[str]) -> None:
    if not _keys(zone, path, CATALOG_KEYS, problems):
        return
    if "catalog_zone_fqdn" in zone:
        _ns_hostname(zone["catalog_zone_fqdn"], f"{path}.catalog_zone_fqdn", problems)
    if zone.get("catalog_zone_refresh") is not None:
        _integer(zone["catalog_zone_refresh"], f"{path}.catalog_zone_refresh", 0, 2147483647, problems)
    if zone.get("catalog_zone_tsig_key") is not None:
        _string(zone["catalog_zone_tsig_key"], f"{path}.catalog_zone_tsig_key", 160, problems, stored=False)
    algorithm = zone.get("catalog_zone_tsig_algorithm")
    if algorithm is not None and (not isinstance(algorithm, str) or algorithm not in TSIG_ALGORITHMS):
        problems.append(f"{path}.catalog_zone_tsig_algorithm: must be one of {', '.join(TSIG_ALGORITHMS)}, "
                        f"got {quote(algorithm)}")


def _string(value: Any, path: str, limit: int, problems: list[str], what: str = "value", stored: bool = True) -> None:
    """Designate's StringFields: it takes text, numbers and timestamps, and stores ``str(value)``."""
    if not isinstance(value, (str, int, float, datetime)):
        problems.append(f"{path}: the {what} must be a string, got {_kind(value)}")
        return
    text = str(value)
    problem = storable_problem(text) if stored else None
    if len(text) > limit:
        problems.append(f"{path}: the {what} must be at most {limit} characters, got {len(text)}")
    elif problem is not None:
        problems.append(f"{path}: the {what} {problem}")


def _integer(value: Any, path: str, low: int, high: int, problems: list[str]) -> int | None:
    """Designate's IntegerFields: whatever ``int()`` takes ("53", 53.0, true) within the bounds."""
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        problems.append(f"{path}: must be an integer {low}..{high}, got {quote(value, 40)}")
        return None
    if not low <= number <= high:
        problems.append(f"{path}: must be {low}..{high}, got {quote(number, 40)}")
        return None
    return number


def _uuid_text(value: Any) -> str | None:
    """The text Designate's UUID field stores for ``value`` (it tries ``int()`` first), or None."""
    try:
        number = int(value)
    except ValueError:
        if not isinstance(value, str):
            return None
        text = value
    except (TypeError, OverflowError):
        return None
    else:
        if not 0 <= number < 2**128:
            return None
        text = str(number)
    try:
        uuid.UUID(text)
    except ValueError:
        return None
    return text


def _uuid(value: Any, path: str, problems: list[str]) -> None:
    if _uuid_text(value) is None:
        problems.append(f"{path}: {quote(value)} is not a UUID")


def _pool_id(value: Any, path: str, problems: list[str]) -> None:
    """designate-manage first requires oslo's ``is_uuid_like`` of the id as written, then stores it."""
    like = False
    if isinstance(value, str):
        try:
            parsed = uuid.UUID(value)
        except ValueError:
            parsed = None
        plain = value.replace("urn:", "").replace("uuid:", "").strip("{}").replace("-", "").lower()
        like = parsed is not None and parsed.hex == plain
    if not like or _uuid_text(value) is None:
        problems.append(f"{path}: {quote(value)} is not a UUID")


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number"}.get(type(value), type(value).__name__)
