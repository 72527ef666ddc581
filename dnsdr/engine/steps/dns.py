"""DNS data-plane steps: rewrite backend masters, prove serial convergence, prove a write is served."""

from __future__ import annotations

from collections.abc import Sequence

from dnsdr.adapters.backends.base import MastersReport, ZoneStatus
from dnsdr.adapters.backends.masters import create_missing, remove_zones, rewrite_masters
from dnsdr.adapters.designate_db import read_zones
from dnsdr.adapters.dns_lookup import txt_values
from dnsdr.adapters.dns_prober import sweep
from dnsdr.adapters.keystone import designate_api
from dnsdr.domain.canary import canary_zone
from dnsdr.domain.errors import DnsdrError
from dnsdr.domain.plan import Step
from dnsdr.domain.pools import masters_for
from dnsdr.domain.serials import ExpectedZone, PairClass, PairResult, Target, targets_of_state
from dnsdr.domain.spec import Backend
from dnsdr.engine.errors import StepFailed
from dnsdr.engine.runtime import Runtime
from dnsdr.engine.steps.base import ActedOnce

NUDGE_EVERY = 5.0  # seconds between forced retransfers of the same zone on the same backend


def _backend(rt: Runtime, name: str) -> tuple[str, Backend]:
    for region in rt.spec.regions:
        for backend in region.backends:
            if backend.name == name:
                return region.name, backend
    raise StepFailed(f"unknown backend {name}")


def _credential(rt: Runtime, backend: Backend) -> str:
    return rt.secret(backend.credential)


def _zones(rt: Runtime) -> list[ExpectedZone]:
    db = rt.database(rt.plan.final_state.primary)
    return list(read_zones(db, rt.secret(db.password), pool_id=rt.spec.pool.id, resolver=rt.resolver))


def serving(rt: Runtime) -> tuple[Target, ...]:
    """The nameservers that must serve the pool at the end: every surviving region's and the kept ones."""
    state = rt.plan.final_state
    return targets_of_state(rt.spec, state.lost, state.kept)


def _rewrite(rt: Runtime, backend_name: str, zones: Sequence[str], dry_run: bool,
             retrieve: Sequence[str] = ()) -> MastersReport:
    region_name, backend = _backend(rt, backend_name)
    masters = masters_for(rt.spec, rt.plan.final_state, rt.region(region_name))
    secrets = {key: rt.secret(ref) for key, ref in backend.secret_settings}
    return rewrite_masters(backend, _credential(rt, backend), zones, masters, retrieve=retrieve,
                           retrieve_changed=not dry_run, dry_run=dry_run, secrets=secrets)


def nudge_transfers(rt: Runtime, now: float, pairs: Sequence[PairResult], targets: Sequence[Target],
                    nudged: dict[tuple[str, str], float]) -> None:
    """Force a transfer of zones that are behind or ahead, at most every NUDGE_EVERY seconds per copy."""
    backend_of = {t.name: b.name for t in targets for r in rt.spec.regions if r.name == t.region
                  for b in r.backends if (b.dns.host, b.dns.port) == (t.host, t.port)}
    by_backend: dict[str, list[str]] = {}
    for p in pairs:
        if p.cls not in (PairClass.BEHIND, PairClass.AHEAD) or p.target not in backend_of:
            continue
        if now - nudged.get((p.zone, p.target), -NUDGE_EVERY) < NUDGE_EVERY:
            continue
        nudged[(p.zone, p.target)] = now
        by_backend.setdefault(backend_of[p.target], []).append(p.zone)
    for backend, zones in by_backend.items():
        _rewrite(rt, backend, zones, dry_run=False, retrieve=zones)


class RewriteMasters(ActedOnce):
    """The rewrite reads every zone's masters and changes only those that differ, so it is its own check.

    A separate dry run before and after would read every zone twice more; on BIND each read is an
    rndc message, and named walks its duplicate-suppression table (every message of the last 15
    minutes) for each one, so extra passes cost quadratically at ten thousand zones. The proof is
    the backend's acknowledgement of every change plus a re-read of a sample of the changed zones.
    """

    SAMPLE = 25

    def act(self, step: Step) -> str:
        rt = self.rt
        zones = _zones(rt)
        report = _rewrite(rt, step.param("backend"), [z.name for z in zones], dry_run=False)
        if report.error:
            raise StepFailed(f"{report.backend}: {report.error}")
        c = report.counts
        failed = list(report.zones(ZoneStatus.FAILED))
        missing = set(report.zones(ZoneStatus.MISSING))
        created: tuple[str, ...] = ()
        if missing:
            region_name, backend = _backend(rt, step.param("backend"))
            masters = masters_for(rt.spec, rt.plan.final_state, rt.region(region_name))
            created, not_created = create_missing(
                backend, _credential(rt, backend), [(z.name, z.id) for z in zones if z.name in missing], masters)
            failed += [o.zone for o in not_created]
        if failed:
            raise StepFailed(f"{report.backend}: {len(failed)} zones failed, e.g. {', '.join(failed[:3])}")
        sample = [*report.zones(ZoneStatus.CHANGED)[: self.SAMPLE], *created[: self.SAMPLE]]
        if sample:
            again = _rewrite(rt, step.param("backend"), sample, dry_run=True)
            wrong = [o.zone for o in again.outcomes if o.status is not ZoneStatus.UNCHANGED]
            if again.error or wrong:
                raise StepFailed(f"{report.backend}: re-read after the rewrite: "
                                 f"{again.error or ', '.join(wrong[:3])} still not on the new masters")
        self.ctx.acted.add(step.name)
        return (f"{len(zones)} zones: {c['changed']} changed, {c['unchanged']} already right, {len(created)} created; "
                f"{len(report.retrieved)} retransfers queued ({report.rewrite_seconds:.2f} s rewrite, "
                f"{len(sample)} re-read)")


class VerifySerials(ActedOnce):
    def act(self, step: Step) -> str:
        rt = self.rt
        deadline = self.ctx.clock() + rt.verify_timeout
        zones = _zones(rt)
        minimum = {z.name: z.serial for z in zones}
        targets = serving(rt)
        nudged: dict[tuple[str, str], float] = {}
        rounds = 0
        while True:
            rounds += 1
            report = sweep(zones, targets)
            laggards = report.laggards(minimum)
            ahead = any(p.cls is PairClass.AHEAD for p in report.pairs)
            if not laggards:
                if ahead:
                    self._report_ahead(targets)
                self.ctx.acted.add(step.name)
                return (f"{len(zones)} zones on {len(targets)} targets at the database's serial or later "
                        f"(round {rounds}, last sweep {report.seconds:.2f} s)")
            if self.ctx.clock() > deadline:
                raise StepFailed(f"{len(laggards)} zone copies did not converge within {rt.verify_timeout:g} s: "
                                 + "; ".join(laggards[:5]))
            nudge_transfers(rt, self.ctx.clock(), report.pairs, targets, nudged)
            self.ctx.sleep(0.5)

    def _report_ahead(self, targets: Sequence[Target]) -> None:
        """Copies ahead of the database *now* (not of the serials read at the start): lost writes or skew."""
        report = sweep(_zones(self.rt), targets)
        ahead = [p for p in report.pairs if p.cls is PairClass.AHEAD]
        if ahead:
            self.ctx.add_risk(f"{len(ahead)} zone copies are ahead of the database (writes lost with the old primary, "
                         f"or clock skew), e.g. {ahead[0].zone} on {ahead[0].target}")


class VerifyWrite(ActedOnce):
    """Create a TXT record through the surviving API and wait until every surviving target serves it.

    The API is called as the spec authenticates (a Keystone token, the region's catalog endpoint) and
    over its TLS: the write proves what a tenant would see, authentication included."""

    def act(self, step: Step) -> str:
        rt = self.rt
        run_id = self.ctx.run_id
        zone_name = canary_zone(rt.spec)
        deadline = self.ctx.clock() + rt.verify_timeout
        started = self.ctx.clock()
        try:
            api = designate_api(rt.spec, step.region, rt.resolver)
        except DnsdrError as exc:
            raise StepFailed(f"the Designate API in {step.region}: {exc}") from None
        try:
            zone = api.find_zone(zone_name) or api.create_zone(zone_name, "hostmaster@dnsdr.test")
            record = f"verify-{run_id}.{zone_name}"
            value = f"dnsdr {run_id} {int(self.ctx.wall())}"
            existing = [r for r in api.list_recordsets(zone.id, name=record, type="TXT") if r.name == record]
            if not existing:
                api.create_recordset(zone.id, record, "TXT", [f'"{value}"'], ttl=60)
            else:
                value = existing[0].records[0].strip('"')
        except DnsdrError as exc:
            raise StepFailed(f"the Designate API in {step.region} refused the canary write: {exc}") from None
        finally:
            api.close()
        targets = serving(rt)
        waiting = {t.name for t in targets}
        while waiting:
            for t in targets:
                if t.name in waiting and value in (txt_values(t.host, t.port, record) or ()):
                    waiting.discard(t.name)
            if not waiting:
                break
            if self.ctx.clock() > deadline:
                raise StepFailed(f"the canary {record} was not served by {', '.join(sorted(waiting))} "
                                 f"within {rt.verify_timeout:g} s")
            self.ctx.sleep(0.25)
        self.ctx.acted.add(step.name)
        return f"TXT {record} written via the API and served by {len(targets)} targets after " \
               f"{self.ctx.clock() - started:.2f} s"


class FenceBackend(ActedOnce):
    """A lost region's backend that still answers loses every zone of the pool, so that no client
    it serves gets the lost region's stale data; proven by asking it for each zone."""

    def check(self, step: Step) -> str | None:
        if step.name not in self.ctx.acted:
            return "not done in this run yet"
        zones = _zones(self.rt)
        _, backend = _backend(self.rt, step.param("backend"))
        target = Target(backend.name, step.region, backend.dns.host, backend.dns.port)
        answering = [p.zone for p in sweep(zones, (target,)).pairs
                     if p.cls in (PairClass.IN_SYNC, PairClass.BEHIND, PairClass.AHEAD)]
        return None if not answering else f"still answers for {len(answering)} zones, e.g. {answering[0]}"

    def act(self, step: Step) -> str:
        zones = [z.name for z in _zones(self.rt)]
        _, backend = _backend(self.rt, step.param("backend"))
        removed, failed = remove_zones(backend, _credential(self.rt, backend), zones)
        if failed:
            raise StepFailed(f"{backend.name}: {len(failed)} zones could not be removed, e.g. {failed[0].zone}: "
                             f"{failed[0].detail}")
        self.ctx.acted.add(step.name)
        return f"{len(removed)} zones removed from {backend.name}: it answers for none of the pool's zones"
