"""`pools validate` must give Designate's verdict on any pools.yml, with clearer messages."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsdr.domain.pools_check import check_pools
from tests.support.designate_verdict import designate_accepts

# A hand-written pools.yml in the style of Designate's docs (not produced by dnsdr).
HAND_WRITTEN = """
- name: default
  description: Default PowerDNS 4 Pool
  attributes: {service_tier: gold}
  ns_records:
    - hostname: ns1-1.example.org.
      priority: 1
  nameservers:
    - host: 192.0.2.2
      port: 53
    - host: ns2.example.org.
      port: 53
  targets:
    - type: pdns4
      description: PowerDNS4 DNS Server
      masters:
        - host: 192.0.2.1
          port: 5354
      options:
        host: 192.0.2.2
        port: 53
        api_endpoint: http://192.0.2.2:8081
        api_token: changeme
    - type: bind9
      masters: [{host: 192.0.2.1, port: 5354}]
      options: {host: 192.0.2.3, port: 53, rndc_host: 192.0.2.3, rndc_port: 953, rndc_key_file: /etc/designate/rndc.key}
  also_notifies:
    - {host: 192.0.2.4, port: 53}
  catalog_zone:
    catalog_zone_fqdn: cat.example.org.
    catalog_zone_refresh: 60
"""


def base() -> list[dict[str, Any]]:
    doc: list[dict[str, Any]] = yaml.safe_load(HAND_WRITTEN)
    return doc


def test_hand_written_file_is_valid_for_both() -> None:
    assert check_pools(base()) == []
    assert designate_accepts(base())[0]


def _mutated(path: list[Any], value: Any) -> list[dict[str, Any]]:
    doc = base()
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


DELETE = object()

BROKEN = [
    ("missing name", [0, "name"], DELETE, "[0].name: is required"),
    ("port 70000", [0, "nameservers", 0, "port"], 70000, "[0].nameservers[0].port: must be 1..65535, got 70000"),
    ("NS without trailing dot", [0, "ns_records", 0, "hostname"], "ns1-1.example.org",
     "[0].ns_records[0].hostname: 'ns1-1.example.org' must be fully qualified, ending with '.'"),
    ("unknown key", [0, "tenant_id"], "x", "[0].tenant_id: unknown key"),
    ("unknown backend type", [0, "targets", 0, "type"], "powerdns", "[0].targets[0].type: unknown backend type 'powerdns'"),
    ("missing type", [0, "targets", 1, "type"], DELETE, "[0].targets[1].type: is required"),
    ("unknown key in target", [0, "targets", 0, "port"], 53, "[0].targets[0].port: unknown key"),
    ("priority 0", [0, "ns_records", 0, "priority"], 0, "[0].ns_records[0].priority: must be 1..10000"),
    ("missing priority", [0, "ns_records", 0, "priority"], DELETE, "[0].ns_records[0].priority: is required"),
    ("bad master host", [0, "targets", 0, "masters", 0, "host"], "-bad-",
     "[0].targets[0].masters[0].host: '-bad-' is neither an IP address nor a hostname"),
    ("hostname nameserver without dot", [0, "nameservers", 1, "host"], "ns2.example.org",
     "[0].nameservers[1].host: 'ns2.example.org' must end with '.' as a hostname"),
    ("IPv6 zone index", [0, "nameservers", 0, "host"], "fe80::2%eth0",
     "[0].nameservers[0].host: 'fe80::2%eth0': an IPv6 zone index (%...) is not accepted"),
    ("IPv4 with three parts", [0, "also_notifies", 0, "host"], "192.0.2",
     "[0].also_notifies[0].host: '192.0.2' is not a valid IP address"),
    ("host with a newline", [0, "targets", 0, "masters", 0, "host"], "192.0.2.1\n",
     "[0].targets[0].masters[0].host: '192.0.2.1\\n' has surrounding whitespace"),
    ("port .inf", [0, "nameservers", 0, "port"], float("inf"), "[0].nameservers[0].port: must be an integer 1..65535, got inf"),
    ("priority .nan", [0, "ns_records", 0, "priority"], float("nan"), "[0].ns_records[0].priority: must be an integer 1..10000, got nan"),
    ("option .inf", [0, "targets", 0, "options", "port"], float("-inf"),
     "[0].targets[0].options.port: -inf cannot be stored (MySQL has no infinity or NaN)"),
    ("option list", [0, "targets", 0, "options", "port"], [53], "[0].targets[0].options.port: must be a single value, got a list"),
    ("option too long", [0, "targets", 0, "options", "api_token"], "t" * 256,
     "[0].targets[0].options.api_token: must be at most 255 characters, got 256"),
    ("catalog refresh .inf", [0, "catalog_zone", "catalog_zone_refresh"], float("inf"),
     "[0].catalog_zone.catalog_zone_refresh: must be an integer 0..2147483647, got inf"),
    ("catalog zone null", [0, "catalog_zone"], None, "[0].catalog_zone: must be a mapping, got nothing"),
    ("catalog algorithm", [0, "catalog_zone", "catalog_zone_tsig_algorithm"], "hmac-sha3",
     "[0].catalog_zone.catalog_zone_tsig_algorithm: must be one of hmac-md5"),
    ("targets absent", [0, "targets"], DELETE, "[0].targets: is required (write 'targets: []' for none)"),
    ("ns_records absent", [0, "ns_records"], DELETE, "[0].ns_records: is required (write 'ns_records: []' for none)"),
    ("nameservers null", [0, "nameservers"], None, "[0].nameservers: must be a list, got nothing"),
    ("also_notifies null", [0, "also_notifies"], None, "[0].also_notifies: must be a list, got nothing"),
    ("masters null", [0, "targets", 1, "masters"], None, "[0].targets[1].masters: must be a list, got nothing"),
    ("nameserver twice", [0, "nameservers", 1], {"host": "192.0.2.2", "port": "53"},
     "[0].nameservers[2]: 192.0.2.2 port 53 is listed twice (also at [0])"),
    ("NS record twice", [0, "ns_records", 1], {"hostname": "NS1-1.example.org.", "priority": 2},
     "[0].ns_records[1].hostname: 'NS1-1.example.org.' is listed twice (also at [0])"),
    ("four-byte character", [0, "description"], "Pool \U0001f600",
     "[0].description: the value 'Pool \U0001f600' holds '\U0001f600', which Designate's database cannot store"),
    ("tsigkey_id a number", [0, "targets", 0, "tsigkey_id"], 5, "[0].targets[0].tsigkey_id: 5 is not a UUID"),
    ("id in braces is fine but a number is not", [0, "id"], 12345, "[0].id: 12345 is not a UUID"),
    ("options not a mapping", [0, "targets", 0, "options"], ["a"], "[0].targets[0].options: must be a mapping"),
    ("targets not a list", [0, "targets"], {"a": 1}, "[0].targets: must be a list"),
    ("bad id", [0, "id"], "nope", "[0].id: 'nope' is not a UUID"),
    ("long name", [0, "name"], "x" * 51, "[0].name: the value must be at most 50 characters"),
    ("long attribute", [0, "attributes", "service_tier"], "g" * 51,
     "[0].attributes.service_tier: the value must be at most 50 characters, got 51"),
    ("null option", [0, "targets", 0, "options", "api_token"], None, "[0].targets[0].options.api_token: must have a value"),
    ("ns_records null", [0, "ns_records"], None, "[0].ns_records: must be a list"),
    ("missing master port", [0, "targets", 0, "masters", 0, "port"], DELETE, "[0].targets[0].masters[0].port: is required"),
]


@pytest.mark.parametrize(("case", "path", "value", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_files_are_rejected_by_both_with_one_clear_line(
    case: str, path: list[Any], value: Any, message: str
) -> None:
    if path[-1] == 1 and path[-2] in ("nameservers", "ns_records"):  # a second item, appended
        doc = base()
        doc[0][path[-2]].append(value)
    else:
        doc = _mutated(path, value)
    problems = check_pools(doc)
    assert len(problems) == 1, problems
    assert problems[0].startswith(message), problems
    accepted, _ = designate_accepts(doc)
    assert not accepted, f"designate accepted {case}"


@pytest.mark.parametrize("document", [None, {}, "text", [], [[1]]])
def test_non_list_documents_are_rejected(document: Any) -> None:
    assert check_pools(document)


MUTATIONS = st.one_of(
    st.tuples(st.just([0, "nameservers", 0, "port"]), st.one_of(st.integers(-5, 70000), st.sampled_from(["53", "x", None]))),
    st.tuples(st.just([0, "targets", 0, "masters", 0, "port"]), st.integers(-2, 66000)),
    st.tuples(st.just([0, "ns_records", 0, "priority"]), st.integers(-1, 10002)),
    st.tuples(st.just([0, "ns_records", 0, "hostname"]),
              st.from_regex(r"\A[a-z0-9-]{1,8}(\.[a-z0-9-]{1,8}){0,2}\.?\Z")),
    st.tuples(st.just([0, "nameservers", 1, "host"]),
              st.one_of(st.from_regex(r"\A[a-z0-9.-]{1,12}\Z"), st.ip_addresses().map(str))),
    st.tuples(st.just([0, "targets", 1, "type"]),
              st.sampled_from(["bind9", "pdns4", "nsd4", "fake", "powerdns", "bind", "PDNS4", ""])),
    st.tuples(st.sampled_from([[0, "name"], [0, "description"], [0, "targets", 0, "description"]]),
              st.one_of(st.text(max_size=200), st.just(DELETE))),
    st.tuples(st.sampled_from([[0, "colour"], [0, "targets", 0, "weight"], [0, "nameservers", 0, "ttl"]]),
              st.just(1)),
    st.tuples(st.sampled_from([[0, "targets", 0, "masters", 0, "host"], [0, "also_notifies", 0, "host"]]),
              st.sampled_from(["192.0.2.1", "2001:db8::1", "mdns.example.org.", "mdns.example.org", "256.1.1.1"])),
)


@settings(max_examples=300, deadline=None)
@given(mutations=st.lists(MUTATIONS, min_size=1, max_size=3))
def test_same_verdict_as_designate(mutations: list[tuple[list[Any], Any]]) -> None:
    doc = base()
    for path, value in mutations:
        doc = copy.deepcopy(doc)
        node: Any = doc
        for key in path[:-1]:
            node = node[key]
        if value is DELETE:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = value
    ours = check_pools(doc)
    accepted, reason = designate_accepts(doc)
    assert (not ours) == accepted, f"dnsdr: {ours or 'valid'}; designate: {reason}"


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key and index in the hand-written file, containers included."""
    found: list[tuple[Any, ...]] = []
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, child in children:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


PATHS = _paths(base())
LISTS = [p for p in PATHS if isinstance(_get(base(), p), list)]
MAPPINGS = [p for p in PATHS if isinstance(_get(base(), p), dict)]
# What YAML's safe loader can produce, and the spellings that fooled dnsdr or Designate before.
ODD = st.one_of(
    st.sampled_from([
        float("inf"), float("-inf"), float("nan"), None, True, False, 0, -1, 2**32, 2**128, 53.0, 53.5, "", " ", "53",
        " 53\n", ".inf", "1e3", datetime.date(2024, 1, 1), datetime.datetime(2024, 1, 1, 12, 0), b"53", {1, 2}, set(),
        [], {}, [{}], {"a": 1}, "x" * 300, "fe80::1%eth0", "fe80::1%1", "2001:DB8::2", "192.0.2.2\n", " 192.0.2.2",
        "ns.example.org", "ns.example.org.", "1.2.3", "1.2.3.", "999.1.1.1", "01.2.3.4", "\U0001f600", "\ud800",
        "794ccc2c-d751-44fe-b57f-8894c9f5c842", "{794ccc2c-d751-44fe-b57f-8894c9f5c842}", "1234",
        0x794CCC2CD75144FEB57F8894C9F5C842, "hmac-sha256", "bind9", "cat.example.org.",
    ]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**130),
    st.text(max_size=30),
)
ODD_KEYS = st.sampled_from([5, None, True, 1.5, datetime.date(2024, 1, 1), "", "k" * 300, "\U0001f600", "port"])

EDITS = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(PATHS), ODD),
    st.tuples(st.just("delete"), st.sampled_from(PATHS), st.just(None)),
    st.tuples(st.just("repeat"), st.sampled_from(LISTS), st.just(None)),
    st.tuples(st.just("add key"), st.sampled_from(MAPPINGS), st.tuples(ODD_KEYS, ODD)),
)


def _edit(doc: list[Any], edit: tuple[str, tuple[Any, ...], Any]) -> None:
    action, path, value = edit
    try:
        parent = _get(doc, path[:-1])
        target = parent[path[-1]]
    except (KeyError, IndexError, TypeError):
        return  # an earlier edit removed or replaced this part
    if not isinstance(parent, list | dict):
        return  # replaced by a scalar (a string indexes, but cannot be assigned to)
    if action == "set":
        parent[path[-1]] = value
    elif action == "delete":
        del parent[path[-1]]
    elif action == "repeat" and isinstance(target, list) and target:
        target.append(copy.deepcopy(target[0]))
    elif action == "add key" and isinstance(target, dict):
        target[value[0]] = value[1]


def _number_hosts(doc: Any) -> bool:
    """Hosts written as numbers: Designate reads 5 as 0.0.0.5, dnsdr refuses them on purpose."""
    def items(parent: Any, key: str) -> list[Any]:
        value = parent.get(key) if isinstance(parent, dict) else None
        return [i for i in value if isinstance(i, dict)] if isinstance(value, list) else []

    endpoints = [e for pool in doc for key in ("nameservers", "also_notifies") for e in items(pool, key)]
    endpoints += [m for pool in doc for t in items(pool, "targets") for m in items(t, "masters")]
    return any(isinstance(e.get("host"), int) for e in endpoints)


@settings(max_examples=400, deadline=None)
@given(edits=st.lists(EDITS, min_size=1, max_size=3))
def test_odd_values_anywhere_never_crash_and_get_designates_verdict(
    edits: list[tuple[str, tuple[Any, ...], Any]],
) -> None:
    doc = base()
    for edit in edits:
        _edit(doc, edit)
    ours = check_pools(doc)
    accepted, reason = designate_accepts(doc)
    assert all(len(p) < 400 for p in ours), ours
    if _number_hosts(doc):
        assert any("must be an IP address or a hostname (a string), got" in p for p in ours), ours
        return
    assert (not ours) == accepted, f"dnsdr: {ours or 'valid'}; designate: {reason}"


@pytest.mark.parametrize("host", [5, True, 2**64])
def test_a_host_written_as_a_number_is_refused_on_purpose(host: int) -> None:
    doc = _mutated([0, "nameservers", 0, "host"], host)
    assert designate_accepts(doc)[0]  # it would be read as an address such as 0.0.0.5
    kind = "a boolean" if isinstance(host, bool) else "an integer"
    assert check_pools(doc) == [f"[0].nameservers[0].host: must be an IP address or a hostname (a string), got {kind}"]


@pytest.mark.parametrize(
    ("path", "value"),
    [([0, "targets"], {}), ([0, "nameservers"], ""), ([0, "targets", 0, "masters"], {}), ([0, "nameservers", 0, "port"], "53"),
     ([0, "nameservers", 0, "port"], 53.9), ([0, "id"], "{794ccc2c-d751-44fe-b57f-8894c9f5c842}"), ([0, "name"], float("inf")),
     ([0, "nameservers"], DELETE), ([0, "also_notifies"], DELETE), ([0, "targets", 0, "masters"], DELETE)],
)
def test_what_designate_lets_pass_passes(path: list[Any], value: Any) -> None:
    doc = _mutated(path, value)
    assert designate_accepts(doc) == (True, "ok")
    assert check_pools(doc) == []


@pytest.mark.parametrize("huge", ["x" * 100_000, "2001:db8::" + "1" * 100_000, list(range(10_000)), {"k" * 50_000: 1}])
def test_no_problem_echoes_a_huge_value_in_full(huge: Any) -> None:
    longest = 0
    for path in PATHS:
        doc = base()
        _edit(doc, ("set", path, huge))
        _edit(doc, ("add key", path[:-1], ("k" * 50_000, huge)))
        longest = max(longest, *(len(p) for p in check_pools(doc)), 0)
    assert 0 < longest < 300
