"""A marker secret is never shown: every command, its -o json, its --debug JSON logs, the journal
and the history, on failing paths against servers that echo whatever they are sent.

Every credential of the spec resolves to a value containing the marker (with extra newlines and
spaces around it, as hand-written secret files have). PowerDNS is a hostile HTTP server that
answers 500 with the request's headers (the API key among them) in its body; the databases are fake
(the engine's fakes) so that a failover gets as far as the masters rewrite and fails there.

The Keystone path: with the data plane faked too, the failover reaches its canary write, where a
hostile Keystone echoes the application credential secret it got, or issues a token holding the
marker and a hostile Designate API echoes that token back (both over HTTPS with the test CA).
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from dnsdr.app import operations as app_ops
from dnsdr.app.settings import load_spec
from dnsdr.cli.main import cli
from dnsdr.domain.serials import ExpectedZone
from dnsdr.engine.runtime import Runtime
from dnsdr.engine.steps import database as database_steps
from dnsdr.engine.steps import dns as dns_steps
from tests.conftest import EXAMPLE
from tests.support.fake_cloud import fake_cloud
from tests.support.hostile import hostile_tcp, http_routes
from tests.support.pki import throwaway_ca
from tests.unit.engine import fakes
from tests.unit.engine.fakes import FakeCluster, VirtualClock
from tests.unit.engine.steps.dns_fakes import FakeDataPlane, install_data_plane

MARKER = "MARKER-s3cr3t-XYZ"
B64 = base64.b64encode(MARKER.encode()).decode()  # rndc key material must be base64
FORMS = (MARKER, B64)
TOKEN = f"gAAAAB-{MARKER}-token"  # a token holding the marker: shown anywhere, the test sees it
KEYS = ("r1-db-password", "r2-db-password", "replication-password", "r1-pdns-api-key", "r2-pdns-api-key",
        "r1-rndc-key", "r2-rndc-key", "keystone-app-cred-secret")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Path, Path, Path, list[bytes]]]:
    requests: list[bytes] = []

    def route(method: str, path: str) -> tuple[int, bytes]:
        seen = b"".join(requests[-1:]).decode("latin-1").replace("\r\n", " | ").replace('"', "'")
        return 500, ('{"error": "you sent ' + seen[:2000] + '"}').encode()

    with hostile_tcp(http_routes(route, requests)) as port:
        doc = yaml.safe_load(EXAMPLE.read_text())
        for region in doc["spec"]["regions"]:
            if region.get("designate"):
                region["designate"]["control"]["commands"] = {k: "true {service}" for k in
                                                              ("stop", "start", "restart", "repoint")}
                region["designate"]["manageCommand"] = ["true"]
            for b in region.get("backends", []):
                if b["type"] == "pdns4" and region["name"] == "r2":  # r1 is lost: only r2's is rewritten
                    b["api"] = {"host": "127.0.0.1", "port": port}
        spec = tmp_path / "dr.yaml"
        spec.write_text(yaml.safe_dump(doc))
        secrets = tmp_path / "secrets" / "dnsdr-credentials"
        secrets.mkdir(parents=True)
        for key in KEYS:
            value = B64 if "rndc" in key else MARKER
            (secrets / key).write_text(f"  {value}  \n\n\n")
        (tmp_path / "secrets" / "dnsdr-ca").mkdir()
        (tmp_path / "secrets" / "dnsdr-ca" / "ca.pem").write_text(throwaway_ca().pem)
        yield spec, tmp_path / "secrets", tmp_path / "state", requests


@pytest.fixture
def fake_databases(monkeypatch: pytest.MonkeyPatch) -> FakeCluster:
    spec = load_spec(str(EXAMPLE))
    cluster = FakeCluster(spec, VirtualClock())
    cluster["r1"].as_primary("0-1-100")
    cluster["r2"].as_replica(cluster["r1"].spec.endpoint, "0-1-100")
    cluster["r1"].up = False
    cluster["r2"].io_running = "Connecting"  # the replica lost its source too: a loss, not a partition
    monkeypatch.setattr(app_ops, "Runtime", functools.partial(Runtime, node_factory=cluster.node_factory))
    monkeypatch.setattr(database_steps, "read_epoch", fakes.read_epoch)
    monkeypatch.setattr(database_steps, "write_epoch", fakes.write_epoch)
    zones = (ExpectedZone(id="z1", name="example.org.", serial=1, status="ACTIVE", action="NONE", pool_id="p",
                          type="PRIMARY"),)
    monkeypatch.setattr(dns_steps, "read_zones", lambda *a, **k: zones)
    return cluster


def assert_clean(where: str, text: str) -> None:
    for form in FORMS:
        assert form not in text, f"{where} shows a secret: ...{text[max(0, text.find(form) - 80):][:200]}"


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, ["--debug", "--log-format", "json", *args])
    return result.output + (str(result.exception) if result.exception and result.exit_code not in (0, 1, 2, 3, 4, 5)
                            else "")


def test_no_command_shows_a_secret(world: tuple[Path, Path, Path, list[bytes]], fake_databases: FakeCluster) -> None:
    spec, secrets, state, requests = world
    common = ["-c", str(spec), "--secrets-dir", str(secrets)]
    ops = [*common, "--state-dir", str(state)]
    outputs = {
        "spec validate": run("spec", "validate", *common),
        "pools render": run("pools", "render", *common),
        "pools render -o": run("pools", "render", *common, "-o", str(state.parent / "pools.yml")),
        "promote --dry-run -o json": run("promote", *ops, "--region", "r2", "--dry-run", "-o", "json"),
        "promote --yes": run("promote", *ops, "--region", "r2", "--yes"),
        "promote --yes -o json (resume)": run("promote", *ops, "--region", "r2", "--yes", "-o", "json"),
        "history -o json": run("history", *ops, "-o", "json"),
        "status -o json": run("status", *ops, "--no-serials", "-o", "json"),
        "journal abandon": run("journal", "abandon", *ops, "--yes"),
        "history": run("history", *ops),
    }
    assert "rewrite-masters-r2-pdns" in outputs["promote --yes"]  # it got as far as the hostile server
    assert "HTTP 500" in outputs["promote --yes"]
    assert any(MARKER.encode() in r for r in requests)  # the server did get the key it echoes back
    for name, text in outputs.items():
        assert_clean(name, text)
    files = [p for p in state.rglob("*") if p.is_file()]
    assert any(p.parent.name == "example" for p in files)  # the history of the failed run
    for path in files:
        assert_clean(str(path), path.read_text(errors="replace"))
    rendered = (state.parent / "pools.yml").read_text()
    assert MARKER in rendered and re.search(r"api_token: MARKER-s3cr3t-XYZ$", rendered, re.M)  # stripped once


@pytest.mark.parametrize("hostile", ["keystone echoes the secret", "designate echoes the token"])
def test_the_keystone_path_shows_no_secret_and_no_token(
        world: tuple[Path, Path, Path, list[bytes]], fake_databases: FakeCluster, monkeypatch: pytest.MonkeyPatch,
        hostile: str) -> None:
    spec, secrets, state, _ = world
    zones = (ExpectedZone(id="z1", name="example.org.", serial=1, status="ACTIVE", action="NONE", pool_id="p",
                          type="PRIMARY"),)
    plane = FakeDataPlane(VirtualClock(), zones, ["r1-pdns", "r1-bind", "r2-pdns", "r2-bind"])
    install_data_plane(monkeypatch, plane)  # rewrites and sweeps succeed: the run reaches the canary write
    with fake_cloud(TOKEN, keystone_status=401 if hostile.startswith("keystone") else 201) as cloud:
        doc = yaml.safe_load(spec.read_text())
        doc["spec"]["auth"]["authUrl"] = cloud.auth_url
        spec.write_text(yaml.safe_dump(doc))
        ops = ["-c", str(spec), "--secrets-dir", str(secrets), "--state-dir", str(state)]
        outputs = {"promote --yes": run("promote", *ops, "--region", "r2", "--yes"),
                   "promote --yes -o json (resume)": run("promote", *ops, "--region", "r2", "--yes", "-o", "json"),
                   "history -o json": run("history", *ops, "-o", "json"),
                   "status -o json": run("status", *ops, "--no-serials", "-o", "json")}
    assert "verify-write" in outputs["promote --yes"] and "rewrite-masters-r2-pdns" in outputs["promote --yes"]
    if hostile.startswith("keystone"):
        assert any(MARKER.encode() in r for r in cloud.keystone_requests)  # Keystone got the secret it echoes
        assert "the credentials were refused (HTTP 401)" in outputs["promote --yes"]
    else:
        assert any(f"X-Auth-Token: {TOKEN}".encode() in r for r in cloud.designate_requests)  # and echoes it
        assert "HTTP 500" in outputs["promote --yes"]
    for name, text in outputs.items():
        assert_clean(name, text)
    for path in [p for p in state.rglob("*") if p.is_file()]:
        assert_clean(str(path), path.read_text(errors="replace"))
