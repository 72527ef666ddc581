"""Zones as Designate stores them and as mdns serves them, for seeding the lab's stores directly (pure).

The API creates about 3.5 zones/s in the lab (each zone is a central RPC, a worker create on four
targets, polls): 10,000 zones take most of an hour. Designate's own write path for a zone is
simple, though: one ``zones`` row, the SOA and NS recordsets with their records (central's
``_create_soa``/``_create_ns``), the zone's other recordsets, and, once every target served it, the
zone and its records ACTIVE/NONE at the zone's serial. The rows here are those rows, value for value
(checked against an API-created zone), and the texts are what mdns's AXFR hands each target, so the
targets can be given the same data without 40,000 transfers.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

# Designate's defaults ([DEFAULT] default_soa_*), as in the lab's designate.conf.
REFRESH_MIN, REFRESH_MAX, RETRY, EXPIRE, MINIMUM = 3500, 3600, 600, 86400, 3600
# What `lab zones` imports for every zone besides SOA and NS (dnsdr.lab.zones.RECORDS).
EXTRA = (("www", "A", "192.0.2.10"), ("mail", "A", "192.0.2.25"), ("@", "TXT", '"v=spf1 -all"'))


@dataclass(frozen=True)
class NsRecord:
    hostname: str
    priority: int


@dataclass(frozen=True)
class RecordSet:
    id: str  # UUID with dashes, as Designate's objects hold it
    name: str  # absolute, with the trailing dot
    type: str
    ttl: int | None  # None: the zone's TTL applies
    records: tuple[str, ...]
    managed: bool  # SOA and NS: written by central, not by a user
    record_ids: tuple[str, ...]  # one per record


@dataclass(frozen=True)
class SeedZone:
    id: str
    name: str
    email: str
    ttl: int
    serial: int
    refresh: int
    recordsets: tuple[RecordSet, ...]

    @property
    def hex_id(self) -> str:
        """How MySQL stores Designate's UUIDs: CHAR(32), no dashes."""
        return self.id.replace("-", "")

    @property
    def shard(self) -> int:
        """tables.default_shard: the first three hex digits of the id."""
        return int(self.hex_id[:3], 16)


def new_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def soa_rname(email: str) -> str:
    """central._build_soa_record: dots before the @ escaped, the @ a dot."""
    local, _, domain = email.partition("@")
    return local.replace(".", "\\.") + "." + domain + "."


def soa_data(email: str, serial: int, refresh: int, ns_records: Sequence[NsRecord]) -> str:
    mname = min(ns_records, key=lambda n: n.priority).hostname  # ties: the first, as min() keeps
    return f"{mname} {soa_rname(email)} {serial} {refresh} {RETRY} {EXPIRE} {MINIMUM}"


def plan_zone(name: str, email: str, ttl: int, serial: int, ns_records: Sequence[NsRecord], rng: random.Random,
              extra: Sequence[tuple[str, str, str]] = EXTRA, rrset_ttl: int | None = None) -> SeedZone:
    """One zone as central creates it: SOA first (its created_at is the zone's first), NS, then ``extra``.

    ``rrset_ttl`` is the TTL of the ``extra`` recordsets (a zone-file import sets each one; the API's
    recordset create leaves it None).
    """
    if not name.endswith("."):
        raise ValueError(f"zone name must be absolute: {name!r}")
    if not ns_records:
        raise ValueError("the pool has no NS records: Designate refuses to create zones then")
    refresh = rng.randint(REFRESH_MIN, REFRESH_MAX)

    def rrset(owner: str, rtype: str, ttl: int | None, records: tuple[str, ...], managed: bool) -> RecordSet:
        return RecordSet(new_uuid(rng), owner, rtype, ttl, records, managed, tuple(new_uuid(rng) for _ in records))

    sets = [
        rrset(name, "SOA", None, (soa_data(email, serial, refresh, ns_records),), True),
        rrset(name, "NS", None, tuple(n.hostname for n in ns_records), True),
    ]
    for label, rtype, value in extra:
        sets.append(rrset(name if label == "@" else f"{label}.{name}", rtype, rrset_ttl, (value,), False))
    return SeedZone(new_uuid(rng), name, email, ttl, serial, refresh, tuple(sets))


def record_hash(recordset_id: str, data: str) -> str:
    """storage._recalculate_record_hash (unique per record): md5 of 'recordset_id:data'."""
    return hashlib.md5(f"{recordset_id}:{data}".encode(), usedforsecurity=False).hexdigest()


ZONE_COLUMNS = ("id", "version", "created_at", "updated_at", "deleted", "shard", "tenant_id", "name", "email", "type",
                "ttl", "serial", "refresh", "retry", "expire", "minimum", "status", "action", "pool_id",
                "reverse_name", "delayed_notify", "increment_serial")
RECORDSET_COLUMNS = ("id", "version", "created_at", "updated_at", "zone_shard", "tenant_id", "zone_id", "name",
                     "type", "ttl", "reverse_name")
RECORD_COLUMNS = ("id", "version", "created_at", "updated_at", "zone_shard", "tenant_id", "zone_id", "recordset_id",
                  "data", "hash", "managed", "status", "action", "serial")
# Versions after central's create and the worker's status update (SUCCESS -> ACTIVE/NONE).
ZONE_VERSION, RECORD_VERSION = 2, 2


def designate_rows(zones: Sequence[SeedZone], project: str, pool_id: str, now: str,
                   ) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Rows for ``zones``, ``recordsets`` and ``records`` in the column orders above; ``now`` is the
    timestamp text written to created_at/updated_at (UTC, as Designate writes them)."""
    pool = pool_id.replace("-", "")
    zone_rows: list[tuple[object, ...]] = []
    rs_rows: list[tuple[object, ...]] = []
    rec_rows: list[tuple[object, ...]] = []
    for z in zones:
        zone_rows.append((z.hex_id, ZONE_VERSION, now, now, "0", z.shard, project, z.name, z.email, "PRIMARY", z.ttl,
                          z.serial, z.refresh, RETRY, EXPIRE, MINIMUM, "ACTIVE", "NONE", pool, z.name[::-1], 0, 0))
        for rs in z.recordsets:
            rs_hex = rs.id.replace("-", "")
            rs_rows.append((rs_hex, 1, now, None, z.shard, project, z.hex_id, rs.name, rs.type, rs.ttl, rs.name[::-1]))
            for rid, data in zip(rs.record_ids, rs.records, strict=True):
                rec_rows.append((rid.replace("-", ""), RECORD_VERSION,
                                 now, now, z.shard, project, z.hex_id, rs_hex, data, record_hash(rs.id, data),
                                 int(rs.managed), "ACTIVE", "NONE", z.serial))
    return zone_rows, rs_rows, rec_rows


def axfr(zone: SeedZone) -> list[tuple[str, str, int, str]]:
    """(owner, type, ttl, rdata) as mdns sends them: SOA first, a recordset's TTL else the zone's."""
    out = []
    for rs in sorted(zone.recordsets, key=lambda r: r.type != "SOA"):
        ttl = rs.ttl if rs.ttl is not None else zone.ttl
        out += [(rs.name, rs.type, ttl, data) for data in rs.records]
    return out


def pdns_records(zone: SeedZone) -> list[tuple[str, str, int, str, int]]:
    """gsqlite3 ``records`` rows (name, type, ttl, content, prio) as PowerDNS stores a transferred zone:
    names without the trailing dot, lower case; MX/SRV priorities in ``prio``."""
    rows = []
    for owner, rtype, ttl, data in axfr(zone):
        prio = 0
        if rtype in ("MX", "SRV"):
            first, _, data = data.partition(" ")
            prio = int(first)
        rows.append((owner.rstrip(".").lower(), rtype, ttl, data, prio))
    return rows


def bind_zone_file(zone: SeedZone) -> str:
    """The zone in master-file text, every owner absolute (what a transfer would leave, in text form)."""
    return "".join(f"{owner} {ttl} IN {rtype} {data}\n" for owner, rtype, ttl, data in axfr(zone))


def bind_file_name(zone: SeedZone) -> str:
    """impl_bind9.create_zone's file name: ``slave.<name with its dot><zone id>``."""
    return f"slave.{zone.name}{zone.id}"


def bind_addzone_config(zone: SeedZone, masters: Sequence[tuple[str, int]]) -> str:
    """impl_bind9.create_zone's addzone config, word for word (masters in the given order)."""
    entries = "; ".join(f"{host} port {port}" for host, port in masters)
    return f'{{ type slave; masters {{ {entries};}}; file "{bind_file_name(zone)}"; }};'


def pdns_master(masters: Sequence[tuple[str, int]]) -> str:
    """gsqlite3 ``domains.master``: what impl_pdns4 POSTs (``host:port``, IPv6 in brackets), comma-joined."""
    return ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in masters)
