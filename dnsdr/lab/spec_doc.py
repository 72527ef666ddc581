"""The DesignateDR document describing a lab (pure): every dnsdr command runs against it with -c.

Every connection is verified TLS against the lab's CA, and dnsdr authenticates to Keystone (in r3)
with the application credential the lab made for it, as a production spec would. Control commands
call the lab's launcher (``<root>/bin/dnsdr``, see region3.py), so a controller or
``dnsdr promote`` drives the lab with the code that wrote it. The policy is automatic with short
intervals so that a controller, when a test starts one, fails over within seconds; nothing acts
while no controller runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dnsdr.lab.keystone import APP_CREDENTIAL, DNSDR_USER
from dnsdr.lab.keystone import url as keystone_url
from dnsdr.lab.layout import (
    API_PORT,
    DNS_PORT,
    MDNS_PORT,
    MONITOR_PORT,
    MONITOR_REGION,
    MYSQL_PORT,
    PDNS_API_PORT,
    POOL_ID,
    PRIMARY,
    REGIONS,
    RNDC_PORT,
    Addresses,
    Paths,
)

SECRET_FILES = {
    "designate_db": "designate-db-password",
    "dnsdr_db": "dnsdr-db-password",
    "repl_db": "replication-password",
    "rabbit": "rabbitmq-password",
    "pdns_api_key": "pdns-api-key",
    "keystone_admin": "keystone-admin-password",
    "designate_keystone": "designate-keystone-password",
    "dnsdr_keystone": "dnsdr-keystone-password",
    "dnsdr_app_credential": "dnsdr-app-credential-secret",
    "lab_keystone": "lab-keystone-password",
}


def _file(path: Path) -> dict[str, str]:
    return {"file": str(path)}


def _region(paths: Paths, bin_dir: Path, region: str) -> dict[str, Any]:
    a = Addresses(region)
    lab = f"{paths.dnsdr} lab --dir {paths.root}"
    return {
        "name": region,
        "database": {
            "flavour": "mariadb",
            "host": a.core,
            "port": MYSQL_PORT,
            "user": "dnsdr",
            "passwordRef": _file(paths.secret(SECRET_FILES["dnsdr_db"])),
            "replicationUser": "repl",
            "replicationPasswordRef": _file(paths.secret(SECRET_FILES["repl_db"])),
            "tls": {"replicaCaFile": str(paths.ca_cert)},  # the same host: the replica checks its source with it
        },
        "designate": {
            "regionName": region,
            "api": {"host": a.core, "port": API_PORT, "scheme": "https"},
            "mdns": [{"host": a.core, "port": MDNS_PORT}],
            "notifySources": [a.core],
            "control": {
                "driver": "command",
                "commands": {
                    "stop": f"{lab} service stop {{region}} {{services}}",
                    "start": f"{lab} service start {{region}} {{services}}",
                    "restart": f"{lab} service restart {{region}} {{services}}",
                    "repoint": f"{lab} repoint {{region}} --db-host {{db_host}} --db-port {{db_port}}",
                },
            },
            "manageCommand": [str(bin_dir / "designate-manage"), "--config-file", str(paths.designate_conf(region))],
        },
        "backends": [
            {
                "type": "pdns4",
                "name": f"{region}-pdns",
                "dns": {"host": a.pdns, "port": DNS_PORT},
                "api": {"host": a.pdns, "port": PDNS_API_PORT},
                "apiKeyRef": _file(paths.secret(SECRET_FILES["pdns_api_key"])),
            },
            {
                "type": "bind9",
                "name": f"{region}-bind",
                "dns": {"host": a.bind, "port": DNS_PORT},
                "rndc": {"host": a.bind, "port": RNDC_PORT},
                "rndcKeyRef": _file(paths.rndc_key(region)),
                "rndcKeyFile": str(paths.rndc_key(region)),
                # named runs on this host: dnsdr reads every added zone's config in one dump
                "zoneConfigCommand": f"named-nzd2nzf {paths.component(region, 'bind') / '_default.nzd'}",
            },
        ],
    }


def designatedr(paths: Paths, bin_dir: Path, name: str = "lab") -> dict[str, Any]:
    monitor = Addresses(MONITOR_REGION)
    return {
        "apiVersion": "dnsdr.io/v1alpha1",
        "kind": "DesignateDR",
        "metadata": {"name": name, "namespace": "designate"},
        "spec": {
            "primaryRegion": PRIMARY,
            "tls": {"mode": "verify", "caRef": _file(paths.ca_cert)},
            "auth": {
                "type": "applicationCredential",
                "authUrl": keystone_url(),
                "applicationCredentialName": APP_CREDENTIAL,
                "username": DNSDR_USER,
                "userDomainName": "Default",
                "applicationCredentialSecretRef": _file(paths.secret(SECRET_FILES["dnsdr_app_credential"])),
            },
            "pool": {
                "name": "default",
                "id": POOL_ID,
                "description": "dnsdr lab pool (r1 primary, r2 standby)",
                "attributes": {},
                "nsRecords": [
                    {"hostname": "ns1.example.org.", "priority": 1},
                    {"hostname": "ns2.example.org.", "priority": 2},
                ],
                "alsoNotifies": [],
            },
            "monitor": {"region": MONITOR_REGION},
            "policy": {
                "failover": "automatic",
                "probeIntervalSeconds": 1,
                "consecutiveFailures": 3,
                "maxLagSeconds": 5,
                "cooldownSeconds": 3600,
                "semiSyncRequired": True,
                "relayLogTimeoutSeconds": 30,
            },
            "regions": [
                *(_region(paths, bin_dir, r) for r in REGIONS),
                {"name": MONITOR_REGION, "monitor": {"host": monitor.core, "port": MONITOR_PORT}},
            ],
        },
    }
