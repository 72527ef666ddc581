"""Filters for the dnsdr playbooks: designate.conf's database URL, pool comparison, secret scrubbing.

Pure functions of their inputs (no I/O), so tests/unit/playbooks can call them directly.

- ``dnsdr_db_connection(conf_text)``: the ``[database] connection`` of a designate.conf ('' if none).
- ``dnsdr_url_endpoint(url)``: ``{"host": ..., "port": ...}`` of an SQLAlchemy URL (port None if absent).
- ``dnsdr_url_repoint(url, host, port)``: the same URL (credentials, database, query kept) at host:port.
- ``dnsdr_pool_diff(show_config_stdout, rendered_yaml)``: what `designate-manage pool update` would
  change, one line per difference, secret option values never shown; [] when Designate already
  holds the rendered pools.
- ``dnsdr_pool_secrets(rendered_yaml)``: the secret option values of a pools file (API tokens, keys).
- ``dnsdr_scrub(text, secrets)``: ``text`` with every secret value replaced by REDACTED.
- ``dnsdr_secret_files(dnsdr_secrets)``: ``{name: {key: value}}`` as a list of ``{name, key, value}``.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

# The shape SQLAlchemy's make_url accepts: a password may hold ':' and '/', never '@'.
_URL = re.compile(
    r"^(?P<scheme>[A-Za-z][\w+.\-]*://)"
    r"(?P<auth>[^:/@]*(?::[^@]*)?@)?"
    r"(?P<host>\[[^\]/?]+\]|[^/:?\[\]]*)"
    r"(?::(?P<port>[^/?]*))?"
    r"(?P<rest>[/?].*)?$",
    re.DOTALL,
)
_SECTION = re.compile(r"^\s*\[(?P<name>[^\]]+)\]\s*$")
_CONNECTION = re.compile(r"^\s*connection\s*[=:]\s*(?P<value>.*?)\s*$")
_SECRET_KEY = re.compile(r"(token|secret|password|passwd|key)$", re.IGNORECASE)
_NOT_SECRET = {"rndc_key_file"}


class FilterError(ValueError):
    pass


def db_connection(conf_text: str) -> str:
    """The last ``connection`` of the ``[database]`` section (oslo.config keeps the last one)."""
    section = None
    found = ""
    for line in conf_text.splitlines():
        if line.lstrip().startswith(("#", ";")):
            continue
        m = _SECTION.match(line)
        if m:
            section = m.group("name").strip()
            continue
        if section == "database":
            c = _CONNECTION.match(line)
            if c:
                found = c.group("value")
    return found


def _parse(url: str) -> re.Match[str]:
    m = _URL.match(url or "")
    if m is None or not m.group("host"):
        # Never echo the URL: it carries the database password.
        raise FilterError("the [database] connection is not a URL of the form driver://user:password@host[:port]/db")
    return m


def url_endpoint(url: str) -> dict[str, Any]:
    m = _parse(url)
    host = m.group("host")
    port = m.group("port")
    return {"host": host[1:-1] if host.startswith("[") else host, "port": int(port) if port else None}


def url_repoint(url: str, host: str, port: Any) -> str:
    m = _parse(url)
    host = str(host).strip()
    if not host or any(c in host for c in "/?@#[] "):
        raise FilterError(f"not a database host: {host!r}")
    if ":" in host:
        host = f"[{host}]"
    try:
        number = int(port)
    except (TypeError, ValueError):
        raise FilterError(f"not a database port: {port!r}") from None
    if not 1 <= number <= 65535:
        raise FilterError(f"not a database port: {port!r}")
    return f"{m.group('scheme')}{m.group('auth') or ''}{host}:{number}{m.group('rest') or ''}"


def _load(text: str, what: str) -> list[dict[str, Any]]:
    try:
        data = yaml.safe_load(text) if text and text.strip() else []
    except yaml.YAMLError as exc:
        raise FilterError(f"{what} is not YAML: {str(exc).splitlines()[0]}") from None
    if data is None:
        return []
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(p, dict) for p in data):
        raise FilterError(f"{what} is not a list of pools")
    return data


def show_config_pools(stdout: str) -> list[dict[str, Any]]:
    """The pools in `designate-manage pool show_config` output (YAML after its dashed header line)."""
    lines = stdout.splitlines()
    for i, line in enumerate(lines):
        if line.strip() and set(line.strip()) == {"-"}:
            return _load("\n".join(lines[i + 1:]), "designate-manage pool show_config output")
    return []


def _endpoints(items: Any) -> list[tuple[str, int]]:
    return sorted((str(i.get("host")), int(i.get("port") or 0)) for i in items or [])


def _norm_pool(pool: dict[str, Any]) -> dict[str, Any]:
    targets = []
    for t in pool.get("targets") or []:
        options = {str(k): "" if v is None else str(v) for k, v in (t.get("options") or {}).items()}
        targets.append({"type": str(t.get("type") or ""), "description": str(t.get("description") or ""),
                        "masters": _endpoints(t.get("masters")), "options": options})
    targets.sort(key=lambda t: (t["options"].get("host", ""), t["type"], t["description"]))
    return {
        "name": str(pool.get("name") or ""),
        "description": str(pool.get("description") or ""),
        "attributes": {str(k): str(v) for k, v in (pool.get("attributes") or {}).items()},
        "ns_records": sorted((str(n.get("hostname")), int(n.get("priority") or 0))
                             for n in pool.get("ns_records") or []),
        "nameservers": _endpoints(pool.get("nameservers")),
        "also_notifies": _endpoints(pool.get("also_notifies")),
        "targets": targets,
    }


def _secret(key: str) -> bool:
    return key not in _NOT_SECRET and bool(_SECRET_KEY.search(key))


def _target_name(t: dict[str, Any]) -> str:
    return f"{t['type']} target {t['options'].get('host', '?')}"


def _target_diff(name: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = []
    if old["description"] != new["description"]:
        out.append(f"{name}: description {old['description']!r} -> {new['description']!r}")
    if old["masters"] != new["masters"]:
        out.append(f"{name}: masters {_show(old['masters'])} -> {_show(new['masters'])}")
    for key in sorted(set(old["options"]) | set(new["options"])):
        a, b = old["options"].get(key), new["options"].get(key)
        if a != b:
            if _secret(key):
                out.append(f"{name}: option {key} changes (value not shown)")
            else:
                out.append(f"{name}: option {key} {a!r} -> {b!r}")
    return out


def _show(endpoints: list[tuple[str, int]]) -> str:
    return "[" + ", ".join(f"{h}:{p}" for h, p in endpoints) + "]"


def pool_diff(show_config_stdout: str, rendered_yaml: str) -> list[str]:
    current = {str(p.get("id") or p.get("name")): p for p in show_config_pools(show_config_stdout)}
    out: list[str] = []
    for pool in _load(rendered_yaml, "the rendered pools file"):
        key = str(pool.get("id") or pool.get("name"))
        label = f"pool {pool.get('name')}"
        if key not in current:
            out.append(f"{label}: not in Designate yet (created)")
            continue
        old, new = _norm_pool(current[key]), _norm_pool(pool)
        for field in ("name", "description", "attributes", "ns_records", "nameservers", "also_notifies"):
            if old[field] != new[field]:
                out.append(f"{label}: {field} {old[field]!r} -> {new[field]!r}")
        olds = {(_target_name(t), t["type"]): t for t in old["targets"]}
        news = {(_target_name(t), t["type"]): t for t in new["targets"]}
        if len(olds) != len(old["targets"]) or len(news) != len(new["targets"]):
            if old["targets"] != new["targets"]:
                out.append(f"{label}: targets differ")
            continue
        for k in sorted(set(olds) - set(news)):
            out.append(f"{label}: {k[0]} removed")
        for k in sorted(set(news) - set(olds)):
            out.append(f"{label}: {k[0]} added")
        for k in sorted(set(olds) & set(news)):
            out.extend(f"{label}: {line}" for line in _target_diff(k[0], olds[k], news[k]))
    return out


def pool_secrets(rendered_yaml: str) -> list[str]:
    values = set()
    for pool in _load(rendered_yaml, "the rendered pools file"):
        for t in pool.get("targets") or []:
            for k, v in (t.get("options") or {}).items():
                if _secret(str(k)) and v not in (None, ""):
                    values.add(str(v))
    return sorted(values, key=len, reverse=True)


def scrub(text: str, secrets: list[str]) -> str:
    for secret in sorted((s for s in secrets or [] if s), key=len, reverse=True):
        text = text.replace(secret, "REDACTED")
    return text


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def secret_files(secrets: Any) -> list[dict[str, str]]:
    """``{name: {key: value}}`` -> ``[{name, key, value}]``, names checked (no path tricks)."""
    if not secrets:
        return []
    if not isinstance(secrets, dict) or not all(isinstance(v, dict) for v in secrets.values()):
        raise FilterError("dnsdr_secrets must be a mapping {name: {key: value}}")
    out = []
    for name, keys in secrets.items():
        for key, value in keys.items():
            for part in (str(name), str(key)):
                if not _NAME.match(part) or part in (".", ".."):
                    raise FilterError(f"dnsdr_secrets: {part!r} is not a valid secret or key name")
            out.append({"name": str(name), "key": str(key), "value": "" if value is None else str(value)})
    return out


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "dnsdr_db_connection": db_connection,
            "dnsdr_url_endpoint": url_endpoint,
            "dnsdr_url_repoint": url_repoint,
            "dnsdr_pool_diff": pool_diff,
            "dnsdr_pool_secrets": pool_secrets,
            "dnsdr_scrub": scrub,
            "dnsdr_secret_files": secret_files,
        }
