"""The seeded zones' rows and texts are what Designate and its mdns produce for an API-created zone."""

from __future__ import annotations

import hashlib
import random

import dns.zone
import pytest

from dnsdr.lab.seed import (
    RECORD_COLUMNS,
    RECORDSET_COLUMNS,
    ZONE_COLUMNS,
    NsRecord,
    axfr,
    bind_addzone_config,
    bind_file_name,
    bind_zone_file,
    designate_rows,
    pdns_master,
    pdns_records,
    plan_zone,
    soa_data,
    soa_rname,
)

NS = (NsRecord("ns2.example.org.", 2), NsRecord("ns1.example.org.", 1))
POOL = "794ccc2c-d751-44fe-b57f-8894c9f5c842"


def zone(name: str = "a-00001.lab.example.", seed: int = 1) -> object:
    return plan_zone(name, "hostmaster@example.org", 300, 1_700_000_000, NS, random.Random(seed), rrset_ttl=300)


def test_soa_as_central_builds_it() -> None:
    assert soa_rname("host.master@example.org") == "host\\.master.example.org."
    # the lowest priority NS record is the MNAME, whatever the order
    assert soa_data("hostmaster@example.org", 7, 3550, NS) == \
        "ns1.example.org. hostmaster.example.org. 7 3550 600 86400 3600"


def test_plan_zone_recordsets() -> None:
    z = zone()
    kinds = [(rs.name, rs.type, rs.ttl, rs.managed, len(rs.records)) for rs in z.recordsets]
    assert kinds == [
        ("a-00001.lab.example.", "SOA", None, True, 1), ("a-00001.lab.example.", "NS", None, True, 2),
        ("www.a-00001.lab.example.", "A", 300, False, 1), ("mail.a-00001.lab.example.", "A", 300, False, 1),
        ("a-00001.lab.example.", "TXT", 300, False, 1),
    ]
    assert 3500 <= z.refresh <= 3600
    assert z.shard == int(z.hex_id[:3], 16) and len(z.hex_id) == 32
    ids = [z.id, *(rs.id for rs in z.recordsets), *(i for rs in z.recordsets for i in rs.record_ids)]
    assert len(set(ids)) == len(ids)


def test_plan_zone_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="absolute"):
        plan_zone("relative", "h@example.org", 300, 1, NS, random.Random(1))
    with pytest.raises(ValueError, match="NS records"):
        plan_zone("z.example.", "h@example.org", 300, 1, (), random.Random(1))


def test_designate_rows_match_the_columns_and_designate_values() -> None:
    z = zone()
    zones, rsets, records = designate_rows([z], "dnsdr-lab", POOL, "2026-01-01 00:00:00")
    assert [len(r) for r in (zones[0], rsets[0], records[0])] == [len(ZONE_COLUMNS), len(RECORDSET_COLUMNS),
                                                                  len(RECORD_COLUMNS)]
    row = dict(zip(ZONE_COLUMNS, zones[0], strict=True))
    assert row["pool_id"] == POOL.replace("-", "") and row["id"] == z.hex_id
    assert (row["type"], row["status"], row["action"], row["deleted"]) == ("PRIMARY", "ACTIVE", "NONE", "0")
    assert row["reverse_name"] == z.name[::-1] and row["increment_serial"] == 0
    assert len(rsets) == 5 and len(records) == 6
    for rec in records:
        r = dict(zip(RECORD_COLUMNS, rec, strict=True))
        rs = next(s for s in z.recordsets if s.id.replace("-", "") == r["recordset_id"])
        assert r["hash"] == hashlib.md5(f"{rs.id}:{r['data']}".encode()).hexdigest()
        assert (r["status"], r["action"], r["serial"], r["managed"]) == ("ACTIVE", "NONE", z.serial, int(rs.managed))


def test_axfr_and_targets_data_agree() -> None:
    z = zone()
    served = axfr(z)
    assert served[0][1] == "SOA" and all(ttl == 300 for _, _, ttl, _ in served)
    parsed = dns.zone.from_text(bind_zone_file(z), origin=z.name, relativize=False)
    assert parsed.get_rdataset(z.name, "SOA")[0].serial == z.serial
    assert {str(r) for r in parsed.get_rdataset(z.name, "NS")} == {"ns1.example.org.", "ns2.example.org."}
    rows = pdns_records(z)
    assert ("www.a-00001.lab.example", "A", 300, "192.0.2.10", 0) in rows
    assert all(not name.endswith(".") for name, *_ in rows)


def test_backend_configs_word_for_word() -> None:
    z = zone()
    assert bind_file_name(z) == f"slave.a-00001.lab.example.{z.id}"
    assert bind_addzone_config(z, [("127.0.1.1", 5354)]) == \
        f'{{ type slave; masters {{ 127.0.1.1 port 5354;}}; file "slave.a-00001.lab.example.{z.id}"; }};'
    assert pdns_master([("127.0.1.1", 5354), ("2001:db8::1", 5354)]) == "127.0.1.1:5354,[2001:db8::1]:5354"
