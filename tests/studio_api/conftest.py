"""The Studio API on the real app on a real socket (on the database of the suite's
``database_url``: SQLite, then PostgreSQL), next to the emulator (the app's
``TWILIO_API_BASE_URL``), driven by Twilio's official Python SDK through an HTTP client that
sends ``https://studio.twilio.com`` to the test server. Every answer the SDK gets is checked
against Twilio's description of Studio v2 (:mod:`tests.studio_api.schema`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from switchboard.callbacks.studio.api import register_studio_api
from switchboard.emulator.stack import SwitchboardStack
from tests.studio import widget
from tests.studio_api import schema

STUDIO = "https://studio.twilio.com"
CONTACT = "+15555550100"
FLOW_NUMBER = "+15551230000"


class LocalStudio(TwilioHttpClient):
    """The SDK's HTTP client, sending Studio's requests to ``base`` and keeping each answer."""

    def __init__(self, base: str) -> None:
        super().__init__(timeout=20)
        self.base = base
        self.answers: list[tuple[str, str, int, str]] = []

    def request(self, method: str, url: str, params: Any = None, data: Any = None,
                headers: Any = None, auth: Any = None, timeout: Any = None,
                allow_redirects: bool = False) -> Response:
        if url.startswith(STUDIO):
            url = self.base + url[len(STUDIO):]
        response = super().request(method, url, params, data, headers, auth, timeout,
                                   allow_redirects)
        self.answers.append((method, url, response.status_code, response.text))
        return response

    def problems(self) -> list[str]:
        return [problem for answer in self.answers for problem in schema.problems(*answer)]


def trigger(request_to: str | None = None, message_to: str | None = None) -> dict[str, Any]:
    return {"name": "Trigger", "type": "trigger", "properties": {"offset": {"x": 0, "y": 0}},
            "transitions": [{"event": "incomingMessage", **({"next": message_to}
                                                             if message_to else {})},
                            {"event": "incomingCall"},
                            {"event": "incomingRequest", **({"next": request_to}
                                                             if request_to else {})}]}


def definition(*states: dict[str, Any], description: str = "A flow") -> dict[str, Any]:
    return {"description": description, "initial_state": "Trigger",
            "flags": {"allow_concurrent_calls": True}, "states": list(states)}


#: An appointment reminder: texts the contact, waits for YES or NO, answers accordingly.
REMINDER = definition(
    trigger(request_to="ask", message_to="ask"),
    widget("ask", "send-and-wait-for-reply", {
        "from": "{{flow.channel.address}}", "timeout": "3600",
        "body": "Hi {{flow.data.name}}, see you on {{flow.data.day}}? Reply YES or NO.",
    }, incomingMessage="route", timeout=None, deliveryFailure=None),
    widget("route", "split-based-on", {"input": "{{widgets.ask.inbound.Body}}"},
           noMatch="sorry", match=None),
    widget("sorry", "send-message", {"from": "{{flow.channel.address}}",
                                     "to": "{{contact.channel.address}}",
                                     "body": "Got {{widgets.ask.inbound.Body}}, thanks."},
           sent=None, failed=None),
    description="Appointment reminder",
)
REMINDER["states"][2]["transitions"] = [
    {"event": "noMatch", "next": "sorry"},
    {"event": "match", "next": "confirmed", "conditions": [
        {"friendly_name": "yes", "arguments": ["{{widgets.ask.inbound.Body}}"],
         "type": "equal_to", "value": "YES"}]},
]
REMINDER["states"].append(widget("confirmed", "send-message", {
    "from": "{{flow.channel.address}}", "to": "{{contact.channel.address}}",
    "body": "Confirmed for {{flow.data.day}}."}, sent=None, failed=None))


@dataclass
class House:
    """The app with the Studio API and the emulator, the SDK pointed at the app."""

    stack: SwitchboardStack
    studio: Client
    http: LocalStudio
    flows_dir: Path
    numbers: dict[str, str] = field(default_factory=dict)

    @property
    def emulator(self) -> Any:
        return self.stack.emulator

    @property
    def url(self) -> str:
        return self.stack.url

    @property
    def auth(self) -> tuple[str, str]:
        return self.emulator.account_sid, self.emulator.auth_token

    def number(self, webhook_url: str, phone_number: str = FLOW_NUMBER) -> str:
        """Give the account ``phone_number`` with both its URLs at ``webhook_url``."""
        state = self.emulator.state
        state.buy_number(state.main_account_sid, phone_number, sms_url=webhook_url,
                         voice_url=webhook_url)
        self.numbers[phone_number] = webhook_url
        return phone_number

    def sent_to(self, number: str) -> list[str]:
        """The bodies of the messages the account sent to ``number``, oldest first."""
        messages = [m for m in self.emulator.state.list("messages")  # newest first
                    if m.get("to") == number and m.get("direction") != "inbound"]
        return [m["body"] for m in reversed(messages)]

    def reply(self, body: str, from_: str = CONTACT, to: str = FLOW_NUMBER) -> Any:
        transcript = self.emulator.phone.inbound_sms(to, from_, body)
        assert self.stack.wait_idle(20)
        return transcript

    def raw(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A request to the API without the SDK (its answer is checked like the SDK's)."""
        kwargs.setdefault("auth", self.auth)
        response = requests.request(method, self.url + path, timeout=20, **kwargs)
        self.http.answers.append((method, self.url + path, response.status_code,
                                  response.text))
        return response


FILE_FLOW = definition(
    trigger(request_to="hello"),
    widget("hello", "send-message", {"from": "{{flow.channel.address}}",
                                     "to": "{{contact.channel.address}}",
                                     "body": "Hello from the folder, {{flow.data.name}}."},
           sent=None, failed=None),
    description="From the folder",
)


def make_house(database_url: str, tmp_path: Path, **config: Any) -> SwitchboardStack:
    flows_dir = tmp_path / "flows"
    flows_dir.mkdir(exist_ok=True)
    (flows_dir / "hello.json").write_text(json.dumps(FILE_FLOW), encoding="utf-8")
    stack = SwitchboardStack(database_url=database_url, config={
        "BUNDLED_FLOWS": False, "SWITCHBOARD_FLOWS_DIR": str(flows_dir), **config}).start()
    assert stack.app is not None
    register_studio_api(stack.app)
    return stack


def flow_body(name: str, flow: dict[str, Any], status: str = "published") -> dict[str, str]:
    """The form of a flow's create (or update) without the SDK."""
    return {"FriendlyName": name, "Status": status, "Definition": json.dumps(flow)}


@pytest.fixture
def house(database_url: str, tmp_path: Path) -> Iterator[House]:
    stack = make_house(database_url, tmp_path)
    http = LocalStudio(stack.url)
    studio = Client(stack.emulator.account_sid, stack.emulator.auth_token, http_client=http)
    try:
        yield House(stack, studio, http, tmp_path / "flows")
    finally:
        stack.stop()
    assert http.problems() == []
