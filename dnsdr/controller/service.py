"""The controller's loop and its HTTP endpoints: /healthz, /readyz, /status, /metrics.

One round per probe interval (Patroni's one HA loop). A round that raises is logged and the loop
goes on: the controller must outlive every transient failure of what it watches. A zone serial
sweep runs every ``sweep_every`` seconds only, as it reads every zone.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from dnsdr.app.control import Controller, RoundReport
from dnsdr.app.metrics import ControllerMetrics
from dnsdr.app.observe import SerialSummary
from dnsdr.domain.automation import cooldown_until
from dnsdr.domain.errors import DnsdrError
from dnsdr.domain.spec import Endpoint

log = logging.getLogger("dnsdr.controller")


@dataclass
class LoopState:
    started_at: float = field(default_factory=time.time)
    round_started_at: float | None = None
    last: RoundReport | None = None
    last_finished_at: float | None = None
    serials: SerialSummary | None = None
    error: str = ""


class ControllerService:
    def __init__(self, controller: Controller, interval: float, sweep_every: float = 30.0) -> None:
        self.controller = controller
        self.interval = interval
        self.sweep_every = sweep_every
        self.metrics = ControllerMetrics()
        self.state = LoopState()
        self.stop = threading.Event()
        self._last_sweep = 0.0

    def one_round(self) -> RoundReport | None:
        self.state.round_started_at = time.time()
        try:
            report = self.controller.round()
        except Exception as exc:  # the loop outlives anything a round meets; the traceback goes to the log
            log.exception("round failed: %s", exc)
            self.state.error = f"{type(exc).__name__}: {exc}"[:300]
            return None
        finally:
            self.state.round_started_at = None
        self.state.last, self.state.last_finished_at, self.state.error = report, time.time(), ""
        self.metrics.observe_round(report, self.controller.policy, self.controller.spec.policy.max_lag_seconds)
        try:
            self.metrics.observe_journal(self.controller.store.load_journal(), time.time())
        except DnsdrError as exc:  # the round itself read the store; a later failure only costs this gauge
            log.warning("cannot read the journal for the metrics: %s", exc)
        if time.monotonic() - self._last_sweep >= self.sweep_every:
            self._last_sweep = time.monotonic()
            t0 = time.monotonic()
            summary = self.controller.observer.serials(report.primary)
            self.state.serials = summary
            self.metrics.observe_serials(summary, time.monotonic() - t0)
        return report

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            self.one_round()
            self.stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    # ------------------------------------------------------------ HTTP

    def healthy(self) -> bool:
        now = time.time()
        if self.state.round_started_at is not None:  # a round in progress (a failover takes minutes)
            return now - self.state.round_started_at < 1800
        last = self.state.last_finished_at or self.state.started_at
        return now - last < max(3 * self.interval, 10.0)

    def status(self) -> dict[str, Any]:
        report = self.state.last
        started = self.state.round_started_at
        # A round that fails over takes tens of seconds, and what follows is the round *before* it: say so.
        doc: dict[str, Any] = {"ready": report is not None, "healthy": self.healthy(), "error": self.state.error,
                               "interval": self.interval,
                               "round_running_s": None if started is None else round(time.time() - started, 1)}
        if report is None:
            return doc
        control = report.control
        until = cooldown_until(control, self.controller.policy)
        doc.update({
            "at": report.at, "primary": report.primary, "candidate": report.candidate, "epoch": report.epoch,
            "decision": report.decision.to_dict(), "action": report.action.to_dict(), "outcome": report.outcome,
            "paused": control.paused, "paused_reason": control.paused_reason,
            "cooldown_until": until if until is not None and until > report.at else None,
            "control": control.to_dict(),
            "regions": {r.region: r.to_dict() for r in report.rows},
            "monitor": None if report.monitor is None else {k: {"lost": v.lost, "healthy": v.healthy,
                                                                 "evidence": list(v.evidence)}
                                                             for k, v in report.monitor.items()},
            "serials": self.state.serials.to_dict() if self.state.serials else None,
        })
        return doc

    def serve(self, listen: Endpoint) -> ThreadingHTTPServer:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt: str, *args: Any) -> None:
                log.debug("http: " + fmt, *args)

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/healthz":
                    ok = service.healthy()
                    self._send(200 if ok else 503, b"ok\n" if ok else b"stalled\n", "text/plain")
                elif path == "/readyz":
                    ready = service.state.last is not None
                    self._send(200 if ready else 503, b"ready\n" if ready else b"no round yet\n", "text/plain")
                elif path == "/status":
                    body = json.dumps(service.status(), indent=2, sort_keys=True, default=str).encode()
                    self._send(200, body, "application/json")
                elif path == "/metrics":
                    self._send(200, generate_latest(service.metrics.registry), CONTENT_TYPE_LATEST)
                else:
                    self._send(404, b"not found\n", "text/plain")

        server = ThreadingHTTPServer((listen.host, listen.port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="controller-http", daemon=True).start()
        return server
