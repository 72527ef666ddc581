"""A spec whose r1 is served by small local fakes on 127.0.0.1 (all good) and whose r2 points at closed
ports on 127.0.0.2 (all dead); r3 is the monitor's region."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from dnsdr.adapters.backends import KINDS
from dnsdr.domain.spec import DesignateDR
from dnsdr.domain.spec_parse import parse_designatedr
from tests.unit.netfakes import FakeDns, FakeHttp, FakeMysql, closed_port

INTERVAL = 0.5


def region(name: str, host: str, db: int, api: int, mdns: int, ns: int, control: int) -> dict[str, Any]:
    return {
        "name": name,
        "database": {"flavour": "mariadb", "host": host, "port": db, "user": "dnsdr", "passwordRef": {"env": "DB_PW"},
                     "replicationUser": "repl", "replicationPasswordRef": {"env": "REPL_PW"}},
        "designate": {"api": {"host": host, "port": api}, "mdns": [{"host": host, "port": mdns}],
                      "notifySources": [host],
                      "control": {"driver": "command", "commands": {k: "true {service}" for k in
                                                                    ("stop", "start", "restart", "repoint")}}},
        "backends": [{"type": "pdns4", "name": f"{name}-pdns", "dns": {"host": host, "port": ns},
                      "api": {"host": host, "port": control}, "apiKeyRef": {"env": "PDNS_KEY"}}],
    }


@dataclass
class FakeWorld:
    doc: dict[str, Any]
    path: Path

    @property
    def spec(self) -> DesignateDR:
        return parse_designatedr(self.doc, KINDS)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[FakeWorld]:
    ns, mdns, api, db = FakeDns("good", serial=4242), FakeDns("good", serial=4242), FakeHttp(), FakeMysql()
    dead = "127.0.0.2"
    doc = {
        "apiVersion": "dnsdr.io/v1alpha1", "kind": "DesignateDR", "metadata": {"name": "test"},
        "spec": {
            "primaryRegion": "r1", "monitor": {"region": "r3"}, "tls": {"mode": "disabled"},  # plain fakes
            "policy": {"probeIntervalSeconds": INTERVAL, "maxLagSeconds": 1},
            "regions": [
                region("r1", "127.0.0.1", db.port, api.port, mdns.port, ns.port, closed_port()),
                region("r2", dead, *(closed_port(dead) for _ in range(5))),
                {"name": "r3", "monitor": {"host": "127.0.0.3", "port": closed_port("127.0.0.3")}},
            ],
        },
    }
    path = tmp_path / "dr.yaml"
    path.write_text(yaml.safe_dump(doc))
    try:
        yield FakeWorld(doc, path)
    finally:
        for server in (ns, mdns, api, db):
            server.close()
