"""The witness end to end against local fakes: one region all good, one all dead; its HTTP endpoints,
metrics, clean stop, and the `dnsdr monitor` command (--once, SIGTERM)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner

from dnsdr.cli.main import cli
from dnsdr.cli.monitor import parse_listen
from dnsdr.domain.spec import Endpoint
from dnsdr.domain.witness import parse_verdict
from dnsdr.monitor.server import make_server, serve
from dnsdr.monitor.service import Monitor
from tests.conftest import ROOT
from tests.unit.monitor.conftest import INTERVAL, FakeWorld
from tests.unit.netfakes import ZONE, closed_port

TIMEOUT = 0.25


def get(port: int, path: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


@contextmanager
def http(monitor: Monitor) -> Iterator[int]:
    server = make_server(monitor, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        monitor.close()


def test_one_region_healthy_one_lost_over_http(world: FakeWorld) -> None:
    now = [1000.0]
    monitor = Monitor(world.spec, timeout=TIMEOUT, clock=lambda: now[0])
    with http(monitor) as port:
        assert get(port, "/readyz")[0] == 503
        assert get(port, "/healthz")[0] == 200  # starting: alive for 3 intervals before the first round
        status, ctype, body = get(port, "/verdict")
        assert (status, ctype, json.loads(body)["ready"]) == (503, "application/json", False)

        started = time.monotonic()
        monitor.run_round()
        assert time.monotonic() - started < TIMEOUT + 0.3  # probes ran in parallel
        now[0] += 0.4
        assert get(port, "/readyz")[0] == 200
        status, _, body = get(port, "/verdict")
        doc = json.loads(body)
        assert status == 200
        assert (doc["age_seconds"], doc["interval_seconds"], doc["canary_zone"]) == (0.4, INTERVAL, ZONE)
        assert (doc["spec"], doc["monitor_region"], doc["round"]) == ("test", "r3", 1)
        r1, r2 = doc["regions"]["r1"], doc["regions"]["r2"]
        assert (r1["state"], r1["healthy"], r1["lost"]) == ("healthy", True, False)
        assert (r2["state"], r2["healthy"], r2["lost"], r2["consecutive_failures"]) == ("lost", False, True, 1)
        details = {p["kind"]: p["detail"] for p in r1["probes"]}
        assert details == {"dns": "SOA serial 4242", "mdns": "SOA serial 4242", "api": "HTTP 200, 2 versions (current v2.4)",
                           "database": "greeted by 10.11.6-MariaDB-0+deb12u1"}
        dead = {p["kind"]: p["detail"] for p in r2["probes"]}
        assert dead == {"dns": f"no answer within {TIMEOUT:g} s", "mdns": f"no answer within {TIMEOUT:g} s",
                        "api": "connection refused", "database": "connection refused"}
        assert doc["split_brain"]["flagged"] is False
        assert doc["split_brain"]["serials"] == {"r1": {"r1-pdns": 4242}}
        views = parse_verdict(doc, now=50.0)
        assert (views["r1"].healthy, views["r2"].lost, views["r2"].at) == (True, True, 49.6)

        status, ctype, metrics = get(port, "/metrics")
        assert status == 200 and ctype.startswith("text/plain")
        for line in ('dnsdr_monitor_region_lost{region="r2"} 1.0', 'dnsdr_monitor_region_healthy{region="r1"} 1.0',
                     'dnsdr_monitor_region_lost{region="r1"} 0.0', 'dnsdr_monitor_probe_success{kind="dns",region="r1"} 1.0',
                     'dnsdr_monitor_probe_success{kind="database",region="r2"} 0.0', "dnsdr_monitor_split_brain 0.0",
                     "dnsdr_monitor_rounds_total 1.0", 'dnsdr_monitor_probe_duration_seconds_count{kind="api",region="r1"} 1.0'):
            assert line in metrics.splitlines(), line
        labels = {part.split("=")[0] for line in metrics.splitlines() if "{" in line and not line.startswith("#")
                  for part in line[line.index("{") + 1:line.index("}")].split(",")}
        assert labels <= {"region", "kind", "le"}
        assert "password" not in body.lower() and "secret" not in body.lower()

        now[0] += 3 * INTERVAL  # no round for more than three intervals: the loop is stuck
        status, _, body = get(port, "/healthz")
        assert (status, json.loads(body)["alive"]) == (503, False)
        assert get(port, "/nothing")[0] == 404


def test_the_loop_runs_on_schedule_and_stops_when_asked(world: FakeWorld) -> None:
    world.doc["spec"]["policy"]["probeIntervalSeconds"] = 0.2
    monitor = Monitor(world.spec, timeout=0.1)
    server = make_server(monitor, "127.0.0.1", 0)
    port = int(server.server_address[1])
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(monitor, server), kwargs={"stop": stop, "install_signals": False})
    thread.start()
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and json.loads(get(port, "/healthz")[2])["rounds"] < 2:
            time.sleep(0.05)
        assert json.loads(get(port, "/verdict")[2])["round"] >= 2
    finally:
        stop.set()
        thread.join(timeout=2)
    assert not thread.is_alive()


def test_cli_once_prints_the_verdict(world: FakeWorld) -> None:
    result = CliRunner().invoke(cli, ["monitor", "-c", str(world.path), "--once", "--timeout", "0.1"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)  # stderr has one warning: r2 is lost
    assert {name: v["state"] for name, v in doc["regions"].items()} == {"r1": "healthy", "r2": "lost"}
    assert doc["age_seconds"] < 1


def test_cli_needs_somewhere_to_listen(world: FakeWorld) -> None:
    doc: dict[str, Any] = world.doc
    del doc["spec"]["monitor"]
    world.path.write_text(yaml.safe_dump(doc))
    result = CliRunner().invoke(cli, ["monitor", "-c", str(world.path)])
    assert result.exit_code == 2
    assert "names no monitor region" in result.output
    result = CliRunner().invoke(cli, ["monitor", "-c", str(world.path), "--listen", "nonsense"])
    assert result.exit_code == 2
    assert "is not HOST:PORT" in result.output


def test_cli_serves_until_sigterm_and_exits_cleanly(world: FakeWorld) -> None:
    port = closed_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "dnsdr", "-v", "monitor", "-c", str(world.path),
                             "--listen", f"127.0.0.1:{port}", "--timeout", "0.1"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if get(port, "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        assert get(port, "/readyz")[0] == 200
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=3)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "stopping on SIGTERM" in err
    assert "region r2 is lost" in err


def test_listen_takes_host_port_and_bracketed_ipv6() -> None:
    assert parse_listen("127.0.3.1:9153") == Endpoint("127.0.3.1", 9153)
    assert parse_listen("[::1]:0") == Endpoint("::1", 0)
    for bad in ("9153", ":9153", "host:", "host:99999", "host:x"):
        with pytest.raises(click.BadParameter):
            parse_listen(bad)
