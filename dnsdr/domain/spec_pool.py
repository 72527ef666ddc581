"""Read ``spec.pool``: the parts of pools.yml the operator writes by hand.

Every value here lands in pools.yml as is, so each follows the rule Designate 23.0.0 applies to
its field (``designate/objects/pool*.py``) plus what its tables hold: names and values in utf8
columns of bounded length, NS hostnames and (host, port) pairs unique within the pool.
"""

from __future__ import annotations

import re

from dnsdr.domain.fields import Node, fqdn_problem, quote, shorten, text_problem
from dnsdr.domain.spec import Endpoint, NsRecord, PoolSpec
from dnsdr.domain.spec_keys import DNS_PORT, MAX_ATTRIBUTES, MAX_ITEMS, NS_PRIORITY, NS_RECORD_KEYS, POOL_KEYS
from dnsdr.domain.spec_region import check_distinct, endpoint

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
POOL_NAME_LIMIT = 50
DESCRIPTION_LIMIT = 160
ATTRIBUTE_LIMIT = 50


def read_pool(node: Node) -> PoolSpec | None:
    """The pool, or None when any part of it had a problem (each one reported)."""
    if not node.mapping(set(POOL_KEYS)):
        return None
    before = len(node.problems)
    name_node = node.get("name")
    name = name_node.text(POOL_NAME_LIMIT) if name_node else "default"
    pool_id = None
    if (id_node := node.get("id")) is not None:
        pool_id = id_node.string(UUID, "UUID (8-4-4-4-12 hexadecimal digits)")
        pool_id = pool_id.lower() if pool_id else None
    description = None
    if (d := node.get("description")) is not None:
        description = d.text(DESCRIPTION_LIMIT)
    attributes = _attributes(node.get("attributes"))
    ns_records = _ns_records(node)
    also: list[Endpoint | None] = []
    if (an := node.get("alsoNotifies")) is not None:
        also = [endpoint(x, DNS_PORT, pool=True) for x in an.items(MAX_ITEMS["alsoNotifies"])]
        check_distinct(an, also, "also-notify target")
    if len(node.problems) != before or name is None:
        return None
    return PoolSpec(
        name=name,
        id=pool_id,
        description=description,
        attributes=tuple(sorted(attributes)),
        ns_records=tuple(ns_records),
        also_notifies=tuple(x for x in also if x),
    )


def _attributes(node: Node | None) -> list[tuple[str, str]]:
    """Designate stores ``str(value)`` for keys and values of at most 50 characters."""
    attributes: list[tuple[str, str]] = []
    if node is None or not node.mapping():
        return attributes
    if len(node.value) > MAX_ATTRIBUTES:
        node.fail(f"must hold at most {MAX_ATTRIBUTES} attributes, got {len(node.value)}")
    for key, value in node.value.items():
        item = Node(value, node.child_path(key), node.problems)
        if not isinstance(key, str) or not key:
            item.fail(f"attribute names must be non-empty strings, got {quote(key)}")
            continue
        if item.fail(_attribute_text(key, "name")):
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            item.fail("attribute values must be strings (or integers)")
        elif not item.fail(_attribute_text(str(value), "value")):
            attributes.append((key, str(value)))
    return attributes


def _attribute_text(text: str, what: str) -> str | None:
    problem = text_problem(text, ATTRIBUTE_LIMIT)
    return None if problem is None else f"attribute {what}: {problem}"


def _ns_records(pool: Node) -> list[NsRecord]:
    """At least one record; Designate's ``DomainField`` rule for names, 1..10000 for priorities."""
    records: list[NsRecord] = []
    ns = pool.get("nsRecords")
    if ns is None:
        pool.problems.add(pool.child_path("nsRecords"), "must list at least one NS record")
        return records
    items = ns.items(MAX_ITEMS["nsRecords"])
    if isinstance(ns.value, list) and not items:
        ns.fail("must list at least one NS record")
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        if not item.mapping(set(NS_RECORD_KEYS)):
            continue
        h, p = item.require("hostname"), item.require("priority")
        hostname = h.string() if h else None
        if h is not None and hostname is not None and h.fail(fqdn_problem(hostname)):
            hostname = None
        priority = p.integer(int(NS_PRIORITY.low), int(NS_PRIORITY.high)) if p else None
        if hostname is None or priority is None:
            continue
        first = seen.setdefault(hostname.lower(), i)
        if first != i:
            item.problems.add(item.child_path("hostname"),
                              f"{shorten(hostname)} is listed twice (also at {ns.path}[{first}])")
        else:
            records.append(NsRecord(hostname, priority))
    return records
