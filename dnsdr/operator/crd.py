"""The DesignateDR CustomResourceDefinition, generated from the model ``dnsdr spec validate`` uses.

Keys, ranges, enumerations, patterns and list bounds come from the domain's declarations (``spec_keys``, the parsers'
patterns, each backend driver's kind), so a key or range changes in one place and the API server and ``spec
validate`` keep accepting the same documents. The model's cross-field checks that the schema cannot state
structurally are CEL rules (``x-kubernetes-validations``); the rest (address rules, duplicate addresses, credentials
that resolve) only the model knows, and the operator reports them in status.

    python -m dnsdr.operator.crd > manifests/base/crd.yaml

regenerates the committed file; a test checks that it is current.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from typing import Any

import yaml

from dnsdr.adapters.backends import KINDS
from dnsdr.domain.fields import NAME
from dnsdr.domain.spec import API_VERSION, KIND, BackendKind, DatabaseFlavour, FailoverMode
from dnsdr.domain.spec_auth import ENV_VAR, SECRET_KEY
from dnsdr.domain.spec_keys import (
    COMMAND_NAMES,
    DATABASE_REQUIRED,
    DESIGNATE_REQUIRED,
    MAX_ATTRIBUTES,
    MAX_ITEMS,
    NS_PRIORITY,
    POLICY_LIMITS,
    PORT,
    REQUIRED_COMMANDS,
    SECRET_REF_KEYS,
    SURVIVING_BACKENDS,
)
from dnsdr.domain.spec_pool import ATTRIBUTE_LIMIT, DESCRIPTION_LIMIT, POOL_NAME_LIMIT, UUID
from dnsdr.domain.spec_region import CONTROL_DRIVERS, OPTION_LIMIT, SCHEMA, SUBDOMAIN
from dnsdr.operator.crd_auth import KEYSTONE_NAME_LIMIT, auth, canary_zone, tls
from dnsdr.operator.crd_status import PRINTER_COLUMNS, status_schema
from dnsdr.operator.schema import (
    Schema,
    all_of,
    anchored,
    array,
    exactly_one,
    flag,
    integer,
    none_of,
    number,
    obj,
    rule,
    text,
)

GROUP, VERSION = API_VERSION.split("/")
PLURAL, SINGULAR, SHORT_NAMES = "designatedrs", "designatedr", ["ddr"]
CRD_NAME = f"{PLURAL}.{GROUP}"
NAME_PATTERN = anchored(NAME)
HOST = "^[0-9A-Za-z_.:-]+$"  # what an IP address or a DNS name may hold; the model applies Designate's rules
HOST_LIMIT = 254  # a DNS name with its final dot


def _re2(rx: re.Pattern[str], length_lookahead: str = "(?=.{1,253}$)") -> str:
    """The model's pattern without its length lookahead, which RE2 (the API server's engine) lacks: maxLength says
    the same."""
    pattern = rx.pattern.removeprefix(length_lookahead)
    if "(?=" in pattern or "(?!" in pattern:
        raise ValueError(f"{rx.pattern!r} has a lookaround the API server cannot run")
    return f"^(?:{pattern})$"


def _name(description: str) -> Schema:
    return text(description, pattern=NAME_PATTERN, max_length=63)


def _host(description: str) -> Schema:
    return text(description, pattern=HOST, max_length=HOST_LIMIT)


def endpoint(description: str, default_port: int | None = None, *, scheme: tuple[str, ...] = ()) -> Schema:
    port = "TCP or UDP port" + (f" (default {default_port})" if default_port else "")
    properties = {"host": _host("IP address or DNS name (a name that lands in pools.yml ends with '.')."),
                  "port": integer(port + ".", PORT)}
    if scheme:
        properties["scheme"] = text(f"{' or '.join(scheme)} (default {scheme[0]}).", enum=scheme)
    return obj(description, properties, required=["host"] if default_port else ["host", "port"])


def _key_ref(what: str) -> Schema:
    return obj(f"A key of a {what} in the DesignateDR's namespace.", {
        "name": text(f"The {what}'s name.", pattern=_re2(SUBDOMAIN), max_length=253),
        "key": text("The key within it.", pattern=anchored(SECRET_KEY)),
    }, required=["name", "key"])


def secret_ref(description: str) -> Schema:
    """A credential reference: never the credential itself."""
    return obj(description + " Exactly one of secretKeyRef, file, env.", {
        "secretKeyRef": obj("A key of a Secret in the DesignateDR's namespace (the operator reads it through the API; "
                            "the command line reads <secrets dir>/<name>/<key>, the layout of a mounted Secret).", {
                                "name": _name("The Secret's name."),
                                "key": text("The key within it.", pattern=anchored(SECRET_KEY)),
                            }, required=["name", "key"]),
        "file": text("An absolute path to a file holding the value.", pattern="^/"),
        "env": text("An environment variable holding the value.", pattern=anchored(ENV_VAR)),
    }, rules=[rule(exactly_one(SECRET_REF_KEYS), "must name exactly one of secretKeyRef, file, env")])


def database() -> Schema:
    return obj("The region's MySQL or MariaDB server holding Designate's database (absent in the monitor region).", {
        "flavour": text("The server: " + ", ".join(f.value for f in DatabaseFlavour) + ".",
                        enum=[f.value for f in DatabaseFlavour]),
        "host": _host("Where the server answers: IP address or DNS name."),
        "port": integer("Its port (default 3306).", PORT),
        "user": text("The account dnsdr observes, fences and promotes with."),
        "passwordRef": secret_ref("That account's password."),
        "replicationUser": text("The account replicas use to connect to this server when it is their source."),
        "replicationPasswordRef": secret_ref("The replication account's password."),
        "schema": text("Designate's database (default designate).", pattern=anchored(SCHEMA), max_length=64),
        "tls": tls("This server's TLS (default: spec.tls).", secret_ref, replica_ca_file=True),
    }, required=DATABASE_REQUIRED)


def control() -> Schema:
    kube_keys = ("kubeconfigRef", "deploymentName", "databaseConnection")
    commands = {name: text(f"The {name} command; {{service}}, {{region}}, {{db_host}} and {{db_port}} are filled in "
                           "(a word with {services} repeats once per service: one command for all).")
                for name in COMMAND_NAMES}
    return obj("How dnsdr stops, starts and repoints this region's Designate services.", {
        "driver": text("command: run operator-supplied commands (systemctl over ssh, Ansible, ...); kubernetes: scale "
                       "and roll the region's designate-<service> Deployments.", enum=CONTROL_DRIVERS),
        "commands": obj("The command driver's commands (stop, start and repoint are required).", commands),
        "namespace": _name("The kubernetes driver: Designate's namespace in the region's cluster."),
        "kubeconfigRef": secret_ref("The kubernetes driver: a kubeconfig for the region's cluster."),
        "deploymentName": text("The kubernetes driver: the Deployment of each service, {service} filled in "
                               "(default designate-{service}).", max_length=253),
        "databaseConnection": obj("The kubernetes driver: where Designate reads its database connection (a URL, or "
                                  "designate.conf's [database] connection; default Secret designate-etc key "
                                  "designate.conf).", {
                                      "secretKeyRef": _key_ref("Secret"),
                                      "configMapKeyRef": _key_ref("ConfigMap"),
                                  }, rules=[rule(exactly_one(("secretKeyRef", "configMapKeyRef")),
                                                 "must name exactly one of secretKeyRef, configMapKeyRef")]),
    }, required=["driver"], rules=[
        rule("self.driver != 'command' || (has(self.commands) && "
             + " && ".join(f"has(self.commands.{c})" for c in REQUIRED_COMMANDS) + ")",
             "the command driver needs commands " + ", ".join(REQUIRED_COMMANDS)),
        rule("self.driver != 'command' || (" + none_of(kube_keys) + ")",
             ", ".join(kube_keys) + " are only read by the kubernetes driver"),
        rule("self.driver != 'kubernetes' || (has(self.namespace) && has(self.kubeconfigRef))",
             "the kubernetes driver needs namespace and kubeconfigRef"),
        rule("self.driver != 'kubernetes' || !has(self.commands)", "commands is only read by the command driver"),
        rule("!has(self.deploymentName) || self.deploymentName.contains('{service}')",
             "deploymentName must contain {service} (the Designate service: api, central, ...)"),
    ])


def designate() -> Schema:
    return obj("The region's Designate services.", {
        "api": endpoint("The Designate API.", scheme=("http", "https")),
        "mdns": array("The region's mdns servers (port default 5354): the masters its backends transfer from.",
                      endpoint("An mdns server.", 5354), min_items=1, max_items=MAX_ITEMS["mdns"]),
        "notifySources": array("Addresses designate-worker sends NOTIFY from; backends must trust them.",
                               _host("An address."), max_items=MAX_ITEMS["notifySources"]),
        "control": control(),
        "manageCommand": array("designate-manage as run in this region, e.g. with --config-file.",
                               text("An argument."), max_items=MAX_ITEMS["manageCommand"]),
        "regionName": text("The region's name in Keystone's catalog (default: the region's name).",
                           max_length=KEYSTONE_NAME_LIMIT),
    }, required=DESIGNATE_REQUIRED)


SETTING_DESCRIPTIONS = {
    "rndcKeyFile": "Path of the rndc key file on Designate's worker hosts (pools.yml's rndc_key_file).",
    "rndcConfigFile": "Path of an rndc.conf on Designate's worker hosts (pools.yml's rndc_config_file).",
    "zoneConfigCommand": "A command printing every zone added to named, as named-nzd2nzf does (e.g. ssh bind-r1 "
                         "named-nzd2nzf /var/cache/bind/_default.nzd): masters are then rewritten without one rndc "
                         "showzone per zone.",
    "databaseRef": "PowerDNS's own database as a URL (mysql://user:password@host:port/pdns, or sqlite:////path on "
                   "dnsdr's host): dnsdr then rewrites masters with one UPDATE instead of one API call per zone.",
}


def backend(kinds: Mapping[str, BackendKind]) -> Schema:
    """Every backend type's keys side by side (structural schemas allow no per-type branches); CEL rules require each
    type's own keys and refuse the other types'."""
    properties: dict[str, Schema] = {
        "type": text("The DNS server type: " + ", ".join(f"{k} ({v.label})" for k, v in kinds.items()) + ".",
                     enum=list(kinds), max_length=32),
        "name": _name("The backend's name, unique in the spec."),
        "dns": endpoint("Where it answers DNS (port default 53).", 53),
    }
    rules: list[Schema] = []
    for name, kind in kinds.items():
        own = (kind.control_key, kind.credential_key, *kind.settings, *kind.secret_settings)
        properties[kind.control_key] = endpoint(f"{name}: where dnsdr manages the {kind.label} "
                                                f"(port default {kind.control_port}).", kind.control_port,
                                                scheme=kind.schemes)
        properties[kind.credential_key] = secret_ref(f"{name}: the credential for it.")
        for key in kind.settings:
            properties[key] = text(f"{name}: " + SETTING_DESCRIPTIONS.get(key, f"the pools.yml option {key}."),
                                   max_length=OPTION_LIMIT)
        for key in kind.secret_settings:
            properties[key] = secret_ref(f"{name}: " + SETTING_DESCRIPTIONS.get(key, f"the secret {key}."))
        others = [k for other in kinds.values() if other is not kind
                  for k in (other.control_key, other.credential_key, *other.settings, *other.secret_settings)
                  if k not in own]
        rules.append(rule(f"self.type != '{name}' || ({all_of((kind.control_key, kind.credential_key))})",
                          f"a {name} backend needs {kind.control_key} and {kind.credential_key}"))
        if others:
            rules.append(rule(f"self.type != '{name}' || ({none_of(others)})",
                              f"a {name} backend takes none of " + ", ".join(others)))
    return obj("One DNS server of the pool: a target Designate manages and a nameserver it polls.", properties,
               required=["type", "name", "dns"], rules=rules)


def region(kinds: Mapping[str, BackendKind]) -> Schema:
    return obj("A region: its database, Designate and DNS servers, or (the monitor region) only the monitor.", {
        "name": _name("The region's name, unique in the spec (a DNS label)."),
        "database": database(),
        "designate": designate(),
        "backends": array("The region's DNS servers.", backend(kinds), max_items=MAX_ITEMS["backends"]),
        "nameservers": array("What designate-worker polls in this region (default: the backends' dns endpoints).",
                             endpoint("A nameserver (port default 53).", 53), max_items=MAX_ITEMS["nameservers"]),
        "monitor": endpoint("The monitor region only: where `dnsdr monitor` serves its verdict."),
    }, required=["name"], rules=[
        rule("!has(self.database) || has(self.designate)", "designate is required in a region with a database",
             field_path=".designate"),
        rule("!has(self.database) || (has(self.backends) && size(self.backends) > 0)",
             "a region with a database needs at least one backend", field_path=".backends"),
    ])


def pool() -> Schema:
    return obj("The parts of Designate's pools.yml written by hand; targets, nameservers and masters are rendered "
               "from the regions for each state of the world.", {
                   "name": text("The pool's name (default default).", max_length=POOL_NAME_LIMIT),
                   "id": text("The pool's UUID (Designate's default pool: 794ccc2c-d751-44fe-b57f-8894c9f5c842).",
                              pattern=anchored(UUID)),
                   "description": text("The pool's description.", max_length=DESCRIPTION_LIMIT),
                   "attributes": {"type": "object", "description": "Pool attributes (names and values of at most "
                                  f"{ATTRIBUTE_LIMIT} characters).", "maxProperties": MAX_ATTRIBUTES,
                                  "additionalProperties": {"x-kubernetes-int-or-string": True}},
                   "nsRecords": array("The NS records of every zone in the pool.", obj("An NS record.", {
                       "hostname": text("A fully qualified name, ending with '.'.", max_length=254),
                       "priority": integer("Its order.", NS_PRIORITY),
                   }, required=["hostname", "priority"]), min_items=1, max_items=MAX_ITEMS["nsRecords"]),
                   "alsoNotifies": array("Servers to NOTIFY besides the targets.", endpoint("A server (port default "
                                                                                             "53).", 53),
                                         max_items=MAX_ITEMS["alsoNotifies"]),
               }, required=["nsRecords"])


def _policy_number(key: str, description: str) -> Schema:
    limit = POLICY_LIMITS[key]
    return (integer if limit.integer else number)(description, limit)


def policy() -> Schema:
    return obj("When and how dnsdr fails over; what it calls healthy.", {
        "failover": text("manual (default): alert and wait for `dnsdr promote`; automatic: fail over by itself once "
                         "every vantage point agrees the primary region is lost.",
                         enum=[m.value for m in FailoverMode]),
        "probeIntervalSeconds": _policy_number("probeIntervalSeconds", "Seconds between rounds (default 5)."),
        "consecutiveFailures": _policy_number("consecutiveFailures", "Rounds in a row every vantage point must agree "
                                                                     "the primary region is lost (default 3)."),
        "maxLagSeconds": _policy_number("maxLagSeconds", "Replication lag beyond which the replica is degraded "
                                                         "(default 10)."),
        "cooldownSeconds": _policy_number("cooldownSeconds", "After an automatic failover, how long the next one waits "
                                                             "for an acknowledgement (default 3600)."),
        "semiSyncRequired": flag("Semi-synchronous replication must be on (default true)."),
        "relayLogTimeoutSeconds": _policy_number("relayLogTimeoutSeconds", "How long promotion waits for the "
                                                 "candidate to apply its relay log (default 30)."),
        "acceptDataLoss": flag("An automatic failover may proceed although semi-sync was off or AFTER_COMMIT before "
                               "the loss (default false)."),
        "survivingBackends": text("What a failover does with a lost region's backends that still answer: keep them in "
                                  "the pool, re-pointed at the surviving mdns (default), or fence them.",
                                  enum=SURVIVING_BACKENDS),
    })


def spec_schema(kinds: Mapping[str, BackendKind]) -> Schema:
    regions = "self.regions"
    return obj("The topology and policy: the same document `dnsdr spec validate` reads.", {
        "primaryRegion": _name("The region whose database is writable when all is well."),
        "regions": array("Two regions with a database (the primary and its replica) and, usually, the monitor region.",
                         region(kinds), min_items=2, max_items=MAX_ITEMS["regions"]),
        "pool": pool(),
        "monitor": obj("The third-region witness.", {
            "region": _name("The region the monitor and the operator run in: it holds no database."),
            "canaryZone": canary_zone(),
        }, required=["region"]),
        "policy": policy(),
        "tls": tls("How dnsdr secures its connections (default: verify, the system's trust store).", secret_ref),
        "auth": auth(secret_ref),
    }, required=["primaryRegion", "regions"], rules=[
        rule(f"{regions}.all(r, {regions}.exists_one(s, s.name == r.name))", "region names must be unique",
             field_path=".regions"),
        rule(f"{regions}.exists(r, r.name == self.primaryRegion && has(r.database))",
             message_expression="'primaryRegion ' + self.primaryRegion + ' must name a region with a database'",
             field_path=".primaryRegion"),
        rule(f"{regions}.filter(r, has(r.database)).size() >= 2",
             "needs at least two regions with a database (the primary and its replica)", field_path=".regions"),
        rule(f"!has(self.monitor) || {regions}.exists(r, r.name == self.monitor.region)",
             message_expression="'monitor.region ' + self.monitor.region + ' names no region of spec.regions'",
             field_path=".monitor.region"),
        rule(f"!has(self.monitor) || !{regions}.exists(r, r.name == self.monitor.region && has(r.database))",
             message_expression="'monitor.region ' + self.monitor.region + ' holds a database; the monitor must "
                                "watch from a third region'",
             field_path=".monitor.region"),
    ])


def crd(kinds: Mapping[str, BackendKind] = KINDS) -> dict[str, Any]:
    root = obj("A Designate deployment across regions that dnsdr keeps recoverable: it watches replication and DNS "
               "from the monitor region and fails over by policy.", {
                   "apiVersion": text("dnsdr.io/v1alpha1", min_length=0),
                   "kind": text("DesignateDR", min_length=0),
                   "metadata": {"type": "object"},
                   "spec": spec_schema(kinds),
                   "status": status_schema(),
               }, required=["spec"], rules=[
                   rule(f"self.metadata.name.matches('{NAME_PATTERN}')",
                        "metadata.name must be a DNS label (lower-case letters, digits and '-', at most 63): it "
                        "names the state's ConfigMaps and Lease"),
               ])
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME, "labels": {"app.kubernetes.io/name": "dnsdr"}},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"kind": KIND, "plural": PLURAL, "singular": SINGULAR, "shortNames": SHORT_NAMES,
                      "listKind": f"{KIND}List", "categories": ["dnsdr"]},
            "versions": [{
                "name": VERSION, "served": True, "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": PRINTER_COLUMNS,
                "schema": {"openAPIV3Schema": root},
            }],
        },
    }


HEADER = "# Generated by `python -m dnsdr.operator.crd` from the model `dnsdr spec validate` uses: do not edit.\n"


def render(kinds: Mapping[str, BackendKind] = KINDS) -> str:
    return HEADER + yaml.safe_dump(crd(kinds), sort_keys=False, width=120, allow_unicode=True)


if __name__ == "__main__":
    sys.stdout.write(render())
