"""PowerDNS's own database (gmysql or gsqlite3), for the one per-zone change a failover needs: masters.

PowerDNS reads a secondary zone's masters from ``domains.master`` whenever it uses them (the refresh
cycle, the check of a NOTIFY's source, an API retrieve), so one UPDATE repoints thousands of zones
where the HTTP API costs one PUT, and one PowerDNS transaction, per zone. Designate's own former
``powerdns`` backend wrote these tables directly. dnsdr reads ``domains`` and writes only its
``master`` column: the account needs SELECT and UPDATE (master) on ``domains``, nothing more.

The URL is ``mysql://user:password@host:port/database`` (``?ssl_ca=/path`` for TLS checked against
that CA) or ``sqlite:////absolute/path`` for a PowerDNS on dnsdr's host. Messages never carry it.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pymysql

from dnsdr.adapters.shown import brief
from dnsdr.domain.errors import RetryLater

DB_ERRORS = (sqlite3.Error, pymysql.MySQLError, OSError)
CHUNK = 1000  # ids per UPDATE: well under any server's packet and parameter limits
SECONDARY_KINDS = ("slave", "secondary")


class PdnsDatabaseError(RetryLater):
    """The database refused, could not be reached, or holds something that is not PowerDNS's schema."""


@dataclass(frozen=True)
class DbZone:
    id: int
    name: str  # as PowerDNS stores it: lower case, no trailing dot
    kind: str
    masters: tuple[str, ...]


@dataclass(frozen=True)
class DatabaseUrl:
    driver: str  # mysql | sqlite
    host: str = ""
    port: int = 3306
    user: str = ""
    password: str = ""
    database: str = ""
    path: str = ""
    ssl_ca: str = ""

    @property
    def shown(self) -> str:
        """Where, without the credential."""
        return self.path if self.driver == "sqlite" else f"{self.host}:{self.port}/{self.database}"


def parse_url(url: str) -> DatabaseUrl:
    """ValueError (without the URL's text) for anything but the two forms above."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        path = parts.path
        if parts.netloc or not path.startswith("//"):
            raise ValueError("a sqlite URL is sqlite:////absolute/path")
        return DatabaseUrl("sqlite", path=path[1:])
    if scheme not in ("mysql", "mysql+pymysql", "mariadb"):
        raise ValueError("the URL's scheme is not mysql or sqlite")
    try:
        port = parts.port or 3306
    except ValueError:
        raise ValueError("the URL's port is not a number in 1-65535") from None
    database = parts.path.lstrip("/")
    if not parts.hostname or not parts.username or not database:
        raise ValueError("a mysql URL is mysql://user:password@host:port/database")
    ssl_ca = parse_qs(parts.query).get("ssl_ca", [""])[0]
    return DatabaseUrl("mysql", host=parts.hostname, port=port, user=unquote(parts.username),
                       password=unquote(parts.password or ""), database=database, ssl_ca=ssl_ca)


def masters_text(masters: Sequence[str]) -> str:
    """``domains.master`` as PowerDNS writes it (comma and space between addresses)."""
    return ", ".join(masters)


def split_masters(text: str) -> tuple[str, ...]:
    """As PowerDNS reads ``domains.master``: addresses separated by commas, spaces or tabs."""
    return tuple(m for m in text.replace(",", " ").replace("\t", " ").split(" ") if m)


class PdnsDatabase:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        try:
            self.url = parse_url(url)
        except ValueError as exc:
            raise PdnsDatabaseError(f"PowerDNS database: {exc}") from None
        self._hidden = [url, self.url.password]
        self._conn: Any = None
        try:
            if self.url.driver == "sqlite":
                # PowerDNS writes the same file: wait for its locks instead of failing at once
                self._conn = sqlite3.connect(f"file:{self.url.path}?mode=rw", uri=True, timeout=timeout)
                self._mark = "?"
            else:
                ssl = {"ca": self.url.ssl_ca, "check_hostname": True} if self.url.ssl_ca else None
                self._conn = pymysql.connect(host=self.url.host, port=self.url.port, user=self.url.user,
                                             password=self.url.password, database=self.url.database,
                                             connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout,
                                             ssl=ssl, autocommit=False)
                self._mark = "%s"
        except DB_ERRORS as exc:
            raise self._error("cannot connect", exc) from None

    def _error(self, what: str, exc: BaseException) -> PdnsDatabaseError:
        return PdnsDatabaseError(brief(f"PowerDNS database {self.url.shown}: {what}: {exc}", secrets=self._hidden))

    def __enter__(self) -> PdnsDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(*DB_ERRORS):
                self._conn.close()
            self._conn = None

    def list_zones(self) -> list[DbZone]:
        """Every zone's id, name, type and masters, in one query."""
        try:
            cur = self._conn.cursor()
            cur.execute("SELECT id, name, type, master FROM domains")
            rows = cur.fetchall()
            cur.close()
        except DB_ERRORS as exc:
            raise self._error("cannot read domains", exc) from None
        try:
            return [DbZone(int(i), str(n).rstrip(".").lower(), str(t or ""), split_masters(str(m or "")))
                    for i, n, t, m in rows]
        except (TypeError, ValueError) as exc:
            raise self._error("domains is not PowerDNS's table", exc) from None

    def set_masters(self, ids: Sequence[int], masters: Sequence[str]) -> None:
        """Point the zones ``ids`` at ``masters``, all or none (one transaction), secondaries only."""
        text = masters_text(masters)
        kinds = ", ".join(f"'{k.upper()}'" for k in SECONDARY_KINDS)
        try:
            cur = self._conn.cursor()
            for start in range(0, len(ids), CHUNK):
                chunk = list(ids[start:start + CHUNK])
                marks = ", ".join([self._mark] * len(chunk))
                cur.execute(f"UPDATE domains SET master = {self._mark} WHERE type IN ({kinds}) AND id IN ({marks})",
                            [text, *chunk])
            cur.close()
            self._conn.commit()
        except DB_ERRORS as exc:
            with contextlib.suppress(*DB_ERRORS):
                self._conn.rollback()
            raise self._error("cannot update masters", exc) from None
