"""The playbooks against the real lab, with a local connection: apply-pools (twice: the second run
changes nothing), the example spec's repoint command, failover and rejoin, and --check changing nothing.

The failover+rejoin test reverses the roles, so the next test's ``healthy_lab`` rebuilds the lab:
it stays last here and is one test.
"""

from __future__ import annotations

import shlex
import stat
from pathlib import Path

import pytest
import yaml

from dnsdr.adapters.backends import KINDS as BACKEND_KINDS
from dnsdr.adapters.mysql import adapter_for
from dnsdr.adapters.service_control import CommandController
from dnsdr.domain.spec import Endpoint
from dnsdr.domain.spec_parse import parse_designatedr
from dnsdr.lab import Lab, dbsetup
from dnsdr.lab.layout import POOL_ID
from tests.integration.playbooks.conftest import REPO, PlaybookRun, ansible_env, lab_inventory, playbook
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

EXAMPLE = REPO / "manifests" / "examples" / "designatedr.yaml"


def ok(run: PlaybookRun) -> PlaybookRun:
    assert run.returncode == 0, str(run)
    assert all(h["failed"] == 0 and h["unreachable"] == 0 for h in run.recap.values()), str(run)
    return run


def pool_description(lab: Lab) -> str:
    rows = dbsetup.query(lab.paths, "r1", "SELECT description FROM designate.pools WHERE id = %s",
                         (POOL_ID.replace("-", ""),))
    return str(rows[0]["description"])


def spec_with_description(lab: Lab, tmp: Path, description: str) -> Path:
    doc = yaml.safe_load(lab.spec_path.read_text(encoding="utf-8"))
    doc["spec"]["pool"]["description"] = description
    path = tmp / "designatedr-described.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return path


def designate_running(lab: Lab, region: str) -> bool:
    return all(row["state"] == "running" for row in lab.status()
               if row["region"] == region and row["kind"].startswith("designate-"))


def test_apply_pools_twice_the_second_run_changes_nothing(healthy_lab: Lab, play_tmp: Path) -> None:
    original = pool_description(healthy_lab)
    described = spec_with_description(healthy_lab, play_tmp, "dnsdr lab pool, applied by Ansible")
    inventory = lab_inventory(healthy_lab, play_tmp, spec=described)
    api_key = (healthy_lab.paths.secret("pdns-api-key")).read_text(encoding="utf-8").strip()

    check = ok(playbook("apply-pools.yml", inventory, "--check", tmp=play_tmp))
    assert check.changed > 0 and "would run: designate-manage pool update" in check.output
    assert pool_description(healthy_lab) == original  # --check changed nothing
    assert not (play_tmp / "pools-r1.yaml").exists()

    first = ok(playbook("apply-pools.yml", inventory, tmp=play_tmp))
    assert first.changed > 0
    assert "description" in first.output and "applied by Ansible" in first.output  # the change was shown
    assert pool_description(healthy_lab).startswith("dnsdr lab pool, applied by Ansible")
    kept = play_tmp / "pools-r1.yaml"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert api_key in kept.read_text(encoding="utf-8")  # the real token, for designate-manage
    assert api_key not in first.output  # never shown
    assert not (play_tmp / "pools-r2.yaml").exists()  # designate-manage runs in the primary region only
    assert eventually(lambda: designate_running(healthy_lab, "r1") and designate_running(healthy_lab, "r2"), 60)

    second = ok(playbook("apply-pools.yml", inventory, tmp=play_tmp))
    assert second.changed == 0, str(second)
    assert "Designate already holds these pools" in second.output

    back = ok(playbook("apply-pools.yml", lab_inventory(healthy_lab, play_tmp), tmp=play_tmp))
    assert back.changed > 0
    assert pool_description(healthy_lab) == original
    assert eventually(lambda: designate_running(healthy_lab, "r1") and designate_running(healthy_lab, "r2"), 60)


def example_repoint(lab: Lab) -> CommandController:
    """r2 of the lab, its repoint command replaced by the example spec's (the ansible-playbook line)."""
    example = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    template = next(r for r in example["spec"]["regions"] if r["name"] == "r2")["designate"]["control"]["commands"][
        "repoint"]
    assert shlex.split(template)[:2] == ["ansible-playbook", "playbooks/repoint-designate.yml"]
    doc = yaml.safe_load(lab.spec_path.read_text(encoding="utf-8"))
    for region in doc["spec"]["regions"]:
        if region.get("designate"):
            region["designate"]["control"]["commands"]["repoint"] = template
    spec = parse_designatedr(doc, BACKEND_KINDS)
    return CommandController(spec.region("r2"), timeout=600)


def db_endpoint(lab: Lab, region: str) -> tuple[str, int]:
    return lab.db_target(region)


def test_repoint_through_the_example_specs_command(healthy_lab: Lab, play_tmp: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    inventory = lab_inventory(healthy_lab, play_tmp)
    # dnsdr runs the command as written (no shell) from its working directory, with its environment.
    for key, value in ansible_env(play_tmp).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ANSIBLE_INVENTORY", str(inventory))
    monkeypatch.chdir(REPO)
    controller = example_repoint(healthy_lab)

    controller.repoint(Endpoint("127.0.2.1", 3306))  # r2's Designate onto r2's (read-only) database
    assert db_endpoint(healthy_lab, "r2") == ("127.0.2.1", 3306)
    assert db_endpoint(healthy_lab, "r1") == ("127.0.1.1", 3306)  # -l r2: r1 untouched
    conf = healthy_lab.paths.designate_conf("r2").read_text(encoding="utf-8")
    assert "@127.0.2.1:3306/" in conf
    assert eventually(lambda: designate_running(healthy_lab, "r2"), 60)

    again = ok(playbook("repoint-designate.yml", inventory, "-l", "r2", "-e", "db_host=127.0.2.1", "-e", "db_port=3306",
                        tmp=play_tmp))
    assert again.changed == 0, str(again)

    check = ok(playbook("repoint-designate.yml", inventory, "-l", "r2", "-e", "db_host=127.0.1.1", "-e",
                        "db_port=3306", "--check", tmp=play_tmp))
    assert check.changed > 0 and "would run:" in check.output
    assert db_endpoint(healthy_lab, "r2") == ("127.0.2.1", 3306)  # --check changed nothing
    assert healthy_lab.paths.designate_conf("r2").read_text(encoding="utf-8") == conf

    controller.repoint(Endpoint("127.0.1.1", 3306))  # back to the healthy shape
    assert db_endpoint(healthy_lab, "r2") == ("127.0.1.1", 3306)
    assert eventually(lambda: designate_running(healthy_lab, "r2"), 60)


def is_replica_of(lab: Lab, region: str, source: str) -> bool:
    db = lab.spec().region(region).database
    assert db is not None
    state = adapter_for(db).observe()
    return state.is_replica and state.channel is not None and state.channel.source_host == source


def writable(lab: Lab, region: str) -> bool:
    db = lab.spec().region(region).database
    assert db is not None
    state = adapter_for(db).observe()
    return state.writable and not state.is_replica


def test_failover_then_rejoin(healthy_lab: Lab, play_tmp: Path) -> None:
    inventory = lab_inventory(healthy_lab, play_tmp)
    healthy_lab.create_zones(2, prefix="ansible")

    refused = playbook("failover.yml", inventory, "-e", "region=r2", "-e", "confirm=false", tmp=play_tmp)
    assert refused.returncode != 0 and "dnsdr refuses the failover to r2 (exit 4" in refused.output, str(refused)
    assert "reachable and writable" in refused.output
    assert is_replica_of(healthy_lab, "r2", "127.0.1.1")

    healthy_lab.kill("r1")
    check = ok(playbook("failover.yml", inventory, "-e", "region=r2", "--check", tmp=play_tmp))
    assert "Plan: failover r1 -> r2" in check.output and check.changed == 1  # the "would run" line
    unconfirmed = playbook("failover.yml", inventory, "-e", "region=r2", tmp=play_tmp)  # no terminal to say yes on
    assert unconfirmed.returncode != 0 and "not confirmed: nothing was changed" in unconfirmed.output, str(unconfirmed)
    assert is_replica_of(healthy_lab, "r2", "127.0.1.1")  # neither changed anything

    failover = ok(playbook("failover.yml", inventory, "-e", "region=r2", "-e", "confirm=false", tmp=play_tmp))
    assert failover.changed == 1 and "outcome: succeeded" in failover.output
    assert writable(healthy_lab, "r2")
    again = ok(playbook("failover.yml", inventory, "-e", "region=r2", "-e", "confirm=false", tmp=play_tmp))
    assert again.changed == 0 and "already the primary" in again.output

    healthy_lab.start("r1")
    check = ok(playbook("rejoin.yml", inventory, "-e", "region=r1", "--check", tmp=play_tmp))
    assert "Plan: rejoin" in check.output and not is_replica_of(healthy_lab, "r1", "127.0.2.1")
    rejoin = ok(playbook("rejoin.yml", inventory, "-e", "region=r1", "-e", "confirm=false", tmp=play_tmp))
    assert rejoin.changed == 1 and "outcome: succeeded" in rejoin.output
    assert is_replica_of(healthy_lab, "r1", "127.0.2.1")
    again = ok(playbook("rejoin.yml", inventory, "-e", "region=r1", "-e", "confirm=false", tmp=play_tmp))
    assert again.changed == 0 and "nothing to rejoin" in again.output
