"""The CRD's schema for how dnsdr secures and authenticates its connections (``spec.tls``, ``spec.auth``, a
database's ``tls``, the canary zone), from the declarations :mod:`dnsdr.domain.spec_auth` reads them by."""

from __future__ import annotations

from collections.abc import Callable

from dnsdr.domain.spec import AuthType, TlsMode
from dnsdr.domain.spec_keys import AUTH_COMMON_KEYS, AUTH_INTERFACES, AUTH_TYPE_KEYS
from dnsdr.operator.schema import Schema, all_of, exactly_one, none_of, obj, rule, text

SecretRefBuilder = Callable[[str], Schema]
KEYSTONE_NAME_LIMIT = 255
CANARY_PATTERN = r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.){2,}$"
URL_PATTERN = "^https?://[^@?#\\s]+$"
# What each auth type needs besides ``type`` (the model's rules; applicationCredential checks id or name apart).
AUTH_REQUIRED: dict[str, tuple[str, ...]] = {
    AuthType.PASSWORD.value: ("authUrl", "username", "passwordRef", "projectName"),
    AuthType.APPLICATION_CREDENTIAL.value: ("authUrl", "applicationCredentialSecretRef"),
}


def tls(description: str, secret_ref: SecretRefBuilder, *, replica_ca_file: bool = False) -> Schema:
    properties = {
        "mode": text("verify (default): TLS, the server's certificate checked; disabled: plain connections (a lab "
                     "only).", enum=[m.value for m in TlsMode]),
        "caRef": secret_ref("A PEM bundle of the CAs to trust (default: the system's trust store)."),
    }
    if replica_ca_file:
        properties["replicaCaFile"] = text("The CA file the replicas' host checks this server with (an absolute "
                                           "path there).", pattern="^/")
    rules = [rule("!has(self.mode) || self.mode != 'disabled' || !has(self.caRef)",
                  "caRef is not read when mode is disabled (no certificate is checked)")]
    if replica_ca_file:
        rules.append(rule("!has(self.mode) || self.mode != 'disabled' || !has(self.replicaCaFile)",
                          "replicaCaFile is not read when mode is disabled (replication runs without TLS)"))
    return obj(description, properties, rules=rules)


def _keystone_name(description: str) -> Schema:
    return text(description, max_length=KEYSTONE_NAME_LIMIT)


def auth(secret_ref: SecretRefBuilder) -> Schema:
    """Every auth type's keys side by side; CEL rules require each type's own and refuse the others'."""
    properties: dict[str, Schema] = {
        "type": text("password, applicationCredential, cloud (a clouds.yaml entry; default, with $OS_CLOUD) or none "
                     "(Designate's noauth headers: a lab only).", enum=[t.value for t in AuthType]),
        "interface": text("The catalog interface (default public).", enum=AUTH_INTERFACES),
        "authUrl": text("Keystone's URL (https unless spec.tls.mode is disabled).", pattern=URL_PATTERN,
                        max_length=2048),
        "username": _keystone_name("The Keystone user."),
        "userDomainName": _keystone_name("The user's domain (default Default)."),
        "passwordRef": secret_ref("password: the user's password."),
        "projectName": _keystone_name("password: the project to scope to."),
        "projectDomainName": _keystone_name("password: the project's domain (default Default)."),
        "applicationCredentialId": _keystone_name("applicationCredential: its id."),
        "applicationCredentialName": _keystone_name("applicationCredential: its name (with username)."),
        "applicationCredentialSecretRef": secret_ref("applicationCredential: its secret."),
        "cloud": _keystone_name("cloud: the clouds.yaml entry (default $OS_CLOUD)."),
    }
    assert set(properties) == set(AUTH_COMMON_KEYS).union(*AUTH_TYPE_KEYS.values())
    rules: list[Schema] = []
    everything = set(properties) - set(AUTH_COMMON_KEYS)
    for kind, keys in AUTH_TYPE_KEYS.items():
        others = sorted(everything - set(keys))
        if others:
            rules.append(rule(f"self.type != '{kind}' || ({none_of(others)})",
                              f"auth type {kind} reads none of " + ", ".join(others)))
        if required := AUTH_REQUIRED.get(kind):
            rules.append(rule(f"self.type != '{kind}' || ({all_of(required)})",
                              f"auth type {kind} needs " + ", ".join(required)))
    app = AuthType.APPLICATION_CREDENTIAL.value
    by_id_or_name = exactly_one(("applicationCredentialId", "applicationCredentialName"))
    rules.append(rule(f"self.type != '{app}' || ({by_id_or_name})",
                      "must name exactly one of applicationCredentialId, applicationCredentialName"))
    rules.append(rule(f"self.type != '{app}' || !has(self.applicationCredentialName) || has(self.username)",
                      "username is required with applicationCredentialName (whose it is)"))
    return obj("How dnsdr authenticates to Keystone for the Designate API: never the credential itself.", properties,
               required=["type"], rules=rules)


def canary_zone() -> Schema:
    return text("The zone the monitor and verification write (default: one under the lab's test domain); lower-case "
                "letters, digits and inner hyphens, below a TLD, ending with '.'.", pattern=CANARY_PATTERN,
                max_length=254)
