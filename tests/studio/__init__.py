"""Studio flows: definitions, checks, templates and the ``switchboard flows`` commands.

The samples the tests share live here: flow definitions in Studio's exported shape, built from
the facts of Twilio's Studio docs (the flow definition page's simple flow, each widget's
properties and events in the widget library).
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "flows" / "examples"


def transition(event: str, next_state: str | None = None, **extra: Any) -> dict[str, Any]:
    """A transition as Studio exports it: ``next`` first, and left out when it ends there."""
    return {**({"next": next_state} if next_state else {}), "event": event, **extra}


def condition(kind: str, value: str, argument: str = "{{widgets.menu.Digits}}"
              ) -> dict[str, Any]:
    return {"friendly_name": f"If value {kind} {value}", "arguments": [argument],
            "type": kind, "value": value}


def state(name: str, kind: str, properties: dict[str, Any] | None = None,
          transitions: list[dict[str, Any]] | None = None, *, x: int = 0, y: int = 0
          ) -> dict[str, Any]:
    return {"name": name, "type": kind, "transitions": transitions or [],
            "properties": {**(properties or {}), "offset": {"x": x, "y": y}}}


def widget(name: str, kind: str, properties: dict[str, Any], /, **transitions: str | None
           ) -> dict[str, Any]:
    """A state below the trigger with a transition for each keyword, named for its event and
    going to the state it names (None: the flow ends there)."""
    return state(name, kind, properties,
                 [transition(event, to) for event, to in transitions.items()], y=100)


def flow(*states: dict[str, Any], first: str | None = None, event: str = "incomingCall"
         ) -> dict[str, Any]:
    """A definition whose trigger goes on ``event`` to ``first`` (default: the first of
    ``states``), with ``states`` after it."""
    target = first or (states[0]["name"] if states else None)
    trigger = state("Trigger", "trigger", {}, [transition(event, target),
                                               transition("incomingRequest")])
    return {"description": "A test flow", "states": [trigger, *copy.deepcopy(states)],
            "initial_state": "Trigger", "flags": {"allow_concurrent_calls": True}}


MINIMAL_WIDGETS: dict[str, dict[str, Any]] = {
    "make-outgoing-call-v2": {"from": "{{flow.channel.address}}",
                              "to": "{{contact.channel.address}}", "timeout": 60,
                              "machine_detection": "Enable", "trim": "true"},
    "say-play": {"say": "Hello world!", "loop": 1},
    "gather-input-on-call": {"say": "Press 1 for sales.", "number_of_digits": 1,
                             "timeout": 5, "speech_timeout": "auto", "finish_on_key": "#",
                             "stop_gather": True, "loop": 1},
    "split-based-on": {"input": "{{widgets.menu.Digits}}"},
    "set-variables": {"variables": [{"key": "count", "value": "1"}]},
    "send-message": {"from": "{{flow.channel.address}}", "to": "{{contact.channel.address}}",
                     "body": "Hello world!"},
    "send-and-wait-for-reply": {"from": "{{flow.channel.address}}", "body": "Reply YES or NO",
                                "timeout": "3600"},
    "record-voicemail": {"timeout": 5, "finish_on_key": "#", "max_length": 3600,
                         "play_beep": "true", "trim": "trim-silence", "transcribe": True},
    "connect-call-to": {"noun": "number", "to": "+15555550100",
                        "caller_id": "{{contact.channel.address}}", "timeout": 30,
                        "record": False},
    "make-http-request": {"method": "POST", "url": "http://127.0.0.1:9/hook",
                          "content_type": "application/json;charset=utf-8",
                          "body": "{\"from\": \"{{contact.channel.address}}\"}"},
    "run-function": {"url": "http://127.0.0.1:9/lookup",
                     "parameters": [{"key": "from", "value": "{{contact.channel.address}}"}]},
    "run-subflow": {"flow_sid": "FW" + "0" * 32, "flow_revision": "LatestPublished",
                    "parameters": [{"key": "name", "value": "{{flow.data.name}}"}]},
    "add-twiml-redirect": {"url": "https://example.com/twiml", "method": "POST",
                           "timeout": "14400"},
    "record-call": {"record_call": True, "recording_status_callback_method": "POST"},
    "enqueue-call": {"queue_name": "support", "priority": 0, "timeout": 600},
}
"""For each widget Switchboard runs, properties it can run with (as Studio exports them; the
URLs a run fetches are a closed port of the loopback, so that no test reaches further)."""

UNSUPPORTED_SAMPLES: dict[str, dict[str, Any]] = {
    "send-to-flex": {"workflow": "WW" + "0" * 32, "channel": "TC" + "0" * 32,
                     "attributes": "{\"name\": \"{{trigger.call.From}}\"}", "priority": "0",
                     "timeout": "3600"},
    "send-to-auto-pilot": {"autopilot_assistant_sid": "UA" + "0" * 32,
                           "body": "{{trigger.message.Body}}", "timeout": 14400},
    "capture-payments": {"payment_connector": "Default", "payment_amount": "10.00",
                         "currency": "usd", "security_code": True},
    "fork-stream": {"stream_action": "start", "stream_url": "wss://example.com/audio",
                    "stream_name": "audio"},
    "connect-virtual-agent": {"connector": "dialogflow", "language": "en-US"},
    "connect-virtual-agent-v2": {"channel": "voice", "connector_name": "dialogflow-cx"},
    "make-outgoing-call-v1": {"from": "{{flow.channel.address}}",
                              "to": "{{contact.channel.address}}"},
}
"""A widget of each type Switchboard knows but cannot run on its own."""


def widget_flow(kind: str, properties: dict[str, Any], events: tuple[str, ...] = ()
                ) -> dict[str, Any]:
    """A flow whose trigger goes to one widget ``w`` of type ``kind``, ending on ``events``
    (a ``match`` with its condition)."""
    return flow(state("w", kind, properties, [
        transition(event, conditions=[condition("equal_to", "1")]) if event == "match"
        else transition(event) for event in events]))


DOC_SIMPLE_FLOW: dict[str, Any] = {
    "states": [
        {"transitions": [transition("incomingMessage", "send_message_1"),
                         transition("incomingCall", "say_play_1"),
                         transition("incomingRequest", "call_user_1")],
         "type": "trigger", "name": "Trigger", "properties": {"offset": {"y": 0, "x": 0}}},
        {"transitions": [transition("audioComplete")], "type": "say-play",
         "name": "say_play_1",
         "properties": {"say": "Hello world!", "loop": 1, "offset": {"y": 210, "x": 130}}},
        {"transitions": [transition("sent"), transition("failed")], "type": "send-message",
         "name": "send_message_1",
         "properties": {"body": "Hello world!", "from": "{{flow.channel.address}}",
                        "service": "{{trigger.message.InstanceSid}}",
                        "to": "{{contact.channel.address}}",
                        "channel": "{{trigger.message.ChannelSid}}",
                        "offset": {"y": 210, "x": -240}}},
        {"transitions": [transition("answered", "say_play_1"), transition("busy"),
                         transition("noAnswer"), transition("failed")],
         "type": "make-outgoing-call-v2", "name": "call_user_1",
         "properties": {"trim": "true", "machine_detection_silence_timeout": "5000",
                        "from": "{{flow.channel.address}}", "recording_status_callback": "",
                        "record": False, "machine_detection_speech_threshold": "2400",
                        "to": "{{contact.channel.address}}",
                        "detect_answering_machine": False, "sip_auth_username": "",
                        "machine_detection": "Enable", "send_digits": "",
                        "machine_detection_timeout": "30", "timeout": 60,
                        "offset": {"y": 210, "x": 490},
                        "machine_detection_speech_end_threshold": "1200",
                        "sip_auth_password": "", "recording_channels": "mono"}},
    ],
    "initial_state": "Trigger",
    "flags": {"allow_concurrent_calls": True},
    "description": "A New Flow",
}
"""The simple flow of Twilio's flow definition page: a message, a call or a REST API request,
each answered by its own widget."""


def write(folder: Path, name: str, definition: object) -> Path:
    """``definition`` as ``folder/name`` (JSON unless it is already text)."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    text = definition if isinstance(definition, str) else json.dumps(definition, indent=2)
    path.write_text(text, encoding="utf-8")
    return path


@contextlib.contextmanager
def app_with_service(database_url: str, service: Flask,
                     definitions: Mapping[str, Any]) -> Iterator[Flask]:
    """An app running ``definitions`` (by name) on ``database_url``, with ``service`` served
    on 127.0.0.1 for their HTTP widgets: ``http://SERVICE`` in them is its address."""
    from switchboard.callbacks.studio.blueprint import studio_blueprint
    from switchboard.callbacks.studio.definition import Flow
    from tests.conftest import serving
    from tests.server.conftest import clean_app

    with serving(service) as url:
        text = json.dumps(definitions).replace("http://SERVICE", url)
        flows = {name: Flow(name, body, f"{name}.json")
                 for name, body in json.loads(text).items()}
        application = clean_app(database_url, BUNDLED_FLOWS=False, STUDIO_FLOWS=False)
        application.register_blueprint(studio_blueprint(flows))
        try:
            yield application
        finally:
            application.extensions["switchboard"].store.close()
