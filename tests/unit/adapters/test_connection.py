"""Repointing Designate's database connection rewrites host and port only, in a URL or a designate.conf."""

from __future__ import annotations

import pytest

from dnsdr.adapters.control.connection import ConnectionValueError, repoint
from dnsdr.domain.spec import Endpoint

NEW = Endpoint("10.2.0.5", 3307)
CONF = """[DEFAULT]
connection = mysql+pymysql://not:this@elsewhere:1/x
debug = False

[database]
max_retries = -1
connection = mysql+pymysql://designate:p%40ss:w0rd@mariadb.r1.svc:3306/designate?charset=utf8

[storage:sqlalchemy]
connection = mysql+pymysql://designate:pw@old:3306/designate
"""


def test_a_url_keeps_its_credentials_schema_and_options() -> None:
    url = "mysql+pymysql://designate:p%40ss@mariadb.r1:3306/designate?charset=utf8&plugin=dbcounter\n"
    assert repoint(url, NEW, "w") == "mysql+pymysql://designate:p%40ss@10.2.0.5:3307/designate?charset=utf8&plugin=dbcounter\n"
    assert repoint("mysql://u@h/d", Endpoint("fd00::5", 3306), "w") == "mysql://u@[fd00::5]:3306/d"
    assert repoint("mysql://h:1/d", NEW, "w") == "mysql://10.2.0.5:3307/d"


def test_only_the_database_sections_connection_changes_in_a_config_file() -> None:
    out = repoint(CONF, NEW, "w")
    changed = [(a, b) for a, b in zip(CONF.splitlines(), out.splitlines(), strict=True) if a != b]
    assert changed == [("connection = mysql+pymysql://designate:p%40ss:w0rd@mariadb.r1.svc:3306/designate?charset=utf8",
                        "connection = mysql+pymysql://designate:p%40ss:w0rd@10.2.0.5:3307/designate?charset=utf8")]
    assert repoint(out, NEW, "w") == out  # idempotent
    crlf = CONF.replace("\n", "\r\n")
    assert repoint(crlf, NEW, "w") == out.replace("\n", "\r\n")


@pytest.mark.parametrize("value", ["[DEFAULT]\ndebug = True\n", "[database]\nmax_retries = 1\n",
                                   "[database]\nconnection = not a url\n", "just-a-word"])
def test_a_value_without_a_connection_is_refused_without_quoting_it(value: str) -> None:
    with pytest.raises(ConnectionValueError) as refused:
        repoint(value, NEW, "secret designate/designate-etc key designate.conf")
    assert str(refused.value).startswith("secret designate/designate-etc key designate.conf")
    assert "not a url" not in str(refused.value) and "max_retries" not in str(refused.value)
