"""The lab's dnsdr database account holds exactly the grants the README documents, and no more.

The grants live in one place (``dnsdr.lab.dbsetup.DNSDR_GRANTS``); this test holds the servers and
the README to them. With only those, the operation tests (tests/integration/engine/test_operations.py:
promote, switchover there and back, rejoin) and the controller's failover pass: the day dnsdr needs
one more privilege, they fail with a PrivilegeError naming it, and the README must say why.
"""

from __future__ import annotations

import re

import pytest

from dnsdr.lab import Lab, dbsetup
from dnsdr.lab.layout import REGIONS
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

README = ROOT / "README.md"


def privileges(statements: list[str]) -> dict[str, frozenset[str]]:
    """object -> privileges, from GRANT statements as SHOW GRANTS prints them (password and REQUIRE cut)."""
    found: dict[str, set[str]] = {}
    for statement in statements:
        m = re.match(r"GRANT (.+?) ON (\S+) TO ", statement)
        assert m, statement
        privs = {p.strip() for p in m.group(1).split(",")} - {"USAGE"}
        if privs:
            found.setdefault(m.group(2), set()).update(privs)
    return {k: frozenset(v) for k, v in found.items()}


def shown(lab: Lab, region: str, account: str) -> list[str]:
    rows = dbsetup.query(lab.paths, region, f"SHOW GRANTS FOR '{account}'@'%'")  # no args: no %-formatting
    return [str(next(iter(r.values()))) for r in rows]


def documented() -> list[str]:
    """The GRANT lines of the README's section on the database account."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### The database account", 1)[1].split("\n## ", 1)[0]
    return [line.rstrip(";") for line in section.splitlines() if line.startswith("GRANT ")]


@pytest.mark.parametrize("region", REGIONS)
def test_dnsdr_holds_exactly_the_documented_grants_and_must_use_tls(healthy_lab: Lab, region: str) -> None:
    grants = shown(healthy_lab, region, "dnsdr")
    assert privileges(grants) == privileges(list(dbsetup.DNSDR_GRANTS))
    assert "REQUIRE SSL" in grants[0]  # no plain connection for it, whatever a client asks
    for wide in ("ALL PRIVILEGES", "SUPER", "WITH GRANT OPTION", "REPLICATION MASTER ADMIN", "BINLOG REPLAY"):
        assert not any(wide in g for g in grants), wide


@pytest.mark.parametrize("region", REGIONS)
def test_the_replication_account_is_separate_and_minimal(healthy_lab: Lab, region: str) -> None:
    grants = shown(healthy_lab, region, "repl")
    assert privileges(grants) == {"*.*": frozenset({"REPLICATION SLAVE"})}
    assert "REQUIRE SSL" in grants[0]
    assert "REQUIRE SSL" in shown(healthy_lab, region, "designate")[0]


def test_the_readme_lists_the_lab_grants() -> None:
    lines = documented()
    assert privileges([g for g in lines if "`dnsdr`@" in g]) == privileges(list(dbsetup.DNSDR_GRANTS))
    assert privileges([g for g in lines if "`repl`@" in g]) == privileges(list(dbsetup.REPL_GRANTS))
