"""Safety gates: what refuses, what --force may override, and what can never be forced."""

from __future__ import annotations

from dnsdr.domain.divergence import Change, ChangeKind, Divergence, Value
from dnsdr.domain.safety import (
    DatabaseView,
    Force,
    catch_up_gate,
    failover_gates,
    rejoin_gates,
    switchover_gates,
)

DEAD_R1 = DatabaseView("r1", reachable=False, error="connection refused")
FENCED_R1 = DatabaseView("r1", reachable=True, writable=False)
LIVE_R1 = DatabaseView("r1", reachable=True, writable=True)
R2 = DatabaseView("r2", reachable=True, is_replica=True, replication_running=True, lag_seconds=0)
NONE: frozenset[Force] = frozenset()


def test_failover_after_loss_is_allowed_with_the_unfenced_risk_reported() -> None:
    verdict = failover_gates(DEAD_R1, R2, NONE)
    assert verdict.allowed
    assert any("could not be fenced" in r for r in verdict.risks)


def test_a_healthy_writable_old_primary_refuses_even_with_every_force() -> None:
    verdict = failover_gates(LIVE_R1, R2, frozenset(Force))
    assert not verdict.allowed
    assert verdict.refusals[0].code == "old-primary-writable"
    assert "cannot be forced" in verdict.refusals[0].render()


def test_a_fenced_old_primary_is_fine() -> None:
    assert failover_gates(FENCED_R1, R2, NONE).allowed


def test_errant_transactions_refuse_unless_forced_by_name() -> None:
    errant = DatabaseView("r2", reachable=True, is_replica=True, errant=("0-2-7",))
    refused = failover_gates(DEAD_R1, errant, NONE)
    assert [r.code for r in refused.refusals] == ["errant-transactions"]
    assert "--force errant-transactions" in refused.refusals[0].render()
    assert not failover_gates(DEAD_R1, errant, frozenset({Force.RELAY_TIMEOUT})).allowed
    forced = failover_gates(DEAD_R1, errant, frozenset({Force.ERRANT}))
    assert forced.allowed and forced.overridden and any("0-2-7" in r for r in forced.risks)


def test_a_candidate_still_hearing_the_old_primary_is_a_partition() -> None:
    hearing = DatabaseView("r2", reachable=True, is_replica=True, source_alive=True)
    assert [r.code for r in failover_gates(DEAD_R1, hearing, NONE).refusals] == ["old-primary-alive"]
    assert failover_gates(DEAD_R1, hearing, frozenset({Force.OLD_PRIMARY_ALIVE})).allowed


def test_unreachable_candidate_cannot_be_forced() -> None:
    verdict = failover_gates(DEAD_R1, DatabaseView("r2", reachable=False), frozenset(Force))
    assert not verdict.allowed


def test_catch_up_timeout() -> None:
    assert catch_up_gate("r2", True, "", NONE).allowed
    timed_out = catch_up_gate("r2", False, "0-1-99", NONE)
    assert not timed_out.allowed and "0-1-99" in timed_out.refusals[0].message
    assert catch_up_gate("r2", False, "0-1-99", frozenset({Force.RELAY_TIMEOUT})).allowed


def test_switchover_needs_both_regions_healthy_and_caught_up() -> None:
    assert switchover_gates(LIVE_R1, R2, 5).allowed
    assert not switchover_gates(DEAD_R1, R2, 5).allowed
    lagging = DatabaseView("r2", reachable=True, is_replica=True, replication_running=True, lag_seconds=30)
    assert [r.code for r in switchover_gates(LIVE_R1, lagging, 5).refusals] == ["lagging"]
    stopped = DatabaseView("r2", reachable=True, is_replica=True, replication_running=False)
    assert [r.code for r in switchover_gates(LIVE_R1, stopped, 5).refusals] == ["not-replicating"]


def test_rejoin_refuses_a_diverged_region_and_lists_what_diverged() -> None:
    primary = DatabaseView("r2", reachable=True, writable=True)
    assert rejoin_gates(FENCED_R1, primary).allowed
    diverged = DatabaseView("r1", reachable=True, errant=("0-1-1042", "0-1-1043"))
    verdict = rejoin_gates(diverged, primary)
    assert not verdict.allowed and "0-1-1043" in verdict.refusals[0].message


def _lost_divergence(n: int) -> Divergence:
    changes = tuple(Change(ChangeKind.RECORDSET_CREATED, "a.test.", f"h{i}.a.test.", "A", Value(300, (f"192.0.2.{i}",)),
                           None) for i in range(n))
    return Divergence("r1", "r2", ("0-1-101",), "binlog", None, changes)


def test_rejoin_lists_the_designate_changes_the_primary_lacks_and_points_to_replay_or_discard() -> None:
    primary = DatabaseView("r2", reachable=True, writable=True)
    diverged = DatabaseView("r1", reachable=True, errant=("0-1-101",))
    verdict = rejoin_gates(diverged, primary, NONE, _lost_divergence(2))
    assert [r.code for r in verdict.refusals] == ["diverged", "designate-divergence"]
    listing = verdict.refusals[1].render()
    assert "r1's Designate database holds 2 changes r2 never received:" in listing
    assert "zone a.test. recordset h1.a.test. A created: [192.0.2.1] ttl 300 -> on the primary: absent" in listing
    assert "`dnsdr divergence --region r1 --replay --yes`" in listing
    assert listing.endswith("(override with --force discard-divergence)")
    assert "review them with `dnsdr divergence --region r1`" in verdict.refusals[0].message
    forced = rejoin_gates(diverged, primary, frozenset({Force.DISCARD_DIVERGENCE}), _lost_divergence(2))
    assert forced.allowed and [r.code for r in forced.overridden] == ["diverged", "designate-divergence"]
    assert forced.risks[0].startswith("forced past: r1 holds transactions r2 never had")


def test_rejoin_says_when_errant_transactions_change_nothing_in_dns_terms() -> None:
    primary = DatabaseView("r2", reachable=True, writable=True)
    diverged = DatabaseView("r1", reachable=True, errant=("0-1-101",))
    verdict = rejoin_gates(diverged, primary, NONE, _lost_divergence(0))
    (refusal,) = verdict.refusals
    assert "in DNS terms they change nothing r2 lacks" in refusal.message and refusal.force is Force.DISCARD_DIVERGENCE


def test_rejoin_refuses_when_the_comparison_fails_and_a_forced_rejoin_still_needs_the_primary() -> None:
    primary = DatabaseView("r2", reachable=True, writable=True)
    diverged = DatabaseView("r1", reachable=True, errant=("0-1-101",))
    verdict = rejoin_gates(diverged, primary, NONE, None, "cannot read Designate's data from r1: timed out")
    assert [r.code for r in verdict.refusals] == ["diverged", "divergence-unknown"]
    down = DatabaseView("r2", reachable=False)
    assert [r.code for r in rejoin_gates(diverged, down, frozenset({Force.DISCARD_DIVERGENCE})).refusals] \
        == ["primary-unreachable"]
