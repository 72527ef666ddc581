"""The resource as the operator reads it: the spec through the same model as `spec validate`, and the requests its
annotations make, each applied once per value; and the pools each database region gets."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from dnsdr.adapters.backends import KINDS
from dnsdr.domain.journal import ClusterRecord
from dnsdr.domain.spec_parse import parse_designatedr
from dnsdr.operator import objects
from dnsdr.operator.resource import ACK, PAUSED, PAUSED_REASON, read
from tests.conftest import EXAMPLE

EXAMPLE_DOC: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())


def body(annotations: dict[str, str] | None = None, requests: dict[str, str] | None = None,
         **spec_changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(EXAMPLE_DOC)
    doc["spec"].update(spec_changes)
    doc["metadata"].update({"uid": "u-1", "generation": 4, "resourceVersion": "99", "annotations": annotations or {},
                            "managedFields": [{"manager": "kubectl"}], "finalizers": ["dnsdr.io/finalizer"]})
    doc["status"] = {"requests": requests or {}, "health": "healthy"}
    return doc


def test_the_spec_is_the_one_spec_validate_reads() -> None:
    resource = read(body())
    assert resource.spec == parse_designatedr(EXAMPLE_DOC, KINDS)
    assert (resource.name, resource.namespace, resource.uid, resource.generation) == ("example", "designate", "u-1", 4)
    assert resource.reference == "DesignateDR designate/example"


def test_an_invalid_spec_lists_every_problem() -> None:
    resource = read(body(primaryRegion="r3", policy={"probeIntervalSeconds": 0}))
    assert resource.spec is None
    assert resource.problems == ("spec.policy.probeIntervalSeconds: must be between 0.1 and 3600, got 0",
                                 "spec.primaryRegion: region 'r3' holds no database")


def test_requests_are_applied_once_per_value() -> None:
    assert read(body()).requests() == []
    pause = read(body({PAUSED: "true", PAUSED_REASON: "maintenance"})).requests()
    assert [(r.kind, r.key, r.value, r.reason) for r in pause] == [("pause", "paused", "true", "maintenance")]
    assert read(body({PAUSED: "true"}, {"paused": "true"})).requests() == []  # applied already
    default_reason = read(body({PAUSED: "yes"})).requests()[0].reason
    assert default_reason == "annotation dnsdr.io/paused on DesignateDR designate/example"
    # Removing the annotation (or setting it false) after a pause resumes, once.
    assert [r.kind for r in read(body({}, {"paused": "true"})).requests()] == ["resume"]
    assert [r.kind for r in read(body({PAUSED: "false"}, {"paused": "true"})).requests()] == ["resume"]
    assert read(body({PAUSED: "false"}, {"paused": "false"})).requests() == []
    acks = read(body({ACK: "2026-11-30T07:00:00Z"}, {"ack": "2026-11-29T07:00:00Z"})).requests()
    assert [(r.kind, r.value) for r in acks] == [("ack", "2026-11-30T07:00:00Z")]
    assert read(body({ACK: "1"}, {"ack": "1"})).requests() == []


def test_each_database_region_gets_the_pools_of_the_state_where_it_is_primary() -> None:
    spec = parse_designatedr(EXAMPLE_DOC, KINDS)
    healthy = objects.pools_states(spec, None)
    assert [(p.region, p.state.describe(), p.current) for p in healthy] == [
        ("r1", "primary=r1 lost=none", True), ("r2", "primary=r2 lost=r1", False)]
    after = objects.pools_states(spec, ClusterRecord("r2", 1, ["r1"], kept=["r1-pdns"], fenced=["r1-bind"]))
    assert [(p.region, p.state.describe(), p.current) for p in after] == [
        ("r1", "primary=r1 lost=r2", False), ("r2", "primary=r2 lost=r1 kept=r1-pdns fenced=r1-bind", True)]


def test_a_pools_secret_is_owned_by_its_resource_and_carries_its_digest() -> None:
    resource = read(body())
    secret = objects.pools_secret(resource, objects.pools_states(resource.spec, None)[1], "pools: []\n")  # type: ignore[arg-type]
    meta = secret["metadata"]
    assert (meta["name"], meta["namespace"], secret["stringData"]) == ("dnsdr-example-pools-r2", "designate",
                                                                       {"pools.yaml": "pools: []\n"})
    assert meta["ownerReferences"] == [{"apiVersion": "dnsdr.io/v1alpha1", "kind": "DesignateDR", "name": "example",
                                        "uid": "u-1", "controller": True, "blockOwnerDeletion": False}]
    assert meta["annotations"][objects.DIGEST] == objects.digest("pools: []\n\nprimary=r2 lost=r1\nfalse")
    assert meta["annotations"][objects.WORLD_STATE] == "primary=r2 lost=r1"
    assert meta["labels"]["dnsdr.io/region"] == "r2"
