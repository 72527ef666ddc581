"""The operator on the real lab, shared by the lab tests (tests/integration/kube/test_operator_lab.py) and the
memory benchmark (tests/bench/operator_memory.py): the lab's DesignateDR as a resource (file credentials moved into a
Secret), the witness in r3, the operator's RSS sampled, and the status conditions they wait for."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from dnsdr.adapters.backends import KINDS
from dnsdr.adapters.state.kubernetes import KubernetesStateStore
from dnsdr.domain.canary import canary_zone
from dnsdr.domain.spec_parse import parse_designatedr
from dnsdr.lab import Lab
from tests.support.operator import ROOT, OperatorProcess, condition_is, conditions, get, wait_for

NAME = "lab"
RSS_LIMIT_MB = 200.0
MONITOR_HOST = "127.0.3.1"


def _key(path: str) -> str:
    return re.sub(r"[^-._a-zA-Z0-9]", "-", Path(path).name)


def lab_document(lab: Lab, monitor_port: int, *, failover: str = "automatic") -> dict[str, Any]:
    """The lab's DesignateDR with its file credentials: failover ``failover`` (automatic unless told), one round a
    second, the monitor on ``monitor_port``. The witness in r3 reads this one (it has no Kubernetes Secrets)."""
    doc: dict[str, Any] = yaml.safe_load(lab.spec_path.read_text())
    doc["spec"]["policy"].update({"failover": failover, "probeIntervalSeconds": 1, "consecutiveFailures": 3})
    for region in doc["spec"]["regions"]:
        if region["name"] == doc["spec"]["monitor"]["region"]:
            region["monitor"] = {"host": MONITOR_HOST, "port": monitor_port}
    return doc


def lab_resource(lab: Lab, namespace: str, monitor_port: int, *,
                 failover: str = "automatic") -> tuple[dict[str, Any], dict[str, str]]:
    """:func:`lab_document` as a resource in ``namespace``: every file credential becomes a key of Secret
    lab-credentials (returned with its values)."""
    doc = lab_document(lab, monitor_port, failover=failover)
    values: dict[str, str] = {}

    def move(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key.endswith("Ref") and isinstance(value, dict) and "file" in value:
                    values[_key(value["file"])] = Path(value["file"]).read_text()
                    node[key] = {"secretKeyRef": {"name": "lab-credentials", "key": _key(value["file"])}}
                else:
                    move(value)
        elif isinstance(node, list):
            for item in node:
                move(item)
    move(doc["spec"])
    doc["metadata"] = {"name": NAME, "namespace": namespace}
    return doc, values


def ensure_canary(lab: Lab, doc: dict[str, Any]) -> None:
    """The canary zone the witness asks every nameserver for (the failover's write check creates it otherwise)."""
    zone = canary_zone(parse_designatedr(doc, KINDS))
    api = lab.api("r1", project_id="dnsdr")  # the project the failover's write check uses
    try:
        if api.find_zone(zone) is None:
            api.create_zone(zone, "hostmaster@dnsdr.test")
    finally:
        api.close()


class Monitor:
    """`dnsdr monitor` in r3 on the lab's document (file credentials: the witness runs outside Kubernetes)."""

    def __init__(self, lab: Lab, port: int, workdir: Path) -> None:
        spec = workdir / "designatedr.yaml"
        spec.write_text(yaml.safe_dump(lab_document(lab, port)))
        self.url = f"http://{MONITOR_HOST}:{port}"
        with (workdir / "monitor.log").open("wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "dnsdr", "monitor", "-c", str(spec), "--listen",
                                          f"{MONITOR_HOST}:{port}"], stdout=log, stderr=subprocess.STDOUT,
                                         env={**os.environ, "PYTHONPATH": str(ROOT)})

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=2) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


class RssSampler:
    """Samples the operator's resident memory every half second while it runs."""

    def __init__(self, proc: OperatorProcess) -> None:
        self.proc, self.stop = proc, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.5):
            try:
                self.proc.rss_mb()
            except (OSError, AssertionError):
                return

    def finish(self) -> tuple[float, float]:
        self.stop.set()
        self.thread.join()
        return max(self.proc.rss_samples), self.proc.peak_rss_mb()


def wait_healthy(admin: client.ApiClient, namespace: str, proc: OperatorProcess, *, semi_sync: bool = True) -> None:
    """Ready (Healthy) and Replicating; with ``semi_sync``, also the semi-sync sample an automatic failover needs."""
    wait_for(condition_is(admin, namespace, NAME, "Ready", "True", "Healthy"), 180,
             "Ready: healthy from every vantage point (r1 primary, r2 replicating, the canary served)", proc)
    wait_for(condition_is(admin, namespace, NAME, "Replicating", "True"), 60, "Replicating", proc)
    if not semi_sync:
        return
    store = KubernetesStateStore(admin, namespace, NAME)
    # The automatic failover needs a sample of r1's semi-sync taken while r1 was reachable: AFTER_SYNC and active.
    wait_for(lambda: (sample := store.load_control().semi_sync) is not None and sample.safe, 30, "a semi-sync sample",
             proc)


def failed_over(admin: client.ApiClient, namespace: str) -> bool:
    status = get(admin, namespace, NAME).get("status") or {}
    done = conditions(admin, namespace, NAME).get("FailoverInProgress", {})
    return status.get("primary") == "r2" and done.get("reason") == "Succeeded"
