"""`gitobs metrics serve`: /metrics over HTTP for a Prometheus on this machine, computed at each scrape.

It binds 127.0.0.1 only, and answers only requests whose Host is a loopback name (127.0.0.1 or localhost),
so a web page cannot read it through a DNS name rebound to 127.0.0.1. Each connection has a thread of its
own, at most MAX_THREADS at once (more wait in the listen queue until one ends), and one answer; its request
line and headers must all arrive within HEADER_DEADLINE_S, so a client that drips bytes holds a thread that
long and no scrape at all. Scrapes compute one at a time. SIGINT and SIGTERM stop it once the answers under
way are sent.
"""

from __future__ import annotations

import io
import ipaddress
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ThreadingMixIn
from urllib.parse import urlsplit

from gitobs.core.repo import GitobsError
from gitobs.export.prometheus.exposition import CONTENT_TYPE

LOOPBACK = "127.0.0.1"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost"})
HEADER_DEADLINE_S = 2.0  # for the request line and all headers: a local client sends them at once
HEAD_LIMIT = 64 * 1024  # bytes of request line and headers
WRITE_TIMEOUT_S = 10.0  # a client that does not read its answer lets go of its thread after this
MAX_THREADS = 8


def loopback_only(host: str) -> str:
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise GitobsError(f"metrics are served on the loopback address only, not {host}")


def read_head(connection: socket.socket, deadline_s: float) -> bytes | None:
    """What the client sent up to the blank line after its headers, if it all came within `deadline_s` (one
    deadline for every recv, not one each: a byte every second would reset a per-recv timeout forever).
    None when it came too slowly, went past HEAD_LIMIT, or the client went away."""
    end = time.monotonic() + deadline_s
    head = b""
    while b"\r\n\r\n" not in head and b"\n\n" not in head:
        left = end - time.monotonic()
        if left <= 0 or len(head) > HEAD_LIMIT:
            return None
        connection.settimeout(left)
        try:
            chunk = connection.recv(4096)
        except OSError:  # the deadline passed in recv, or the connection was reset
            return None
        if not chunk:
            return None
        head += chunk
    return head


class _Handler(BaseHTTPRequestHandler):
    server: MetricsServer
    timeout = WRITE_TIMEOUT_S
    server_version = "gitobs"

    def handle(self) -> None:
        """One request, read within the header deadline, then answered; a late one is closed unanswered."""
        head = read_head(self.connection, self.server.header_deadline_s)
        if head is None:
            return
        self.connection.settimeout(self.timeout)
        self.rfile.close()  # the socket's reader: the head just read is all this handler reads
        self.rfile = io.BytesIO(head)
        self.handle_one_request()

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
                with self.server.producing:  # one scrape at a time: each takes the scan lock anyway
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


class MetricsServer(ThreadingMixIn, HTTPServer):
    """A thread per connection, at most `max_threads` at once; server_close waits for them."""

    def __init__(self, host: str, port: int, produce: Callable[[], str], warn: Callable[[str], None], *,
                 max_threads: int = MAX_THREADS, header_deadline_s: float = HEADER_DEADLINE_S) -> None:
        self.produce, self.warn = produce, warn
        self.header_deadline_s = header_deadline_s
        self.threads = threading.BoundedSemaphore(max_threads)
        self.producing = threading.Lock()
        try:
            super().__init__((loopback_only(host), port), _Handler)
        except OSError as exc:
            raise GitobsError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None

    @property
    def port(self) -> int:
        return self.server_address[1]

    def process_request(self, request, client_address) -> None:
        self.threads.acquire()  # all taken: each is let go within the header deadline or after its answer
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.threads.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.threads.release()


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
