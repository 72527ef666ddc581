"""Drivers are registered in one place; a new server type needs its own file and its registration only.

The "nsd" kind below stands in for that new file: it is declared here, added to the kinds the
parser is given, and a spec using it parses and renders pools without any change elsewhere.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from dnsdr.adapters.backends import DRIVERS, KINDS, driver_class
from dnsdr.adapters.backends.base import BackendDriver
from dnsdr.domain.pools import WorldState, render_pools
from dnsdr.domain.spec import BackendKind, BackendSpec, SecretLookup
from dnsdr.domain.spec_parse import SpecError, parse_designatedr
from tests.conftest import EXAMPLE


def _nsd_options(backend: BackendSpec, secret: SecretLookup) -> dict[str, str]:
    return {"control_host": backend.control.host, "control_port": str(backend.control.port),
            "key": secret(backend.credential)}


NSD = BackendKind(type="nsd", label="NSD", control_key="control", control_port=8952, credential_key="keyRef",
                  pool_options=_nsd_options, settings=("zonesDir",))


def _with_nsd() -> dict[str, Any]:
    doc: dict[str, Any] = copy.deepcopy(yaml.safe_load(EXAMPLE.read_text()))
    doc["spec"]["regions"][1]["backends"].append({
        "type": "nsd", "name": "r2-nsd", "dns": {"host": "127.0.2.4", "port": 53},
        "control": {"host": "127.0.2.4"}, "keyRef": {"env": "NSD_KEY"}, "zonesDir": "/var/lib/nsd"})
    return doc


def test_every_driver_is_registered_under_its_kind() -> None:
    assert set(DRIVERS) == set(KINDS) == {"pdns4", "bind9"}
    for name, driver in DRIVERS.items():
        assert issubclass(driver, BackendDriver) and driver.kind.type == name


def test_a_third_type_parses_and_renders_with_only_its_declaration() -> None:
    spec = parse_designatedr(_with_nsd(), {**KINDS, "nsd": NSD})
    nsd = spec.region("r2").backends[-1]
    assert (nsd.type, nsd.control.port, nsd.setting("zonesDir")) == ("nsd", 8952, "/var/lib/nsd")
    (pool,) = render_pools(spec, WorldState("r1"), lambda ref: "k3y")
    target = pool["targets"][-1]
    assert target["type"] == "nsd" and "r2 NSD r2-nsd" in target["description"]
    assert target["options"] == {"host": "127.0.2.4", "port": "53", "control_host": "127.0.2.4",
                                 "control_port": "8952", "key": "k3y"}
    assert "127.0.2.4" in spec.region("r2").addresses()


def test_an_unregistered_type_is_one_clear_problem() -> None:
    try:
        parse_designatedr(_with_nsd(), KINDS)
    except SpecError as exc:
        assert exc.problems == ["spec.regions[1].backends[2].type: must be one of pdns4, bind9, got 'nsd'"]
    else:
        raise AssertionError("an unknown backend type was accepted")


def test_a_backend_without_a_driver_is_refused_by_name() -> None:
    spec = parse_designatedr(_with_nsd(), {**KINDS, "nsd": NSD})
    try:
        driver_class(spec.region("r2").backends[-1])
    except Exception as exc:
        assert "r2-nsd" in str(exc) and "no driver for type 'nsd'" in str(exc)
    else:
        raise AssertionError("no error for a type without a driver")
