"""Keystone in the monitor region r3: the lab's identity service, as production runs one.

It must outlive r1 and r2, so it lives in r3 (its own cgroup there: ``kill r3`` and ``partition r1
r3`` hit it), on a SQLite database in the lab directory, served over HTTPS by gunicorn (127.0.3.1:5000)
with r3's certificate. Its catalog has a region per Designate region (r1, r2; r3 for identity) with
each region's Designate as the ``dns`` endpoint. Accounts, least privilege first:

* ``designate`` (project ``service``, roles admin and service): keystonemiddleware's service user in
  both regions' Designate API, which validates every token with it;
* ``dnsdr`` (roles member and ``dns_dr`` in project ``dnsdr`` only), with the application credential
  ``dnsdr`` (the same roles) whose secret the lab's spec references: what dnsdr authenticates with.
  ``dns_dr`` is no admin: Designate's policy override (render.DESIGNATE_POLICY) lets it list every
  project's zones and act in a zone's own project (sudo), where member does the rest;
* ``lab`` (role member in project ``dnsdr-lab``): the lab's own zones for tests;
* ``admin`` (bootstrap): only this module uses it, to provision the rest.

Every step is idempotent: a restart finds what exists and creates what is missing.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from dnsdr.lab.components import Component, bin_dir, http_ok, run_tool, write_private
from dnsdr.lab.errors import LabError
from dnsdr.lab.layout import API_PORT, KEYSTONE_PORT, MONITOR_REGION, REGIONS, Addresses, Paths
from dnsdr.lab.render import DR_ROLE, Secrets

KEYSTONE = "keystone"
READY_TIMEOUT = 120.0
SERVICE_PROJECT, DNSDR_PROJECT, LAB_PROJECT = "service", "dnsdr", "dnsdr-lab"
APP_CREDENTIAL = "dnsdr"
DESIGNATE_USER, DNSDR_USER, LAB_USER = "designate", "dnsdr", "lab"

WSGI_SHIM = '''"""keystone for gunicorn: keystone's oslo.config must not read gunicorn's command line."""
import sys

sys.argv = sys.argv[:1]

from keystone.wsgi.api import application  # noqa: E402,F401
'''


def url(path: str = "/v3") -> str:
    return f"https://{Addresses(MONITOR_REGION).core}:{KEYSTONE_PORT}{path}"


def directory(paths: Paths) -> Path:
    return paths.component(MONITOR_REGION, KEYSTONE)


def keystone_conf(paths: Paths) -> str:
    d = directory(paths)
    # bcrypt's fewest rounds: every password login costs milliseconds, not a quarter second (a lab only).
    # SQLite allows one writer: a request that meets another's write waits up to 60 s for it (pysqlite's default
    # is 5 s, and a token request failed with "database is locked", HTTP 500, during a burst of logins).
    # An in-process cache (one worker process, so it stays coherent): validating a token, which every Designate
    # API request does, costs lookups instead of a dozen SQLite queries. Without it a burst of zone imports kept
    # the worker at 100% CPU and the Designate APIs' token checks timed out, again and again.
    return f"""[DEFAULT]
debug = false
use_stderr = true

[database]
connection = sqlite:///{d / 'keystone.sqlite'}?timeout=60

[token]
provider = fernet
expiration = 14400

[fernet_tokens]
key_repository = {d / 'fernet-keys'}
max_active_keys = 3

[fernet_receipts]
key_repository = {d / 'fernet-receipts'}

[credential]
key_repository = {d / 'credential-keys'}

[identity]
password_hash_rounds = 4

[cache]
enabled = true
backend = dogpile.cache.memory

[oslo_policy]
enforce_scope = false
enforce_new_defaults = false
"""


def _key_repository(path: Path) -> None:
    """What ``keystone-manage fernet_setup`` makes (a staged key 0 and a primary key 1), without its start-up cost."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    for name in ("0", "1"):
        if not (path / name).exists():
            write_private(path / name, base64.urlsafe_b64encode(os.urandom(32)).decode())


def prepare(paths: Paths, secrets: Secrets) -> None:
    """Config, keys, schema and the bootstrap admin (the last two only once)."""
    d = directory(paths)
    d.mkdir(parents=True, exist_ok=True)
    (d / "keystone.conf").write_text(keystone_conf(paths), encoding="utf-8")
    (d / "lab_keystone_wsgi.py").write_text(WSGI_SHIM, encoding="utf-8")
    for repo in ("fernet-keys", "fernet-receipts", "credential-keys"):
        _key_repository(d / repo)
    marker = d / "bootstrapped"
    if marker.exists():
        return
    manage = [str(bin_dir() / "keystone-manage"), "--config-file", str(d / "keystone.conf")]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    run_tool(f"{MONITOR_REGION}/keystone-manage", [*manage, "db_sync"], timeout=300, env=env)
    env["OS_BOOTSTRAP_PASSWORD"] = secrets.keystone_admin  # not on the command line, which ps shows
    run_tool(f"{MONITOR_REGION}/keystone-manage", [
        *manage, "bootstrap", "--bootstrap-username", "admin", "--bootstrap-project-name", "admin",
        "--bootstrap-role-name", "admin", "--bootstrap-service-name", "keystone",
        "--bootstrap-region-id", MONITOR_REGION, "--bootstrap-admin-url", url(), "--bootstrap-public-url", url(),
        "--bootstrap-internal-url", url()], timeout=300, env=env)
    marker.touch()


def component(paths: Paths) -> Component:
    """gunicorn serving keystone over HTTPS with r3's certificate; ready when GET /v3 answers 200."""
    d = directory(paths)
    a = Addresses(MONITOR_REGION)
    # One request at a time: oslo.db opens every SQLite transaction with its own BEGIN, so a read holds the
    # shared lock, and two requests that read then write deadlock; SQLite then answers "database is locked"
    # at once, whatever the busy timeout (a token request got HTTP 500 so in make demo). The lab's
    # Keystone serves a few logins and cached token checks; production's runs on MySQL.
    argv = [str(bin_dir() / "gunicorn"), "--bind", f"{a.core}:{KEYSTONE_PORT}", "--worker-class", "gthread",
            "--workers", "1", "--threads", "1", "--graceful-timeout", "1", "--timeout", "120",
            "--certfile", str(paths.server_cert(MONITOR_REGION)), "--keyfile", str(paths.server_key(MONITOR_REGION)),
            "--no-control-socket", "--chdir", str(d), "--pythonpath", str(d),
            "--error-logfile", str(paths.log(MONITOR_REGION, KEYSTONE)), "lab_keystone_wsgi:application"]
    return Component(MONITOR_REGION, KEYSTONE, argv, env={"OS_KEYSTONE_CONFIG_DIR": str(d)},
                     ready=lambda: http_ok(url(), paths.ca_cert), timeout=READY_TIMEOUT)


class _Admin:
    """The bootstrap admin's session: JSON calls on Keystone's v3 API, each collection listed once (a
    loaded host answers a call in a tenth of a second or more: provisioning makes as few as it can)."""

    def __init__(self, paths: Paths, secrets: Secrets) -> None:
        auth = v3.Password(auth_url=url(), username="admin", password=secrets.keystone_admin,
                           user_domain_id="default", project_name="admin", project_domain_id="default")
        self.session = ks_session.Session(auth=auth, verify=str(paths.ca_cert), timeout=30)
        self._listed: dict[str, list[dict[str, Any]]] = {}

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        resp = self.session.request(url(path), method, json=body, raise_exc=False)
        if resp.status_code >= 400:
            raise LabError(f"{MONITOR_REGION}/keystone", f"{method} {path}: HTTP {resp.status_code}")
        return resp.json() if resp.content else None

    def ensure(self, collection: str, body: dict[str, Any], *keys: str) -> str:
        """The id of the item whose ``keys`` match ``body``'s, created from ``body`` when missing."""
        if collection not in self._listed:
            self._listed[collection] = list(self.call("GET", f"/v3/{collection}")[collection])
        for item in self._listed[collection]:
            if all(item.get(k) == body[k] for k in keys):
                return str(item["id"])
        created = self.call("POST", f"/v3/{collection}", {collection[:-1]: body})[collection[:-1]]
        self._listed[collection].append(created)
        return str(created["id"])


def project_id(paths: Paths, secrets: Secrets, name: str) -> str:
    """The id Keystone gave project ``name``: what Designate stores as a zone's ``tenant_id``."""
    return _Admin(paths, secrets).ensure("projects", {"name": name, "domain_id": "default"}, "name")


def provision(paths: Paths, secrets: Secrets) -> None:
    """Regions, the dns service and its endpoints, projects, users, roles and dnsdr's application credential."""
    admin = _Admin(paths, secrets)
    for region in (*REGIONS, MONITOR_REGION):
        admin.ensure("regions", {"id": region, "description": f"dnsdr lab {region}"}, "id")
    service = admin.ensure("services", {"type": "dns", "name": "designate", "description": "Designate"}, "type")
    # Each Designate region lists the one Keystone as its identity endpoint too: keystonemiddleware (with
    # region_name) finds Keystone in its own region's catalog, as in a multi-region cloud.
    identity = admin.ensure("services", {"type": "identity", "name": "keystone"}, "type")
    for region in REGIONS:
        endpoint_url = f"https://{Addresses(region).core}:{API_PORT}/"
        for interface in ("public", "internal"):
            for service_id, target in ((service, endpoint_url), (identity, url())):
                admin.ensure("endpoints", {"service_id": service_id, "region_id": region, "interface": interface,
                                           "url": target}, "service_id", "region_id", "interface")
    roles = {name: admin.ensure("roles", {"name": name}, "name") for name in ("admin", "member", "service", DR_ROLE)}
    users = ((DESIGNATE_USER, SERVICE_PROJECT, secrets.designate_keystone, ("admin", "service")),
             (DNSDR_USER, DNSDR_PROJECT, secrets.dnsdr_keystone, ("member", DR_ROLE)),
             (LAB_USER, LAB_PROJECT, secrets.lab_keystone, ("member",)))
    for user, project, password, granted in users:
        project_id = admin.ensure("projects", {"name": project, "domain_id": "default"}, "name")
        user_id = admin.ensure("users", {"name": user, "domain_id": "default", "password": password,
                                         "default_project_id": project_id}, "name")
        for role in granted:
            admin.call("PUT", f"/v3/projects/{project_id}/users/{user_id}/roles/{roles[role]}")
    _application_credential(secrets, paths)
    (directory(paths) / "provisioned").touch()


def _application_credential(secrets: Secrets, paths: Paths) -> None:
    """dnsdr's application credential, made by dnsdr's own user (Keystone requires it) with its two roles (one
    made before the role dns_dr existed is replaced)."""
    auth = v3.Password(auth_url=url(), username=DNSDR_USER, password=secrets.dnsdr_keystone, user_domain_id="default",
                       project_name=DNSDR_PROJECT, project_domain_id="default")
    session = ks_session.Session(auth=auth, verify=str(paths.ca_cert), timeout=30)
    user_id = session.get_user_id()
    listed = session.request(url(f"/v3/users/{user_id}/application_credentials?name={APP_CREDENTIAL}"), "GET")
    for existing in listed.json()["application_credentials"]:
        if {r["name"] for r in existing.get("roles", [])} >= {"member", DR_ROLE}:
            return
        session.request(url(f"/v3/users/{user_id}/application_credentials/{existing['id']}"), "DELETE")
    session.request(url(f"/v3/users/{user_id}/application_credentials"), "POST", json={"application_credential": {
        "name": APP_CREDENTIAL, "secret": secrets.dnsdr_app_credential,
        "roles": [{"name": "member"}, {"name": DR_ROLE}],
        "description": "dnsdr's canary write in the lab"}})


def provisioned(paths: Paths) -> bool:
    return (directory(paths) / "provisioned").exists()
