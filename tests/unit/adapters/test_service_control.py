"""The command driver: how templates become argv, and how many commands one action runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dnsdr.adapters.service_control import STOP_ORDER, CommandController, ServiceControlError, fill
from dnsdr.domain.spec import DesignateSpec, Endpoint, RegionSpec, ServiceControl

# Appends its arguments as one line to the file named first: the record of what ran.
RECORD = f"{sys.executable} -c 'import sys; open(sys.argv[1], \"a\").write(\" \".join(sys.argv[2:]) + \"\\n\")'"


def region(commands: dict[str, str]) -> RegionSpec:
    control = ServiceControl("command", commands=tuple(commands.items()))
    designate = DesignateSpec(api=Endpoint("127.0.0.1", 9001), mdns=(Endpoint("127.0.0.1", 5354),),
                              notify_sources=("127.0.0.1",), control=control)
    return RegionSpec(name="r1", designate=designate)


def ran(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_a_word_with_services_repeats_once_per_service() -> None:
    argv = fill("ssh h-{region} systemctl stop designate-{services}.service", ["api", "worker"], region="r1")
    assert argv == ["ssh", "h-r1", "systemctl", "stop", "designate-api.service", "designate-worker.service"]


def test_a_value_never_splits_into_two_arguments() -> None:
    assert fill("run '{service}' {region}", service="a b", region="r1") == ["run", "a b", "r1"]


def test_service_template_runs_once_per_service_in_stop_order(tmp_path: Path) -> None:
    log = tmp_path / "ran"
    CommandController(region({"stop": f"{RECORD} {log} stop {{service}}"})).stop()
    assert ran(log) == [f"stop {s}" for s in STOP_ORDER]


def test_services_template_runs_one_command_for_all(tmp_path: Path) -> None:
    log = tmp_path / "ran"
    controller = CommandController(region({"stop": f"{RECORD} {log} stop {{region}} {{services}}",
                                           "restart": f"{RECORD} {log} restart {{services}}"}))
    controller.stop()
    controller.restart(["worker"])
    assert ran(log) == ["stop r1 " + " ".join(STOP_ORDER), "restart worker"]


def test_repoint_fills_services_with_every_service(tmp_path: Path) -> None:
    log = tmp_path / "ran"
    CommandController(region({"repoint": f"{RECORD} {log} {{db_host}}:{{db_port}} {{services}}"})).repoint(
        Endpoint("10.0.0.2", 3307))
    assert ran(log) == ["10.0.0.2:3307 central mdns worker producer api"]


@pytest.mark.parametrize("template", ["stop {nope}", "stop {services", "stop 'unclosed"])
def test_a_bad_template_is_one_clear_error(template: str) -> None:
    with pytest.raises(ServiceControlError, match="bad 'stop' command template"):
        CommandController(region({"stop": template})).stop()


def test_a_failing_command_names_itself_and_stops_the_rest(tmp_path: Path) -> None:
    with pytest.raises(ServiceControlError, match=r"stop in r1 failed \(exit 1\)"):
        CommandController(region({"stop": "false {service}"})).stop()
