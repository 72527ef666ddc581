"""`dnsdr serials --help` states the sweep's worst case, and the example it gives is what the prober computes."""

from __future__ import annotations

import re

from click.testing import CliRunner

from dnsdr.adapters.dns_prober import ProbeOptions, worst_case_seconds
from dnsdr.cli.serials import serials


def test_help_states_the_worst_case_the_prober_computes() -> None:
    text = " ".join(CliRunner().invoke(serials, ["--help"], terminal_width=200).output.split())
    assert "(ceil(ZONES / window) + 2) x (retries + 1) x timeout" in text
    assert "ZONES x (retries + 1) / rate" in text
    example = re.search(r"e\.g\. ([\d,]+) zones with the defaults: .*? = ([\d.]+) s", text)
    assert example is not None
    zones, seconds = int(example.group(1).replace(",", "")), float(example.group(2))
    assert abs(worst_case_seconds(zones, ProbeOptions()) - seconds) < 0.005
