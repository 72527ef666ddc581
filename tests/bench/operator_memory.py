"""Operator memory benchmark on the lab, issue 13's check: ``dnsdr operator`` stays at or under 200 MB RSS while it
watches the lab with 1,000 zones.

Takes the lab tests' host-wide lock (/tmp/dnsdr-lab-test.lock) first and WAITS for it (``--lock-wait``, 2 h by
default), so it never runs beside an integration test session. Then, as tests/integration/kube/test_operator_lab.py
does: brings the lab (``.lab``) to the healthy state with N zones (creating the missing ones), starts a real
kube-apiserver (tests/support/kubeapi.py), installs the CRD, binds the ``operator`` user to the shipped Roles only,
turns the lab's DesignateDR into a resource (its file credentials moved into a Secret), runs the witness in r3 and
``dnsdr operator`` as a process (rounds every second, a serial sweep of every zone every ``--sweep-every`` s).

The failover policy is MANUAL: the operator only watches. Once the resource is Ready (Healthy) and DNSConverged is
True for a sweep of at least N zones, the bench counts R more rounds (the operator's
``dnsdr_controller_rounds_total{designatedr="<ns>/lab"}`` on its /metrics) while the operator's VmRSS is sampled
every half second. With ``--kill`` the policy is automatic instead: after those R rounds r1 is SIGKILLed and the
sampling goes on through the operator's own failover to r2 and R/4 rounds after it.

Reported: operator_rss_mb (max VmRSS sampled over the whole run, start-up included), operator_peak_rss_mb (VmHWM at
the end), rss_growth_mb (max of the last third minus max of the first third of the samples of the R watched rounds),
samples, ok (the peak is at or under limit_mb, the operator exited 0 on SIGTERM and, with --kill, the failover
succeeded). A benchmark, not a test; progress goes to stderr, the last stdout line is one JSON object (with "error"
when a wait timed out). The lab stays up afterwards (``--down`` takes it down before the lock is released, for a
test session queued on it); the API server, the witness and the operator are stopped.

    .venv/bin/python tests/bench/operator_memory.py --zones 1000 [--rounds 60] [--kill]
"""

# ruff: noqa: E402 -- this checkout's dnsdr and tests.support, ahead of the package the venv was installed from

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import argparse
import json
import signal
import tempfile
import time
import urllib.request
from types import FrameType
from typing import Any, NoReturn

from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from dnsdr.lab import Lab, LabError
from tests.support.kube_rbac import new_client
from tests.support.kubeapi import KubeApi, KubeApiError, kube_bin_dir
from tests.support.lab_lock import release_lock, take_lock
from tests.support.operator import OperatorProcess, create, free_port, get, grant, install_crd, wait_for
from tests.support.operator_lab import (
    MONITOR_HOST,
    NAME,
    RSS_LIMIT_MB,
    Monitor,
    RssSampler,
    ensure_canary,
    failed_over,
    lab_resource,
    wait_healthy,
)

NAMESPACE = "dnsdr-bench"


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def too_long(reason: str) -> NoReturn:
    raise SystemExit(reason)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # so that every finally stops what this bench started


def rounds(proc: OperatorProcess) -> float:
    """The operator's round counter for the resource, from its /metrics; -1 until it has one."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{proc.metrics_port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    except OSError:
        return -1.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "dnsdr_controller_rounds_total" and \
                    sample.labels.get("designatedr") == f"{NAMESPACE}/{NAME}":
                return float(sample.value)
    return -1.0


def wait_rounds(proc: OperatorProcess, n: int) -> None:
    wait_for(lambda: rounds(proc) >= 0, 120, "the operator's round counter", proc)
    start = rounds(proc)
    wait_for(lambda: rounds(proc) >= start + n, 120 + 10 * n, f"{n} operator rounds", proc)


def swept_zones(admin: client.ApiClient) -> int:
    """Zones in the last serial sweep, 0 unless DNSConverged is True."""
    status = get(admin, NAMESPACE, NAME).get("status") or {}
    found = {c["type"]: c for c in status.get("conditions") or []}
    if found.get("DNSConverged", {}).get("status") != "True":
        return 0
    return int((status.get("serials") or {}).get("zones") or 0)


def growth(samples: list[float]) -> float:
    if len(samples) < 6:
        return 0.0
    third = len(samples) // 3
    return round(max(samples[-third:]) - max(samples[:third]), 1)


def healthy_lab(directory: Path, zones: int) -> Lab:
    lab = Lab(directory, progress=log)
    t = time.monotonic()
    lab.up()
    lab.restore_healthy()
    log(f"lab healthy in {time.monotonic() - t:.1f} s")
    api = lab.api("r1")
    try:
        have = len(api.list_zones())
    finally:
        api.close()
    if have < zones:
        t = time.monotonic()
        lab.create_zones(zones - have, prefix=f"opmem{int(time.time()) % 100000}")
        log(f"created {zones - have} zones in {time.monotonic() - t:.1f} s")
    return lab


def measure(lab: Lab, kube: KubeApi, admin: client.ApiClient, operator: client.ApiClient, args: argparse.Namespace,
            workdir: Path, result: dict[str, Any]) -> None:
    """Fills ``result`` as it goes, so that a wait that times out still reports what was measured."""
    client.CoreV1Api(admin).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
    install_crd(admin)
    grant(admin, operator, NAMESPACE)
    port = free_port(MONITOR_HOST)
    doc, values = lab_resource(lab, NAMESPACE, port, failover="automatic" if args.kill else "manual")
    client.CoreV1Api(admin).create_namespaced_secret(NAMESPACE, client.V1Secret(
        metadata=client.V1ObjectMeta(name="lab-credentials"), string_data=values))
    ensure_canary(lab, doc)
    monitor = Monitor(lab, port, workdir)
    proc: OperatorProcess | None = None
    sampler: RssSampler | None = None
    result["policy"] = doc["spec"]["policy"]["failover"]
    try:
        wait_for(monitor.ready, 60, "the monitor's /readyz")
        proc = OperatorProcess(kube, NAMESPACE, workdir, extra=("--sweep-every", f"{args.sweep_every:g}"))
        sampler = RssSampler(proc)
        create(admin, NAMESPACE, doc)
        log(f"operator pid {proc.pid} watching {NAMESPACE}/{NAME} (policy {result['policy']}), log {proc.log_path}")
        t = time.monotonic()
        wait_healthy(admin, NAMESPACE, proc, semi_sync=args.kill)
        wait_for(lambda: swept_zones(admin) >= args.zones, 900, f"DNSConverged True for a sweep of >= {args.zones} "
                 "zones", proc)
        result["zones"] = swept_zones(admin)
        result["converged_s"] = round(time.monotonic() - t, 1)
        log(f"converged with {result['zones']} zones in {result['converged_s']} s; sampling {args.rounds} rounds")
        first = len(proc.rss_samples)
        wait_rounds(proc, args.rounds)
        window = proc.rss_samples[first:]
        result.update({"rss_growth_mb": growth(window), "window_samples": len(window),
                       "window_rss_mb": round(max(window or [0.0]), 1)})
        if args.kill:
            log("killing r1: the operator fails over by itself")
            killed = time.monotonic()
            lab.kill("r1")
            wait_for(lambda: failed_over(admin, NAMESPACE), 600, "the failover to r2", proc)
            result["failover_s"] = round(time.monotonic() - killed, 1)
            log(f"status says r2 is primary after {result['failover_s']} s; {max(5, args.rounds // 4)} more rounds")
            wait_rounds(proc, max(5, args.rounds // 4))
    finally:
        if sampler is not None and proc is not None:
            sampler.stop.set()
            sampler.thread.join()
            if proc.rss_samples:
                result["operator_rss_mb"] = round(max(proc.rss_samples), 1)
            if proc.alive():
                result["operator_peak_rss_mb"] = round(proc.peak_rss_mb(), 1)
            result["samples"] = len(proc.rss_samples)
        if proc is not None:
            result["operator_exit"] = proc.stop()
            result["operator_log"] = str(proc.log_path)
        monitor.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zones", type=int, default=1000, help="zones the lab has at least (default 1000)")
    parser.add_argument("--rounds", type=int, default=60,
                        help="operator rounds sampled once converged (default 60, about a minute)")
    parser.add_argument("--kill", action="store_true",
                        help="policy automatic; then kill r1 and sample through the operator's failover")
    parser.add_argument("--sweep-every", type=float, default=5.0, help="the operator's --sweep-every (default 5 s)")
    parser.add_argument("--dir", default=str(ROOT / ".lab"), help="the lab's directory (default .lab)")
    parser.add_argument("--lock-wait", type=float, default=7200.0,
                        help="seconds to wait for the lab lock held by a test session (default 7200)")
    parser.add_argument("--no-lock", action="store_true",
                        help="the caller already holds the lab lock (e.g. flock(1) around several benches)")
    parser.add_argument("--down", action="store_true",
                        help="take the lab down at the end, before the lock is released (a test session may follow)")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, _interrupt)
    fd = None if args.no_lock else take_lock(args.lock_wait, log, too_long)
    workdir = Path(tempfile.mkdtemp(prefix="dnsdr-opbench-"))
    result: dict[str, Any] = {"zones": None, "zones_requested": args.zones, "rounds": args.rounds, "kill": args.kill,
                              "sweep_every_s": args.sweep_every, "limit_mb": RSS_LIMIT_MB}
    try:
        lab = healthy_lab(Path(args.dir), args.zones)
        with KubeApi(bin_dir=kube_bin_dir()) as kube:
            log(f"kube-apiserver {kube.server} ready in {kube.ready_seconds:.1f} s; work files in {workdir}")
            admin, operator = new_client(kube.admin_kubeconfig), new_client(kube.operator_kubeconfig)
            try:
                measure(lab, kube, admin, operator, args, workdir, result)
            finally:
                admin.close()  # type: ignore[no-untyped-call]
                operator.close()  # type: ignore[no-untyped-call]
    except (AssertionError, KubeApiError, LabError) as exc:
        result["error"] = str(exc)[-3000:]
    finally:
        if args.down:
            Lab(Path(args.dir), progress=log).down()
        if fd is not None:
            release_lock(fd)
    peak = result.get("operator_peak_rss_mb")
    result["ok"] = (peak is not None and peak <= RSS_LIMIT_MB and "error" not in result
                    and result.get("operator_exit") == 0 and (not result.get("kill") or "failover_s" in result))
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
