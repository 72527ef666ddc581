"""A runnable copy of the example spec for CLI tests: control commands that exist (`true`) and every
secret it references in a private secrets directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import EXAMPLE, write_auth_secrets

SECRET_KEYS = ("r1-db-password", "r2-db-password", "replication-password", "r1-pdns-api-key", "r2-pdns-api-key",
               "r1-rndc-key", "r2-rndc-key")


@dataclass(frozen=True)
class Runnable:
    spec: Path
    secrets: Path
    state: Path

    def args(self) -> list[str]:
        return ["-c", str(self.spec), "--secrets-dir", str(self.secrets), "--state-dir", str(self.state)]


@pytest.fixture
def runnable(tmp_path: Path) -> Runnable:
    doc = yaml.safe_load(EXAMPLE.read_text())
    for region in doc["spec"]["regions"]:
        designate = region.get("designate")
        if designate:
            designate["control"]["commands"] = {k: "true {service}" for k in ("stop", "start", "restart", "repoint")}
            designate["manageCommand"] = ["true"]
    spec = tmp_path / "dr.yaml"
    spec.write_text(yaml.safe_dump(doc))
    secrets = tmp_path / "secrets" / "dnsdr-credentials"
    secrets.mkdir(parents=True)
    for key in SECRET_KEYS:
        value = "aGVsbG8gd29ybGQgMTIzNDU2Nzg5MA==" if "rndc" in key else f"{key}-value"
        (secrets / key).write_text(value + "\n")
    write_auth_secrets(tmp_path / "secrets")
    return Runnable(spec, tmp_path / "secrets", tmp_path / "state")
