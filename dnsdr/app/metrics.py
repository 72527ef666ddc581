"""The controller's Prometheus metrics: ``dnsdr_`` prefix, base units, bounded labels (regions,
targets, verdicts, outcomes; never a zone).

Shared by both front ends that run controller rounds (``dnsdr run`` and ``dnsdr operator``), so the alerts in
``manifests/base/prometheusrule.yaml`` hold for either."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from dnsdr.app.control import RoundReport
from dnsdr.app.observe import SerialSummary
from dnsdr.domain.automation import Policy, cooldown_until
from dnsdr.domain.detection import Verdict
from dnsdr.domain.journal import Journal, Outcome

CLASSES = ("in_sync", "behind", "ahead", "missing", "unreachable")


class ControllerMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.db_up = Gauge("dnsdr_database_up", "The region's database answers.", ["region"], registry=r)
        self.db_writable = Gauge("dnsdr_database_writable", "Writable (not read-only).", ["region"], registry=r)
        self.lag = Gauge("dnsdr_replication_lag_seconds", "Seconds_Behind_Master of the region's replica.",
                         ["region"], registry=r)
        self.io = Gauge("dnsdr_replication_io_running", "The replica's IO thread runs.", ["region"], registry=r)
        self.sql = Gauge("dnsdr_replication_sql_running", "The replica's SQL thread runs.", ["region"], registry=r)
        self.semi = Gauge("dnsdr_semi_sync_active", "Semi-sync active on the primary (source side).", ["region"],
                          registry=r)
        self.errant = Gauge("dnsdr_errant_transactions", "Transactions the replica holds that the primary never had.",
                            ["region"], registry=r)
        self.epoch = Gauge("dnsdr_epoch", "The recorded epoch (bumped by every failover or switchover).", registry=r)
        self.primary = Gauge("dnsdr_primary", "1 for the region that is primary.", ["region"], registry=r)
        self.pairs = Gauge("dnsdr_zone_pairs", "Zone copies per target by serial class.", ["target", "class"],
                           registry=r)
        self.stuck = Gauge("dnsdr_zones_stuck", "Zones PENDING or ERROR in Designate.", registry=r)
        self.sweep = Gauge("dnsdr_serial_sweep_seconds", "Duration of the last serial sweep.", registry=r)
        self.decisions = Counter("dnsdr_decisions", "Decisions by verdict.", ["verdict"], registry=r)
        self.failovers = Counter("dnsdr_failovers", "Automatic failovers by outcome.", ["outcome"], registry=r)
        self.steps = Histogram("dnsdr_step_duration_seconds", "Duration of failover steps.", ["step"], registry=r,
                               buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300))
        self.paused = Gauge("dnsdr_paused", "Automatic failover is paused.", registry=r)
        self.cooldown = Gauge("dnsdr_cooldown_active", "A cool-down after an automatic failover is in force.",
                              registry=r)
        self.rounds = Counter("dnsdr_controller_rounds", "Controller rounds run.", registry=r)
        self.last_round = Gauge("dnsdr_last_round_timestamp_seconds", "When the last round ended.", registry=r)
        self.max_lag = Gauge("dnsdr_policy_max_lag_seconds", "policy.maxLagSeconds: the lag the replica may have.",
                             registry=r)
        self.monitor_up = Gauge("dnsdr_monitor_reachable", "The monitor's verdict was read in the last round.",
                                registry=r)
        self.unfinished = Gauge("dnsdr_operation_unfinished_seconds", "Seconds since the journaled operation that "
                                "is still running or failed part-way started (0: none).", registry=r)
        for verdict in Verdict:
            self.decisions.labels(verdict.value)

    def observe_round(self, report: RoundReport, policy: Policy, max_lag_seconds: float | None = None) -> None:
        self.rounds.inc()
        self.last_round.set(report.at)
        if max_lag_seconds is not None:
            self.max_lag.set(max_lag_seconds)
        if report.databases:  # a round that resumed a failover asked nobody
            self.monitor_up.set(0 if report.monitor is None else 1)
        self.decisions.labels(report.decision.verdict.value).inc()
        for region, state in report.databases.items():
            self.db_up.labels(region).set(1 if state.reachable else 0)
            self.db_writable.labels(region).set(1 if state.writable else 0)
            self.primary.labels(region).set(1 if region == report.primary else 0)
            ch = state.channel
            self.io.labels(region).set(1 if ch is not None and ch.io_ok else 0)
            self.sql.labels(region).set(1 if ch is not None and ch.sql_ok else 0)
            if ch is not None and ch.lag_seconds is not None:
                self.lag.labels(region).set(ch.lag_seconds)
            if region == report.primary:
                self.semi.labels(region).set(1 if state.semi_sync.source_active else 0)
        for region, count in report.errant.items():
            self.errant.labels(region).set(count)
        if report.epoch is not None:
            self.epoch.set(report.epoch)
        self.paused.set(1 if report.control.paused else 0)
        until = cooldown_until(report.control, policy)
        self.cooldown.set(1 if until is not None and report.at < until else 0)
        if report.run is not None:
            self.failovers.labels(report.run.outcome.value).inc()
            for step in report.run.steps:
                if step.seconds is not None:
                    self.steps.labels(step.name).observe(step.seconds)  # bounded: one per step of the plan

    def observe_journal(self, journal: Journal | None, now: float) -> None:
        unfinished = journal is not None and journal.outcome in (Outcome.RUNNING, Outcome.FAILED)
        self.unfinished.set(max(0.0, now - journal.started_at) if unfinished and journal else 0.0)

    def observe_serials(self, summary: SerialSummary, seconds: float) -> None:
        if summary.error is not None:
            return
        self.sweep.set(seconds)
        self.stuck.set(summary.stuck)
        for target, counts in summary.per_target.items():
            for cls in CLASSES:
                self.pairs.labels(target, cls).set(counts.get(cls, 0))
