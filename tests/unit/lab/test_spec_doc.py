"""The lab's DesignateDR document parses, and pools rendered from it match the lab."""

from __future__ import annotations

from pathlib import Path

from dnsdr.adapters.backends import KINDS
from dnsdr.domain.pools import WorldState, render_pools
from dnsdr.domain.spec_parse import parse_designatedr
from dnsdr.lab.layout import POOL_ID, Paths
from dnsdr.lab.spec_doc import designatedr

ROOT = Path("/srv/lab")
BIN = Path("/opt/venv/bin")


def spec():  # type: ignore[no-untyped-def]
    return parse_designatedr(designatedr(Paths(ROOT), BIN), KINDS)


def test_document_is_a_valid_designatedr() -> None:
    s = spec()
    assert s.primary_region == "r1"
    assert s.region_names == ("r1", "r2", "r3")
    assert s.monitor_region == "r3"
    assert s.pool.id == POOL_ID
    r1 = s.region("r1")
    assert r1.database is not None and r1.database.endpoint.host == "127.0.1.1"
    assert r1.database.user == "dnsdr" and r1.database.replication_user == "repl"
    assert r1.database.password.file == "/srv/lab/secrets/dnsdr-db-password"


def test_tls_verified_everywhere_and_keystone_with_an_application_credential() -> None:
    s = spec()
    assert s.tls.enabled and s.tls.ca is not None and s.tls.ca.file == "/srv/lab/pki/ca.pem"
    r2 = s.region("r2")
    assert r2.database is not None and r2.database.tls == s.tls and r2.database.replica_ca_file == "/srv/lab/pki/ca.pem"
    assert r2.designate is not None and r2.designate.api_scheme == "https" and s.keystone_region("r2") == "r2"
    assert s.auth.type.value == "applicationCredential" and s.auth.auth_url == "https://127.0.3.1:5000/v3"
    assert (s.auth.application_credential_name, s.auth.username) == ("dnsdr", "dnsdr")
    assert s.auth.application_credential_secret is not None
    assert s.auth.application_credential_secret.file == "/srv/lab/secrets/dnsdr-app-credential-secret"


def test_policy_lets_a_controller_fail_over_within_seconds() -> None:
    p = spec().policy
    assert p.failover.value == "automatic"
    assert (p.probe_interval_seconds, p.consecutive_failures, p.cooldown_seconds, p.max_lag_seconds) == (1, 3, 3600, 5)
    assert p.semi_sync_required


def test_monitor_region_serves_the_witness_and_has_no_database() -> None:
    r3 = spec().region("r3")
    assert r3.database is None and r3.designate is None
    assert r3.monitor is not None and (r3.monitor.host, r3.monitor.port) == ("127.0.3.1", 9153)


def test_control_commands_call_this_lab_with_an_absolute_dir() -> None:
    designate = spec().region("r2").designate
    assert designate is not None
    assert designate.control.driver == "command"
    # the lab's launcher, so the code that wrote the lab runs them (not the venv's installed dnsdr)
    stop = designate.control.command("stop")
    assert stop == "/srv/lab/bin/dnsdr lab --dir /srv/lab service stop {region} {services}"
    repoint = designate.control.command("repoint")
    assert repoint == "/srv/lab/bin/dnsdr lab --dir /srv/lab repoint {region} --db-host {db_host} --db-port {db_port}"
    assert designate.manage_command == (
        "/opt/venv/bin/designate-manage", "--config-file", "/srv/lab/r2/designate/designate.conf")


def test_backends_and_secrets() -> None:
    region = spec().region("r1")
    pdns, bind = region.backends
    assert pdns.type == "pdns4" and bind.type == "bind9"
    assert (pdns.dns.host, pdns.control.port) == ("127.0.1.2", 8081)
    assert (bind.dns.host, bind.control.port) == ("127.0.1.3", 953)
    assert bind.setting("rndcKeyFile") == "/srv/lab/secrets/r1-rndc.key"
    assert pdns.credential.file == "/srv/lab/secrets/pdns-api-key"


def test_initial_pools_have_four_targets_each_mastered_by_its_own_mdns() -> None:
    pool = render_pools(spec(), WorldState("r1"), lambda ref: "s3cret")[0]
    assert [(n["host"], n["port"]) for n in pool["nameservers"]] == [
        ("127.0.1.2", 53), ("127.0.1.3", 53), ("127.0.2.2", 53), ("127.0.2.3", 53)]
    masters = [(t["type"], t["masters"][0]["host"]) for t in pool["targets"]]
    assert masters == [("pdns4", "127.0.1.1"), ("bind9", "127.0.1.1"), ("pdns4", "127.0.2.1"), ("bind9", "127.0.2.1")]
