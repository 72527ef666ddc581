"""The operation's last proof: Designate clean, not only DNS served.

"DNS served and writes work" comes earlier (verify-serials, verify-write); an operator who then
looks at Designate must not find a broken pool: every live zone ACTIVE, and every target the pool
now has serving each zone at the database's *current* serial (read again each round, since writes
go on). Copies behind are retransferred; zones left PENDING or ERROR past a grace period are
re-pushed through Designate's API (a PATCH of their own TTL makes the worker update every target
again), at most once per period each, and named if they do not settle in time.

The grace period counts from the zone's change, not from when this step first saw it: Designate
sets a zone's serial to the time of its change (``storage.increment_serial``: ``utcnow_ts()``), so
a zone whose pending change is older than the grace (typically one the lost region accepted and
whose worker died with it: nothing else would finish it) is re-pushed in the first round instead of
after another 20 s. A serial that is not a plausible time counts from the first sighting, as before.
A zone whose serial bump is still queued with the producer may get one early re-push: harmless.

A zone changed before this run's pool update stopped the workers, and still PENDING, is re-pushed at
once: its push was in a worker that no longer exists (the canary written by verify-write is one: its
worker still polled the lost region's targets when it was stopped). Only the clock of the step that
stopped them is used, so a resumed run, which did not, falls back to the grace period.
"""

from __future__ import annotations

from itertools import groupby

from dnsdr.adapters.designate_api import DEFAULT_PROJECT, DesignateApiError
from dnsdr.adapters.dns_prober import sweep
from dnsdr.adapters.keystone import designate_api
from dnsdr.domain.plan import Step
from dnsdr.domain.serials import ExpectedZone
from dnsdr.engine.errors import StepFailed
from dnsdr.engine.steps.base import ActedOnce
from dnsdr.engine.steps.dns import _zones, nudge_transfers, serving

GRACE = 20.0  # seconds a zone may stay PENDING before a re-push (the worker's own poll settles most sooner)
REPUSH_EVERY = 30.0
PLAUSIBLE_SERIAL = 1_000_000_000  # 2001-09-09 as a Unix time: a smaller serial is a counter, not a time


def pending_since(zone: ExpectedZone, now: float, wall: float, workers_stopped_at: float | None = None) -> float:
    """When (on the step's clock) the zone's pending change was made: its serial read as a Unix time
    when it is one (not in the future), else ``now``. A change older than the workers' stop counts
    as a grace period old: nothing else will finish it."""
    if PLAUSIBLE_SERIAL <= zone.serial <= wall:
        if workers_stopped_at is not None and zone.serial < workers_stopped_at:
            return min(now - GRACE, now - (wall - zone.serial))
        return now - (wall - zone.serial)
    return now


class VerifyClean(ActedOnce):
    def act(self, step: Step) -> str:
        rt, ctx = self.rt, self.ctx
        targets = serving(rt)
        started = ctx.clock()
        zones = _zones(rt)
        deadline = started + max(rt.verify_timeout, 0.05 * len(zones))
        nudged: dict[tuple[str, str], float] = {}
        pushed: dict[str, float] = {}
        first_seen: dict[str, float] = {}
        rounds = repushed = 0
        while True:
            rounds += 1
            zones = _zones(rt) if rounds > 1 else zones
            report = sweep(zones, targets)
            laggards = report.laggards({z.name: z.serial for z in zones})
            unsettled = [z for z in zones if z.status != "ACTIVE"]
            now = ctx.clock()
            if not laggards and not unsettled:
                ctx.acted.add(step.name)
                return (f"Designate clean after {now - started:.1f} s: {len(zones)} zones ACTIVE, served by "
                        f"{len(targets)} targets at the database's serial ({repushed} re-pushed, round {rounds})")
            if now > deadline:
                names = ", ".join(f"{z.name} {z.status}/{z.action}" for z in unsettled[:5])
                raise StepFailed(f"Designate not clean after {now - started:.0f} s: {len(unsettled)} zones not ACTIVE"
                                 + (f" ({names})" if names else "") + f"; {len(laggards)} copies behind"
                                 + (f", e.g. {laggards[0]}" if laggards else ""))
            nudge_transfers(rt, now, report.pairs, targets, nudged)
            wall = ctx.wall()
            for z in unsettled:
                first_seen.setdefault(z.id, pending_since(z, now, wall, ctx.workers_stopped_at))
            due = [z for z in unsettled if now - first_seen[z.id] >= GRACE
                   and now - pushed.get(z.id, -REPUSH_EVERY) >= REPUSH_EVERY]
            if due:
                repushed += self._repush(step, due, now, pushed)
            ctx.sleep(1.0)

    def _repush(self, step: Step, zones: list[ExpectedZone], now: float, pushed: dict[str, float]) -> int:
        """Re-push each zone in its own project (sudo with a Keystone token): a zone is changed by its owner, so
        dnsdr's account needs no admin role, only Designate's use_sudo."""
        done = 0
        for project, owned in groupby(sorted(zones, key=lambda z: z.project_id), key=lambda z: z.project_id):
            api = designate_api(self.rt.spec, step.region, self.rt.resolver, project_id=project or DEFAULT_PROJECT,
                                sudo=True)
            try:
                for zone in owned:
                    pushed[zone.id] = now
                    try:
                        api.repush_zone(zone.id)
                        done += 1
                    except DesignateApiError as exc:
                        self.ctx.add_risk(f"zone {zone.name} could not be re-pushed through the API: {exc}")
            finally:
                api.close()
        return done
