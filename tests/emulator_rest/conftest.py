"""Fixtures for the emulator's REST side: an emulator without its caller side, and a small
requests-based helper speaking to one account of it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from switchboard.emulator import Emulator

TIMEOUT = 5


class Api:
    """HTTP Basic requests to ``/2010-04-01/Accounts/{account}...`` of an emulator."""

    def __init__(
        self, emu: Emulator, account_sid: str | None = None, auth: tuple[str, str] | None = None
    ) -> None:
        self.emu = emu
        self.account = account_sid or emu.account_sid
        self.session = requests.Session()
        self.session.auth = auth or (emu.account_sid, emu.auth_token)
        self.root = f"{emu.url}/2010-04-01"

    def url(self, suffix: str = ".json") -> str:
        if suffix.startswith("/2010-04-01"):
            return self.emu.url + suffix
        return f"{self.root}/Accounts/{self.account}{suffix}"

    def get(self, suffix: str = ".json", **params: Any) -> requests.Response:
        return self.session.get(self.url(suffix), params=params, timeout=TIMEOUT)

    def post(self, suffix: str, data: Any = None) -> requests.Response:
        return self.session.post(self.url(suffix), data=data or {}, timeout=TIMEOUT)

    def delete(self, suffix: str) -> requests.Response:
        return self.session.delete(self.url(suffix), timeout=TIMEOUT)

    def as_account(self, account_sid: str, auth: tuple[str, str] | None = None) -> Api:
        other = Api(self.emu, account_sid, auth or self.session.auth)  # type: ignore[arg-type]
        other.session.hooks = self.session.hooks
        return other

    def buy(self, **data: Any) -> dict[str, Any]:
        if "PhoneNumber" not in data and "AreaCode" not in data:
            data["AreaCode"] = "415"
        response = self.post("/IncomingPhoneNumbers.json", data)
        assert response.status_code == 201, response.text
        return response.json()


class RecordingPhone:
    """Stands in for the caller side: remembers what the REST side hands it."""

    def __init__(self) -> None:
        self.api_base_url = ""
        self.calls: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []

    def place_outbound_call(self, call: dict[str, Any]) -> None:
        self.calls.append(call)

    def deliver_outbound_message(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    def call_updated(self, call: dict[str, Any]) -> None:
        self.updates.append(call)

    def wait_idle(self, timeout: float = 10) -> bool:
        return True


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """A running emulator whose caller side only records what it is asked to do."""
    emulator = Emulator(caller=False)
    emulator.phone = RecordingPhone()
    with emulator:
        yield emulator


@pytest.fixture
def api(emu: Emulator) -> Api:
    return Api(emu)


def assert_error(
    response: requests.Response, status: int, code: int, mentions: str | None = None
) -> dict[str, Any]:
    """``response`` is a Twilio error answer with this status and code (naming ``mentions``)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "more_info", "status"}
    assert body["code"] == code, body
    assert body["status"] == status
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    if mentions is not None:
        assert mentions in body["message"], body["message"]
    return body
