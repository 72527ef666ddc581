"""The CRD is generated from the spec model and agrees with it: the committed file is current, the schema names
exactly the keys the parsers accept (with a description each), and no document the model accepts is refused by the
schema, over the example, the lab's document and every one-step mutation of them. CEL rules are checked against the
real API server (tests/integration/kube/test_operator_crd.py)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from dnsdr.adapters.backends import KINDS
from dnsdr.domain import spec_keys as keys
from dnsdr.domain.spec_parse import SpecError, parse_designatedr
from dnsdr.lab.layout import Paths
from dnsdr.lab.spec_doc import designatedr
from dnsdr.operator import crd
from tests.conftest import EXAMPLE, ROOT

KUBE_CONTROL = {"driver": "kubernetes", "namespace": "designate", "deploymentName": "dns-{service}",
                "kubeconfigRef": {"secretKeyRef": {"name": "r2-kube", "key": "kubeconfig"}},
                "databaseConnection": {"configMapKeyRef": {"name": "designate.config", "key": "DB_URL"}}}


def _schema() -> dict[str, Any]:
    root: dict[str, Any] = crd.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return root


def _spec_schema() -> dict[str, Any]:
    spec: dict[str, Any] = _schema()["properties"]["spec"]
    return spec


def _documents() -> list[dict[str, Any]]:
    example = yaml.safe_load(EXAMPLE.read_text())
    lab = designatedr(Paths(Path("/srv/lab")), Path("/opt/venv/bin"))
    kube = copy.deepcopy(example)
    kube["spec"]["regions"][1]["designate"]["control"] = KUBE_CONTROL
    kube["spec"]["policy"].update({"failover": "automatic", "acceptDataLoss": True, "survivingBackends": "fence"})
    kube["spec"]["pool"]["attributes"] = {"service_tier": "gold", "weight": 3}
    kube["spec"]["regions"][0]["backends"][0]["api"]["scheme"] = "https"
    kube["spec"]["regions"][0]["nameservers"] = [{"host": "127.0.1.2"}, {"host": "127.0.1.3", "port": 53}]
    return [example, lab, kube]


def _closed(schema: Any) -> Any:
    """The schema as the API server applies it with strict field validation (kubectl's default): unknown fields are
    errors, as they are to the model."""
    if isinstance(schema, dict):
        out = {k: _closed(v) for k, v in schema.items()}
        if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields") \
                and "additionalProperties" not in schema:
            out["additionalProperties"] = False
        if schema.get("x-kubernetes-int-or-string"):
            out["type"] = ["integer", "string"]
        return out
    if isinstance(schema, list):
        return [_closed(v) for v in schema]
    return schema


VALIDATOR = jsonschema.Draft202012Validator(_closed({**_schema(), "required": ["spec"]}))


def _schema_errors(document: dict[str, Any]) -> list[str]:
    body = {k: v for k, v in document.items() if k != "metadata"}
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(body)]


def _model_accepts(document: dict[str, Any]) -> bool:
    try:
        parse_designatedr(document, KINDS)
    except SpecError:
        return False
    return True


def test_the_committed_crd_is_current() -> None:
    committed = (ROOT / "manifests" / "base" / "crd.yaml").read_text()
    assert committed == crd.render(), "regenerate it: python -m dnsdr.operator.crd > manifests/base/crd.yaml"


def _props(schema: dict[str, Any]) -> set[str]:
    return set(schema["properties"])


def test_the_schema_names_exactly_the_keys_the_model_reads() -> None:
    spec = _spec_schema()
    region = spec["properties"]["regions"]["items"]
    database = region["properties"]["database"]
    designate = region["properties"]["designate"]
    control = designate["properties"]["control"]
    pool = spec["properties"]["pool"]
    backend = region["properties"]["backends"]["items"]
    assert _props(spec) == set(keys.SPEC_KEYS)
    assert _props(region) == set(keys.REGION_KEYS)
    assert _props(database) == set(keys.DATABASE_KEYS)
    assert database["required"] == list(keys.DATABASE_REQUIRED)
    assert _props(designate) == set(keys.DESIGNATE_KEYS)
    assert designate["required"] == list(keys.DESIGNATE_REQUIRED)
    assert _props(control) == set(keys.CONTROL_KEYS)
    assert _props(control["properties"]["commands"]) == set(keys.COMMAND_NAMES)
    assert _props(control["properties"]["databaseConnection"]) == set(keys.CONFIG_KEY_REF_KEYS)
    assert _props(pool) == set(keys.POOL_KEYS)
    assert _props(pool["properties"]["nsRecords"]["items"]) == set(keys.NS_RECORD_KEYS)
    assert _props(spec["properties"]["policy"]) == set(keys.POLICY_KEYS)
    assert _props(spec["properties"]["monitor"]) == set(keys.MONITOR_KEYS)
    assert _props(database["properties"]["passwordRef"]) == set(keys.SECRET_REF_KEYS)
    kind_keys = [k for kind in KINDS.values()
                 for k in (kind.control_key, kind.credential_key, *kind.settings, *kind.secret_settings)]
    assert _props(backend) == {*keys.BACKEND_COMMON_KEYS, *kind_keys}
    assert _props(designate["properties"]["api"]) == set(keys.SCHEMED_ENDPOINT_KEYS)
    assert _props(region["properties"]["monitor"]) == set(keys.ENDPOINT_KEYS)
    for name, limit in keys.POLICY_LIMITS.items():
        field = spec["properties"]["policy"]["properties"][name]
        assert (field["minimum"], field["maximum"], field["type"]) == (limit.low, limit.high,
                                                                       "integer" if limit.integer else "number")
    for path, bound in (("regions", spec["properties"]["regions"]), ("backends", region["properties"]["backends"]),
                        ("mdns", designate["properties"]["mdns"]), ("nsRecords", pool["properties"]["nsRecords"])):
        assert bound["maxItems"] == keys.MAX_ITEMS[path]


def _walk(schema: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, schema
    for name, child in schema.get("properties", {}).items():
        yield from _walk(child, f"{path}.{name}")
    if "items" in schema:
        yield from _walk(schema["items"], f"{path}[]")


def test_every_field_has_a_description_for_kubectl_explain() -> None:
    missing = [path for path, s in _walk(_schema(), "designatedr")
               if "description" not in s and path not in ("designatedr.metadata", "designatedr.spec.pool.attributes[]")]
    assert missing == []


def test_the_documents_are_valid_to_both() -> None:
    for document in _documents():
        assert _model_accepts(document)
        assert _schema_errors(document) == []


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*path, k)
            yield from _leaves(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield (*path, i)
            yield from _leaves(v, (*path, i))


def _mutations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every one-step change: each key dropped, each value replaced by a value of another kind, an unknown key added
    to each mapping, each list emptied."""
    for path in _leaves(document["spec"], ("spec",)):
        for label, value in (("drop", None), ("string", "x"), ("number", 70000), ("negative", -1), ("list", []),
                             ("mapping", {}), ("flag", True), ("empty", "")):
            doc = copy.deepcopy(document)
            parent: Any = doc
            for part in path[:-1]:
                parent = parent[part]
            if label == "drop":
                if isinstance(parent, list):
                    continue
                del parent[path[-1]]
            else:
                parent[path[-1]] = copy.deepcopy(value)
            yield f"{label} {'.'.join(map(str, path))}", doc
        doc = copy.deepcopy(document)
        target: Any = doc
        for part in path:
            target = target[part]
        if isinstance(target, dict):
            target["unknownKey"] = 1
            yield f"unknown key in {'.'.join(map(str, path))}", doc


def test_the_schema_never_refuses_what_the_model_accepts() -> None:
    checked = refused_by_both = 0
    for document in _documents():
        for label, doc in _mutations(document):
            model = _model_accepts(doc)
            schema = _schema_errors(doc)
            checked += 1
            if model:
                assert schema == [], f"{label}: the model accepts it, the schema refuses it: {schema}"
            elif schema:
                refused_by_both += 1
    # Most one-step mistakes are structural and the API server refuses them before the operator sees them.
    assert checked > 3000 and refused_by_both / checked > 0.7, (checked, refused_by_both)


@pytest.mark.parametrize(("change", "error"), [
    (lambda d: d["spec"]["policy"].update(probeIntervalSeconds=0.01), "spec/policy/probeIntervalSeconds: 0.01 is "
                                                                      "less than the minimum of 0.1"),
    (lambda d: d["spec"]["regions"][0]["database"].update(flavour="postgres"), "spec/regions/0/database/flavour: "
                                                                               "'postgres' is not one of"),
    (lambda d: d["spec"]["regions"][0].update(name="R1"), "spec/regions/0/name: 'R1' does not match"),
    (lambda d: d["spec"]["regions"][0]["backends"][0].update(type="nsd"), "spec/regions/0/backends/0/type: 'nsd' is "
                                                                          "not one of ['pdns4', 'bind9']"),
])
def test_structural_mistakes_are_refused_by_both(change: Any, error: str) -> None:
    doc = copy.deepcopy(_documents()[0])
    change(doc)
    assert not _model_accepts(doc)
    assert any(e.startswith(error) for e in _schema_errors(doc)), _schema_errors(doc)
