"""The witness's HTTP face: ``/verdict``, ``/healthz``, ``/readyz``, ``/metrics``, and the process's life.

The stdlib ThreadingHTTPServer serves from a thread while the probe loop owns the main thread, so
SIGTERM and SIGINT (handled in the main thread) only set an event: the loop finishes its round,
the server stops, and the process exits 0. Nothing served carries a secret (the witness has none).
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

from dnsdr.monitor.metrics import CONTENT_TYPE
from dnsdr.monitor.service import Monitor

log = logging.getLogger("dnsdr.monitor")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    monitor: Monitor


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "dnsdr-monitor"
    sys_version = ""
    timeout = 10  # a client that never finishes its request does not keep a thread forever

    def do_GET(self) -> None:
        monitor = self.server.monitor
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, monitor.metrics.render(), CONTENT_TYPE)
            return
        routes = {"/verdict": monitor.verdict, "/healthz": monitor.healthz, "/readyz": monitor.readyz}
        route = routes.get(path)
        if route is None:
            self._json(404, {"error": "not found", "paths": [*routes, "/metrics"]})
            return
        self._json(*route())

    def _json(self, status: int, doc: dict[str, Any]) -> None:
        self._send(status, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


def make_server(monitor: Monitor, host: str, port: int) -> ThreadingHTTPServer:
    """Bind the HTTP server (port 0: any free port; see ``server_address``) without serving yet."""
    server = (_Server6 if ":" in host else _Server)((host, port), _Handler)
    server.monitor = monitor
    return server


def serve(monitor: Monitor, server: ThreadingHTTPServer, *, stop: threading.Event | None = None,
          install_signals: bool = True) -> None:
    """Serve HTTP (``server`` from :func:`make_server`) and run the probe loop until SIGTERM/SIGINT (or
    ``stop``); then shut down cleanly."""
    stop = stop or threading.Event()
    previous: dict[signal.Signals, Any] = {}

    received: list[str] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:  # only flags: the loop ends its round
        received.append(signal.Signals(signum).name)
        stop.set()

    if install_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, on_signal)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.25},
                              name="dnsdr-monitor-http", daemon=True)
    thread.start()
    bound = server.server_address
    log.info("monitor serving on %s:%s, probing %d targets every %g s (timeout %g s)", bound[0], bound[1],
             len(monitor.targets), monitor.interval, monitor.timeout)
    try:
        monitor.run(stop)
        if received:
            log.warning("stopping on %s", received[0])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=2)
        monitor.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
