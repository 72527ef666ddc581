"""When a region-lost decision may become an automatic failover: policy, pause, cool-down, ack,
back-off, and semi-sync data safety."""

from __future__ import annotations

from dataclasses import replace

from dnsdr.domain.automation import (
    ActionKind,
    ControlRecord,
    Policy,
    SemiSyncSample,
    acknowledged,
    after_failure,
    after_success,
    next_action,
)
from dnsdr.domain.detection import Decision, Verdict

LOST = Decision(Verdict.REGION_LOST, "r1", ("all agree",), 3, 100.0)
SAFE = ControlRecord(semi_sync=SemiSyncSample("r1", True, "AFTER_SYNC", 90.0))
AUTO = Policy(automatic=True, cooldown_seconds=3600)


def test_region_lost_with_everything_in_order_fails_over() -> None:
    assert next_action(LOST, SAFE, AUTO, 100.0).kind is ActionKind.FAILOVER


def test_manual_policy_and_pause_only_alert() -> None:
    assert "manual" in next_action(LOST, SAFE, replace(AUTO, automatic=False), 100.0).reason
    paused = replace(SAFE, paused=True, paused_reason="maintenance")
    action = next_action(LOST, paused, AUTO, 100.0)
    assert action.kind is ActionKind.ALERT and "paused (maintenance)" in action.reason


def test_one_automatic_failover_per_cool_down_unless_acknowledged() -> None:
    done = after_success(SAFE, now=100.0)
    second = next_action(replace(LOST, at=200.0), done, AUTO, 200.0)
    assert second.kind is ActionKind.ALERT and "dnsdr ack" in second.reason and "3500 s more" in second.reason
    assert next_action(LOST, acknowledged(done, 150.0), AUTO, 200.0).kind is ActionKind.FAILOVER
    assert next_action(LOST, done, AUTO, 100.0 + 3600).kind is ActionKind.FAILOVER  # the window ended


def test_a_failed_attempt_backs_off_without_eating_the_cool_down() -> None:
    failed = after_failure(SAFE, AUTO, now=100.0, error="promote: timeout")
    assert failed.last_auto_failover_at is None and failed.next_attempt_at == 130.0
    action = next_action(LOST, failed, AUTO, 120.0)
    assert action.kind is ActionKind.ALERT and "retrying in 10 s" in action.reason
    assert next_action(LOST, failed, AUTO, 130.0).kind is ActionKind.FAILOVER
    twice = after_failure(failed, AUTO, now=130.0, error="again")
    assert twice.next_attempt_at == 190.0  # 30 s, then 60 s
    capped = ControlRecord(failed_attempts=20)
    assert after_failure(capped, AUTO, 0.0, "x").next_attempt_at == 600.0


def test_semi_sync_off_or_after_commit_or_unknown_refuses_unless_loss_is_accepted() -> None:
    for sample, words in ((SemiSyncSample("r1", False, "AFTER_SYNC", 90.0), "OFF (fell back to async)"),
                          (SemiSyncSample("r1", True, "AFTER_COMMIT", 90.0), "wait point AFTER_COMMIT"),
                          (None, "unknown"), (SemiSyncSample("r2", True, "AFTER_SYNC", 90.0), "unknown")):
        control = replace(SAFE, semi_sync=sample)
        action = next_action(LOST, control, AUTO, 100.0)
        assert action.kind is ActionKind.ALERT and words in action.reason, words
        assert next_action(LOST, control, replace(AUTO, accept_data_loss=True), 100.0).kind is ActionKind.FAILOVER


def test_uncertain_alerts_and_healthy_does_nothing() -> None:
    uncertain = Decision(Verdict.UNCERTAIN, "r1", ("vantage points disagree",), 0, 1.0)
    assert next_action(uncertain, SAFE, AUTO, 1.0).kind is ActionKind.ALERT
    healthy = Decision(Verdict.HEALTHY, "r1", ("up",), 0, 1.0)
    assert next_action(healthy, SAFE, AUTO, 1.0).kind is ActionKind.NONE


def test_the_record_round_trips() -> None:
    record = after_failure(after_success(SAFE, 5.0), AUTO, 9.0, "boom")
    assert ControlRecord.from_dict(record.to_dict()) == record
