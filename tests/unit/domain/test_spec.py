"""DesignateDR validation: the example is valid; each kind of mistake is reported with its path."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from dnsdr.adapters.backends import KINDS
from dnsdr.domain.spec import DatabaseFlavour, FailoverMode
from dnsdr.domain.spec_parse import SpecError, parse_designatedr
from tests.conftest import EXAMPLE

Doc = dict[str, Any]


@pytest.fixture
def doc() -> Doc:
    loaded: Doc = yaml.safe_load(EXAMPLE.read_text())
    return copy.deepcopy(loaded)


def problems_of(document: Any) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_designatedr(document, KINDS)
    return info.value.problems


def test_example_is_valid(doc: Doc) -> None:
    spec = parse_designatedr(doc, KINDS)
    assert spec.region_names == ("r1", "r2", "r3")
    assert spec.primary_region == "r1" and spec.monitor_region == "r3"
    r1 = spec.region("r1")
    assert r1.database is not None and r1.database.flavour is DatabaseFlavour.MARIADB
    assert [b.type for b in r1.backends] == ["pdns4", "bind9"]
    assert spec.policy.failover is FailoverMode.MANUAL and spec.policy.consecutive_failures == 3
    assert [str(ns) for ns in r1.polled_nameservers] == ["127.0.1.2:53", "127.0.1.3:53"]


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        node: Any = doc
        parts = path.split("/")
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node[part]
        last = parts[-1]
        if value is _DELETE:
            del node[int(last) if last.isdigit() else last]
        else:
            node[int(last) if last.isdigit() else last] = value
    return mutate


_DELETE = object()


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_set("spec/regions/1/backends/0/api/port", 70000), "spec.regions[1].backends[0].api.port: must be 1..65535"),
        (_set("spec/regions/0/database/port", "3306"), "spec.regions[0].database.port: must be an integer"),
        (_set("spec/regions/1/name", "r1"), "spec.regions[1].name: duplicate region name 'r1'"),
        (_set("spec/regions/1/backends/0/name", "r1-pdns"), "duplicate backend name 'r1-pdns'"),
        (_set("spec/regions/1/backends/0/dns/host", "127.0.1.2"), "duplicate address 127.0.1.2:53"),
        (_set("spec/primaryRegion", "r7"), "spec.primaryRegion: unknown region 'r7'"),
        (_set("spec/monitor/region", "r9"), "spec.monitor.region: unknown region 'r9'"),
        (_set("spec/monitor/region", "r2"), "spec.monitor.region: region 'r2' holds a database"),
        (_set("spec/regions/1/database", _DELETE), "needs at least two regions with a database, found 1"),
        (_set("spec/regions/0/backends/1/type", "powerdns"), "spec.regions[0].backends[1].type: must be one of pdns4, bind9"),
        (_set("spec/regions/0/database/flavour", "postgres"), "spec.regions[0].database.flavour: must be one of mariadb, mysql"),
        (_set("spec/regions/0/database/password", "hunter2"), "spec.regions[0].database.password: unknown key"),
        (_set("spec/regions/0/database/passwordRef", {"file": "relative"}), "must be an absolute path"),
        (_set("spec/regions/0/database/passwordRef", {"env": "A", "file": "/x"}), "exactly one of secretKeyRef, file, env"),
        (_set("spec/regions/0/backends/0/apiKeyRef", _DELETE), "spec.regions[0].backends[0].apiKeyRef: is required"),
        (_set("spec/pool/nsRecords/0/hostname", "ns1.example.org"), "must be a fully qualified name ending with '.'"),
        (_set("spec/pool/id", "not-a-uuid"), "spec.pool.id: 'not-a-uuid' is not a UUID"),
        (_set("spec/policy/consecutiveFailures", 0), "spec.policy.consecutiveFailures: must be 1..100"),
        (_set("spec/policy/failover", "yolo"), "spec.policy.failover: must be one of automatic, manual"),
        (_set("spec/regions/0/designate/control/driver", "ssh"), "control.driver: must be one of command, kubernetes"),
        (_set("spec/regions/0/designate/control/commands", {"stop": "x"}), "commands.start: is required by the command driver"),
        (_set("spec/regions/0/designate/mdns/0/host", "not a host!"), "is neither an IP address nor a hostname"),
        (_set("spec/regions/1/backends/1/rndc/host", "127.0.1.3"), "address 127.0.1.3 is used by regions r1 and r2"),
        (_set("kind", "Pool"), "kind: must be DesignateDR"),
        (_set("apiVersion", "v1"), "apiVersion: must be dnsdr.io/v1alpha1"),
        (_set("spec/regions", _DELETE), "spec.regions: is required"),
        (_set("spec/colour", "blue"), "spec.colour: unknown key"),
    ],
)
def test_each_kind_of_mistake_is_named_with_its_path(doc: Doc, mutate: Callable[[Doc], None], expected: str) -> None:
    mutate(doc)
    problems = problems_of(doc)
    assert any(expected in p for p in problems), problems


def test_every_problem_is_reported_at_once(doc: Doc) -> None:
    doc["spec"]["regions"][0]["database"]["port"] = 0
    doc["spec"]["regions"][1]["backends"][1]["rndc"]["port"] = 99999
    doc["spec"]["policy"]["maxLagSeconds"] = -1
    problems = problems_of(doc)
    assert len(problems) >= 3
    assert any(p.startswith("spec.regions[0].database.port") for p in problems)
    assert any(p.startswith("spec.regions[1].backends[1].rndc.port") for p in problems)
    assert any(p.startswith("spec.policy.maxLagSeconds") for p in problems)


@pytest.mark.parametrize("document", [None, [], "text", 42])
def test_non_mapping_documents_are_refused(document: Any) -> None:
    assert problems_of(document)


def test_a_monitor_region_without_database_is_fine_but_a_database_region_needs_backends(doc: Doc) -> None:
    doc["spec"]["regions"][1]["backends"] = []
    assert any("needs at least one backend" in p for p in problems_of(doc))
