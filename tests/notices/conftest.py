"""What the notices' tests share: an emulated Twilio, apps wired to it, signed callbacks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from switchboard.callbacks import create_app
from switchboard.callbacks.notices import NOTICES_EXTENSION, VoicemailNotices, register_notices
from switchboard.callbacks.security import signed_headers
from switchboard.emulator import Emulator

PUBLIC_URL = "https://switchboard.example.com"
NUMBER = "+15551230000"
CALLER = "+15555550100"
OPERATOR = "+15557770000"
#: Short waits between tries, so that the tests of retries take milliseconds.
FAST = {"send_backoff": (0.01, 0.02, 0.04), "claim_backoff": (0.01, 0.02, 0.05),
        "lookup_backoff": (0.02, 0.05, 0.1, 0.2, 0.5)}


def sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as running:
        running.state.buy_number(running.account_sid, NUMBER)
        yield running


def app_settings(emulator: Emulator, database_url: str) -> dict[str, Any]:
    """The settings of an app on the emulator's account, its notices going to :data:`OPERATOR`."""
    return {
        "TESTING": True,
        "TWILIO_ACCOUNT_SID": emulator.account_sid,
        "TWILIO_AUTH_TOKEN": emulator.auth_token,
        "TWILIO_API_BASE_URL": emulator.url,
        "SWITCHBOARD_PUBLIC_URL": PUBLIC_URL,
        "SWITCHBOARD_DATABASE_URL": database_url,
        "SWITCHBOARD_FORWARD_NUMBER": OPERATOR,
    }


def make_app(emulator: Emulator, database_url: str, **config: Any) -> Flask:
    """The app as Twilio's REST side and webhooks know it: the emulator's account."""
    settings = {**app_settings(emulator, database_url), **config}
    app = create_app(settings)
    made = app.extensions.pop(NOTICES_EXTENSION, None)   # each test registers its own
    if made is not None:
        made.close()
    return app


def notices_of(app: Flask, **options: Any) -> VoicemailNotices:
    notices = register_notices(app, **{**FAST, **options})
    assert notices is not None
    return notices


def post(client: FlaskClient, token: str, path: str, params: Mapping[str, str]) -> Any:
    """A webhook signed as Twilio signs it (the public URL)."""
    headers = signed_headers(token, PUBLIC_URL + path, dict(params))
    return client.post(PUBLIC_URL + path, data=dict(params), headers=headers)


def call_params(call_sid: str) -> dict[str, str]:
    return {
        "CallSid": call_sid, "AccountSid": "AC" + "0" * 32, "From": CALLER, "To": NUMBER,
        "CallStatus": "in-progress", "Direction": "inbound", "ApiVersion": "2010-04-01",
    }


def recording_params(call_sid: str, recording_sid: str, duration: int = 14) -> dict[str, str]:
    """A completed recording's status callback, as Twilio sends it (no From or To)."""
    return {
        "AccountSid": "AC" + "0" * 32, "CallSid": call_sid, "RecordingSid": recording_sid,
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/{recording_sid}",
        "RecordingStatus": "completed", "RecordingDuration": str(duration),
        "RecordingChannels": "1", "RecordingSource": "RecordVerb", "ErrorCode": "0",
    }


def texts_about(emulator: Emulator, recording_sid: str) -> list[dict[str, Any]]:
    return emulator.state.list("messages", where=lambda m: recording_sid in (m.get("body") or ""))
