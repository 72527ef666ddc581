"""Serial arithmetic (RFC 1982), per-pair classes, summaries and the convergence test."""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from dnsdr.adapters.backends import KINDS
from dnsdr.domain.serials import (
    ExpectedZone,
    Observation,
    PairClass,
    SweepReport,
    Target,
    build_report,
    classify,
    normalise_name,
    serial_at_least,
    serial_compare,
    targets_from_spec,
)
from dnsdr.domain.spec_parse import parse_designatedr
from tests.conftest import EXAMPLE

U32 = st.integers(min_value=0, max_value=2**32 - 1)


def test_serial_compare_basics() -> None:
    assert serial_compare(1, 1) == 0
    assert serial_compare(1, 2) == -1
    assert serial_compare(2, 1) == 1
    # Wrap-around: 0 is after 2^32 - 1.
    assert serial_compare(2**32 - 1, 0) == -1
    assert serial_compare(0, 2**32 - 1) == 1
    assert serial_compare(0, 2**31) is None
    assert serial_compare(1_700_000_000, 1_700_000_100) == -1


@given(U32, U32)
def test_serial_compare_is_antisymmetric(a: int, b: int) -> None:
    ab, ba = serial_compare(a, b), serial_compare(b, a)
    assert (ab is None) == (ba is None)
    if ab is not None and ba is not None:
        assert ab == -ba


@given(U32, st.integers(min_value=1, max_value=2**31 - 1))
def test_adding_less_than_half_makes_a_later_serial(a: int, n: int) -> None:
    assert serial_compare((a + n) % 2**32, a) == 1
    assert serial_at_least((a + n) % 2**32, a)
    assert not serial_at_least(a, (a + n) % 2**32)


@pytest.mark.parametrize(("obs", "expected"), [
    (Observation(serial=100), PairClass.IN_SYNC),
    (Observation(serial=99), PairClass.BEHIND),
    (Observation(serial=101), PairClass.AHEAD),
    (Observation(serial=100 + 2**31), PairClass.AHEAD),  # undefined: needs a forced retransfer too
    (Observation(rcode="NXDOMAIN"), PairClass.MISSING),
    (Observation(rcode="REFUSED"), PairClass.MISSING),
    (Observation(rcode="NOTAUTH"), PairClass.MISSING),
    (Observation(rcode="SERVFAIL"), PairClass.MISSING),
    (Observation(rcode="FORMERR"), PairClass.UNREACHABLE),
    (Observation(error="timeout"), PairClass.UNREACHABLE),
    (Observation(error="answer without AA flag"), PairClass.UNREACHABLE),
    (Observation(), PairClass.UNREACHABLE),
])
def test_classify(obs: Observation, expected: PairClass) -> None:
    assert classify(100, obs) is expected


@given(U32, st.one_of(st.none(), U32), st.one_of(st.none(), st.text(max_size=8)), st.one_of(st.none(), st.text()))
def test_only_an_equal_serial_is_in_sync(expected: int, serial: int | None, rcode: str | None, error: str | None) -> None:
    cls = classify(expected, Observation(serial, rcode, error))
    assert (cls is PairClass.IN_SYNC) == (serial is not None and serial == expected)


ZONES = (
    ExpectedZone("a" * 32, "a.example.", 100),
    ExpectedZone("b" * 32, "b.example.", 200, status="PENDING", action="UPDATE"),
    ExpectedZone("c" * 32, "c.example.", 300, status="ERROR", action="CREATE"),
)
TARGETS = (Target("r1/pdns", "r1", "127.0.1.2"), Target("r1/bind", "r1", "127.0.1.3"),
           Target("r2/pdns", "r2", "127.0.2.2"))


def _report() -> SweepReport:
    return build_report(ZONES, TARGETS, [
        [Observation(100), Observation(200), Observation(300)],
        [Observation(100), Observation(199), Observation(rcode="REFUSED")],
        [Observation(101), Observation(error="timeout"), Observation(300)],
    ], seconds=0.5, queries=9)


def test_report_summaries_and_json() -> None:
    report = _report()
    assert report.per_target() == {
        "r1/pdns": {"in_sync": 3, "behind": 0, "ahead": 0, "missing": 0, "unreachable": 0},
        "r1/bind": {"in_sync": 1, "behind": 1, "ahead": 0, "missing": 1, "unreachable": 0},
        "r2/pdns": {"in_sync": 1, "behind": 0, "ahead": 1, "missing": 0, "unreachable": 1},
    }
    assert report.per_region()["r1"] == {
        "in_sync": 4, "behind": 1, "ahead": 0, "missing": 1, "unreachable": 0}
    assert report.counts(region="r2")["unreachable"] == 1
    assert not report.in_sync
    assert [(p.zone, p.target, p.cls) for p in report.drift()] == [
        ("b.example.", "r2/pdns", PairClass.UNREACHABLE),
        ("c.example.", "r1/bind", PairClass.MISSING),
        ("a.example.", "r2/pdns", PairClass.AHEAD),
        ("b.example.", "r1/bind", PairClass.BEHIND),
    ]
    assert [(z.name, z.status, z.action) for z in report.stuck_zones()] == [
        ("c.example.", "ERROR", "CREATE"), ("b.example.", "PENDING", "UPDATE")]
    doc = json.loads(json.dumps(report.to_dict(include_pairs=True)))
    assert doc["totals"]["in_sync"] == 5 and len(doc["pairs"]) == 9
    assert doc["worst"]["r1/bind"][0]["class"] == "missing"


def test_converged_means_db_serial_or_later_on_every_wanted_target() -> None:
    report = _report()
    assert report.converged({"a.example.": 100})  # ahead counts as at-or-later
    assert not report.converged({"a.example.": 101})
    assert report.converged({"A.Example": 100, "c.example.": 300}, targets=["r1/pdns", "r2/pdns"])
    assert not report.converged({"c.example.": 300})  # missing on r1/bind
    assert not report.converged({"b.example.": 200}, targets=["r2/pdns"])
    assert not report.converged({"zzz.example.": 1})  # never probed
    lines = report.laggards({"b.example.": 200, "zzz.example.": 1})
    assert "b.example. on r1/bind: 199, want >= 200" in lines
    assert "zzz.example. on r1/pdns: not probed" in lines


def test_build_report_rejects_misaligned_input() -> None:
    with pytest.raises(ValueError):
        build_report(ZONES, TARGETS, [[Observation(1)]] * 3)
    with pytest.raises(ValueError):
        build_report(ZONES, TARGETS, [])


def test_targets_from_spec_and_names() -> None:
    spec = parse_designatedr(yaml.safe_load(EXAMPLE.read_text()), KINDS)
    everything = targets_from_spec(spec)
    assert {t.region for t in everything} == {"r1", "r2"}
    assert len({t.name for t in everything}) == len(everything) == 4
    only_r2 = targets_from_spec(spec, ["r2"])
    assert {(t.host, t.port) for t in only_r2} == {("127.0.2.2", 53), ("127.0.2.3", 53)}
    assert all(t.region == "r2" for t in only_r2)
    assert normalise_name("Example.COM") == "example.com."
