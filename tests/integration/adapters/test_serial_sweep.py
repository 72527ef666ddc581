"""Serial sweep on the real lab: exactly the pairs that were broken are classified so.

Three faults at once on fresh zones: r2's PowerDNS made stale for zone A (its masters pointed at a
dead address, then a change made in Designate), zone B deleted on r1's BIND only (rndc delzone),
and r2's BIND stopped (SIGSTOP). A garbage responder swept alongside never yields "in sync". Waits
poll with generous deadlines, so nothing depends on machine speed; every fault is undone.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from dnsdr.adapters.designate_db import read_zones
from dnsdr.adapters.dns_prober import ProbeOptions, probe_soa, sweep
from dnsdr.adapters.pdns_api import PdnsClient
from dnsdr.adapters.rndc import RndcClient, RndcKey
from dnsdr.adapters.secrets import resolve
from dnsdr.domain.serials import PairClass, Target, serial_at_least, targets_from_spec
from dnsdr.domain.spec import Bind9Backend, DesignateDR, Pdns4Backend
from dnsdr.lab import Lab

pytestmark = pytest.mark.integration

DEAD_MASTER = "127.0.2.250:5354"  # nothing listens there
OPTS = ProbeOptions(timeout=1.0, retries=1)


def backend(spec: DesignateDR, region: str, kind: type) -> Pdns4Backend | Bind9Backend:
    return next(b for b in spec.region(region).backends if isinstance(b, kind))


def target_of(targets: tuple[Target, ...], b: Pdns4Backend | Bind9Backend) -> Target:
    return next(t for t in targets if (t.host, t.port) == (b.dns.host, b.dns.port))


def wait_for(what: str, check: Callable[[], bool], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(1)


@pytest.fixture
def garbage() -> Iterator[tuple[str, int]]:
    """A UDP server answering every query with its ID echoed and random bytes after it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            sock.sendto(data[:2] + b"\x84\x00" + os.urandom(40), peer)
            sock.sendto(data[:2] + b"\x84\x00\x00\x01\x00\x01\x00\x00\x00\x00" + data[12:] + os.urandom(30), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()
    stop.set()
    thread.join()
    sock.close()


def test_stale_deleted_and_stopped_targets_are_classified_exactly(healthy_lab: Lab, garbage: tuple[str, int]) -> None:
    lab = healthy_lab
    spec = lab.spec()
    targets = targets_from_spec(spec)
    names = lab.create_zones(4, prefix=f"ser{os.getpid() % 10000}")
    zone_a, zone_b = names[0], names[1]
    r2_pdns = backend(spec, "r2", Pdns4Backend)
    r1_bind = backend(spec, "r1", Bind9Backend)
    r2_bind = backend(spec, "r2", Bind9Backend)
    assert isinstance(r2_pdns, Pdns4Backend) and isinstance(r1_bind, Bind9Backend)
    stale, deleted, stopped = (target_of(targets, b) for b in (r2_pdns, r1_bind, r2_bind))
    api = lab.api(spec.primary_region)
    db = spec.region(spec.primary_region).database
    assert db is not None
    pdns = PdnsClient(r2_pdns.api, resolve(r2_pdns.api_key))
    rndc = RndcClient(r1_bind.rndc, RndcKey.parse(resolve(r1_bind.rndc_key)))
    old_masters = pdns.get_zone(zone_a).masters
    stopped_pids = lab.cgroups.pids("r2", "bind")
    try:
        # Healthy first: every pair of the new zones in sync.
        ours = [z for z in read_zones(db) if z.name in names]
        assert len(ours) == len(names)
        assert sweep(ours, targets, OPTS).in_sync

        pdns.set_masters(zone_a, [DEAD_MASTER])
        rndc.delzone(zone_b)
        zone = api.find_zone(zone_a)
        assert zone is not None
        api.create_recordset(zone.id, f"stale.{zone_a}", "A", ["192.0.2.7"])

        def others_have_new_serial() -> bool:
            want = next(z.serial for z in read_zones(db) if z.name == zone_a)
            others = [t for t in targets if t != stale]
            seen = probe_soa([zone_a], [(t.host, t.port) for t in others], OPTS).observations
            return want > zone.serial and all(o[0].serial is not None and serial_at_least(o[0].serial, want)
                                              for o in seen)

        wait_for(f"{zone_a} to reach every target but {stale.name}", others_have_new_serial)
        for pid in stopped_pids:
            os.kill(pid, signal.SIGSTOP)

        ours = [z for z in read_zones(db) if z.name in names]
        junk = Target("garbage", "x", *garbage)
        report = sweep(ours, (*targets, junk), OPTS)
        got = {(p.zone, p.target): p.cls for p in report.pairs}
        expected = {}
        for z in names:
            for t in targets:
                expected[(z, t.name)] = PairClass.IN_SYNC
            expected[(z, stopped.name)] = PairClass.UNREACHABLE
            expected[(z, junk.name)] = PairClass.UNREACHABLE
        expected[(zone_a, stale.name)] = PairClass.BEHIND
        expected[(zone_b, deleted.name)] = PairClass.MISSING
        assert got == expected
        assert next(p for p in report.pairs if p.zone == zone_b and p.target == deleted.name).rcode in (
            "REFUSED", "NOTAUTH", "NXDOMAIN", "SERVFAIL")
        assert zone_a in {z.name for z in report.stuck_zones()}
        assert not report.converged({z.name: z.serial for z in ours})
        survivors = [t.name for t in targets if t not in (stale, deleted, stopped)]
        assert report.converged({z.name: z.serial for z in ours}, survivors)
    finally:
        for pid in stopped_pids:
            os.kill(pid, signal.SIGCONT)
        pdns.set_masters(zone_a, old_masters)
        pdns.close()
        rndc.close()
        for name in names:
            z = api.find_zone(name)
            if z is not None:
                api.delete_zone(z.id)
