"""What `spec validate` accepts renders, in every state of the world, into pools Designate accepts.

Hypothesis mutates the example's hosts, ports, names, NS records, descriptions and settings with
adversarial values (hostnames without their dot, 999.1.1.1, 1.2.3, zone indexes, newlines,
four-byte characters, .inf, ...). Whenever parse_designatedr accepts the result, every valid
world state is rendered to pools.yml text, read back as designate-manage does, and must pass
Designate's own parser and storage rules (tests/support/designate_verdict.py) and dnsdr's checker.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnsdr.adapters.backends import KINDS
from dnsdr.domain.pools import StateError, WorldState, render_pools, render_pools_yaml
from dnsdr.domain.pools_check import check_pools
from dnsdr.domain.spec import DesignateDR
from dnsdr.domain.spec_parse import SpecError, parse_designatedr
from tests.conftest import EXAMPLE
from tests.support.designate_verdict import designate_accepts

EXAMPLE_DOC: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
R = ("spec", "regions")

POOL_HOSTS = [(*R, 0, "backends", 0, "dns", "host"), (*R, 0, "backends", 1, "dns", "host"),
              (*R, 1, "backends", 0, "dns", "host"), (*R, 0, "designate", "mdns", 0, "host"),
              (*R, 1, "designate", "mdns", 0, "host")]
OTHER_HOSTS = [(*R, 0, "database", "host"), (*R, 1, "designate", "api", "host"), (*R, 0, "backends", 0, "api", "host"),
               (*R, 1, "backends", 1, "rndc", "host"), (*R, 2, "monitor", "host")]
PORTS = [(*R, 0, "backends", 0, "dns", "port"), (*R, 1, "designate", "mdns", 0, "port"),
         (*R, 0, "backends", 0, "api", "port"), (*R, 1, "backends", 1, "rndc", "port")]
NAMES = [(*R, 0, "backends", 0, "name"), (*R, 1, "backends", 1, "name"), ("spec", "pool", "name"),
         ("metadata", "name")]
TEXTS = [("spec", "pool", "description"), (*R, 0, "backends", 1, "rndcKeyFile"), ("spec", "pool", "id")]
NS_NAMES = [("spec", "pool", "nsRecords", 0, "hostname"), ("spec", "pool", "nsRecords", 1, "hostname")]
PRIORITIES = [("spec", "pool", "nsRecords", 0, "priority")]

ODD = st.sampled_from([float("inf"), float("nan"), None, True, 0, -1, 2**64, 53.0, "", " ", "53", [], {}])
TRICKY_HOST_LIST = [
    "ns9.example.org", "ns9.example.org.", "NS9.Example.ORG.", "_ns9.example.org.", "999.1.1.1", "1.2.3", "1.2.3.",
    "01.2.3.4", "192.0.2.99.", "fe80::9%eth0", "fe80::9%1", "2001:DB8::9", "2001:db8:0:0:0:0:0:9", "::ffff:192.0.2.9",
    "192.0.2.9\n", " 192.0.2.9", "192.0.2.9 ", "ns9.example.org.\n", "-ns9.example.org.", "ns9..org.", "localhost",
    "a" * 63 + ".example.", "a" * 64 + ".example.", ".".join(["b" * 62] * 4) + ".", "\u0661.\u0662.\u0663.\u0664",
]
TRICKY_HOSTS = st.sampled_from(TRICKY_HOST_LIST)
# Each value is valid in odd ways about half the time, so many mutated specs get rendered.
VALID_HOSTS = st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=6).map(lambda a: a.exploded.upper()),
    st.from_regex(r"\A([a-z0-9_]([a-z0-9-]{0,10}[a-z0-9])?\.){1,4}[a-z]{2,6}\.\Z"),
)
HOSTS = st.one_of(
    VALID_HOSTS,
    TRICKY_HOSTS,
    st.from_regex(r"\A[a-z0-9_-]{1,12}(\.[a-z0-9-]{1,12}){0,3}\.?\n?\Z"),
    st.from_regex(r"\A[0-9]{1,3}(\.[0-9]{1,4}){1,4}\.?\Z"),
    st.text(max_size=12),
    ODD,
)
HOSTS = st.one_of(VALID_HOSTS, HOSTS)
PORT_VALUES = st.one_of(st.integers(1, 65535), st.integers(-2, 70000), ODD,
                        st.sampled_from([float("-inf"), "5354", 1.5]))
TEXT = st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=["Cc", "Cs"]), min_size=1, max_size=60)
VALID_NAMES = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")
NAME_VALUES = st.one_of(
    VALID_NAMES,
    st.from_regex(r"\A[a-z0-9-]{1,70}\n?\Z"),
    st.sampled_from(["x" * 50, "x" * 51, "default ", "de\nfault", "d\U0001f600", "d\ud800", "R1", "p" * 63, "p" * 64]),
    st.text(max_size=60),
    ODD,
)
TEXT_VALUES = st.one_of(
    TEXT.map(str.strip).filter(bool),
    st.text(max_size=200),
    st.sampled_from(["d" * 160, "d" * 161, "/etc/rndc.key\n", " padded", "tab\there", "nul\x00", "\U0001f600",
                     "\ud800", "/" + "k" * 300, "794ccc2c-d751-44fe-b57f-8894c9f5c842", "794CCC2C-D751-44FE-B57F-8894C9F5C842",
                     "{794ccc2c-d751-44fe-b57f-8894c9f5c842}", "794ccc2cd75144feb57f8894c9f5c842"]),
    ODD,
)
NS_VALUES = st.one_of(HOSTS, st.from_regex(r"\A([a-z0-9-]{1,64}\.){1,5}\Z"), st.just("ns1.example.org."))
PRIORITY_VALUES = st.one_of(st.integers(1, 10000), st.integers(-1, 10002), ODD)
ENDPOINT = st.fixed_dictionaries({"host": HOSTS}, optional={"port": PORT_VALUES})
ATTRIBUTE_KEYS = st.one_of(VALID_NAMES, st.text(max_size=60), st.integers(),
                           st.sampled_from(["k" * 51, "tier\n", "t\U0001f600", None, True, 1.5, float("nan")]))
ATTRIBUTES = st.dictionaries(ATTRIBUTE_KEYS,
                             st.one_of(TEXT.map(str.strip).filter(bool), NAME_VALUES, st.integers()), max_size=3)

POOL_HOST_EDIT = st.tuples(st.sampled_from(POOL_HOSTS), HOSTS)
NS_EDIT = st.tuples(st.sampled_from(NS_NAMES), NS_VALUES)
LIST_EDIT = st.tuples(st.sampled_from([(*R, 0, "nameservers"), (*R, 1, "nameservers"), ("spec", "pool", "alsoNotifies")]),
                      st.lists(ENDPOINT, min_size=1, max_size=2))
# Weighted towards what reaches pools.yml: hosts and NS names come up most often.
EDITS = st.one_of(
    POOL_HOST_EDIT, POOL_HOST_EDIT, POOL_HOST_EDIT, NS_EDIT, NS_EDIT, LIST_EDIT, LIST_EDIT,
    st.tuples(st.sampled_from(OTHER_HOSTS), HOSTS),
    st.tuples(st.sampled_from(PORTS), PORT_VALUES),
    st.tuples(st.sampled_from(NAMES), NAME_VALUES),
    st.tuples(st.sampled_from(TEXTS), TEXT_VALUES),
    st.tuples(st.sampled_from(PRIORITIES), PRIORITY_VALUES),
    st.tuples(st.just(("spec", "pool", "nsRecords", 2)),
              st.fixed_dictionaries({"hostname": NS_VALUES, "priority": PRIORITY_VALUES})),
    st.tuples(st.just(("spec", "pool", "attributes")), ATTRIBUTES),
    st.tuples(st.just(("rename", 1)), st.one_of(VALID_NAMES, NAME_VALUES)),
)


def _apply(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    if path[0] == "rename":  # a region's name, with the references to it
        old = doc["spec"]["regions"][path[1]]["name"]
        doc["spec"]["regions"][path[1]]["name"] = value
        if doc["spec"]["primaryRegion"] == old:
            doc["spec"]["primaryRegion"] = value
        return
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    if isinstance(node, list) and path[-1] >= len(node):
        node.append(value)
    else:
        node[path[-1]] = value


def _states(spec: DesignateDR) -> list[WorldState]:
    """Every world state the spec allows: any database region primary, any other regions lost."""
    states = []
    for primary in (r.name for r in spec.database_regions):
        others = [n for n in spec.region_names if n != primary]
        for size in range(len(others) + 1):
            for lost in itertools.combinations(others, size):
                states.append(WorldState(primary, frozenset(lost)))
    return states


def _renders_are_accepted(spec: DesignateDR) -> int:
    rendered = 0
    for state in _states(spec):
        try:
            data = render_pools(spec, state, lambda ref: "secret-token")
        except StateError:
            continue  # e.g. every region with backends lost: refused before any pools.yml exists
        text = render_pools_yaml(spec, state, lambda ref: "secret-token")
        loaded = yaml.safe_load(text)
        assert loaded == data, "pools.yml does not read back as rendered"
        accepted, reason = designate_accepts(loaded)
        assert accepted, f"{state.describe()}: designate refuses: {reason}\n{text}"
        assert check_pools(loaded) == [], state.describe()
        rendered += 1
    return rendered


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(EDITS, min_size=1, max_size=3))
def test_an_accepted_spec_renders_pools_designate_accepts(edits: list[tuple[tuple[Any, ...], Any]]) -> None:
    doc = copy.deepcopy(EXAMPLE_DOC)
    for path, value in edits:
        _apply(doc, path, copy.deepcopy(value))
    try:
        spec = parse_designatedr(doc, KINDS)
    except SpecError as exc:
        assert exc.problems, "refused without a reason"
        assert all(len(p) < 400 for p in exc.problems), exc.problems
        return
    assert _renders_are_accepted(spec) > 0


def test_the_example_renders_in_all_its_states() -> None:
    spec = parse_designatedr(copy.deepcopy(EXAMPLE_DOC), KINDS)
    assert len(_states(spec)) == 8
    assert _renders_are_accepted(spec) == 8


def test_odd_but_valid_values_render() -> None:
    doc = copy.deepcopy(EXAMPLE_DOC)
    edits: list[tuple[tuple[Any, ...], Any]] = [
        ((*R, 0, "backends", 0, "dns", "host"), "pdns1.example.org."),
        ((*R, 1, "designate", "mdns", 0, "host"), "2001:DB8::9"),
        ((*R, 0, "nameservers"), [{"host": "_ns.example.org."}, {"host": "::ffff:192.0.2.7", "port": 5300}]),
        (("spec", "pool", "alsoNotifies"), [{"host": "2001:db8::9"}, {"host": "NOTIFY.example.org."}]),
        (("spec", "pool", "description"), "d" * 160),
        (("spec", "pool", "attributes"), {"tier": 7, "k" * 50: "v" * 50}),
    ]
    for path, value in edits:
        _apply(doc, path, value)
    spec = parse_designatedr(doc, KINDS)
    assert _renders_are_accepted(spec) == 8
    (pool,) = render_pools(spec, WorldState("r1", frozenset({"r2"})))
    # the also-notify on r2's mdns (spelled differently) is gone with r2
    assert pool["also_notifies"] == [{"host": "NOTIFY.example.org.", "port": 53}]


def _accepted_values(path: tuple[Any, ...], values: list[Any]) -> list[Any]:
    """The values the spec takes at ``path``; each one's renders must all pass Designate."""
    accepted = []
    for value in values:
        doc = copy.deepcopy(EXAMPLE_DOC)
        _apply(doc, path, copy.deepcopy(value))
        try:
            spec = parse_designatedr(doc, KINDS)
        except SpecError:
            continue
        assert _renders_are_accepted(spec) == 8, value
        accepted.append(value)
    return accepted


VALID_TRICKY_HOSTS = ["ns9.example.org.", "NS9.Example.ORG.", "_ns9.example.org.", "2001:DB8::9", "2001:db8:0:0:0:0:0:9",
                      "::ffff:192.0.2.9", "a" * 63 + ".example.", ".".join(["b" * 62] * 4) + "."]


@pytest.mark.parametrize("path", POOL_HOSTS, ids=lambda p: ".".join(map(str, p[2:])))
def test_every_tricky_host_in_every_pools_yml_field(path: tuple[Any, ...]) -> None:
    assert _accepted_values(path, TRICKY_HOST_LIST) == VALID_TRICKY_HOSTS


@pytest.mark.parametrize("path", [(*R, 0, "nameservers"), ("spec", "pool", "alsoNotifies")], ids=str)
def test_every_tricky_host_in_added_lists(path: tuple[Any, ...]) -> None:
    assert _accepted_values(path, [[{"host": h}] for h in TRICKY_HOST_LIST]) == [[{"host": h}] for h in VALID_TRICKY_HOSTS]


TRICKY_TEXTS = ["d" * 50, "d" * 51, "d" * 160, "d" * 161, "default\n", " padded", "tab\there", "nul\x00", "ok \U0001f600",
                "ok \ud800", "caf\u00e9 \u4e2d", "/" + "k" * 300, 53, 1.5, True, None, float("inf"), "", "\u2028"]


@pytest.mark.parametrize(
    ("path", "accepted"),
    [
        # None is "not given": the default name, no description, no key file setting
        (("spec", "pool", "name"), ["d" * 50, "caf\u00e9 \u4e2d", None]),
        (("spec", "pool", "description"), ["d" * 50, "d" * 51, "d" * 160, "caf\u00e9 \u4e2d", None]),
        ((*R, 0, "backends", 1, "rndcKeyFile"), ["d" * 50, "d" * 51, "d" * 160, "d" * 161, "caf\u00e9 \u4e2d", None]),
    ],
)
def test_every_tricky_text_in_every_pools_yml_field(path: tuple[Any, ...], accepted: list[Any]) -> None:
    assert _accepted_values(path, TRICKY_TEXTS) == accepted


def test_every_tricky_ns_record_name() -> None:
    values = [*TRICKY_HOST_LIST, "ns1.example.org.", "NS1.EXAMPLE.ORG.", "x" * 63 + ".org.", "c." * 127]
    assert _accepted_values(("spec", "pool", "nsRecords", 1, "hostname"), values) == [
        "ns9.example.org.", "NS9.Example.ORG.", "_ns9.example.org.", "a" * 63 + ".example.",
        ".".join(["b" * 62] * 4) + ".", "x" * 63 + ".org.", "c." * 127,
    ]
