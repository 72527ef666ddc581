"""Keystone in the lab's r3: both regions' Designate APIs validate tokens with keystonemiddleware.

A request without a token, or with a made-up one, is refused (401) while the versions document
(GET /) stays public; Keystone's catalog lists each region's Designate; dnsdr authenticates every
way the spec allows (application credential, user and password, a clouds.yaml cloud) and reaches
the API of each region by its catalog endpoint, HTTPS checked against the lab's CA.
"""

from __future__ import annotations

import dataclasses
import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from dnsdr.adapters.keystone import KeystoneConfigError, KeystoneSession, designate_api
from dnsdr.adapters.secrets import resolve
from dnsdr.domain.canary import canary_zone
from dnsdr.domain.spec import AuthSpec, AuthType, SecretRef
from dnsdr.lab import Lab, keystone
from dnsdr.lab.layout import REGIONS, Addresses
from dnsdr.lab.spec_doc import SECRET_FILES

pytestmark = pytest.mark.integration


def status_of(lab: Lab, url: str, token: str | None = None) -> int:
    context = ssl.create_default_context(cafile=str(lab.paths.ca_cert))
    request = urllib.request.Request(url, headers={"X-Auth-Token": token} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.mark.parametrize("region", REGIONS)
def test_the_designate_api_refuses_requests_without_a_valid_token(healthy_lab: Lab, region: str) -> None:
    base = f"https://{Addresses(region).core}:9001"
    assert status_of(healthy_lab, base + "/") == 200  # the versions document: public, what the monitor probes
    assert status_of(healthy_lab, base + "/v2/zones") == 401
    assert status_of(healthy_lab, base + "/v2/zones", token="gAAAAA-made-up-token") == 401
    token = KeystoneSession(healthy_lab.spec().auth, healthy_lab.spec().tls).token()
    assert status_of(healthy_lab, base + "/v2/zones", token=token) == 200


def test_the_catalog_lists_each_regions_designate(healthy_lab: Lab) -> None:
    spec = healthy_lab.spec()
    session = KeystoneSession(spec.auth, spec.tls)
    for region in REGIONS:
        assert session.endpoint(spec.keystone_region(region)) == f"https://{Addresses(region).core}:9001/"
    with pytest.raises(KeystoneConfigError):
        session.endpoint("r9")


def test_dnsdr_authenticates_with_each_kind_of_credential(healthy_lab: Lab, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    spec = healthy_lab.spec()
    canary = canary_zone(spec)
    secret = healthy_lab.paths.secret
    password = dataclasses.replace(spec, auth=AuthSpec(
        type=AuthType.PASSWORD, auth_url=keystone.url(), username=keystone.DNSDR_USER, project=keystone.DNSDR_PROJECT,
        password=SecretRef(file=str(secret(SECRET_FILES["dnsdr_keystone"])))))
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(json.dumps({"clouds": {"dnsdr-lab": {
        "auth_type": "v3applicationcredential", "cacert": str(healthy_lab.paths.ca_cert),
        "auth": {"auth_url": keystone.url(), "application_credential_name": keystone.APP_CREDENTIAL,
                 "username": keystone.DNSDR_USER, "user_domain_name": "Default",
                 "application_credential_secret": resolve(SecretRef(file=str(
                     secret(SECRET_FILES["dnsdr_app_credential"]))))}}}}))
    clouds.chmod(0o600)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    monkeypatch.setenv("OS_CLOUD", "dnsdr-lab")
    cloud = dataclasses.replace(spec, auth=AuthSpec(type=AuthType.CLOUD))
    for how in (spec, password, cloud):  # the lab's spec: the application credential
        for region in REGIONS:
            api = designate_api(how, region, resolve)
            try:
                found = api.find_zone(canary)  # dnsdr's project owns the canary zone
            finally:
                api.close()
            assert found is not None and found.name == canary, (how.auth.type, region)


def test_the_lab_user_sees_only_its_own_project(healthy_lab: Lab) -> None:
    api = healthy_lab.api("r1")  # the lab's project, not dnsdr's
    try:
        assert api.find_zone(canary_zone(healthy_lab.spec())) is None
    finally:
        api.close()
