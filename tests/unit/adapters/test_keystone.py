"""Keystone through keystoneauth1: tokens, the catalog, TLS checked, and no secret in any message.

The fake cloud (tests/support/fake_cloud.py) speaks HTTPS with the test CA's certificate and, when
told to, echoes every request it gets (the password, the application credential secret, the token)
back in its error messages: what dnsdr shows must still hold none of them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from dnsdr.adapters.designate_api import DesignateApi, DesignateAuthError, DesignateTlsError
from dnsdr.adapters.keystone import KeystoneConfigError, KeystoneError, KeystoneSession, designate_api
from dnsdr.adapters.secrets import resolve
from dnsdr.adapters.tls import TlsError, client_context
from dnsdr.cli.logs import JsonFormatter
from dnsdr.domain.spec import AuthSpec, AuthType, DesignateDR, SecretRef, TlsSpec
from dnsdr.domain.spec_parse import parse_designatedr
from tests.support.fake_cloud import FakeCloud, fake_cloud
from tests.support.hostile import MARKER
from tests.support.pki import throwaway_ca

TOKEN = f"gAAAAtoken-{MARKER}"
ZONES = json.dumps({"zones": [], "links": {}}).encode()


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_text(throwaway_ca().pem)
    return path


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "app-cred-secret"
    path.write_text(f"{MARKER}\n")
    return path


def app_cred(cloud: FakeCloud, secret_file: Path) -> AuthSpec:
    return AuthSpec(type=AuthType.APPLICATION_CREDENTIAL, auth_url=cloud.auth_url, application_credential_id="ac1",
                    application_credential_secret=SecretRef(file=str(secret_file)))


def spec_for(cloud: FakeCloud, auth: dict[str, Any], ca: Path) -> DesignateDR:
    from tests.unit.monitor.conftest import region

    doc = {"apiVersion": "dnsdr.io/v1alpha1", "kind": "DesignateDR", "metadata": {"name": "t"},
           "spec": {"primaryRegion": "r1", "tls": {"caRef": {"file": str(ca)}}, "auth": auth,
                    "regions": [region("r1", "127.0.1.1", 3306, 9001, 5354, 53, 8081),
                                region("r2", "127.0.2.1", 3306, 9001, 5354, 53, 8081)]}}
    from dnsdr.adapters.backends import KINDS

    return parse_designatedr(doc, KINDS)


def test_a_token_and_the_regions_endpoint_come_from_keystone(ca_file: Path, secret_file: Path) -> None:
    with fake_cloud(TOKEN) as cloud:
        session = KeystoneSession(app_cred(cloud, secret_file), TlsSpec(ca=SecretRef(file=str(ca_file))))
        assert session.token() == TOKEN
        assert session.endpoint("r2") == cloud.designate_url
        body = json.loads(cloud.keystone_requests[0].split(b"\r\n\r\n", 1)[1])
        ident = body["auth"]["identity"]
        assert ident["methods"] == ["application_credential"]
        assert ident["application_credential"] == {"id": "ac1", "secret": MARKER}
        with pytest.raises(KeystoneConfigError) as info:
            session.endpoint("r9")
        assert "catalog has no dns endpoint" in str(info.value)


def test_every_designate_call_carries_the_token_and_a_401_authenticates_once_more(ca_file: Path,
                                                                                 secret_file: Path) -> None:
    with fake_cloud(TOKEN, designate=(401, b'{"message": "Authentication required"}')) as cloud:
        spec = spec_for(cloud, {"type": "applicationCredential", "authUrl": cloud.auth_url,
                                "applicationCredentialId": "ac1",
                                "applicationCredentialSecretRef": {"file": str(secret_file)}}, ca_file)
        api = designate_api(spec, "r2", resolve)
        with pytest.raises(DesignateAuthError) as info:
            api.list_zones()
        assert len(cloud.keystone_requests) == 2 and len(cloud.designate_requests) == 2  # re-authenticated once
        assert all(f"X-Auth-Token: {TOKEN}".encode() in r for r in cloud.designate_requests)
        assert b"X-Auth-Project-ID" not in cloud.designate_requests[0]
        assert MARKER not in str(info.value) and "HTTP 401" in str(info.value)


def test_a_sudo_client_acts_in_the_zones_project_and_a_sweep_sees_every_project(ca_file: Path,
                                                                                 secret_file: Path) -> None:
    with fake_cloud(TOKEN, designate=(200, ZONES)) as cloud:
        spec = spec_for(cloud, {"type": "applicationCredential", "authUrl": cloud.auth_url,
                                "applicationCredentialId": "ac1",
                                "applicationCredentialSecretRef": {"file": str(secret_file)}}, ca_file)
        designate_api(spec, "r2", resolve, project_id="p-owner", sudo=True).list_zones()
        designate_api(spec, "r2", resolve, all_projects=True).list_zones()
        designate_api(spec, "r2", resolve, project_id="p-owner").list_zones()
        sudo, everyone, plain = cloud.designate_requests
        assert b"X-Auth-Sudo-Project-ID: p-owner" in sudo and b"X-Auth-All-Projects" not in sudo
        assert b"X-Auth-All-Projects: true" in everyone and b"Sudo" not in everyone
        assert b"Sudo" not in plain and b"X-Auth-Project-ID" not in plain  # the token's own project


def test_nothing_secret_in_errors_of_a_keystone_or_designate_that_echo_what_they_got(
        ca_file: Path, secret_file: Path, tmp_path: Path) -> None:
    pw = tmp_path / "password"
    pw.write_text(MARKER)
    for status in (401, 500, 403):
        with fake_cloud(TOKEN, keystone_status=status) as cloud:
            auth = AuthSpec(type=AuthType.PASSWORD, auth_url=cloud.auth_url, username="dnsdr", project="dnsdr",
                            password=SecretRef(file=str(pw)))
            session = KeystoneSession(auth, TlsSpec(ca=SecretRef(file=str(ca_file))))
            with pytest.raises(KeystoneError) as info:
                session.token()
            assert MARKER.encode() in cloud.keystone_requests[0]  # Keystone did get it, and echoed it
            assert MARKER not in str(info.value) and cloud.auth_url in str(info.value)
            assert isinstance(info.value, KeystoneConfigError) == (status == 401)
    with fake_cloud(TOKEN) as cloud:  # Designate echoes the request, token header and all
        spec = spec_for(cloud, {"type": "applicationCredential", "authUrl": cloud.auth_url,
                                "applicationCredentialId": "ac1",
                                "applicationCredentialSecretRef": {"file": str(secret_file)}}, ca_file)
        with pytest.raises(Exception) as err:
            designate_api(spec, "r1", resolve).create_zone("canary.example.org.", "h@example.org")
        assert TOKEN.encode() in cloud.designate_requests[0]
        assert MARKER not in str(err.value) and "HTTP 500" in str(err.value)
        assert "you sent" in str(err.value)  # the echo was shown, scrubbed


def test_tokens_obtained_join_what_logs_are_scrubbed_of(ca_file: Path, secret_file: Path) -> None:
    plain = "gAAAAB-a-token-without-the-marker-0123456789"
    with fake_cloud(plain) as cloud:
        KeystoneSession(app_cred(cloud, secret_file), TlsSpec(ca=SecretRef(file=str(ca_file)))).token()
    record = logging.LogRecord("dnsdr.x", logging.INFO, __file__, 1, f"token was {plain}", None, None)
    assert plain not in JsonFormatter().format(record) and "<secret>" in JsonFormatter().format(record)


def test_a_certificate_from_another_ca_is_refused_with_a_clear_message(secret_file: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.pem"
    other.write_text(throwaway_ca("another CA").pem)
    with fake_cloud(TOKEN) as cloud:
        session = KeystoneSession(app_cred(cloud, secret_file), TlsSpec(ca=SecretRef(file=str(other))))
        with pytest.raises(TlsError, match="certificate was refused: unable to get local issuer certificate"):
            session.token()
        assert cloud.keystone_requests == []  # nothing was sent to a server that did not prove itself
        api = DesignateApi(cloud.designate_url, tls=client_context(TlsSpec(ca=SecretRef(file=str(other))), resolve))
        with pytest.raises(DesignateTlsError, match="TLS: the server's certificate was refused: unable to get local"):
            api.list_zones()
        assert cloud.designate_requests == []


def test_a_cloud_from_clouds_yaml(ca_file: Path, secret_file: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_cloud(TOKEN) as cloud:
        clouds = tmp_path / "clouds.yaml"
        clouds.write_text(json.dumps({"clouds": {"lab": {
            "auth_type": "v3applicationcredential", "region_name": "r1",
            "auth": {"auth_url": cloud.auth_url, "application_credential_id": "ac1",
                     "application_credential_secret": MARKER}}}}))
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
        monkeypatch.setenv("OS_CLOUD", "lab")
        session = KeystoneSession(AuthSpec(type=AuthType.CLOUD), TlsSpec(ca=SecretRef(file=str(ca_file))))
        assert session.token() == TOKEN and session.endpoint("r2") == cloud.designate_url
        assert MARKER in session.secrets
    monkeypatch.delenv("OS_CLOUD")
    with pytest.raises(KeystoneConfigError, match="OS_CLOUD is not set"):
        KeystoneSession(AuthSpec(type=AuthType.CLOUD), TlsSpec())
