"""A real HTTP receiver on 127.0.0.1 and fast retry settings for the webhook tests."""

from __future__ import annotations

import collections
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Receiver:
    """A tiny threaded HTTP server that records every POST and answers from a script.

    ``answers`` is a queue of status codes (200 once it is empty); ``stall`` makes the handler wait
    (bounded) until it is released, to catch a worker mid-send.
    """

    def __init__(self, port: int | None = None, host: str = "127.0.0.1"):
        self.host = host
        self.port = port or free_port()
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.answers: collections.deque = collections.deque()
        self.location = ""
        self.delay = 0.0
        self.stall = threading.Event()
        self.release = threading.Event()
        self.arrived = threading.Event()
        self._lock = threading.Lock()
        self._server = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/hooks"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    status = receiver.answers.popleft() if receiver.answers else 200
                receiver.arrived.set()
                if receiver.delay:
                    time.sleep(receiver.delay)
                if receiver.stall.is_set():
                    receiver.release.wait(10)
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(f"answer {status}".encode())

            def log_message(self, *args):
                pass

        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET

        class Server(ThreadingHTTPServer):
            address_family = family
            daemon_threads = True

        self._server = Server((self.host, self.port), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self.release.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def ids(self) -> list[str]:
        return [headers["webhook-id"] for headers, _ in self.requests]

    def verify_all(self, secret: str) -> list[dict]:
        """Every received body, verified with the standardwebhooks verifier (raises on a bad signature)."""
        return [Webhook(secret).verify(body, headers) for headers, body in self.requests]


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture(autouse=True)
def fast_webhooks(settings):
    """Retries in milliseconds instead of minutes, so the tests stay quick."""
    settings.WEBHOOK_BACKOFF_BASE_SECONDS = 0.02
    settings.WEBHOOK_BACKOFF_MAX_SECONDS = 0.1
    settings.WEBHOOK_TIMEOUT_SECONDS = 5
    settings.WEBHOOK_LEASE_SECONDS = 30
    settings.WEBHOOK_MAX_ATTEMPTS = 5
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    return settings
