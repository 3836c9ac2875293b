"""A recording stub of Twilio's REST API on 127.0.0.1, and a client pointed at it.

The stub records every request (method, path, query, form) and answers what a test scripted
with :meth:`TwilioStub.answer`, or else a plausible default: 204 for DELETE, a list envelope
for a collection, ``{"sid": ...}`` for an instance, bytes for ``.mp3`` / ``.wav`` media.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from switchboard.api import TwilioClient
from switchboard.callbacks.store import Store

ACCOUNT_SID = "AC" + "a" * 32
AUTH_TOKEN = "stub-auth-token-0123456789abcdef"
OTHER_ACCOUNT = "AC" + "b" * 32
MEDIA = bytes(range(256)) * 1024  # 256 KiB of "audio"
_SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")
_AVAILABLE = {"Local", "TollFree", "Mobile"}


def sid(prefix: str, n: int = 1) -> str:
    """A well-formed SID: ``sid("CA")`` -> ``CA000...001``."""
    return f"{prefix}{n:032x}"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    headers: dict[str, str]

    def one(self, name: str) -> str:
        """The single value of ``name`` in the form or the query."""
        values = self.form.get(name) or self.query.get(name) or []
        assert len(values) == 1, f"{name}: {values}"
        return values[0]

    @property
    def params(self) -> dict[str, list[str]]:
        return self.form if self.method == "POST" else self.query


@dataclass
class Scripted:
    method: str
    path: re.Pattern[str]
    status: int
    body: bytes
    content_type: str


@dataclass
class TwilioStub:
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    scripts: list[Scripted] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(
        self,
        method: str,
        path: str,
        json_body: Any = None,
        *,
        status: int = 200,
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> None:
        """Answer the next ``method`` request whose path matches ``path`` (a regex, matched
        in full) with ``json_body`` (or raw ``body``). Scripts are used once, in order."""
        data = body if body is not None else json.dumps(json_body).encode()
        with self.lock:
            self.scripts.append(
                Scripted(method.upper(), re.compile(path), status, data, content_type)
            )

    @property
    def last(self) -> Recorded:
        assert self.requests, "no request reached the stub"
        return self.requests[-1]

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.scripts.clear()

    def respond(self, recorded: Recorded) -> tuple[int, bytes, str]:
        with self.lock:
            self.requests.append(recorded)
            for script in self.scripts:
                if script.method == recorded.method and script.path.fullmatch(recorded.path):
                    self.scripts.remove(script)
                    return script.status, script.body, script.content_type
        return default_answer(recorded)


def default_answer(recorded: Recorded) -> tuple[int, bytes, str]:
    if recorded.method == "DELETE":
        return 204, b"", "application/json"
    last = recorded.path.rsplit("/", 1)[-1]
    name, _, extension = last.partition(".")
    if extension in ("mp3", "wav"):
        return 200, MEDIA, f"audio/{'mpeg' if extension == 'mp3' else 'x-wav'}"
    if extension == "txt":
        return 200, b"Hello from the transcription.", "text/plain"
    if _SID.match(name) or name == "Sandbox" or recorded.method == "POST":
        payload = {"sid": name if _SID.match(name) else sid("XX"), "uri": recorded.path}
        return 200, json.dumps(payload).encode(), "application/json"
    key = "available_phone_numbers" if name in _AVAILABLE else snake_case(name)
    envelope = {key: [], "next_page_uri": None, "page": 0, "uri": recorded.path}
    return 200, json.dumps(envelope).encode(), "application/json"


def snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


class _Handler(BaseHTTPRequestHandler):
    server: _StubServer

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        recorded = Recorded(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            form=parse_qs(body, keep_blank_values=True),
            headers=dict(self.headers),
        )
        status, data, content_type = self.server.stub.respond(recorded)
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if status != 204:
            self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _StubServer(ThreadingHTTPServer):
    daemon_threads = True
    stub: TwilioStub


@pytest.fixture(scope="session")
def _stub_server() -> Iterator[TwilioStub]:
    server = _StubServer(("127.0.0.1", 0), _Handler)
    server.stub = TwilioStub(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    yield server.stub
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def stub(_stub_server: TwilioStub) -> Iterator[TwilioStub]:
    """The stub, emptied of requests and scripts before each test."""
    _stub_server.reset()
    yield _stub_server
    _stub_server.reset()


@pytest.fixture
def client(stub: TwilioStub) -> Iterator[TwilioClient]:
    with TwilioClient(
        ACCOUNT_SID, AUTH_TOKEN, base_url=stub.url, timeout=(2, 5), retries=0
    ) as twilio:
        yield twilio


@pytest.fixture
def twilio_env(stub: TwilioStub, monkeypatch: pytest.MonkeyPatch) -> TwilioStub:
    """Settings in the environment pointing the default profile at the stub."""
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("TWILIO_API_BASE_URL", stub.url)
    return stub


PUBLIC = "https://switchboard.example.com"


@pytest.fixture
def server_env(
    twilio_env: TwilioStub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Store]:
    """The server's settings pointed at ``twilio_env``: a fresh SQLite store (returned) and
    :data:`PUBLIC` as the public URL, for ``switchboard call`` / ``sms`` / ``provision``."""
    url = f"sqlite:///{tmp_path / 'switchboard.sqlite3'}"
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", url)
    monkeypatch.setenv("SWITCHBOARD_PUBLIC_URL", PUBLIC)
    monkeypatch.delenv("SWITCHBOARD_PROFILE", raising=False)
    store = Store(url)
    store.create_all()
    yield store
    store.close()
