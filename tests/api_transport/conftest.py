"""A scripted HTTP server on 127.0.0.1 for the transport tests.

Tests queue replies (status, JSON or raw body, headers, a delay, or a dropped connection) and
read back what the server received. With the queue empty, a ``responder`` function (if set)
answers, else ``200 {}``.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from switchboard.api import TwilioClient
from switchboard.api.retry import retry_policy

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "tok3n-" + "s3cr3t" * 4
API_KEY_SID = "SK" + "fedcba9876543210" * 2


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    delay: float = 0.0
    drop: bool = False


@dataclass
class Received:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)

    @property
    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode(), keep_blank_values=True)


class StubServer:
    """A ThreadingHTTPServer answering from a queue of :class:`Reply`."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.received: list[Received] = []
        self.responder: Callable[[Received], Reply] | None = None
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.arrived = threading.Condition(self.lock)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def reply(
        self,
        status: int = 200,
        json_body: Any = None,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        drop: bool = False,
    ) -> None:
        if body is None:
            body = (
                b""
                if json_body is None and status == 204
                else json.dumps({} if json_body is None else json_body).encode()
            )
        all_headers = {"Content-Type": "application/json"}
        all_headers.update(headers or {})
        with self.lock:
            self.replies.append(Reply(status, body, all_headers, delay, drop))

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.received) >= count, timeout)

    def _next(self, received: Received) -> Reply:
        with self.lock:
            self.received.append(received)
            self.arrived.notify_all()
            if self.replies:
                return self.replies.popleft()
        if self.responder is not None:
            return self.responder(received)
        return Reply()

    def start(self) -> StubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def _make_handler(stub: StubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            received = Received(self.command, self.path, dict(self.headers.items()), body)
            reply = stub._next(received)
            if reply.delay and stub.stopping.wait(reply.delay):
                self.close_connection = True
                return
            if reply.drop:
                self.close_connection = True
                return
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)

        do_GET = do_POST = do_DELETE = do_HEAD = do_PUT = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer().start()
    try:
        yield server
    finally:
        server.stop()


def fast_retries(retries: int = 2, **kwargs: Any):
    """The default policy with waits short enough for tests."""
    kwargs.setdefault("backoff_factor", 0.01)
    kwargs.setdefault("backoff_jitter", 0.01)
    return retry_policy(retries, **kwargs)


@pytest.fixture
def client(stub: StubServer) -> Iterator[TwilioClient]:
    with TwilioClient(
        ACCOUNT_SID, AUTH_TOKEN, base_url=stub.url, timeout=(1, 2), retries=fast_retries()
    ) as client:
        yield client


@pytest.fixture
def unanswered_url() -> Iterator[str]:
    """A URL on 127.0.0.1 whose connects time out: a listening socket whose accept queue is
    already full, so the kernel drops further SYNs."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        filler.close()
        listener.close()
