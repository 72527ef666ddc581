"""The shape of a DesignateDR document, declared once: the keys each mapping may hold and the range of each number.

The parsers (:mod:`~dnsdr.domain.spec_parse`, :mod:`~dnsdr.domain.spec_region`, :mod:`~dnsdr.domain.spec_pool`)
read documents by these declarations, and the operator's CRD generator (``dnsdr.operator.crd``) turns the same
declarations into the CRD's OpenAPI schema: ``dnsdr spec validate`` and the API server then agree on every key and
range, and a key added here reaches both.
"""

from __future__ import annotations

from dataclasses import dataclass

DOCUMENT_KEYS = ("apiVersion", "kind", "metadata", "spec", "status")
SPEC_KEYS = ("primaryRegion", "regions", "pool", "monitor", "policy", "tls", "auth")
MONITOR_KEYS = ("region", "canaryZone")
REGION_KEYS = ("name", "database", "designate", "backends", "nameservers", "monitor")
ENDPOINT_KEYS = ("host", "port")
SCHEMED_ENDPOINT_KEYS = ("host", "port", "scheme")
SECRET_REF_KEYS = ("secretKeyRef", "file", "env")
KEY_REF_KEYS = ("name", "key")
DATABASE_KEYS = ("flavour", "host", "port", "user", "passwordRef", "replicationUser", "replicationPasswordRef",
                 "schema", "tls")
DATABASE_REQUIRED = ("flavour", "host", "user", "passwordRef", "replicationUser", "replicationPasswordRef")
DESIGNATE_KEYS = ("api", "mdns", "notifySources", "control", "manageCommand", "regionName")
DESIGNATE_REQUIRED = ("api", "mdns", "control")
KUBE_CONTROL_KEYS = ("kubeconfigRef", "deploymentName", "databaseConnection")
CONTROL_KEYS = ("driver", "commands", "namespace", *KUBE_CONTROL_KEYS)
CONFIG_KEY_REF_KEYS = ("secretKeyRef", "configMapKeyRef")
COMMAND_NAMES = ("start", "stop", "restart", "repoint", "status")
REQUIRED_COMMANDS = ("stop", "start", "repoint")
BACKEND_COMMON_KEYS = ("type", "name", "dns")
POOL_KEYS = ("name", "id", "description", "attributes", "nsRecords", "alsoNotifies")
NS_RECORD_KEYS = ("hostname", "priority")
SURVIVING_BACKENDS = ("keep", "fence")
TLS_KEYS = ("mode", "caRef")
DATABASE_TLS_KEYS = (*TLS_KEYS, "replicaCaFile")
# spec.auth: the keys each auth type reads besides these common ones (spec_auth checks which type reads which).
AUTH_COMMON_KEYS = ("type", "interface")
AUTH_TYPE_KEYS: dict[str, tuple[str, ...]] = {
    "password": ("authUrl", "username", "userDomainName", "passwordRef", "projectName", "projectDomainName"),
    "applicationCredential": ("authUrl", "applicationCredentialId", "applicationCredentialName", "username",
                              "userDomainName", "applicationCredentialSecretRef"),
    "cloud": ("cloud",),
    "none": (),
}
AUTH_INTERFACES = ("public", "internal", "admin")

# The most items each list may hold: far beyond any real deployment, and what lets the API server bound the cost of
# the CRD's validation rules.
MAX_ITEMS: dict[str, int] = {
    "regions": 16, "backends": 32, "nameservers": 32, "mdns": 16, "notifySources": 32, "manageCommand": 64,
    "nsRecords": 32, "alsoNotifies": 32,
}
MAX_ATTRIBUTES = 64

# Default ports where the document may leave them out.
DATABASE_PORT = 3306
MDNS_PORT = 5354
DNS_PORT = 53


@dataclass(frozen=True)
class Limit:
    """A closed range; ``integer`` when only whole numbers are allowed."""

    low: float
    high: float
    integer: bool = False


PORT = Limit(1, 65535, integer=True)
NS_PRIORITY = Limit(1, 10000, integer=True)
POLICY_LIMITS: dict[str, Limit] = {
    "probeIntervalSeconds": Limit(0.1, 3600),
    "consecutiveFailures": Limit(1, 100, integer=True),
    "maxLagSeconds": Limit(0, 86400),
    "cooldownSeconds": Limit(0, 30 * 86400),
    "relayLogTimeoutSeconds": Limit(1, 3600),
}
POLICY_FLAGS = ("semiSyncRequired", "acceptDataLoss")
POLICY_KEYS = ("failover", *POLICY_LIMITS, *POLICY_FLAGS, "survivingBackends")
