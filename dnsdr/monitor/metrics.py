"""Prometheus metrics of the witness, ``dnsdr_monitor_`` prefix, labels bounded by the spec.

Labels are the region and the probe kind only (never a zone, a backend or an address), so the
series count is fixed by the number of regions. A private registry keeps tests and several
monitors in one process apart.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from dnsdr.domain.witness import ProbeKind, Snapshot

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class MonitorMetrics:
    def __init__(self, regions: tuple[str, ...], registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.success = Gauge("dnsdr_monitor_probe_success",
                             "1 when every probe of this kind in the region succeeded in the last round",
                             ["region", "kind"], registry=r)
        self.duration = Histogram("dnsdr_monitor_probe_duration_seconds", "Duration of each probe",
                                  ["region", "kind"], buckets=BUCKETS, registry=r)
        self.lost = Gauge("dnsdr_monitor_region_lost", "1 when every probe of the region failed in the last round",
                          ["region"], registry=r)
        self.healthy = Gauge("dnsdr_monitor_region_healthy",
                             "1 when every probe of the region succeeded in the last round", ["region"], registry=r)
        self.lost_rounds = Gauge("dnsdr_monitor_region_lost_rounds", "Rounds in a row in which the region was lost",
                                 ["region"], registry=r)
        self.split_brain = Gauge("dnsdr_monitor_split_brain",
                                 "1 when nameservers serve different canary serials for longer than the threshold",
                                 registry=r)
        self.rounds = Counter("dnsdr_monitor_rounds", "Probe rounds completed", registry=r)
        self.round_duration = Gauge("dnsdr_monitor_round_duration_seconds", "Duration of the last round",
                                    registry=r)
        self.last_round = Gauge("dnsdr_monitor_last_round_timestamp_seconds",
                                "Wall time the last round completed", registry=r)
        for region in regions:  # every series exists from the start, so absent() alerts are not needed
            self.lost.labels(region).set(0)
            self.healthy.labels(region).set(0)
            self.lost_rounds.labels(region).set(0)
            for kind in ProbeKind:
                self.success.labels(region, kind.value).set(0)

    def update(self, snapshot: Snapshot) -> None:
        for verdict in snapshot.regions:
            self.lost.labels(verdict.region).set(int(verdict.lost))
            self.healthy.labels(verdict.region).set(int(verdict.healthy))
            self.lost_rounds.labels(verdict.region).set(verdict.consecutive_failures)
            by_kind: dict[str, bool] = {}
            for p in verdict.probes:
                kind = p.result.target.kind.value
                by_kind[kind] = by_kind.get(kind, True) and p.result.ok
                self.duration.labels(verdict.region, kind).observe(p.result.seconds)
            for kind, ok in by_kind.items():
                self.success.labels(verdict.region, kind).set(int(ok))
        self.split_brain.set(int(snapshot.split_brain.flagged))
        self.rounds.inc()
        self.round_duration.set(snapshot.seconds)
        self.last_round.set(snapshot.at)

    def render(self) -> bytes:
        return generate_latest(self.registry)
