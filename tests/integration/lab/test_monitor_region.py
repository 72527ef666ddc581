"""The monitor region r3 on the real lab: the witness sees both regions, faults reach r3, controllers run there.

Every command goes through the lab's launcher (DIR/bin/dnsdr), as the spec's control commands do,
so the code under test is the code that runs. Every wait is for a condition.
"""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from dnsdr.domain.canary import canary_zone
from dnsdr.lab import Lab, dbsetup
from dnsdr.lab.region3 import http_json, http_status, monitor_url, verdict_states
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

HEALTHY = {"r1": "healthy", "r2": "healthy"}


def dnsdr_lab(lab: Lab, *args: str) -> str:
    done = subprocess.run([str(lab.paths.dnsdr), "lab", "--dir", str(lab.root), *args], capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def verdict() -> dict[str, Any]:
    doc = http_json(monitor_url("/verdict"))
    return doc if isinstance(doc, dict) else {}


def states() -> dict[str, str]:
    return verdict_states(verdict())


def test_the_monitor_sees_both_regions_healthy(healthy_lab: Lab) -> None:
    assert eventually(lambda: states() == HEALTHY, timeout=60), verdict()
    doc = verdict()
    assert doc["canary_zone"] == canary_zone(healthy_lab.spec())
    assert not doc["split_brain"]["flagged"]
    probes = {(p["kind"], p["ok"]) for r in doc["regions"].values() for p in r["probes"]}
    assert probes == {("dns", True), ("mdns", True), ("api", True), ("database", True)}
    r3 = [r for r in healthy_lab.status() if r["region"] == "r3"]
    assert [(r["kind"], r["state"], r["port"]) for r in r3] == [("keystone", "running", 5000),
                                                                ("monitor", "running", 9153)]


def test_partition_r1_r3_blinds_the_monitor_to_r1_while_r2_still_replicates(healthy_lab: Lab) -> None:
    dnsdr_lab(healthy_lab, "partition", "r1", "r3")
    try:
        assert healthy_lab.partitions() == {("r1", "r3")}
        assert eventually(lambda: states() == {"r1": "lost", "r2": "healthy"}, timeout=60), verdict()
        evidence = " ".join(verdict()["regions"]["r1"]["evidence"])
        assert "every probe of r1 failed" in evidence
        replica = dbsetup.role(healthy_lab.paths, "r2")
        assert (replica.source_host, replica.io_running, replica.sql_running) == ("127.0.1.1", "Yes", "Yes")
        assert dbsetup.role(healthy_lab.paths, "r1").semi_sync_master == "ON"
    finally:
        dnsdr_lab(healthy_lab, "heal")
    assert eventually(lambda: states() == HEALTHY, timeout=60), verdict()


def test_kill_and_start_r3_take_the_monitor_down_and_back(healthy_lab: Lab) -> None:
    dnsdr_lab(healthy_lab, "kill", "r3")
    assert eventually(lambda: http_status(monitor_url("/healthz")) is None, timeout=30)
    assert not healthy_lab.cgroups.pids("r3")
    dnsdr_lab(healthy_lab, "start", "r3")  # returns once the monitor is ready
    assert http_status(monitor_url("/healthz")) == 200
    assert eventually(lambda: states() == HEALTHY, timeout=60), verdict()


def test_controllers_started_by_the_lab_serve_and_see_r1_healthy(healthy_lab: Lab) -> None:
    out = dnsdr_lab(healthy_lab, "controller", "start")
    assert "http://127.0.3.1:9154" in out
    second = healthy_lab.start_controller("second")  # several at once, each on its own port
    assert second.url == "http://127.0.3.1:9155" and second.pid is not None
    for url in ("http://127.0.3.1:9154", second.url):
        assert http_status(url + "/readyz") == 200

    def status() -> dict[str, Any]:
        doc = http_json("http://127.0.3.1:9154/status")
        return doc if isinstance(doc, dict) else {}

    assert eventually(lambda: status().get("decision", {}).get("verdict") == "healthy", timeout=60), status()
    assert status()["primary"] == "r1"
    rows = {r["kind"]: r for r in healthy_lab.status() if r["region"] == "r3"}
    assert rows["controller"]["state"] == rows["second"]["state"] == "running"

    assert "r3/controller stopped" in dnsdr_lab(healthy_lab, "controller", "stop")
    assert http_status("http://127.0.3.1:9154/healthz") is None
    healthy_lab.restore_healthy()  # stops the controller a test leaves running
    assert not healthy_lab.running("r3", "second") and http_status(second.url + "/healthz") is None
    assert [r["kind"] for r in healthy_lab.status() if r["region"] == "r3"] == ["keystone", "monitor"]
