"""Config rendering and the address plan (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dnsdr.lab import render
from dnsdr.lab.layout import Addresses, LayoutError, Paths, check_region, check_service, subnet

PATHS = Paths(Path("/srv/lab"))
SECRETS = render.Secrets(designate_db="d-pw", dnsdr_db="x-pw", repl_db="r-pw", rabbit="mq-pw", pdns_api_key="key",
                         keystone_admin="ka-pw", designate_keystone="dk-pw", dnsdr_keystone="xk-pw",
                         dnsdr_app_credential="ac-secret", lab_keystone="lk-pw")


def test_address_plan() -> None:
    r1, r2 = Addresses("r1"), Addresses("r2")
    assert (r1.core, r1.pdns, r1.bind) == ("127.0.1.1", "127.0.1.2", "127.0.1.3")
    assert (r2.core, r2.pdns, r2.bind) == ("127.0.2.1", "127.0.2.2", "127.0.2.3")
    assert r1.main_endpoint("mariadb") == ("127.0.1.1", 3306)
    assert r2.main_endpoint("designate-api") == ("127.0.2.1", 9001)
    assert r2.main_endpoint("designate-mdns") == ("127.0.2.1", 5354)
    assert r1.main_endpoint("pdns") == ("127.0.1.2", 53)
    assert r1.main_endpoint("bind") == ("127.0.1.3", 53)
    assert r1.main_endpoint("designate-worker") == ("127.0.1.1", None)
    # epmd binds 127.0.0.1 as well and RabbitMQ probes its dist port on every address.
    assert r1.epmd_port != r2.epmd_port and r1.dist_port != r2.dist_port
    assert subnet("r2") == "127.0.2.0/24"


def test_names_are_checked() -> None:
    assert check_region("r1") == "r1"
    with pytest.raises(LayoutError):
        check_region("r3")
    assert check_service("all") == ("central", "mdns", "worker", "producer", "api")
    assert check_service("worker") == ("worker",)
    with pytest.raises(LayoutError, match="unknown service"):
        check_service("sink")
    with pytest.raises(LayoutError):
        Addresses("r1").main_endpoint("nginx")


def test_mariadb_config_per_region() -> None:
    cnf = render.mariadb_cnf(PATHS, "r2")
    assert "server-id = 2" in cnf
    assert "bind-address = 127.0.2.1" in cnf
    assert "socket = /srv/lab/r2/mariadb/mysqld.sock" in cnf
    for line in ("gtid-strict-mode = 1", "log-slave-updates = 1", "rpl_semi_sync_master_enabled = 1",
                 "rpl_semi_sync_slave_enabled = 1", "log-bin = "):
        assert line in cnf
    assert "read_only = 1" in cnf  # every server starts fenced: a crashed primary never returns writable
    for line in ("ssl_ca = /srv/lab/pki/ca.pem", "ssl_cert = /srv/lab/pki/r2.pem", "ssl_key = /srv/lab/pki/r2.key"):
        assert line in cnf


def test_rabbitmq_environment_is_private_to_the_region() -> None:
    env = render.rabbitmq_env(PATHS, "r1")
    assert env["RABBITMQ_NODE_IP_ADDRESS"] == "127.0.1.1"
    assert env["ERL_EPMD_ADDRESS"] == "127.0.1.1"
    assert env["RABBITMQ_NODENAME"] == "rabbit@127.0.1.1"
    assert env["HOME"] == "/srv/lab/r1/rabbitmq"
    assert "{127,0,1,1}" in env["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"]
    assert env["ERL_CRASH_DUMP"].startswith("/srv/lab/")
    assert "default_pass = mq-pw" in render.rabbitmq_conf(SECRETS)


def test_pdns_is_a_secondary_with_api_and_no_cache() -> None:
    conf = render.pdns_conf(PATHS, "r2", SECRETS)
    for line in ("launch=gsqlite3", "local-address=127.0.2.2", "local-port=53", "api=yes", "api-key=key",
                 "webserver-address=127.0.2.2", "webserver-port=8081", "secondary=yes", "cache-ttl=0",
                 "query-cache-ttl=0", "negquery-cache-ttl=0", "trusted-notification-proxy=127.0.0.0/8",
                 "daemon=no", "guardian=no", "setuid="):
        assert line in conf.splitlines(), line


def test_bind_accepts_new_zones_and_rndc_on_its_address() -> None:
    conf = render.named_conf(PATHS, "r1")
    assert "listen-on port 53 { 127.0.1.3; };" in conf
    assert "allow-new-zones yes;" in conf
    assert 'inet 127.0.1.3 port 953 allow { 127.0.0.0/8; } keys { "rndc-r1"; };' in conf
    assert 'include "/srv/lab/secrets/r1-rndc.key";' in conf
    assert "recursion no;" in conf
    assert 'default-key "rndc-r1";' in render.rndc_conf(PATHS, "r1")


def test_designate_config_points_at_the_given_database() -> None:
    conf = render.designate_conf(PATHS, "r2", SECRETS, "127.0.1.1", 3306)
    url = ("mysql+pymysql://designate:d-pw@127.0.1.1:3306/designate?charset=utf8mb4"
           "&ssl_ca=/srv/lab/pki/ca.pem&ssl_check_hostname=true")  # TLS, the server's certificate checked
    assert conf.count(f"connection = {url}") == 2  # [database] and [storage:sqlalchemy]
    assert "transport_url = rabbit://designate:mq-pw@127.0.2.1:5672/" in conf
    assert "listen = 127.0.2.1:9001" in conf
    assert "listen = 127.0.2.1:5354" in conf
    assert "auth_strategy = keystone" in conf and "api_base_uri = https://127.0.2.1:9001/" in conf
    authtoken = conf.split("[keystone_authtoken]\n", 1)[1].split("\n\n", 1)[0].splitlines()
    for line in ("auth_url = https://127.0.3.1:5000", "username = designate", "password = dk-pw", "region_name = r2",
                 "cafile = /srv/lab/pki/ca.pem", "project_name = service"):
        assert line in authtoken
    assert "host = designate-r2" in conf  # distinct service_statuses rows per region
    assert "poll_delay = 1" in conf
    assert "[producer_task:increment_serial]\ninterval = 1" in conf
    assert "quota_zones = 1000000" in conf
    assert "root_helper = env" in conf
    repointed = render.designate_conf(PATHS, "r2", SECRETS, "127.0.2.1", 3306)
    assert "@127.0.2.1:3306/designate" in repointed and "@127.0.1.1:3306" not in repointed


def test_wsgi_shim_selects_threading_before_designate() -> None:
    shim = render.WSGI_SHIM
    assert shim.index("init_backend") < shim.index("from designate")


def test_zone_file_parses_with_three_recordsets_besides_soa_and_ns() -> None:
    import dns.zone

    from dnsdr.lab.zones import zone_file, zone_names

    zone = dns.zone.from_text(zone_file("a.lab.example."), relativize=False)
    types = sorted((str(name), dns.rdatatype.to_text(rds.rdtype)) for name, rds in zone.iterate_rdatasets())
    assert ("www.a.lab.example.", "A") in types and ("a.lab.example.", "TXT") in types
    assert len(types) == 5
    assert zone_names(2, "p") == ["p-00000.lab.example.", "p-00001.lab.example."]
