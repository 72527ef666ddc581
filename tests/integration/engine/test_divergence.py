"""Loss in DNS terms on the real lab: writes r1 took while cut off are named, replayed, then discarded.

r1 is cut from r2 and takes a recordset create, change and delete that cannot replicate (semi-sync
off, so the writes return), then dies; r2 is promoted. When r1 returns, `dnsdr rejoin` refuses and
names those recordsets with their values; `dnsdr divergence --replay --yes` brings them to r2 and
waits until r2's nameservers serve them; the comparison is then clean in DNS terms, but r1 still
holds its errant transactions, so rejoin needs `--force discard-divergence`, which rebuilds r1's
database from r2's before it replicates.
"""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest

from dnsdr.adapters.dns_lookup import rrset_values
from dnsdr.adapters.mysql import adapter_for
from dnsdr.domain.replication import errant_transactions
from dnsdr.lab import Lab, dbsetup
from tests.integration.engine.test_operations import backends, dnsdr, make_zones, observe
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


def served(lab: Lab, region: str, name: str, rtype: str) -> set[frozenset[str] | None]:
    return {rrset_values(host, port, name, rtype) for host, port in backends(lab.spec(), region)}


def test_writes_lost_with_r1_are_named_replayed_and_then_discarded_by_rejoin(
        healthy_lab: Lab, state_dir: Path, tmp_path: Path) -> None:
    spec = healthy_lab.spec()
    (zone,) = make_zones(healthy_lab, 1)   # www A 192.0.2.10, mail A 192.0.2.25, @ TXT; served everywhere
    api = healthy_lab.api("r1")
    z = api.find_zone(zone)
    assert z is not None
    by_name = {r.name: r for r in api.list_recordsets(z.id)}
    t0 = time.monotonic()

    healthy_lab.partition("r1", "r2")
    assert eventually(lambda: dbsetup.role(healthy_lab.paths, "r2").io_running != "Yes", 60)
    dbsetup.query(healthy_lab.paths, "r1", "SET GLOBAL rpl_semi_sync_master_enabled = 0")
    api.create_recordset(z.id, f"lost.{zone}", "A", ["192.0.2.77"], ttl=120)
    api.update_recordset(z.id, by_name[f"mail.{zone}"].id, ["192.0.2.26"], None)
    api.delete_recordset(z.id, by_name[f"www.{zone}"].id)
    healthy_lab.kill("r1")

    # No gate refuses: r1 is unreachable, and r2 no longer hears from it (its IO thread went to Connecting
    # when the cut began), so this is a loss, not a partition; the possible loss is what follows.
    verdict = dnsdr(healthy_lab, state_dir, "promote", "--region", "r2", "--dry-run")
    assert verdict.returncode == 0 and "Safety verdict now: allowed" in verdict.stdout, verdict.stdout
    promoted = dnsdr(healthy_lab, state_dir, "promote", "--region", "r2", "--yes")
    assert promoted.returncode == 0, promoted.stderr + promoted.stdout
    healthy_lab.heal()
    healthy_lab.start("r1")
    t_failover = time.monotonic()

    # rejoin refuses, names the zone and the recordsets with their values, and changes nothing.
    refused = dnsdr(healthy_lab, state_dir, "rejoin", "--region", "r1", "--yes")
    assert refused.returncode == 4, refused.stderr + refused.stdout
    print("\n[rejoin refused]\n" + refused.stderr)
    assert "r1's Designate database holds 3 changes r2 never received" in refused.stderr
    assert f"zone {zone} recordset lost.{zone} A created: [192.0.2.77] ttl 120 -> on the primary: absent" \
        in refused.stderr
    assert f"recordset mail.{zone} A changed: [192.0.2.26] -> on the primary: [192.0.2.25]" in refused.stderr
    assert f"recordset www.{zone} A deleted: absent -> on the primary: [192.0.2.10]" in refused.stderr
    assert "dnsdr divergence --region r1 --replay --yes" in refused.stderr
    assert "--force discard-divergence" in refused.stderr
    r1 = observe(spec, "r1")
    assert r1.read_only and not r1.is_replica
    dry = dnsdr(healthy_lab, state_dir, "rejoin", "--region", "r1", "--dry-run")
    assert dry.returncode == 4 and f"lost.{zone} A created" in dry.stdout

    # The report, exported for review.
    export = tmp_path / "divergence.json"
    report = dnsdr(healthy_lab, state_dir, "divergence", "--region", "r1", "-o", "json", "--export", str(export))
    assert report.returncode == 3, report.stderr + report.stdout
    doc = json.loads(report.stdout)
    assert doc["method"] == "binlog" and doc["errant"] and "designate.recordsets" in doc["tables"]
    assert {(c["kind"], c["name"]) for c in doc["changes"]} == {
        ("recordset-created", f"lost.{zone}"), ("recordset-changed", f"mail.{zone}"),
        ("recordset-deleted", f"www.{zone}")}
    assert doc["primary_changes"] >= 1  # at least the failover's own canary write on r2
    assert stat.S_IMODE(export.stat().st_mode) == 0o600
    assert json.loads(export.read_text())["changes"] == doc["changes"]

    # A replay without --yes only says what it would do.
    shown = dnsdr(healthy_lab, state_dir, "divergence", "--region", "r1", "--replay")
    assert shown.returncode == 3 and "would create" in shown.stdout and "would delete" in shown.stdout
    print("\n[divergence --replay]\n" + shown.stdout)
    assert served(healthy_lab, "r2", f"lost.{zone}", "A") == {frozenset()}

    replayed = dnsdr(healthy_lab, state_dir, "divergence", "--region", "r1", "--replay", "--yes")
    assert replayed.returncode == 0, replayed.stderr + replayed.stdout
    assert served(healthy_lab, "r2", f"lost.{zone}", "A") == {frozenset({"192.0.2.77"})}
    assert served(healthy_lab, "r2", f"mail.{zone}", "A") == {frozenset({"192.0.2.26"})}
    assert served(healthy_lab, "r2", f"www.{zone}", "A") == {frozenset()}
    t_replayed = time.monotonic()

    # Clean in DNS terms now; r1 still holds its errant transactions, so rejoin still refuses...
    clean = json.loads(dnsdr(healthy_lab, state_dir, "divergence", "--region", "r1", "-o", "json").stdout)
    assert clean["changes"] == [] and clean["errant"]
    again = dnsdr(healthy_lab, state_dir, "rejoin", "--region", "r1", "--yes")
    assert again.returncode == 4 and "in DNS terms they change nothing r2 lacks" in again.stderr
    # ... until they are knowingly discarded: r1's database is rebuilt from r2's, then it replicates.
    rejoined = dnsdr(healthy_lab, state_dir, "rejoin", "--region", "r1", "--yes", "--force", "discard-divergence",
                     "-o", "json")
    assert rejoined.returncode == 0, rejoined.stderr + rejoined.stdout
    steps = {s["name"]: s for s in json.loads(rejoined.stdout)["steps"]}
    assert steps["rebuild-r1"]["status"] == "done" and "divergent writes discarded" in steps["rebuild-r1"]["detail"]
    r1, r2 = observe(spec, "r1"), observe(spec, "r2")
    assert r1.is_replica and r1.read_only and r1.channel is not None and r1.channel.source_host == "127.0.2.1"
    assert errant_transactions(r1, r2) == ()
    db = spec.region("r1").database
    assert db is not None
    with adapter_for(db).connector.session() as s:
        assert s.scalar("SELECT COUNT(*) AS n FROM designate.recordsets WHERE name = %s", (f"lost.{zone}",)) == 1
    for name, rtype, want in ((f"lost.{zone}", "A", {"192.0.2.77"}), (f"www.{zone}", "A", set())):
        assert eventually(lambda: served(healthy_lab, "r1", name, rtype) == {frozenset(want)}, 120), name
    print(f"\n[timing] failover {t_failover - t0:.1f} s, divergence+replay {t_replayed - t_failover:.1f} s, "
          f"rebuild+rejoin {time.monotonic() - t_replayed:.1f} s")
