"""spec.tls, spec.auth, a database's tls and the canary zone: secure by default, plain or noauth only when written."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from dnsdr.adapters.backends import KINDS
from dnsdr.domain.canary import canary_zone
from dnsdr.domain.spec import AuthType, DesignateDR, SecretRef, TlsMode
from dnsdr.domain.spec_parse import SpecError, parse_designatedr
from tests.conftest import EXAMPLE

Doc = dict[str, Any]


@pytest.fixture
def doc() -> Doc:
    loaded: Doc = yaml.safe_load(EXAMPLE.read_text())
    return copy.deepcopy(loaded)


def parse(doc: Doc) -> DesignateDR:
    return parse_designatedr(doc, KINDS)


def problems(doc: Doc) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse(doc)
    return info.value.problems


def bare(doc: Doc) -> Doc:
    """The example without any tls or auth section, nor an API scheme: what an older spec looks like."""
    del doc["spec"]["tls"], doc["spec"]["auth"]
    for r in doc["spec"]["regions"]:
        if "database" in r:
            r["database"].pop("tls")
            r["designate"]["api"].pop("scheme")
            r["designate"].pop("regionName")
    return doc


def test_a_spec_without_tls_or_auth_verifies_and_uses_os_cloud(doc: Doc) -> None:
    spec = parse(bare(doc))
    assert spec.tls.mode is TlsMode.VERIFY and spec.tls.ca is None  # the system's trust store
    assert spec.auth.type is AuthType.CLOUD and spec.auth.cloud is None  # $OS_CLOUD, as the openstack CLI
    r1 = spec.region("r1")
    assert r1.database is not None and r1.database.tls.enabled and r1.database.replica_ca_file is None
    assert r1.designate is not None and r1.designate.api_scheme == "https"
    assert spec.keystone_region("r2") == "r2"


def test_the_example_carries_its_ca_and_application_credential(doc: Doc) -> None:
    spec = parse(doc)
    assert spec.tls.ca == SecretRef(secret_name="dnsdr-ca", secret_key="ca.pem", multiline=True)
    r2 = spec.region("r2")
    assert r2.database is not None and r2.database.tls.ca == spec.tls.ca  # inherited
    assert r2.database.replica_ca_file == "/etc/mysql/ssl/ca.pem"
    auth = spec.auth
    assert auth.type is AuthType.APPLICATION_CREDENTIAL and auth.application_credential_name == "dnsdr"
    assert auth.username == "dnsdr" and auth.auth_url == "https://127.0.3.1:5000/v3"
    assert [what for what, _ in auth.references()] == ["application credential secret"]


def test_plain_connections_only_when_written(doc: Doc) -> None:
    doc = bare(doc)
    doc["spec"]["tls"] = {"mode": "disabled"}
    doc["spec"]["auth"] = {"type": "none"}
    spec = parse(doc)
    assert not spec.tls.enabled and spec.auth.type is AuthType.NONE
    r1 = spec.region("r1")
    assert r1.designate is not None and r1.designate.api_scheme == "http"
    assert r1.database is not None and not r1.database.tls.enabled


def test_a_database_may_override_the_default(doc: Doc) -> None:
    doc["spec"]["regions"][0]["database"]["tls"] = {"mode": "disabled"}
    doc["spec"]["regions"][1]["database"]["tls"] = {"caRef": {"file": "/etc/dnsdr/r2-ca.pem"}}
    spec = parse(doc)
    r1, r2 = spec.region("r1").database, spec.region("r2").database
    assert r1 is not None and not r1.tls.enabled
    assert r2 is not None and r2.tls.ca == SecretRef(file="/etc/dnsdr/r2-ca.pem", multiline=True)


@pytest.mark.parametrize(("path", "value", "expected"), [
    ("spec/regions/0/designate/api/scheme", "http",
     "spec.regions[0].designate.api.scheme: plain HTTP would carry tokens in clear: use https, or set "
     "spec.tls.mode: disabled (a lab only)"),
    ("spec/auth/authUrl", "http://keystone:5000/v3",
     "spec.auth.authUrl: 'http://keystone:5000/v3' is plain HTTP: passwords and tokens would cross the network in "
     "clear; use https, or set spec.tls.mode: disabled (a lab only)"),
    ("spec/auth/authUrl", "https://u:p@keystone/v3",
     "spec.auth.authUrl: 'https://u:p@keystone/v3' is not an http(s) URL of Keystone (no user, query or fragment)"),
    ("spec/auth/type", "token", "spec.auth.type: must be one of password, applicationCredential, cloud, none, "
                                "got 'token'"),
    ("spec/auth/projectName", "dnsdr", "spec.auth.projectName: is not read by auth type applicationCredential"),
    ("spec/auth/interface", "private", "spec.auth.interface: must be one of public, internal, admin, got 'private'"),
    ("spec/tls/mode", "skip-verify", "spec.tls.mode: must be one of verify, disabled, got 'skip-verify'"),
    ("spec/tls/caRef", {"file": "ca.pem"}, "spec.tls.caRef.file: must be an absolute path"),
    ("spec/regions/0/database/tls/replicaCaFile", "ca.pem",
     "spec.regions[0].database.tls.replicaCaFile: must be an absolute path (on the database server's host)"),
    ("spec/monitor/canaryZone", "canary.example.org", "spec.monitor.canaryZone: 'canary.example.org' must be fully "
                                                      "qualified, ending with '.' (write canary.example.org.)"),
    ("spec/monitor/canaryZone", "org.", "spec.monitor.canaryZone: 'org.' is a top-level domain; the canary needs a "
                                        "zone below one"),
    ("spec/monitor/canaryZone", "Canary_1.example.org.",
     "spec.monitor.canaryZone: 'Canary_1.example.org.': use lower-case letters, digits and inner hyphens only (what "
     "every TLD policy accepts)"),
])
def test_mistakes_are_named_with_their_path(doc: Doc, path: str, value: Any, expected: str) -> None:
    node: Any = doc
    *parents, last = path.split("/")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    node[last] = value
    assert problems(doc) == [expected]


def test_application_credential_by_exactly_one_of_id_and_name(doc: Doc) -> None:
    doc["spec"]["auth"]["applicationCredentialId"] = "abc"
    assert problems(doc) == ["spec.auth: must name exactly one of applicationCredentialId, applicationCredentialName"]
    del doc["spec"]["auth"]["applicationCredentialName"], doc["spec"]["auth"]["username"]
    assert parse(doc).auth.application_credential_id == "abc"
    del doc["spec"]["auth"]["applicationCredentialId"]
    doc["spec"]["auth"]["applicationCredentialName"] = "dnsdr"
    assert problems(doc) == ["spec.auth.username: is required with applicationCredentialName (whose it is)"]


def test_password_auth_needs_a_user_a_password_and_a_project(doc: Doc) -> None:
    doc["spec"]["auth"] = {"type": "password", "authUrl": "https://k:5000/v3"}
    assert problems(doc) == ["spec.auth.username: is required", "spec.auth.passwordRef: is required",
                             "spec.auth.projectName: is required"]
    doc["spec"]["auth"].update(username="dnsdr", passwordRef={"env": "OS_PASSWORD"}, projectName="dnsdr")
    auth = parse(doc).auth
    assert (auth.user_domain, auth.project_domain, auth.interface) == ("Default", "Default", "public")
    assert auth.password == SecretRef(env="OS_PASSWORD")


def test_a_cloud_by_name_or_from_os_cloud(doc: Doc) -> None:
    doc["spec"]["auth"] = {"type": "cloud", "cloud": "prod", "interface": "internal"}
    auth = parse(doc).auth
    assert (auth.cloud, auth.interface, auth.references()) == ("prod", "internal", ())


def test_canary_zone_default_and_configured(doc: Doc) -> None:
    assert canary_zone(parse(doc)) == "dnsdr-canary-example.test."
    doc["spec"]["monitor"]["canaryZone"] = "dnsdr-canary.dr.example.org."
    assert canary_zone(parse(doc)) == "dnsdr-canary.dr.example.org."
