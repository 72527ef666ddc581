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


def test_a_powerdns_backend_may_name_its_database(doc: Doc) -> None:
    doc["spec"]["regions"][0]["backends"][0]["databaseRef"] = {"env": "R1_PDNS_DB_URL"}
    pdns = parse_designatedr(doc, KINDS).region("r1").backends[0]
    assert pdns.secret_setting("databaseRef") is not None and pdns.secret_setting("databaseRef").env == "R1_PDNS_DB_URL"
    doc["spec"]["regions"][0]["backends"][1]["databaseRef"] = {"env": "X"}
    assert problems_of(doc) == ["spec.regions[0].backends[1].databaseRef: unknown key (known: dns, name, rndc, "
                                "rndcConfigFile, rndcKeyFile, rndcKeyRef, type, zoneConfigCommand)"]


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


MISTAKES: list[tuple[Callable[[Doc], None], list[str]]] = [
    (_set("spec/regions/1/backends/0/api/port", 70000), ["spec.regions[1].backends[0].api.port: must be 1..65535, got 70000"]),
    (_set("spec/regions/0/database/port", "3306"), ["spec.regions[0].database.port: must be an integer 1..65535, got a string"]),
    (_set("spec/regions/1/name", "r1"), ["spec.regions[0].name: duplicate region name 'r1'",
                                         "spec.regions[1].name: duplicate region name 'r1'"]),
    (_set("spec/regions/1/backends/0/name", "r1-pdns"), ["spec.regions[0].backends[0].name: duplicate backend name 'r1-pdns'",
                                                         "spec.regions[1].backends[0].name: duplicate backend name 'r1-pdns'"]),
    (_set("spec/regions/1/backends/0/dns/host", "127.0.1.2"), ["spec.regions: duplicate address 127.0.1.2:53 (in regions r1 and r2)"]),
    (_set("spec/primaryRegion", "r7"), ["spec.primaryRegion: unknown region 'r7'"]),
    (_set("spec/monitor/region", "r9"), ["spec.monitor.region: unknown region 'r9'"]),
    (_set("spec/monitor/region", "r2"),
     ["spec.monitor.region: region 'r2' holds a database; the monitor must watch from a third region"]),
    (_set("spec/regions/1/database", _DELETE), ["spec.regions: needs at least two regions with a database, found 1"]),
    (_set("spec/regions/0/backends/1/type", "powerdns"), ["spec.regions[0].backends[1].type: must be one of pdns4, bind9, got 'powerdns'"]),
    (_set("spec/regions/0/database/flavour", "postgres"), ["spec.regions[0].database.flavour: must be one of mariadb, mysql, got 'postgres'"]),
    (_set("spec/regions/0/database/password", "hunter2"),
     ["spec.regions[0].database.password: unknown key (known: flavour, host, passwordRef, port, replicationPasswordRef, "
      "replicationUser, schema, tls, user)"]),
    (_set("spec/regions/0/database/passwordRef", {"file": "relative"}), ["spec.regions[0].database.passwordRef.file: must be an absolute path"]),
    (_set("spec/regions/0/database/passwordRef", {"env": "A", "file": "/x"}),
     ["spec.regions[0].database.passwordRef: must name exactly one of secretKeyRef, file, env"]),
    (_set("spec/regions/0/backends/0/apiKeyRef", _DELETE), ["spec.regions[0].backends[0].apiKeyRef: is required"]),
    (_set("spec/regions/0/backends/0/databaseRef", {"file": "db.url"}),
     ["spec.regions[0].backends[0].databaseRef.file: must be an absolute path"]),
    (_set("spec/pool/nsRecords/0/hostname", "ns1.example.org"),
     ["spec.pool.nsRecords[0].hostname: 'ns1.example.org' must be fully qualified, ending with '.' (write ns1.example.org.)"]),
    (_set("spec/pool/id", "not-a-uuid"), ["spec.pool.id: 'not-a-uuid' is not a valid UUID (8-4-4-4-12 hexadecimal digits)"]),
    (_set("spec/policy/consecutiveFailures", 0), ["spec.policy.consecutiveFailures: must be 1..100, got 0"]),
    (_set("spec/policy/failover", "yolo"), ["spec.policy.failover: must be one of automatic, manual, got 'yolo'"]),
    (_set("spec/regions/0/designate/control/driver", "ssh"),
     ["spec.regions[0].designate.control.driver: must be one of command, kubernetes, got 'ssh'"]),
    (_set("spec/regions/0/designate/control/commands", {"stop": "x"}),
     ["spec.regions[0].designate.control.commands.start: is required by the command driver",
      "spec.regions[0].designate.control.commands.repoint: is required by the command driver"]),
    (_set("spec/regions/0/designate/mdns/0/host", "not a host!"),
     ["spec.regions[0].designate.mdns[0].host: 'not a host!' is neither an IP address nor a hostname"]),
    (_set("spec/regions/1/backends/1/rndc/host", "127.0.1.3"), ["spec.regions: duplicate address 127.0.1.3:953 (in regions r1 and r2)"]),
    (_set("spec/regions/1/backends/1/rndc/host", "127.0.1.2"), ["spec.regions: address 127.0.1.2 is used by regions r1 and r2"]),
    (_set("kind", "Pool"), ["kind: must be DesignateDR, got 'Pool'"]),
    (_set("apiVersion", "v1"), ["apiVersion: must be dnsdr.io/v1alpha1, got 'v1'"]),
    (_set("spec/regions", _DELETE), ["spec.regions: is required"]),
    (_set("spec/colour", "blue"), ["spec.colour: unknown key (known: auth, monitor, policy, pool, primaryRegion, regions, tls)"]),
]


@pytest.mark.parametrize(("mutate", "expected"), MISTAKES)
def test_each_kind_of_mistake_is_named_with_its_path_and_only_once(
    doc: Doc, mutate: Callable[[Doc], None], expected: list[str]
) -> None:
    mutate(doc)
    assert problems_of(doc) == expected


def test_every_problem_is_reported_at_once(doc: Doc) -> None:
    doc["spec"]["regions"][0]["database"]["port"] = 0
    doc["spec"]["regions"][1]["backends"][1]["rndc"]["port"] = 99999
    doc["spec"]["policy"]["maxLagSeconds"] = -1
    assert problems_of(doc) == [
        "spec.regions[0].database.port: must be 1..65535, got 0",
        "spec.regions[1].backends[1].rndc.port: must be 1..65535, got 99999",
        "spec.policy.maxLagSeconds: must be between 0 and 86400, got -1",
    ]


@pytest.mark.parametrize(
    ("document", "expected"),
    [(None, ": must be a mapping, got nothing"), ([], ": must be a mapping, got a list"),
     ("text", ": must be a mapping, got a string"), (42, ": must be a mapping, got an integer")],
)
def test_non_mapping_documents_are_refused(document: Any, expected: str) -> None:
    assert problems_of(document) == [expected]


def test_a_monitor_region_without_database_is_fine_but_a_database_region_needs_backends(doc: Doc) -> None:
    doc["spec"]["regions"][1]["backends"] = []
    assert problems_of(doc) == ["spec.regions[1].backends: a region with a database needs at least one backend"]


# One mistake inside a region used to void the whole region, and the checks across regions then
# also reported "found 1 database region" and "unknown region 'r1'": consequences, not problems.
FOLLOW_ON_FREE: list[tuple[Callable[[Doc], None], list[str]]] = [
    (_set("spec/regions/0/backends/1/type", "bind"), ["spec.regions[0].backends[1].type: must be one of pdns4, bind9, got 'bind'"]),
    (_set("spec/regions/0/database/flavour", "pg"), ["spec.regions[0].database.flavour: must be one of mariadb, mysql, got 'pg'"]),
    (_set("spec/regions/0/database", "mariadb"), ["spec.regions[0].database: must be a mapping, got a string"]),
    (_set("spec/regions/0/designate", []), ["spec.regions[0].designate: must be a mapping, got a list"]),
    (_set("spec/regions/0/designate/mdns", {"host": "127.0.1.1"}), ["spec.regions[0].designate.mdns: must be a list, got a mapping"]),
    (_set("spec/regions/0/designate/control/commands", "stop"),
     ["spec.regions[0].designate.control.commands: must be a mapping, got a string"]),
    (_set("spec/regions/0/designate/control/commands/start", ""),
     ["spec.regions[0].designate.control.commands.start: must be a non-empty string, got an empty string"]),
    (_set("spec/regions/0/backends", {"type": "pdns4"}), ["spec.regions[0].backends: must be a list, got a mapping"]),
    (_set("spec/regions/0/backends/0", "r1-pdns"), ["spec.regions[0].backends[0]: must be a mapping, got a string"]),
    (_set("spec/regions/0/name", "R1"), ["spec.regions[0].name: 'R1' is not a valid region name"]),
    (_set("spec/regions/0", "r1"), ["spec.regions[0]: must be a mapping, got a string"]),
    (_set("spec/regions/2/name", "r3 "), ["spec.regions[2].name: 'r3 ' is not a valid region name"]),
]


@pytest.mark.parametrize(("mutate", "expected"), FOLLOW_ON_FREE)
def test_one_mistake_in_a_region_is_one_problem(doc: Doc, mutate: Callable[[Doc], None], expected: list[str]) -> None:
    mutate(doc)
    assert problems_of(doc) == expected


def test_a_broken_region_still_takes_part_in_the_checks_across_regions(doc: Doc) -> None:
    doc["spec"]["regions"][1]["database"]["flavour"] = "pg"
    doc["spec"]["regions"][1]["backends"][0]["dns"]["host"] = "127.0.1.2"
    assert problems_of(doc) == [
        "spec.regions[1].database.flavour: must be one of mariadb, mysql, got 'pg'",
        "spec.regions: duplicate address 127.0.1.2:53 (in regions r1 and r2)",
    ]


def test_the_names_that_could_be_read_still_decide_unknown_regions(doc: Doc) -> None:
    doc["spec"]["regions"][1]["name"] = "R2"
    doc["spec"]["monitor"]["region"] = "r1"
    assert problems_of(doc) == [
        "spec.regions[1].name: 'R2' is not a valid region name",
        "spec.monitor.region: region 'r1' holds a database; the monitor must watch from a third region",
    ]


def test_a_database_region_counts_even_with_a_wrong_name_and_no_region_is_called_unknown(doc: Doc) -> None:
    doc["spec"]["regions"][0]["name"] = "Region One"  # primaryRegion r1 may well mean this one
    del doc["spec"]["regions"][1]["database"]
    assert problems_of(doc) == [
        "spec.regions[0].name: 'Region One' is not a valid region name",
        "spec.regions: needs at least two regions with a database, found 1",
    ]


def test_values_are_echoed_short(doc: Doc) -> None:
    doc["spec"]["primaryRegion"] = "x" * 5000
    doc["spec"]["pool"]["y" * 5000] = 1
    problems = problems_of(doc)
    assert problems == [
        "spec.pool.'" + "y" * 76 + "...: unknown key (known: alsoNotifies, attributes, description, id, name, nsRecords)",
        "spec.primaryRegion: unknown region '" + "x" * 76 + "...",
    ]


def _leaves(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    found: list[tuple[Any, ...]] = [prefix] if prefix else []
    for key, child in children:
        found.extend(_leaves(child, (*prefix, key)))
    return found


@pytest.mark.parametrize("huge", ["x" * 100_000, "1.2.3." + "4" * 100_000, list(range(10_000)), {"k" * 50_000: 1}])
def test_no_problem_echoes_a_huge_value_in_full(doc: Doc, huge: Any) -> None:
    longest = 0
    for path in _leaves(doc):
        mutated = copy.deepcopy(doc)
        node: Any = mutated
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = huge
        if isinstance(node, dict):
            node["k" * 50_000] = huge  # and an unknown key as long
        try:
            parse_designatedr(mutated, KINDS)
        except SpecError as exc:
            longest = max(longest, *(len(p) for p in exc.problems))
    assert 0 < longest < 300


def test_accept_data_loss_is_off_unless_said() -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    assert parse_designatedr(doc, KINDS).policy.accept_data_loss is False
    doc = copy.deepcopy(doc)
    doc["spec"]["policy"]["acceptDataLoss"] = True
    assert parse_designatedr(doc, KINDS).policy.accept_data_loss is True
    doc["spec"]["policy"]["acceptDataLoss"] = "yes"
    with pytest.raises(SpecError, match="acceptDataLoss: must be true or false"):
        parse_designatedr(doc, KINDS)


def test_lists_are_bounded(doc: Doc) -> None:
    r1 = doc["spec"]["regions"][0]
    r1["designate"]["notifySources"] = [f"127.0.1.{i}" for i in range(1, 34)]
    doc["spec"]["pool"]["attributes"] = {f"a{i}": "x" for i in range(65)}
    doc["spec"]["regions"] += [{"name": f"x{i}"} for i in range(14)]
    problems = problems_of(doc)
    assert "spec.regions: must list at most 16 items, got 17" in problems
    assert "spec.regions[0].designate.notifySources: must list at most 32 items, got 33" in problems
    assert "spec.pool.attributes: must hold at most 64 attributes, got 65" in problems
