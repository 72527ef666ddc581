"""Shared test configuration: paths to the bundled example."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "manifests" / "examples" / "designatedr.yaml"

# Keystone's application credential secret and the CA bundle the example references, besides the database,
# PowerDNS and rndc keys (each under <secrets dir>/<name>/<key>, as a mounted Secret).
AUTH_SECRET = ("dnsdr-credentials", "keystone-app-cred-secret")
CA_SECRET = ("dnsdr-ca", "ca.pem")


def write_auth_secrets(secrets_root: Path, app_cred_secret: str = "app-cred-secret-value") -> None:
    """Write the example's Keystone secret and CA (a real throw-away CA) under ``secrets_root``."""
    from tests.support.pki import throwaway_ca

    for (name, key), value in ((AUTH_SECRET, app_cred_secret), (CA_SECRET, throwaway_ca().pem)):
        (secrets_root / name).mkdir(parents=True, exist_ok=True)
        (secrets_root / name / key).write_text(value + "\n")
