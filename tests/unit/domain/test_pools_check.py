"""`pools validate` must give Designate's verdict on any pools.yml, with clearer messages."""

from __future__ import annotations

import copy
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
    ("bad master host", [0, "targets", 0, "masters", 0, "host"], "-bad-", "is neither an IP address nor a hostname"),
    ("hostname nameserver without dot", [0, "nameservers", 1, "host"], "ns2.example.org",
     "hostnames must end with '.'"),
    ("options not a mapping", [0, "targets", 0, "options"], ["a"], "[0].targets[0].options: must be a mapping"),
    ("targets not a list", [0, "targets"], {"a": 1}, "[0].targets: must be a list"),
    ("bad id", [0, "id"], "nope", "[0].id: 'nope' is not a UUID"),
    ("long name", [0, "name"], "x" * 51, "[0].name: the value must be at most 50 characters"),
    ("long attribute", [0, "attributes", "service_tier"], "g" * 51, "must be at most 50 characters"),
    ("null option", [0, "targets", 0, "options", "api_token"], None, "api_token: must have a value"),
    ("ns_records null", [0, "ns_records"], None, "[0].ns_records: must be a list"),
    ("missing master port", [0, "targets", 0, "masters", 0, "port"], DELETE, "masters[0].port: is required"),
]


@pytest.mark.parametrize(("case", "path", "value", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_files_are_rejected_by_both_with_one_clear_line(
    case: str, path: list[Any], value: Any, message: str
) -> None:
    doc = _mutated(path, value)
    problems = check_pools(doc)
    assert len(problems) == 1, problems
    assert message in problems[0]
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
