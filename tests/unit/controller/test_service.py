"""The controller's HTTP endpoints and metrics over fake rounds (see tests/unit/app/test_control.py)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from dnsdr.app.control import Controller
from dnsdr.cli.main import cli
from dnsdr.controller.service import ControllerService
from dnsdr.domain.spec import Endpoint
from tests.conftest import EXAMPLE
from tests.unit.app.test_control import World, controller, rounds, world  # noqa: F401 - pytest fixtures


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_endpoints_before_and_after_rounds(controller: Controller, world: World) -> None:  # noqa: F811
    service = ControllerService(controller, interval=1.0, sweep_every=3600)
    server = service.serve(Endpoint("127.0.0.1", 0))
    port = server.server_address[1]
    try:
        assert get(port, "/readyz")[0] == 503 and get(port, "/healthz")[0] == 200
        service.one_round()
        world.lose_r1()
        for _ in range(3):
            world.now += 1
            service.one_round()
        assert get(port, "/readyz")[0] == 200
        code, body = get(port, "/status")
        status = json.loads(body)
        assert code == 200 and status["decision"]["verdict"] == "region-lost" and status["primary"] == "r1"
        assert status["outcome"] == "failover r1 -> r2 succeeded" and status["cooldown_until"] is not None
        code, metrics = get(port, "/metrics")
        assert 'dnsdr_decisions_total{verdict="region-lost"} 1.0' in metrics
        assert 'dnsdr_failovers_total{outcome="succeeded"} 1.0' in metrics
        assert "dnsdr_cooldown_active 1.0" in metrics and 'dnsdr_database_up{region="r1"} 0.0' in metrics
        # What the shipped alerts compare with: the policy's lag, the monitor's presence, a run left unfinished.
        assert "dnsdr_policy_max_lag_seconds 5.0" in metrics and "dnsdr_monitor_reachable 1.0" in metrics
        assert "dnsdr_operation_unfinished_seconds 0.0" in metrics
        assert status["round_running_s"] is None
        service.state.round_started_at = time.time() - 12  # a round acting (a failover) for 12 s
        running = json.loads(get(port, "/status")[1])["round_running_s"]
        assert 12 <= running < 60 and get(port, "/healthz")[0] == 200
        assert get(port, "/nope")[0] == 404
    finally:
        server.shutdown()


def test_pause_resume_and_ack_at_the_command_line(tmp_path: Path) -> None:
    args = ["-c", str(EXAMPLE), "--state-dir", str(tmp_path)]
    result = CliRunner().invoke(cli, ["pause", *args, "--reason", "maintenance"])
    assert result.exit_code == 0 and "paused (maintenance)" in result.output
    result = CliRunner().invoke(cli, ["ack", *args])
    assert result.exit_code == 0 and "still paused" in result.output
    result = CliRunner().invoke(cli, ["resume", *args])
    assert result.exit_code == 0 and "resumed" in result.output
    control = json.loads((tmp_path / "example.control.json").read_text())
    assert control["paused"] is False and control["acknowledged_at"] is not None
