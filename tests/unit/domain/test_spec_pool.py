"""spec.pool: every value that reaches pools.yml follows Designate's rule for its field and table."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from dnsdr.adapters.backends import KINDS
from dnsdr.domain.spec_parse import SpecError, parse_designatedr
from tests.conftest import EXAMPLE

EXAMPLE_DOC: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())


def pool_problems(**pool: Any) -> list[str]:
    doc = copy.deepcopy(EXAMPLE_DOC)
    for key, value in pool.items():
        if value is None:
            doc["spec"]["pool"].pop(key, None)
        else:
            doc["spec"]["pool"][key] = value
    try:
        parse_designatedr(doc, KINDS)
    except SpecError as exc:
        return exc.problems
    return []


@pytest.mark.parametrize(
    ("pool", "expected"),
    [
        ({"name": "x" * 51}, ["spec.pool.name: must be at most 50 characters, got 51"]),
        ({"name": "default\n"}, ["spec.pool.name: 'default\\n' has surrounding whitespace"]),
        ({"name": 7}, ["spec.pool.name: must be a non-empty string, got an integer"]),
        ({"description": "d" * 161}, ["spec.pool.description: must be at most 160 characters, got 161"]),
        ({"description": "ok \U0001f600"},
         ["spec.pool.description: 'ok \U0001f600' holds '\U0001f600', which Designate's database cannot store"]),
        ({"description": " padded"}, ["spec.pool.description: ' padded' has surrounding whitespace"]),
        ({"id": "{794ccc2c-d751-44fe-b57f-8894c9f5c842}"},
         ["spec.pool.id: '{794ccc2c-d751-44fe-b57f-8894c9f5c842}' is not a valid UUID (8-4-4-4-12 hexadecimal digits)"]),
        ({"attributes": {"tier": "g" * 51}}, ["spec.pool.attributes.tier: attribute value: must be at most 50 characters, got 51"]),
        ({"attributes": {"tier": True}}, ["spec.pool.attributes.tier: attribute values must be strings (or integers)"]),
        ({"attributes": {"tier": None}}, ["spec.pool.attributes.tier: attribute values must be strings (or integers)"]),
        ({"attributes": {3: "gold"}}, ["spec.pool.attributes.3: attribute names must be non-empty strings, got 3"]),
        ({"attributes": {"t" * 51: "gold"}}, ["spec.pool.attributes." + "t" * 51 + ": attribute name: must be at most 50 characters, got 51"]),
        ({"attributes": ["tier"]}, ["spec.pool.attributes: must be a mapping, got a list"]),
        ({"nsRecords": None}, ["spec.pool.nsRecords: must list at least one NS record"]),
        ({"nsRecords": []}, ["spec.pool.nsRecords: must list at least one NS record"]),
        ({"nsRecords": [{"hostname": "ns1.example.org.", "priority": 0}]}, ["spec.pool.nsRecords[0].priority: must be 1..10000, got 0"]),
        ({"nsRecords": [{"hostname": "ns1.example.org.", "priority": 10001}]},
         ["spec.pool.nsRecords[0].priority: must be 1..10000, got 10001"]),
        ({"nsRecords": [{"hostname": "ns1.example.org.", "priority": ".inf"}]},
         ["spec.pool.nsRecords[0].priority: must be an integer 1..10000, got a string"]),
        ({"nsRecords": [{"hostname": "ns1.example.org.", "priority": float("inf")}]},
         ["spec.pool.nsRecords[0].priority: must be an integer 1..10000, got a number"]),
        ({"nsRecords": [{"hostname": "ns1.example.org.\n", "priority": 1}]},
         ["spec.pool.nsRecords[0].hostname: 'ns1.example.org.\\n' must be fully qualified, ending with '.'"]),
        ({"nsRecords": [{"hostname": "192.0.2.1.", "priority": 1}]},
         ["spec.pool.nsRecords[0].hostname: '192.0.2.1.' is an address, not a hostname"]),
        ({"nsRecords": [{"hostname": "ns1.example.org.", "priority": 1}, {"hostname": "NS1.example.org.", "priority": 2}]},
         ["spec.pool.nsRecords[1].hostname: NS1.example.org. is listed twice (also at spec.pool.nsRecords[0])"]),
        ({"alsoNotifies": [{"host": "192.0.2.9"}, {"host": "192.0.2.9", "port": 53}]},
         ["spec.pool.alsoNotifies[1]: also-notify target 192.0.2.9:53 is listed twice (also at [0])"]),
        ({"alsoNotifies": [{"host": "notify.example.org"}]},
         ["spec.pool.alsoNotifies[0].host: 'notify.example.org' must end with '.' as a hostname "
          "(Designate needs a fully qualified name here)"]),
        ({"alsoNotifies": [{"host": "fe80::9%eth1", "port": 53}]},
         ["spec.pool.alsoNotifies[0].host: 'fe80::9%eth1': an IPv6 zone index (%...) is not accepted"]),
        ({"alsoNotifies": [{"host": "192.0.2.9", "port": 0}]}, ["spec.pool.alsoNotifies[0].port: must be 1..65535, got 0"]),
    ],
)
def test_pool_values_follow_designates_rules(pool: dict[str, Any], expected: list[str]) -> None:
    assert pool_problems(**pool) == expected


def test_a_pool_with_valid_odd_values_is_accepted() -> None:
    doc = copy.deepcopy(EXAMPLE_DOC)
    doc["spec"]["pool"].update({
        "id": "794CCC2C-D751-44FE-B57F-8894C9F5C842", "description": "caf\u00e9 \u4e2d",
        "attributes": {"tier": 3, "zone_type": "external"},
        "alsoNotifies": [{"host": "notify.example.org."}, {"host": "2001:db8::9", "port": 5300}],
    })
    pool = parse_designatedr(doc, KINDS).pool
    assert pool.id == "794ccc2c-d751-44fe-b57f-8894c9f5c842"
    assert pool.attributes == (("tier", "3"), ("zone_type", "external"))
    assert [str(a) for a in pool.also_notifies] == ["notify.example.org.:53", "[2001:db8::9]:5300"]
