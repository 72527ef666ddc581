"""Read the expected zone state from Designate's own database.

The database, not the API, is the reference for convergence: it is what mdns serves and what survives
a region loss through replication, and one SELECT reads thousands of zones in milliseconds. Only
live zones that backends serve are read: ``deleted = '0'``, types PRIMARY and SECONDARY (a CATALOG
zone lives on mdns only). Connections go through the database layer's :class:`Connector` (bounded
timeouts, errors translated and scrubbed of passwords).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from dnsdr.adapters.mysql.connection import Connector, Credentials, DatabaseError, Timeouts
from dnsdr.adapters.secrets import SecretError, resolve
from dnsdr.adapters.tls import TlsError, client_context
from dnsdr.domain.errors import RetryLater
from dnsdr.domain.serials import ExpectedZone
from dnsdr.domain.spec import DatabaseSpec, SecretLookup

_IDENT = re.compile(r"^[A-Za-z0-9_$]{1,64}$")


class DesignateDBError(RetryLater):
    """The database could not be read; the message names the server, never the password."""


def zones_sql(schema: str, pool_id: str | None = None) -> tuple[str, tuple[str, ...]]:
    if not _IDENT.match(schema):
        raise DesignateDBError(f"invalid schema name {schema!r}")
    sql = (f"SELECT id, name, serial, status, action, pool_id, type, tenant_id FROM `{schema}`.zones "
           "WHERE deleted = '0' AND type IN ('PRIMARY', 'SECONDARY')")
    if pool_id:
        return sql + " AND pool_id = %s", (pool_id.replace("-", "").lower(),)
    return sql, ()


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes | bytearray) else ("" if v is None else str(v))


def rows_to_zones(rows: Iterable[Mapping[str, Any]]) -> tuple[ExpectedZone, ...]:
    """Typed zones, sorted by name, from rows of :func:`zones_sql` (NULL action or pool tolerated)."""
    out = [ExpectedZone(id=_text(r["id"]), name=_text(r["name"]).lower(), serial=int(r["serial"] or 0),
                        status=_text(r["status"]), action=_text(r["action"]) or "NONE",
                        pool_id=_text(r["pool_id"]), type=_text(r["type"]), project_id=_text(r.get("tenant_id")))
           for r in rows]
    return tuple(sorted(out, key=lambda z: z.name))


def read_zones(db: DatabaseSpec, password: str | None = None, *, timeout: float = 5.0,
               pool_id: str | None = None, resolver: SecretLookup = resolve) -> tuple[ExpectedZone, ...]:
    """Every live PRIMARY/SECONDARY zone (optionally of one pool, id with or without dashes), over the
    database's TLS (its CA resolved with ``resolver``)."""
    try:
        secret = password if password is not None else resolver(db.password)
        tls = client_context(db.tls, resolver)
    except (SecretError, TlsError) as exc:
        raise DesignateDBError(f"{db.user}@{db.endpoint}: {exc}") from None
    sql, params = zones_sql(db.schema, pool_id)
    connector = Connector(db.endpoint.host, db.endpoint.port, Credentials(db.user, secret),
                          Timeouts(connect=timeout, read=timeout, write=timeout), tls=tls)
    try:
        with connector.session() as s:
            return rows_to_zones(s.rows(sql, params or None))
    except DatabaseError as exc:
        raise DesignateDBError(f"cannot read zones from {db.endpoint}/{db.schema}: {exc}") from None
