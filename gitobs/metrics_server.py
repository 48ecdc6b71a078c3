"""`gitobs metrics serve`: /metrics over HTTP for a Prometheus on this machine, computed at each scrape.

It binds 127.0.0.1 only, and answers only requests whose Host is a loopback name (127.0.0.1 or localhost),
so a web page cannot read it through a DNS name rebound to 127.0.0.1. One request at a time, each with a
socket timeout; SIGINT and SIGTERM stop it between requests.
"""

from __future__ import annotations

import ipaddress
import signal
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlsplit

from gitobs.exposition import CONTENT_TYPE
from gitobs.repo import GitobsError

LOOPBACK = "127.0.0.1"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost"})
REQUEST_TIMEOUT_S = 10.0


def loopback_only(host: str) -> str:
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise GitobsError(f"metrics are served on the loopback address only, not {host}")


class _Handler(BaseHTTPRequestHandler):
    server: MetricsServer
    timeout = REQUEST_TIMEOUT_S  # a client that sends nothing does not hold the server
    server_version = "gitobs"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(body=False)

    def _answer(self, body: bool) -> None:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
        if host not in LOOPBACK_NAMES:
            self._send(403, "text/plain; charset=utf-8", b"forbidden: not a loopback host name\n", body)
        elif urlsplit(self.path).path != "/metrics":
            self._send(404, "text/plain; charset=utf-8", b"not found; metrics are at /metrics\n", body)
        else:
            try:
                text = self.server.produce()
            except Exception as exc:  # noqa: BLE001 - one bad scrape must not stop the server
                self.server.warn(f"scrape failed: {type(exc).__name__}: {exc}")
                self._send(500, "text/plain; charset=utf-8", b"gitobs could not compute the metrics\n", body)
                return
            self._send(200, CONTENT_TYPE, text.encode("utf-8", "replace"), body)

    def _send(self, status: int, content_type: str, payload: bytes, body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
        pass  # a scrape every few seconds is not news


class MetricsServer(HTTPServer):
    def __init__(self, host: str, port: int, produce: Callable[[], str], warn: Callable[[str], None]) -> None:
        self.produce, self.warn = produce, warn
        try:
            super().__init__((loopback_only(host), port), _Handler)
        except OSError as exc:
            raise GitobsError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None

    @property
    def port(self) -> int:
        return self.server_address[1]


def serve(server: MetricsServer) -> None:
    """Until SIGINT or SIGTERM; the socket is closed either way."""
    def stop(signum, frame) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()  # shutdown waits for the loop

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.server_close()
        sys.stdout.flush()
