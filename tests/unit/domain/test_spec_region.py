"""Hosts of a region: those that reach pools.yml follow Designate's IPOrHost, the others are addresses dnsdr can use."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from dnsdr.adapters.backends import KINDS
from dnsdr.domain.spec_parse import SpecError, parse_designatedr
from tests.conftest import EXAMPLE

EXAMPLE_DOC: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())

# Where a host ends up: a pools.yml field (Designate's rule) or only dnsdr's own connections.
POOL_HOSTS = {
    "backend dns": ("regions", 0, "backends", 0, "dns"),
    "mdns": ("regions", 0, "designate", "mdns", 0),
}
CONNECT_HOSTS = {
    "database": ("regions", 0, "database"),
    "designate api": ("regions", 0, "designate", "api"),
    "pdns api": ("regions", 0, "backends", 0, "api"),
    "monitor": ("regions", 2, "monitor"),
}


def problems_with_host(where: tuple[Any, ...], host: Any) -> list[str]:
    doc = copy.deepcopy(EXAMPLE_DOC)
    node: Any = doc["spec"]
    for key in where:
        node = node[key]
    node["host"] = host
    try:
        parse_designatedr(doc, KINDS)
    except SpecError as exc:
        return exc.problems
    return []


def _path(where: tuple[Any, ...]) -> str:
    return "spec" + "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in where) + ".host"


@pytest.mark.parametrize("where", POOL_HOSTS.values(), ids=POOL_HOSTS)
@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("ns1.example.org", "'ns1.example.org' must end with '.' as a hostname (Designate needs a fully qualified name here)"),
        ("999.1.1.1", "'999.1.1.1' is not a valid IP address"),
        ("1.2.3", "'1.2.3' is not a valid IP address"),
        ("fe80::1%eth0", "'fe80::1%eth0': an IPv6 zone index (%...) is not accepted"),
        ("127.0.1.9\n", "'127.0.1.9\\n' has surrounding whitespace"),
        (" 127.0.1.9", "' 127.0.1.9' has surrounding whitespace"),
        (2130706433, "must be a non-empty string, got an integer"),
    ],
)
def test_pools_yml_hosts_follow_designate(where: tuple[Any, ...], host: Any, message: str) -> None:
    assert problems_with_host(where, host) == [f"{_path(where)}: {message}"]


@pytest.mark.parametrize("where", CONNECT_HOSTS.values(), ids=CONNECT_HOSTS)
@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("999.1.1.1", "'999.1.1.1' is not a valid IP address"),
        ("1.2.3", "'1.2.3' is not a valid IP address"),
        ("fe80::1%eth0", "'fe80::1%eth0': an IPv6 zone index (%...) is not accepted"),
        ("db.example.org\n", "'db.example.org\\n' has surrounding whitespace"),
    ],
)
def test_other_hosts_are_real_addresses(where: tuple[Any, ...], host: str, message: str) -> None:
    assert problems_with_host(where, host) == [f"{_path(where)}: {message}"]


@pytest.mark.parametrize("where", CONNECT_HOSTS.values(), ids=CONNECT_HOSTS)
def test_other_hosts_may_be_names_without_the_dot(where: tuple[Any, ...]) -> None:
    assert problems_with_host(where, "elsewhere.example.org") == []


def test_a_hostname_with_its_dot_is_fine_in_pools_yml() -> None:
    assert problems_with_host(POOL_HOSTS["backend dns"], "pdns1.example.org.") == []


def test_the_same_nameserver_twice_in_a_region_is_refused() -> None:
    doc = copy.deepcopy(EXAMPLE_DOC)
    doc["spec"]["regions"][0]["nameservers"] = [{"host": "2001:db8::2"}, {"host": "2001:DB8:0::2", "port": 53}]
    with pytest.raises(SpecError) as info:
        parse_designatedr(doc, KINDS)
    assert info.value.problems == ["spec.regions[0].nameservers[1]: nameserver [2001:DB8:0::2]:53 is listed twice (also at [0])"]


def test_one_host_spelled_two_ways_in_two_regions_is_one_host() -> None:
    doc = copy.deepcopy(EXAMPLE_DOC)
    doc["spec"]["regions"][0]["backends"][0]["dns"]["host"] = "2001:db8::2"
    doc["spec"]["regions"][1]["backends"][0]["dns"]["host"] = "2001:DB8::2"
    with pytest.raises(SpecError) as info:
        parse_designatedr(doc, KINDS)
    assert info.value.problems == ["spec.regions: duplicate address [2001:DB8::2]:53 (in regions r1 and r2)"]


def test_backend_settings_that_reach_pools_yml_are_bounded() -> None:
    doc = copy.deepcopy(EXAMPLE_DOC)
    doc["spec"]["regions"][0]["backends"][1]["rndcKeyFile"] = "/etc/rndc.key\n"
    with pytest.raises(SpecError) as info:
        parse_designatedr(doc, KINDS)
    assert info.value.problems == ["spec.regions[0].backends[1].rndcKeyFile: '/etc/rndc.key\\n' has surrounding whitespace"]


def test_a_pool_option_longer_than_designate_stores_is_refused() -> None:
    doc = copy.deepcopy(EXAMPLE_DOC)
    long_host = ".".join(["a" * 62] * 4)  # 251 characters: a valid name, but http://<it>:8081 is 263
    doc["spec"]["regions"][0]["backends"][0]["api"]["host"] = long_host
    with pytest.raises(SpecError) as info:
        parse_designatedr(doc, KINDS)
    assert info.value.problems == [
        "spec.regions[0].backends[0]: pools.yml option api_endpoint would be 263 characters "
        f"('http://{'a' * 62}.{'a' * 6}...); Designate stores at most 255"
    ]
