"""Serial sweep on the real lab: exactly the pairs that were broken are classified so.

Three faults at once on fresh zones: r2's PowerDNS made stale for zone A (cut off from its
masters and from Designate by nftables, then a change made in Designate), zone B deleted on r1's
BIND only (rndc delzone), and r2's BIND stopped (SIGSTOP). A garbage responder swept alongside
never yields "in sync". Every wait is for a condition, with a generous deadline, so nothing
depends on machine speed; every fault is undone.

Why a cut and not just "masters -> dead address" (which failed on a loaded machine, r2's PowerDNS
ending IN_SYNC): a PUT of masters does not stop a transfer from the old master. PowerDNS 4.7
keeps, for a NOTIFY'd zone, the masters it read when the NOTIFY came in, and checks and transfers
from them a second or more later (CommunicatorClass::addSlaveCheckRequest, slaveRefresh); and
Designate's worker, whenever it (re)runs CREATE on a zone, deletes and re-creates it on PowerDNS
with the pool's masters, then NOTIFYs it. Both put the zone back on the old master behind the
test's back, and both happen more the slower the machine is. The cut below drops every packet
between that PowerDNS and every mdns, both ways, and resets connections to its API, so nothing,
queued before it or not, can bring it the change or re-create the zone on it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dnsdr.adapters.designate_api import DesignateApi, DesignateApiError
from dnsdr.adapters.designate_db import read_zones
from dnsdr.adapters.dns_prober import ProbeOptions, probe_soa, sweep
from dnsdr.adapters.rndc import RndcClient, RndcKey
from dnsdr.adapters.secrets import resolve
from dnsdr.domain.serials import PairClass, Target, serial_at_least, targets_from_spec
from dnsdr.domain.spec import BackendSpec, DesignateDR, Endpoint
from dnsdr.lab import Lab

pytestmark = pytest.mark.integration

# A live server gets 5 s to answer, loaded machine or not; only the stopped target and the garbage
# responder (whose answers never validate) wait that out, once, in the final sweep.
OPTS = ProbeOptions(timeout=5.0, retries=2)
CUT_TABLE = "dnsdr_test_serial_sweep"  # an nftables table of this test's own, beside the lab's


def backend(spec: DesignateDR, region: str, kind: str) -> BackendSpec:
    return next(b for b in spec.region(region).backends if b.type == kind)


def target_of(targets: tuple[Target, ...], b: BackendSpec) -> Target:
    return next(t for t in targets if (t.host, t.port) == (b.dns.host, b.dns.port))


def wait_for(what: str, check: Callable[[], bool], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.5)


def create_zone(api: DesignateApi, name: str) -> None:
    """One plain API create (serial: the current time); an HTTP 5xx is tried again, as the lab does."""
    for attempt in range(5):
        try:
            api.create_zone(name, "hostmaster@example.org", ttl=300)
            return
        except DesignateApiError as exc:
            if exc.status == 409:  # created by an earlier attempt whose answer was lost
                return
            if (exc.status and exc.status < 500) or attempt == 4:
                raise
            time.sleep(0.5 * (attempt + 1))


def stopped(pid: int) -> bool:
    """The process is in the stopped state (``T`` in /proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    return stat[stat.rindex(")") + 2] == "T"


def _nft(script: str) -> None:
    done = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"nft failed: {done.stderr.strip()}")


def _drop_table() -> str:
    # "add" then "delete": removes the table whether or not an earlier, killed run left it behind.
    return f"add table inet {CUT_TABLE}\ndelete table inet {CUT_TABLE}\n"


def cut_rules(server: BackendSpec, masters: list[Endpoint]) -> str:
    """nftables rules isolating one PowerDNS secondary from its masters and from Designate.

    PowerDNS sends its SOA checks and transfers from its own address (``query-local-address``),
    so its traffic with a master is matched by addresses and ports; the input hook sees both
    directions on loopback, and dropping both makes an exchange already under way go silent too.
    Connections to its API are reset, so Designate's worker cannot delete or re-create a zone there
    (it fails at once and retries later, instead of hanging)."""
    host = server.dns.host
    rules = []
    for m in masters:
        rules.append(f"ip saddr {host} ip daddr {m.host} meta l4proto {{ tcp, udp }} th dport {m.port} drop")
        rules.append(f"ip saddr {m.host} ip daddr {host} meta l4proto {{ tcp, udp }} th sport {m.port} drop")
    rules.append(f"ip daddr {server.control.host} tcp dport {server.control.port} reject with tcp reset")
    body = "\n".join(f"    {r}" for r in rules)
    return f"""table inet {CUT_TABLE} {{
  chain input {{
    type filter hook input priority -200; policy accept;
{body}
  }}
}}
"""


@contextmanager
def cut_off(server: BackendSpec, masters: list[Endpoint]) -> Iterator[None]:
    """While inside, ``server`` keeps serving exactly the zone contents it has now."""
    _nft(_drop_table() + cut_rules(server, masters))  # atomic: in force once nft returns
    try:
        yield
    finally:
        _nft(_drop_table())


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
    # Plain API creates, not lab.create_zones: an imported zone keeps its file's SOA serial (1), and
    # Designate's periodic recovery (every 30 s, in both regions' producers) takes any PENDING zone
    # with so old a serial for stuck and runs its CREATE again, which deletes and re-creates the zone
    # on PowerDNS and re-adds it on BIND (undoing zone B's delzone); and recordsets added after the
    # create leave UPDATE polls in flight whose late success can set zone A ACTIVE again after its
    # change. A plain create is one CREATE per zone, with the current time as serial.
    names = [f"ser{os.getpid() % 10000}-{i:05d}.lab.example." for i in range(4)]
    zone_a, zone_b = names[0], names[1]
    r2_pdns = backend(spec, "r2", "pdns4")
    r1_bind = backend(spec, "r1", "bind9")
    r2_bind = backend(spec, "r2", "bind9")
    stale, deleted, stopped_target = (target_of(targets, b) for b in (r2_pdns, r1_bind, r2_bind))
    masters = [m for r in spec.regions if r.designate is not None for m in r.designate.mdns]
    assert masters
    api = lab.api(spec.primary_region)
    db = spec.region(spec.primary_region).database
    assert db is not None
    rndc = RndcClient(r1_bind.control, RndcKey.parse(resolve(r1_bind.credential)))
    stopped_pids = lab.cgroups.pids("r2", "bind")
    assert stopped_pids
    try:
        for name in names:
            create_zone(api, name)

        # Healthy first: the new zones ACTIVE in Designate and every pair in sync.
        def all_in_sync() -> bool:
            ours = [z for z in read_zones(db) if z.name in names]
            return (len(ours) == len(names) and all(z.status == "ACTIVE" for z in ours)
                    and sweep(ours, targets, OPTS).in_sync)

        wait_for("the new zones ACTIVE and every pair in sync", all_in_sync)
        zone = api.find_zone(zone_a)
        assert zone is not None
        # Designate's next serial is the current Unix time: let the clock pass the one zone A has.
        wait_for("the clock to pass zone A's serial", lambda: int(time.time()) > zone.serial, 30)

        with cut_off(r2_pdns, masters):
            # Still serving zone A as it is now: the cut stops changes, not answers.
            old_serial = probe_soa([zone_a], [(stale.host, stale.port)], OPTS).observations[0][0].serial
            assert old_serial is not None and serial_at_least(old_serial, zone.serial)
            rndc.delzone(zone_b)
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
            wait_for(f"{stopped_target.name} to be stopped", lambda: all(stopped(p) for p in stopped_pids), 30)

            ours = [z for z in read_zones(db) if z.name in names]
            junk = Target("garbage", "x", *garbage)
            report = sweep(ours, (*targets, junk), OPTS)
            got = {(p.zone, p.target): p.cls for p in report.pairs}
            expected = {}
            for z in names:
                for t in targets:
                    expected[(z, t.name)] = PairClass.IN_SYNC
                expected[(z, stopped_target.name)] = PairClass.UNREACHABLE
                expected[(z, junk.name)] = PairClass.UNREACHABLE
            expected[(zone_a, stale.name)] = PairClass.BEHIND
            expected[(zone_b, deleted.name)] = PairClass.MISSING
            assert got == expected
            assert next(p for p in report.pairs if p.zone == zone_b and p.target == deleted.name).rcode in (
                "REFUSED", "NOTAUTH", "NXDOMAIN", "SERVFAIL")
            assert zone_a in {z.name for z in report.stuck_zones()}
            assert not report.converged({z.name: z.serial for z in ours})
            survivors = [t.name for t in targets if t not in (stale, deleted, stopped_target)]
            assert report.converged({z.name: z.serial for z in ours}, survivors)
    finally:
        try:
            for pid in stopped_pids:
                os.kill(pid, signal.SIGCONT)
        finally:
            rndc.close()
            for name in names:
                found = api.find_zone(name)
                if found is not None:
                    api.delete_zone(found.id)
