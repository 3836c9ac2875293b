"""Fixtures for the callbacks server: apps on SQLite and PostgreSQL, and a signing Twilio
(``twilio`` and ``store`` on a module's ``app`` are the suite's: ``tests/app_fixtures.py``)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree

from switchboard.callbacks import create_app
from switchboard.callbacks.security import signed_headers
from switchboard.callbacks.twiml import parse_twiml

TOKEN = "test-auth-token-0123456789abcdef"
ACCOUNT_SID = "AC" + "a" * 32
CALLER = "+15551230001"
NUMBER = "+15559870002"


def sid(prefix: str) -> str:
    """A fresh SID: ``prefix`` + 32 hex digits."""
    return prefix + uuid.uuid4().hex


def call_params(call_sid: str | None = None, **extra: str) -> dict[str, str]:
    params = {
        "CallSid": call_sid or sid("CA"),
        "AccountSid": ACCOUNT_SID,
        "From": CALLER,
        "To": NUMBER,
        "CallStatus": "in-progress",
        "ApiVersion": "2010-04-01",
        "Direction": "inbound",
    }
    params.update(extra)
    return params


def message_params(body: str = "hello", **extra: str) -> dict[str, str]:
    params = {
        "MessageSid": sid("SM"),
        "AccountSid": ACCOUNT_SID,
        "From": CALLER,
        "To": NUMBER,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "ApiVersion": "2010-04-01",
    }
    params.update(extra)
    return params


class Twilio:
    """Sends webhooks to the app's test client the way Twilio does, signed with ``TOKEN``."""

    def __init__(self, client: FlaskClient, token: str = TOKEN, base: str = "http://localhost"):
        self.client = client
        self.token = token
        self.base = base

    def request(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        method: str = "POST",
        signed: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        params = dict(params or {})
        all_headers = dict(headers or {})
        if method == "GET":
            url = self.base + path + ("?" + urlencode(params) if params else "")
            if signed:
                all_headers.update(signed_headers(self.token, url))
            return self.client.get(url, headers=all_headers)
        url = self.base + path
        if signed:
            all_headers.update(signed_headers(self.token, url, params))
        return self.client.open(url, method=method, data=params, headers=all_headers)

    def post(self, path: str, params: Mapping[str, str] | None = None, **kw: Any) -> Any:
        return self.request(path, params, **kw)

    def get(self, path: str, params: Mapping[str, str] | None = None, **kw: Any) -> Any:
        return self.request(path, params, method="GET", **kw)


def twiml(response: Any) -> etree._Element:
    """The TwiML of a 200 text/xml answer, checked with ``parse_twiml``."""
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/xml"
    return parse_twiml(response.data)


def verbs(root: etree._Element) -> list[str]:
    return [child.tag for child in root]


def spoken(root: etree._Element) -> str:
    """Everything the caller hears, in document order."""
    return " ".join(" ".join(el.itertext()) for el in root.iter("Say"))


def make_app(database_url: str, **config: Any) -> Flask:
    settings = {
        "SWITCHBOARD_DATABASE_URL": database_url,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TESTING": True,
    }
    settings.update(config)
    return create_app(settings)


@pytest.fixture(scope="module")
def app(module_database_url: str) -> Iterator[Flask]:
    """The app with the bundled flows on SQLite, then on PostgreSQL."""
    application = clean_app(module_database_url)
    yield application
    application.extensions["switchboard"].store.close()


@pytest.fixture
def caller() -> str:
    """A phone number no other test uses (opt-outs and SMS sessions are per number)."""
    return "+1555" + str(uuid.uuid4().int)[:7]


def clean_app(database_url: str, **config: Any) -> Flask:
    """``make_app`` with no TWILIO_* / SWITCHBOARD_* variable of the environment (for fixtures
    wider than a test, set up before the suite's autouse fixture clears them)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(("TWILIO_", "SWITCHBOARD_")):
                patch.delenv(name)
        patch.setenv("SWITCHBOARD_DOTENV", "0")
        return make_app(database_url, **config)


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """One SQLite app for a whole module: for tests of routing and signatures, not storage."""
    path = tmp_path_factory.mktemp("server") / "switchboard.sqlite3"
    application = clean_app(f"sqlite:///{path}")
    yield application
    application.extensions["switchboard"].store.close()


@pytest.fixture
def shared_twilio(shared_app: Flask) -> Twilio:
    return Twilio(shared_app.test_client())
