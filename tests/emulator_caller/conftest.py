"""A small webhook server on a real socket, recording what the emulator sends it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import flask
import pytest
from werkzeug.serving import make_server

from switchboard.callbacks.security import RequestValidator
from switchboard.emulator.caller import Phone
from switchboard.emulator.state import EmulatorState

NUMBER = "+15551230000"
CALLER = "+15555550100"

Handler = Callable[[flask.Request], Any]


@dataclass
class Received:
    """One request the webhook server got."""

    path: str
    method: str
    url: str
    params: dict[str, str]
    headers: dict[str, str]
    signature_valid: bool
    form: list[tuple[str, str]] = field(default_factory=list)


class HookServer:
    """A Flask app whose routes tests set with :meth:`on`; every request is recorded.

    A handler is a TwiML string (answered as text/xml), a ``(body, status, headers)`` tuple, or
    a callable taking the request. Unconfigured paths answer 204 (fine for status callbacks).
    """

    def __init__(self, auth_token: str) -> None:
        self.validator = RequestValidator(auth_token)
        self.handlers: dict[str, Any] = {}
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.app = flask.Flask("hooks")
        self.app.add_url_rule(
            "/<path:path>", "hook", self._dispatch, methods=["GET", "POST"]
        )
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str) -> str:
        return self.base_url + path

    def on(self, path: str, handler: Any) -> None:
        self.handlers[path] = handler

    def requests_to(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def _dispatch(self, path: str) -> Any:
        request = flask.request
        form = list(request.form.items(multi=True))
        params = {**request.args.to_dict(), **request.form.to_dict()}
        signed_params = form if request.method == "POST" else None
        valid = self.validator.validate(
            request.url, signed_params, request.headers.get("X-Twilio-Signature")
        )
        received = Received("/" + path, request.method, request.url, params,
                            dict(request.headers), valid, form)
        with self.lock:
            self.received.append(received)
        handler = self.handlers.get("/" + path)
        if handler is None:
            return "", 204
        if callable(handler):
            handler = handler(request)
        if isinstance(handler, str):
            return flask.Response(handler, content_type="text/xml")
        return handler


@pytest.fixture
def state() -> EmulatorState:
    return EmulatorState()


@pytest.fixture
def hooks(state: EmulatorState) -> Iterator[HookServer]:
    server = HookServer(state.auth_token_for(state.main_account_sid))
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


@pytest.fixture
def phone(state: EmulatorState) -> Iterator[Phone]:
    phone = Phone(state, api_base_url="http://127.0.0.1:9")
    yield phone
    assert phone.wait_idle(10)


@pytest.fixture
def number(state: EmulatorState, hooks: HookServer) -> dict[str, Any]:
    """A number whose voice and SMS URLs point at the hook server."""
    return state.buy_number(
        state.main_account_sid, NUMBER,
        voice_url=hooks.url("/voice"), sms_url=hooks.url("/sms"),
        status_callback=hooks.url("/status"),
    )


def twiml(*verbs: str) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?><Response>' + "".join(verbs) + "</Response>"
