"""`lab zones --fast`: zones written into the lab's stores are zones Designate handles as its own.

The API lists them ACTIVE with their recordsets; a change through the API reaches every target
(central bumps the serial, the targets transfer the seeded zone from mdns); a delete through the
API removes the zone from every target (BIND's delzone finds the file name the driver gives).
"""

from __future__ import annotations

import time

import pytest

from dnsdr.lab import Lab, dbsetup
from dnsdr.lab.layout import PRIMARY, REGIONS
from dnsdr.lab.zones import soa_serial
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


def _db_serial(lab: Lab, name: str) -> int:
    rows = dbsetup.query(lab.paths, PRIMARY, "SELECT serial FROM designate.zones WHERE name = %s AND deleted = '0'",
                         (name,))
    assert rows, name
    return int(rows[0]["serial"])


def test_seeded_zones_are_listed_changed_and_deleted_like_api_zones(healthy_lab: Lab) -> None:
    prefix = f"seed{int(time.time())}"
    names = healthy_lab.seed_zones(25, prefix=prefix)
    targets = [(b.dns.host, b.dns.port) for r in healthy_lab.spec().regions for b in r.backends]
    assert len(names) == 25 and len(targets) == 4
    # each named loaded the seeded files: none of those zones was transferred from mdns instead
    for region in REGIONS:
        log = healthy_lab.paths.log(region, "bind").read_text(encoding="utf-8", errors="replace")
        assert f"transfer of '{prefix}-" not in log, region
        assert f"{prefix}-00001.lab.example" in log, region  # its addzone is logged there
    api = healthy_lab.api("r1")
    try:
        listed = {z.name: z for z in api.list_zones(name=f"{prefix}-*")}
        assert sorted(listed) == sorted(names)
        assert {z.status for z in listed.values()} == {"ACTIVE"}
        changed, deleted, kept = (listed[n] for n in names[:3])
        shown = sorted((rs.type, rs.name) for rs in api.list_recordsets(changed.id))
        assert shown == sorted([("SOA", changed.name), ("NS", changed.name), ("TXT", changed.name),
                                ("A", f"www.{changed.name}"), ("A", f"mail.{changed.name}")])

        before = _db_serial(healthy_lab, changed.name)
        api.create_recordset(changed.id, f"new.{changed.name}", "A", ["192.0.2.99"])
        assert eventually(lambda: api.get_zone(changed.id).status == "ACTIVE", timeout=300)
        after = _db_serial(healthy_lab, changed.name)
        assert after > before
        assert eventually(lambda: all(soa_serial(changed.name, h, p) == after for h, p in targets), timeout=300), \
            [soa_serial(changed.name, h, p) for h, p in targets]

        api.delete_zone(deleted.id)
        assert eventually(lambda: api.find_zone(deleted.name) is None, timeout=300)
        # gone from every target while its sibling is still served there (the server answers)
        assert eventually(lambda: all(soa_serial(deleted.name, h, p) is None
                                      and soa_serial(kept.name, h, p) == kept.serial for h, p in targets),
                          timeout=300), [(soa_serial(deleted.name, h, p), soa_serial(kept.name, h, p))
                                         for h, p in targets]
    finally:
        api.close()
