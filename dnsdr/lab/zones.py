"""Create many zones through the Designate API in parallel; wait until they are ACTIVE and served."""

from __future__ import annotations

import secrets as random_secrets
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING

import dns.flags
import dns.message
import dns.query
import dns.rdatatype

from dnsdr.adapters.designate_api import DesignateApi, DesignateApiError
from dnsdr.domain.canary import canary_zone
from dnsdr.lab.errors import LabError
from dnsdr.lab.layout import DNS_PORT, PRIMARY, REGIONS, Addresses

if TYPE_CHECKING:
    from dnsdr.lab.lab import Lab

EMAIL = "hostmaster@example.org"
THREADS = 16
# The project and e-mail dnsdr's failover write check uses for the canary zone (engine/steps/dns.py):
# the zone must be found there, not re-created in another project (zone names are unique).
CANARY_PROJECT = "dnsdr"
CANARY_EMAIL = "hostmaster@dnsdr.test"


def zone_names(n: int, prefix: str) -> list[str]:
    return [f"{prefix}-{i:05d}.lab.example." for i in range(n)]


def targets() -> list[tuple[str, int]]:
    """The four backends' DNS endpoints."""
    return [(host, DNS_PORT) for r in REGIONS for host in (Addresses(r).pdns, Addresses(r).bind)]


def soa_serial(name: str, host: str, port: int, timeout: float = 1.0) -> int | None:
    """The SOA serial ``host`` serves with authority for ``name`` (None: not served)."""
    query = dns.message.make_query(name, dns.rdatatype.SOA)
    try:
        answer = dns.query.udp(query, host, port=port, timeout=timeout)
    except (OSError, dns.exception.DNSException):
        return None
    if not answer.flags & dns.flags.AA:
        return None
    for rrset in answer.answer:
        if rrset.rdtype == dns.rdatatype.SOA:
            return int(rrset[0].serial)
    return None


RECORDS = (("www", "A", "192.0.2.10"), ("mail", "A", "192.0.2.25"), ("@", "TXT", '"v=spf1 -all"'))


def zone_file(name: str, serial: int | None = None) -> str:
    """The zone as imported: Designate replaces NS with its own, and keeps the rest, the SOA serial too.

    The serial is the current time, as Designate would give it: with serial 1, every producer's
    recovery task (zones PENDING with a serial older than 71 s) re-creates the zone on every target
    as soon as it is imported, which resets whatever a test changed on a backend behind its back.
    """
    serial = int(time.time()) if serial is None else serial
    lines = [f"$ORIGIN {name}", "$TTL 300",
             f"@ IN SOA ns1.example.org. hostmaster.example.org. {serial} 3600 600 86400 300",
             "@ IN NS ns1.example.org."]
    lines += [f"{label} IN {rtype} {value}" for label, rtype, value in RECORDS]
    return "\n".join(lines) + "\n"


def _import_one(api: DesignateApi, name: str, deadline: float) -> None:
    """One API call creates the zone with its recordsets: one worker create instead of four updates."""
    for attempt in range(5):
        try:
            task = api.import_zone(zone_file(name))
            break
        except DesignateApiError as exc:
            if (exc.status and exc.status < 500) or attempt == 4:
                raise
            time.sleep(0.5 * (attempt + 1))
    while task.status == "PENDING" and time.monotonic() < deadline:
        time.sleep(1.0)  # each poll is a central RPC: keep them rare
        task = api.get_zone_import(task.id)
    if task.status != "COMPLETE":
        if task.status == "ERROR" and "Duplicate" in task.message and api.find_zone(name) is not None:
            return
        raise DesignateApiError(0, f"import of {name} ended {task.status}: {task.message}")


def _create_one(api: DesignateApi, name: str) -> None:
    for attempt in range(5):
        try:
            zone = api.create_zone(name, EMAIL, ttl=300)
            break
        except DesignateApiError as exc:
            if exc.status == 409:  # created by an earlier attempt whose answer was lost
                found = api.find_zone(name)
                if found is None:
                    raise
                zone = found
                break
            if (exc.status and exc.status < 500) or attempt == 4:
                raise
            time.sleep(0.5 * (attempt + 1))
    for label, rtype, value in RECORDS:
        records = [value]
        rs_name = name if label == "@" else f"{label}.{name}"
        for attempt in range(5):
            try:
                api.create_recordset(zone.id, rs_name, rtype, records)
                break
            except DesignateApiError as exc:
                if exc.status == 409:
                    break
                if (exc.status and exc.status < 500) or attempt == 4:
                    raise
                time.sleep(0.5 * (attempt + 1))


def create_and_wait(
    lab: Lab, n: int, prefix: str | None, regions: tuple[str, ...], timeout: float | None, via: str = "import",
) -> list[str]:
    """``via``: ``import`` (one zone-file import per zone) or ``records`` (a zone, then one call per recordset)."""
    if n < 0:
        raise LabError("zones", "the number of zones cannot be negative")
    prefix = prefix or f"z{random_secrets.token_hex(3)}"
    names = zone_names(n, prefix)
    apis = [lab.api(r) for r in regions]
    deadline = time.monotonic() + (timeout if timeout is not None else 120 + n * 0.5)
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=min(THREADS, max(1, n))) as pool:
        if via == "import":
            futures = [pool.submit(_import_one, apis[i % len(apis)], name, deadline) for i, name in enumerate(names)]
        else:
            futures = [pool.submit(_create_one, apis[i % len(apis)], name) for i, name in enumerate(names)]
        for f in futures:
            err = f.exception()
            if err is not None:
                raise LabError("zones", f"creating zones failed: {err}")
    lab.progress(f"{n} zones created in {time.monotonic() - t0:.1f} s")
    wait_served(lab, apis[0], names, deadline, name_filter=f"{prefix}-*")
    return names


def wait_served(lab: Lab, api: DesignateApi, names: list[str], deadline: float, name_filter: str = "*") -> None:
    """Until every zone is ACTIVE in Designate and its SOA serial is zones.serial on every target."""
    pending = set(names)
    ends = targets()
    while True:
        zones = {z.name: z for z in api.list_zones(name=name_filter) if z.name in pending}
        active = {name: z.serial for name, z in zones.items() if z.status == "ACTIVE"}
        with ThreadPoolExecutor(max_workers=len(ends)) as pool:
            served = list(pool.map(partial(_served, active), ends))
        done = set(active)
        for s in served:
            done &= s
        pending -= done
        if not pending:
            return
        if time.monotonic() > deadline:
            sample = sorted(pending)[:5]
            states = {n: (zones[n].status if n in zones else "missing") for n in sample}
            raise LabError("zones", f"{len(pending)} zones not ACTIVE and served everywhere in time, e.g. {states}")
        time.sleep(0.5)


def _served(expected: dict[str, int], endpoint: tuple[str, int]) -> set[str]:
    host, port = endpoint
    return {name for name, serial in expected.items() if soa_serial(name, host, port) == serial}


def ensure_canary(lab: Lab, timeout: float = 120.0) -> str:
    """Create the spec's canary zone through r1's API if it is missing; wait until every target
    serves it with its Designate serial (the witness asks each nameserver and mdns for its SOA)."""
    name = canary_zone(lab.spec())
    api = lab.api(PRIMARY, project_id=CANARY_PROJECT)
    deadline = time.monotonic() + timeout
    t0 = time.monotonic()
    try:
        if api.find_zone(name) is None:
            try:
                api.create_zone(name, CANARY_EMAIL, ttl=60)
            except DesignateApiError as exc:
                if exc.status != 409:  # 409: an earlier attempt created it
                    raise LabError("zones", f"cannot create the canary zone {name}: {exc}") from None
            lab.progress(f"canary zone {name} created")
        wait_served(lab, api, [name], deadline, name_filter=name)
    except DesignateApiError as exc:
        raise LabError("zones", f"the canary zone {name}: {exc}") from None
    finally:
        api.close()
    lab.progress(f"canary zone {name} served by every target after {time.monotonic() - t0:.1f} s")
    return name
