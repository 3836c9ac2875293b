"""A campaign for ``switchboard flows run --contacts``: the shortest flow that sends, and a
contacts file for it. The tests of the campaign's parts and its benchmark share them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any


def hello_flow(*idle_events: str) -> dict[str, Any]:
    """The flow started by the REST API's trigger: one Send Message (``Hello`` and the row's
    ``name``), the end. ``idle_events`` give its Trigger transitions that lead nowhere, as
    Studio's editor gives every Trigger (``incomingMessage``, ``incomingCall``)."""
    idle = [{"event": event} for event in idle_events]
    return {
        "description": "Hello",
        "initial_state": "Trigger",
        "flags": {"allow_concurrent_calls": True},
        "states": [
            {"name": "Trigger", "type": "trigger", "properties": {"offset": {"x": 0, "y": 0}},
             "transitions": [*idle, {"event": "incomingRequest", "next": "hello"}]},
            {"name": "hello", "type": "send-message",
             "properties": {"from": "{{flow.channel.address}}",
                            "to": "{{contact.channel.address}}",
                            "body": "Hello {{flow.data.name}}", "offset": {"x": 0, "y": 100}},
             "transitions": [{"event": "sent"}, {"event": "failed"}]},
        ],
    }


#: :func:`hello_flow` with a Trigger that only the REST API's request starts.
HELLO: dict[str, Any] = hello_flow()


def write_contacts(path: Path, numbers: Iterable[str]) -> Path:
    """Write a contacts file to ``path``: the columns ``to`` and ``name``, a row a number,
    named ``P0``, ``P1``, ... in order. Returns ``path``."""
    rows = "".join(f"{number},P{index}\n" for index, number in enumerate(numbers))
    path.write_text("to,name\n" + rows, encoding="utf-8")
    return path
