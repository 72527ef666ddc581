"""Point Designate's database connection at another server: rewrite host and port, keep everything else.

The value is either the oslo.db URL itself (``mysql+pymysql://user:password@host:3306/designate?charset=utf8``) or a
whole ``designate.conf`` whose ``[database]`` section holds ``connection = <URL>``, as openstack-helm keeps it in the
``designate-etc`` Secret. Only the URL's host and port change: the credentials, the schema and the options are the
operator's, and every other line of the file stays byte for byte. Messages never quote the value (it holds the
database password).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from dnsdr.domain.errors import InvalidInput
from dnsdr.domain.spec import Endpoint

_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_CONNECTION = re.compile(r"^(\s*connection\s*[=:]\s*)(\S.*?)(\s*)$")


class ConnectionValueError(InvalidInput):
    """The connection value cannot be rewritten; the message names the object, never the value."""


def _host_port(endpoint: Endpoint) -> str:
    host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
    return f"{host}:{endpoint.port}"


def repoint_url(url: str, endpoint: Endpoint, where: str) -> str:
    """``url`` with its host and port replaced by ``endpoint``'s."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise ConnectionValueError(f"{where} does not hold a database URL (scheme://user:password@host:port/schema)")
    userinfo, _, _old = parts.netloc.rpartition("@")
    netloc = f"{userinfo}@{_host_port(endpoint)}" if userinfo else _host_port(endpoint)
    return urlunsplit(parts._replace(netloc=netloc))


def repoint(value: str, endpoint: Endpoint, where: str) -> str:
    """The connection value (a URL or a designate.conf) pointing at ``endpoint``."""
    if "\n" not in value.strip() and "://" in value:
        stripped = value.strip()
        return value.replace(stripped, repoint_url(stripped, endpoint, where), 1)
    lines = value.splitlines(keepends=True)
    section = None
    for index, line in enumerate(lines):
        body = line.rstrip("\r\n")
        if (match := _SECTION.match(body)) is not None:
            section = match.group(1).strip()
            continue
        if section == "database" and (match := _CONNECTION.match(body)) is not None:
            url = repoint_url(match.group(2), endpoint, f"{where} ([database] connection)")
            lines[index] = match.group(1) + url + match.group(3) + line[len(body):]
            return "".join(lines)
    raise ConnectionValueError(f"{where} holds neither a database URL nor a [database] section with a connection line")
