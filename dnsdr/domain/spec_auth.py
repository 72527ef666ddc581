"""Read how dnsdr secures and authenticates its connections: ``spec.tls``, ``spec.auth``, a database's
``tls`` and the canary zone's name.

Secure by default: a spec without ``tls`` verifies every server certificate against the system's
trust store, and one without ``auth`` authenticates with the clouds.yaml entry ``$OS_CLOUD`` names,
as the OpenStack command line does. Plain connections (``tls: {mode: disabled}``) and Designate's
``noauth`` headers (``auth: {type: none}``) happen only when a spec says so.
"""

from __future__ import annotations

import re

from dnsdr.domain.fields import NAME, Node, fqdn_problem, host_problem, quote
from dnsdr.domain.spec import AuthSpec, AuthType, SecretRef, TlsMode, TlsSpec
from dnsdr.domain.spec_keys import (
    AUTH_COMMON_KEYS,
    AUTH_INTERFACES,
    AUTH_TYPE_KEYS,
    DATABASE_TLS_KEYS,
    KEY_REF_KEYS,
    SECRET_REF_KEYS,
    TLS_KEYS,
)

ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]+")
INTERFACES = AUTH_INTERFACES
# scheme://host[:port][/path]: no user, query or fragment (the domain parses no URL with the network stack).
URL = re.compile(r"(?P<scheme>https?)://(?:\[(?P<ip6>[0-9A-Fa-f:.]+)\]|(?P<host>[^/:@?#\s\[\]]+))"
                 r"(?::(?P<port>[0-9]{1,5}))?(?:/[^?#@\s]*)?")
# A Keystone user, project or domain name, an application credential's name or id, a clouds.yaml entry.
KEYSTONE_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,255}")
# Labels a TLD policy accepts everywhere: letters, digits and inner hyphens, lower case.
CANARY_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")

# Which keys each auth type reads (besides ``type`` and ``interface``).
_KEYS: dict[AuthType, set[str]] = {t: set(AUTH_TYPE_KEYS[t.value]) for t in AuthType}
_ALL_KEYS = set().union(*_KEYS.values()) | set(AUTH_COMMON_KEYS)


def secret_ref(node: Node | None, multiline: bool = False) -> SecretRef | None:
    if node is None:
        return None
    if not node.mapping(set(SECRET_REF_KEYS)):
        return None
    given = [k for k in SECRET_REF_KEYS if node.get(k) is not None]
    if len(given) != 1:
        node.problems.add(node.path, "must name exactly one of secretKeyRef, file, env")
        return None
    if (f := node.get("file")) is not None:
        path = f.string()
        if path is not None and not path.startswith("/"):
            f.problems.add(f.path, "must be an absolute path")
            return None
        return SecretRef(file=path, multiline=multiline) if path else None
    if (e := node.get("env")) is not None:
        var = e.string(ENV_VAR, "environment variable name")
        return SecretRef(env=var, multiline=multiline) if var else None
    ref = node.get("secretKeyRef")
    assert ref is not None
    if not ref.mapping(set(KEY_REF_KEYS)):
        return None
    n, k = ref.require("name"), ref.require("key")
    name = n.string(NAME, "Secret name") if n else None
    key = k.string(SECRET_KEY, "Secret key") if k else None
    if name is None or key is None:
        return None
    return SecretRef(secret_name=name, secret_key=key, multiline=multiline)


def read_tls(node: Node, default: TlsSpec, extra: set[str] | None = None) -> TlsSpec | None:
    """``{mode, caRef}`` over ``default`` (what the document says elsewhere); ``extra`` keys are the caller's."""
    if not node.mapping({*TLS_KEYS, *(extra or set())}):
        return None
    before = len(node.problems)
    mode_node = node.get("mode")
    mode = mode_node.choice(tuple(m.value for m in TlsMode)) if mode_node else default.mode.value
    ca_node = node.get("caRef")
    ca = secret_ref(ca_node, multiline=True) if ca_node else default.ca
    if mode is None or len(node.problems) > before:
        return None
    if TlsMode(mode) is TlsMode.DISABLED and ca_node is not None:
        node.problems.add(ca_node.path, "is not read when mode is disabled (no certificate is checked)")
        return None
    return TlsSpec(TlsMode(mode), ca)


def read_database_tls(node: Node | None, default: TlsSpec) -> tuple[TlsSpec, str | None] | None:
    """A database's ``tls``: the spec's default overridden, and the CA file its replicas' host checks it with."""
    if node is None:
        return default, None
    tls = read_tls(node, default, set(DATABASE_TLS_KEYS) - set(TLS_KEYS))
    file_node = node.get("replicaCaFile")
    path = file_node.string() if file_node else None
    if path is not None and not path.startswith("/"):
        node.problems.add(f"{node.path}.replicaCaFile", "must be an absolute path (on the database server's host)")
        return None
    if tls is None or (file_node is not None and path is None):
        return None
    if not tls.enabled and file_node is not None:
        node.problems.add(file_node.path, "is not read when mode is disabled (replication runs without TLS)")
        return None
    return tls, path


def check_url(node: Node, tls: TlsSpec, what: str) -> str | None:
    """An http(s) URL; plain http only when TLS is disabled (it would carry passwords and tokens in clear)."""
    value = node.string()
    if value is None:
        return None
    parts = URL.fullmatch(value)
    host = parts and (parts["ip6"] or parts["host"])
    if parts is None or not host or host_problem(host) or not 0 < int(parts["port"] or 443) < 65536:
        node.problems.add(node.path, f"{quote(value)} is not an http(s) URL of {what} (no user, query or fragment)")
        return None
    if parts["scheme"] == "http" and tls.enabled:
        node.problems.add(node.path, f"{quote(value)} is plain HTTP: passwords and tokens would cross the network "
                                     "in clear; use https, or set spec.tls.mode: disabled (a lab only)")
        return None
    return value


def read_auth(node: Node, tls: TlsSpec) -> AuthSpec | None:
    if not node.mapping(_ALL_KEYS):
        return None
    before = len(node.problems)
    type_node = node.require("type")
    kind = type_node.choice(tuple(t.value for t in AuthType)) if type_node else None
    if kind is None:
        return None
    auth_type = AuthType(kind)
    for key in node.value:
        if key in _ALL_KEYS - _KEYS[auth_type] - {"type", "interface"}:
            node.problems.add(node.child_path(key), f"is not read by auth type {auth_type.value}")
    interface_node = node.get("interface")
    interface = interface_node.choice(INTERFACES) if interface_node else "public"

    def name(key: str, required: bool = False) -> str | None:
        n = node.require(key) if required else node.get(key)
        return n.string(KEYSTONE_NAME, "name") if n else None

    fields: dict[str, object] = {}
    if auth_type in (AuthType.PASSWORD, AuthType.APPLICATION_CREDENTIAL):
        url_node = node.require("authUrl")
        fields["auth_url"] = check_url(url_node, tls, "Keystone") if url_node else None
        fields["user_domain"] = name("userDomainName") or "Default"
    if auth_type is AuthType.PASSWORD:
        fields.update(username=name("username", True), password=secret_ref(node.require("passwordRef")),
                      project=name("projectName", True), project_domain=name("projectDomainName") or "Default")
    elif auth_type is AuthType.APPLICATION_CREDENTIAL:
        fields.update(application_credential_id=name("applicationCredentialId"),
                      application_credential_name=name("applicationCredentialName"), username=name("username"),
                      application_credential_secret=secret_ref(node.require("applicationCredentialSecretRef")))
        by_id, by_name = node.get("applicationCredentialId"), node.get("applicationCredentialName")
        if (by_id is None) == (by_name is None):
            node.problems.add(node.path, "must name exactly one of applicationCredentialId, applicationCredentialName")
        elif by_name is not None and node.get("username") is None:
            node.problems.add(node.child_path("username"), "is required with applicationCredentialName (whose it is)")
    elif auth_type is AuthType.CLOUD:
        fields["cloud"] = name("cloud")
    if len(node.problems) > before or interface is None:
        return None
    return AuthSpec(type=auth_type, interface=interface, **fields)  # type: ignore[arg-type]


def read_canary_zone(node: Node) -> str | None:
    """An absolute zone name below a TLD (two labels or more), lower case, that Designate accepts."""
    value = node.string()
    if value is None or node.fail(fqdn_problem(value)):
        return None
    labels = value[:-1].split(".")
    if len(labels) < 2:
        node.problems.add(node.path, f"{quote(value)} is a top-level domain; the canary needs a zone below one")
        return None
    if not all(CANARY_LABEL.fullmatch(label) for label in labels):
        node.problems.add(node.path, f"{quote(value)}: use lower-case letters, digits and inner hyphens only "
                                     "(what every TLD policy accepts)")
        return None
    return value
