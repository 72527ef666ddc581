"""The playbooks' filter plugin (playbooks/filter_plugins/dnsdr.py): pure functions, tested directly."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

PLUGIN = Path(__file__).resolve().parents[3] / "playbooks" / "filter_plugins" / "dnsdr.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dnsdr_playbook_filters", PLUGIN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


f = _load()

CONF = """[DEFAULT]
debug = False
[database]
#connection = sqlite://
connection = mysql+pymysql://designate:p@ss:w/rd@127.0.1.1:3306/designate?charset=utf8mb4
[storage:sqlalchemy]
connection = ignored://x@y/z
"""


def test_the_database_connection_is_read_from_its_section_only() -> None:
    assert f.db_connection(CONF) == "mysql+pymysql://designate:p@ss:w/rd@127.0.1.1:3306/designate?charset=utf8mb4"
    assert f.db_connection("[DEFAULT]\nconnection = x://a@b/c\n") == ""
    assert f.db_connection("[database]\nconnection=a://u:p@h/d\nconnection = b://u:p@h2/d\n") == "b://u:p@h2/d"


@pytest.mark.parametrize(("url", "host", "port", "expected"), [
    ("mysql+pymysql://designate:secret@127.0.1.1:3306/designate?charset=utf8mb4", "127.0.2.1", 3307,
     "mysql+pymysql://designate:secret@127.0.2.1:3307/designate?charset=utf8mb4"),
    ("mysql+pymysql://designate:s:e/c@db.example.org/designate", "10.0.0.9", "3306",
     "mysql+pymysql://designate:s:e/c@10.0.0.9:3306/designate"),
    ("mysql+pymysql://designate:x@[::1]:3306/designate", "2001:db8::5", 3306,
     "mysql+pymysql://designate:x@[2001:db8::5]:3306/designate"),
    ("mysql://db1:3306/designate", "db2", 3306, "mysql://db2:3306/designate"),
])
def test_repoint_keeps_credentials_database_and_query(url: str, host: str, port: object, expected: str) -> None:
    assert f.url_repoint(url, host, port) == expected
    assert f.url_endpoint(expected)["port"] == int(str(port))


def test_endpoint_of_a_url() -> None:
    assert f.url_endpoint("mysql+pymysql://u:p@[::1]:3306/d") == {"host": "::1", "port": 3306}
    assert f.url_endpoint("mysql+pymysql://u:p@h/d") == {"host": "h", "port": None}


@pytest.mark.parametrize(("host", "port"), [("", 3306), ("a/b", 3306), ("h", 0), ("h", 70000), ("h", "x")])
def test_repoint_refuses_bad_targets(host: str, port: object) -> None:
    with pytest.raises(f.FilterError):
        f.url_repoint("mysql://u:p@h:1/d", host, port)


def test_a_malformed_url_error_never_shows_the_url() -> None:
    with pytest.raises(f.FilterError) as exc:
        f.url_repoint("not a url with password hunter2", "h", 1)
    assert "hunter2" not in str(exc.value)


RENDERED = """# pools.yml rendered by dnsdr
- name: default
  id: 794ccc2c-d751-44fe-b57f-8894c9f5c842
  description: pool [primary=r1 lost=none]
  attributes: {}
  ns_records:
  - {hostname: ns1.example.org., priority: 1}
  nameservers:
  - {host: 127.0.1.2, port: 53}
  - {host: 127.0.2.2, port: 53}
  targets:
  - type: pdns4
    description: r1 PowerDNS
    masters: [{host: 127.0.1.1, port: 5354}]
    options: {host: 127.0.1.2, port: '53', api_endpoint: 'http://127.0.1.2:8081', api_token: tok-r1-SECRET}
  - type: pdns4
    description: r2 PowerDNS
    masters: [{host: 127.0.2.1, port: 5354}]
    options: {host: 127.0.2.2, port: '53', api_endpoint: 'http://127.0.2.2:8081', api_token: tok-r2-SECRET}
  also_notifies: []
"""


def show_config(pools: list[dict[str, object]]) -> str:
    """What `designate-manage pool show_config` prints: a header, then Designate's YAML (ids, other order)."""
    return "Pool Configuration:\n-------------------\n" + yaml.dump(pools, default_flow_style=False)


def as_designate(rendered: str) -> list[dict[str, object]]:
    pools = yaml.safe_load(rendered)
    for pool in pools:
        pool["targets"] = list(reversed(pool["targets"]))
        pool["nameservers"] = [{**n, "id": "x"} for n in reversed(pool["nameservers"])]
        pool["ns_records"] = [{**n, "id": "y"} for n in pool["ns_records"]]
        for t in pool["targets"]:
            t["id"] = "t"
            t["masters"] = [{**m, "port": str(m["port"])} for m in t["masters"]]
    return pools


def test_equal_pools_give_no_difference_whatever_the_order_ids_and_types() -> None:
    assert f.pool_diff(show_config(as_designate(RENDERED)), RENDERED) == []


def test_differences_are_named_and_secrets_never_shown() -> None:
    current = as_designate(RENDERED)
    current[0]["description"] = "old"
    current[0]["targets"][0]["options"]["api_token"] = "old-token-SECRET"
    current[0]["targets"][1]["masters"] = [{"host": "127.0.9.9", "port": 5354}]
    diff = f.pool_diff(show_config(current), RENDERED)
    text = "\n".join(diff)
    assert "description 'old' -> 'pool [primary=r1 lost=none]'" in text
    assert "option api_token changes (value not shown)" in text
    assert "masters [127.0.9.9:5354] -> [127.0.1.1:5354]" in text
    assert "SECRET" not in text


def test_targets_added_and_removed() -> None:
    current = as_designate(RENDERED)
    current[0]["targets"] = current[0]["targets"][:1]  # only r2's
    diff = f.pool_diff(show_config(current), RENDERED)
    assert diff == ["pool default: pdns4 target 127.0.1.2 added"]


def test_a_missing_pool_is_created() -> None:
    assert f.pool_diff("Pool not found\n", RENDERED) == ["pool default: not in Designate yet (created)"]


def test_secrets_of_a_pools_file_and_scrubbing() -> None:
    secrets = f.pool_secrets(RENDERED)
    assert set(secrets) == {"tok-r1-SECRET", "tok-r2-SECRET"}
    assert f.scrub("failed: <Pool api_token=tok-r2-SECRET>", secrets) == "failed: <Pool api_token=REDACTED>"


def test_secret_files_flatten_and_refuse_path_tricks() -> None:
    assert f.secret_files({"creds": {"a": "1", "b": 2}}) == [
        {"name": "creds", "key": "a", "value": "1"}, {"name": "creds", "key": "b", "value": "2"}]
    assert f.secret_files({}) == []
    for bad in ({"../etc": {"a": "1"}}, {"c": {"a/b": "1"}}, {"c": {"..": "1"}}, {"c": "flat"}):
        with pytest.raises(f.FilterError):
            f.secret_files(bad)


def test_the_plugin_exports_every_filter() -> None:
    assert set(f.FilterModule().filters()) == {
        "dnsdr_db_connection", "dnsdr_url_endpoint", "dnsdr_url_repoint", "dnsdr_pool_diff", "dnsdr_pool_secrets",
        "dnsdr_scrub", "dnsdr_secret_files"}
