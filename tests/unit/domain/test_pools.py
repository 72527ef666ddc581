"""pools.yml rendering: golden files, lost-region properties, Designate's parser as the oracle."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsdr.adapters.backends import KINDS
from dnsdr.domain.pools import StateError, WorldState, render_pools, render_pools_yaml
from dnsdr.domain.spec import DesignateDR
from dnsdr.domain.spec_parse import parse_designatedr
from tests.conftest import EXAMPLE
from tests.support.designate_verdict import designate_accepts

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def example_doc() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return doc


@pytest.fixture(scope="module")
def example(example_doc: dict[str, Any]) -> DesignateDR:
    return parse_designatedr(example_doc, KINDS)


def test_healthy_matches_golden(example: DesignateDR) -> None:
    text = render_pools_yaml(example, WorldState("r1"))
    assert text == (GOLDEN / "example-healthy.yaml").read_text()


def test_r1_lost_matches_golden(example: DesignateDR) -> None:
    text = render_pools_yaml(example, WorldState("r2", frozenset({"r1"})))
    assert text == (GOLDEN / "example-r1-lost.yaml").read_text()


def test_healthy_pool_has_four_targets_with_own_region_masters(example: DesignateDR) -> None:
    (pool,) = render_pools(example, WorldState("r1"))
    masters = {t["description"].split()[0]: t["masters"] for t in pool["targets"]}
    assert len(pool["targets"]) == 4
    assert masters["r1"] == [{"host": "127.0.1.1", "port": 5354}]
    assert masters["r2"] == [{"host": "127.0.2.1", "port": 5354}]
    assert [ns["host"] for ns in pool["nameservers"]] == ["127.0.1.2", "127.0.1.3", "127.0.2.2", "127.0.2.3"]


def test_secrets_are_redacted_unless_a_lookup_is_given(example: DesignateDR) -> None:
    shown = render_pools_yaml(example, WorldState("r1"))
    assert "REDACTED" in shown
    applied = render_pools_yaml(example, WorldState("r1"), lambda ref: f"token-{ref.secret_key}")
    assert "token-r1-pdns-api-key" in applied and "REDACTED" not in applied


def test_output_is_byte_identical_across_calls(example: DesignateDR) -> None:
    state = WorldState("r2", frozenset({"r1"}))
    assert render_pools_yaml(example, state) == render_pools_yaml(example, state)


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (WorldState("r9"), "unknown region"),
        (WorldState("r1", frozenset({"r1"})), "cannot also be lost"),
        (WorldState("r3"), "holds no database"),
        (WorldState("r1", frozenset({"rx"})), "unknown region"),
    ],
)
def test_impossible_states_are_refused(example: DesignateDR, state: WorldState, message: str) -> None:
    with pytest.raises(StateError, match=message):
        render_pools(example, state)


def _three_region_doc(base: dict[str, Any]) -> dict[str, Any]:
    """The example plus a third database region r4, to give the properties more states."""
    doc = copy.deepcopy(base)
    r2 = copy.deepcopy(doc["spec"]["regions"][1])
    text = yaml.safe_dump(r2).replace("127.0.2.", "127.0.4.").replace("r2", "r4")
    doc["spec"]["regions"].append(yaml.safe_load(text))
    doc["spec"]["pool"]["alsoNotifies"] = [{"host": "127.0.2.9", "port": 53}, {"host": "127.0.1.3", "port": 53}]
    return doc


def _all_strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_all_strings(k), *_all_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _all_strings(v)]
    return [str(value)]


STATES = st.sampled_from(["r1", "r2", "r4"]).flatmap(
    lambda primary: st.tuples(
        st.just(primary),
        st.frozensets(st.sampled_from([r for r in ("r1", "r2", "r3", "r4") if r != primary]), max_size=2),
    )
)


@settings(max_examples=60, deadline=None)
@given(state=STATES)
def test_lost_region_addresses_never_appear(example_doc: dict[str, Any], state: tuple[str, frozenset[str]]) -> None:
    spec = parse_designatedr(_three_region_doc(example_doc), KINDS)
    primary, lost = state
    document = render_pools(spec, WorldState(primary, lost))
    text = render_pools_yaml(spec, WorldState(primary, lost))
    lost_hosts = {h for r in spec.regions if r.name in lost for h in r.addresses()}
    strings = _all_strings(document)
    for host in lost_hosts:
        assert not any(host in s for s in strings), f"{host} of a lost region in output"
        assert host not in text


@settings(max_examples=60, deadline=None)
@given(state=STATES)
def test_every_rendering_passes_designates_parser(
    example_doc: dict[str, Any], state: tuple[str, frozenset[str]]
) -> None:
    spec = parse_designatedr(_three_region_doc(example_doc), KINDS)
    text = render_pools_yaml(spec, WorldState(*state), lambda ref: "secret-token")
    accepted, reason = designate_accepts(yaml.safe_load(text))
    assert accepted, reason
