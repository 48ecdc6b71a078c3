"""`gitobs metrics serve` under slow and many clients, on real sockets on 127.0.0.1: a client that drips
its request holds up no scrape and is cut off at the header deadline; connections beyond the thread bound
wait their turn."""

from __future__ import annotations

import select
import socket
import threading
import time

from test_metrics import get, processes, start_server  # noqa: F401 - processes is a fixture

from gitobs.export.prometheus.server import LOOPBACK, MetricsServer

DRIP_EVERY_S = 0.2
GIVE_UP_S = 30.0  # far past the header deadline: a dripper still connected then was never cut off


class Dripper(threading.Thread):
    """A client that sends its request line, then one byte of a header every DRIP_EVERY_S, never the blank
    line that would end the headers. `cut` says whether the server closed the connection on it."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.connection = socket.create_connection((LOOPBACK, port))
        self.connection.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        self.cut = False

    def run(self) -> None:
        started = time.monotonic()
        try:
            while time.monotonic() - started < GIVE_UP_S and not self.cut:
                self.connection.send(b"x")
                readable, _, _ = select.select([self.connection], [], [], DRIP_EVERY_S)
                self.cut = bool(readable) and self.connection.recv(4096) == b""
        except OSError:  # reset: the server closed it while we were sending
            self.cut = True
        finally:
            self.connection.close()


def test_a_client_dripping_its_request_holds_up_no_scrape_and_is_cut_off(watched, processes):  # noqa: F811
    _, port = start_server(processes, "-C", str(watched), "--no-scan")
    dripper = Dripper(port)  # connected (and accepted) before the scrape
    dripper.start()
    assert get(port)[0] == 200  # answered while the dripper still holds its connection
    dripper.join(GIVE_UP_S + 10)
    assert dripper.cut  # the request line and headers have a deadline in all, not one per byte


def test_connections_beyond_the_thread_bound_wait_their_turn():
    server = MetricsServer(LOOPBACK, 0, lambda: "up 1\n", print, max_threads=2, header_deadline_s=60.0)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    silent = [socket.create_connection((LOOPBACK, server.port)) for _ in range(2)]
    try:
        with socket.create_connection((LOOPBACK, server.port)) as scrape:
            scrape.sendall(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
            scrape.settimeout(0.5)
            assert not _answered(scrape)  # both threads are taken by clients that say nothing
            silent.pop().close()  # one lets go: its thread ends, and the scrape gets it
            scrape.settimeout(None)
            answer = b"".join(iter(lambda: scrape.recv(4096), b""))
        assert answer.startswith(b"HTTP/1.0 200") and answer.endswith(b"up 1\n")
    finally:
        for connection in silent:
            connection.close()
        server.shutdown()
        server.server_close()


def _answered(connection: socket.socket) -> bool:
    try:
        return connection.recv(1, socket.MSG_PEEK) != b""
    except TimeoutError:
        return False
