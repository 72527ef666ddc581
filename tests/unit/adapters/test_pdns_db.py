"""PowerDNS's database adapter: its URL, the masters column's syntax, and the one-transaction UPDATE
(on a sqlite file with PowerDNS's own schema)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dnsdr.adapters.pdns_db import (
    DatabaseUrl,
    PdnsDatabase,
    PdnsDatabaseError,
    masters_text,
    parse_url,
    split_masters,
)
from tests.support.backend_servers import PDNS_SCHEMA


def test_mysql_url() -> None:
    assert parse_url("mysql://pdns%40r2:p%3Ass@db.r2:3307/powerdns?ssl_ca=/etc/ca.pem") == DatabaseUrl(
        "mysql", host="db.r2", port=3307, user="pdns@r2", password="p:ss", database="powerdns", ssl_ca="/etc/ca.pem")
    assert parse_url("mysql+pymysql://u:p@10.0.0.5/pdns").port == 3306


def test_sqlite_url() -> None:
    assert parse_url("sqlite:////var/lib/powerdns/pdns.sqlite3") == DatabaseUrl(
        "sqlite", path="/var/lib/powerdns/pdns.sqlite3")


@pytest.mark.parametrize(("url", "problem"), [
    ("postgresql://u:p@h/pdns", "scheme is not mysql or sqlite"),
    ("mysql://u:p@h:99999/pdns", "port is not a number"),
    ("mysql://u:p@h/", "mysql://user:password@host:port/database"),
    ("mysql://h/pdns", "mysql://user:password@host:port/database"),
    ("sqlite://relative.db", "sqlite:////absolute/path"),
])
def test_bad_urls_say_why_without_the_url(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as caught:
        parse_url(url)
    assert "p@" not in str(caught.value)


def test_masters_column_syntax_as_powerdns_reads_and_writes_it() -> None:
    assert split_masters("10.0.0.1:5354, 10.0.0.2\t[2001:db8::1]:53,,") == ("10.0.0.1:5354", "10.0.0.2",
                                                                            "[2001:db8::1]:53")
    assert masters_text(["10.0.0.1:5354", "10.0.0.2:5354"]) == "10.0.0.1:5354, 10.0.0.2:5354"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "pdns.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(PDNS_SCHEMA.read_text())
        conn.executemany("INSERT INTO domains (name, master, type) VALUES (?, ?, ?)", [
            ("a.example", "10.0.0.9:5354", "SLAVE"), ("b.example", "10.0.0.9:5354", "SLAVE"),
            ("own.example", "", "NATIVE")])
    return path


def test_lists_then_updates_only_the_secondaries_asked_for(db: Path) -> None:
    with PdnsDatabase(f"sqlite:///{db}") as pdns:
        zones = {z.name: z for z in pdns.list_zones()}
        assert zones["a.example"].masters == ("10.0.0.9:5354",) and zones["own.example"].kind == "NATIVE"
        pdns.set_masters([zones["a.example"].id, zones["own.example"].id], ["10.0.0.1:5354", "10.0.0.2:5354"])
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT name, master FROM domains").fetchall())
    assert rows == {"a.example": "10.0.0.1:5354, 10.0.0.2:5354", "b.example": "10.0.0.9:5354", "own.example": ""}


def test_many_zones_go_in_chunks_of_one_transaction(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.executemany("INSERT INTO domains (name, master, type) VALUES (?, '10.0.0.9', 'SLAVE')",
                         [(f"z{i}.example",) for i in range(2500)])
    with PdnsDatabase(f"sqlite:///{db}") as pdns:
        ids = [z.id for z in pdns.list_zones() if z.name.startswith("z")]
        pdns.set_masters(ids, ["10.0.0.1:5354"])
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM domains WHERE master = '10.0.0.1:5354'").fetchone() == (2500,)


def test_a_missing_file_or_table_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PdnsDatabaseError, match="cannot connect"):
        PdnsDatabase(f"sqlite:///{tmp_path}/absent.sqlite3")
    empty = tmp_path / "empty.sqlite3"
    sqlite3.connect(empty).close()
    with PdnsDatabase(f"sqlite:///{empty}") as pdns, pytest.raises(PdnsDatabaseError, match="cannot read domains"):
        pdns.list_zones()


def test_an_unreachable_mysql_names_where_but_not_the_password() -> None:
    with pytest.raises(PdnsDatabaseError) as caught:
        PdnsDatabase("mysql://dnsdr:s3cret@127.0.0.1:1/pdns", timeout=2)
    assert "PowerDNS database 127.0.0.1:1/pdns: cannot connect" in str(caught.value)
    assert "s3cret" not in str(caught.value)
