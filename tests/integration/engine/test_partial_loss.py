"""Partial region loss on the real lab: what still runs in a "lost" region is kept and re-pointed, or
fenced, never left serving stale data.

Only r1's database dies (its Designate, mdns, PowerDNS and BIND keep running), or its database and
Designate services: after `dnsdr promote --region r2`, a record written through r2's API is served
by every backend that still answers for the zone (r1's included), or r1's backends answer for no
zone at all; `dnsdr serials` over every region exits 0, naming the fenced ones.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
import yaml

from dnsdr.lab import Lab
from tests.integration.engine.test_operations import DNSDR, _a_record, backends, make_zones, zone_count
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


def run(spec_path: Path, state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DNSDR, *args[:1], "-c", str(spec_path), "--state-dir", str(state_dir), *args[1:]],
                          capture_output=True, text=True, timeout=900, env=dict(os.environ))


def kill_database(lab: Lab, region: str) -> None:
    for pid in lab.cgroups.pids(region, "mariadb"):
        os.kill(pid, signal.SIGKILL)
    assert eventually(lambda: not lab.cgroups.pids(region, "mariadb"), 30)


def rcode(host: str, port: int, zone: str) -> str | None:
    try:
        answer = dns.query.udp(dns.message.make_query(zone, dns.rdatatype.SOA), host, port=port, timeout=2)
    except Exception:
        return None
    return dns.rcode.to_text(answer.rcode())


def fail_over_and_write(lab: Lab, spec_path: Path, state_dir: Path, zones: list[str]) -> dict[str, object]:
    result = run(spec_path, state_dir, "promote", "--region", "r2", "--yes", "-o", "json")
    assert result.returncode == 0, result.stderr + result.stdout
    report: dict[str, object] = json.loads(result.stdout)
    api = lab.api("r2")
    zone = api.find_zone(zones[0])
    assert zone is not None
    api.create_recordset(zone.id, f"after-partial.{zones[0]}", "A", ["192.0.2.77"])
    return report


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


def test_only_the_database_lost_keeps_r1s_backends_re_pointed_and_serving(healthy_lab: Lab, state_dir: Path) -> None:
    spec = healthy_lab.spec()
    zones = make_zones(healthy_lab, 3)
    before = zone_count(healthy_lab, "r1")
    assert eventually(lambda: zone_count(healthy_lab, "r2") == before, 60)
    kill_database(healthy_lab, "r1")
    dry = run(healthy_lab.spec_path, state_dir, "promote", "--region", "r2", "--dry-run")
    assert "kept            backend r1-pdns" in dry.stdout and "kept            backend r1-bind" in dry.stdout
    report = fail_over_and_write(healthy_lab, healthy_lab.spec_path, state_dir, zones)
    done = {s["name"] for s in report["steps"] if s["status"] == "done"}  # type: ignore[attr-defined]
    assert {"rewrite-masters-r1-pdns", "rewrite-masters-r1-bind"} <= done
    for host, port in backends(spec, "r1") + backends(spec, "r2"):  # r1's answer too, with the new record
        assert eventually(lambda: _a_record(host, port, f"after-partial.{zones[0]}") == "192.0.2.77", 90), host
    # Designate re-pushes every zone after the pool update: wait for it to settle, then all in sync.
    assert eventually(lambda: run(healthy_lab.spec_path, state_dir, "serials").returncode == 0, 240), \
        run(healthy_lab.spec_path, state_dir, "serials").stdout


def test_database_and_designate_down_with_fencing_leaves_r1s_backends_answering_for_nothing(
        healthy_lab: Lab, state_dir: Path, tmp_path: Path) -> None:
    spec = healthy_lab.spec()
    doc = yaml.safe_load(healthy_lab.spec_path.read_text())
    doc["spec"]["policy"]["survivingBackends"] = "fence"
    fencing = tmp_path / "fencing.yaml"
    fencing.write_text(yaml.safe_dump(doc))
    zones = make_zones(healthy_lab, 3)
    before = zone_count(healthy_lab, "r1")
    assert eventually(lambda: zone_count(healthy_lab, "r2") == before, 60)
    kill_database(healthy_lab, "r1")
    healthy_lab.service("stop", "r1", "all")
    report = fail_over_and_write(healthy_lab, fencing, state_dir, zones)
    done = {s["name"] for s in report["steps"] if s["status"] == "done"}  # type: ignore[attr-defined]
    assert {"fence-backend-r1-pdns", "fence-backend-r1-bind"} <= done
    for host, port in backends(spec, "r1"):
        assert rcode(host, port, zones[0]) in ("REFUSED", "NOTAUTH", "NXDOMAIN", "SERVFAIL"), host
    for host, port in backends(spec, "r2"):
        assert eventually(lambda: _a_record(host, port, f"after-partial.{zones[0]}") == "192.0.2.77", 90), host
    assert eventually(lambda: run(fencing, state_dir, "serials").returncode == 0, 240), \
        run(fencing, state_dir, "serials").stdout
    serials = run(fencing, state_dir, "serials")
    assert "fenced by a failover (expected to answer for no zone): r1-bind, r1-pdns" in serials.stdout
