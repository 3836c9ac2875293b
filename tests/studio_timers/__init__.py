"""The Studio timers (``callbacks/studio/timers.py``) and ``switchboard flows run``
(``callbacks/studio/campaigns.py``, ``switchboard/cli/flows.py``): what the tests share.

A flow that asks and waits (``ask``: Send & Wait For Reply, then ``Too late.`` through the
REST API on its timeout), waiting executions made straight in the database, and a REST client
standing in for Twilio's that records what it is asked to send.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.context import flow_sid, new_context
from switchboard.callbacks.studio.definition import Flow
from switchboard.callbacks.studio.executions import Database, Execution, Step
from tests.studio import widget

NUMBER = "+15005550006"
LATE = "Too late."
PARTIES = {"from": "{{flow.channel.address}}", "to": "{{contact.channel.address}}"}


def ask_definition(seconds: int = 60) -> dict[str, Any]:
    """Ask (a question that waits ``seconds`` for the reply), then ``Too late.`` on the
    timeout; started by a message or by the REST API (``flows run``)."""
    trigger = widget("Trigger", "trigger", {}, incomingMessage="question",
                     incomingRequest="question")
    question = widget("question", "send-and-wait-for-reply", {
        "from": "{{flow.channel.address}}", "body": "Hello {{flow.data.name}}, reply YES.",
        "timeout": str(seconds)}, incomingMessage="thanks", timeout="late")
    thanks = widget("thanks", "send-message", {**PARTIES, "body": "Thanks."}, sent=None,
                    failed=None)
    late = widget("late", "send-message", {**PARTIES, "body": LATE}, sent=None, failed=None)
    return {"description": "Ask and wait", "states": [trigger, question, thanks, late],
            "initial_state": "Trigger", "flags": {"allow_concurrent_calls": True}}


def ask_flow(seconds: int = 60, name: str = "ask") -> Flow:
    return Flow(name, ask_definition(seconds), f"{name}.json")


def contact() -> str:
    return "+1555" + str(uuid.uuid4().int)[:7]


def waiting(db: Database, flow: Flow, to: str, due: datetime) -> Execution:
    """An execution of ``flow`` for ``to`` waiting at ``question`` for a reply until ``due``,
    as the flow leaves it (made straight in the database)."""
    sid = executions.new_sid("FN")
    execution = Execution(
        sid=sid, flow_sid=flow_sid(flow), flow_name=flow.name, contact_channel_address=to,
        channel_address=NUMBER, channel="messaging", active_key="messaging",
    )
    execution.context = new_context(flow, execution_sid=sid, trigger={"request": {}},
                                    contact=to, channel_address=NUMBER)
    executions.create(db, execution, claim_for=60)
    execution.widget, execution.waiting_for, execution.wait_until = "question", "reply", due
    execution.step_count = 1
    executions.save(db, execution, [Step("incomingRequest", "Trigger", "question",
                                         flow_sid(flow), "trigger")])
    return execution


def timeout_steps(store: Any, sid: str) -> int:
    return sum(1 for step in executions.list_steps(store, sid)
               if step["transitioned_from"] == "question" and step["name"] == "timeout")


class FakeTwilio:
    """A REST client's ``messages`` (``create``, ``list``) recording what is sent; one object
    is the factory, the client and its messages. ``after_send`` runs once a message is
    recorded (to stop the sender there)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.after_send: Callable[[dict[str, Any]], None] | None = None
        self.timeout: Any = None

    @property
    def messages(self) -> FakeTwilio:
        return self

    def factory(self, settings: Any) -> FakeTwilio:
        return self

    def __enter__(self) -> FakeTwilio:
        return self

    def __exit__(self, *details: object) -> None:
        return None

    def create(self, to: str, **fields: Any) -> dict[str, Any]:
        message = {"sid": "SM" + uuid.uuid4().hex, "to": to, "from": fields.get("from_"),
                   "body": fields.get("body"), "status": "queued",
                   "date_created": format_datetime(datetime.now(UTC))}
        with self.lock:
            self.sent.append(message)
        if self.after_send is not None:
            self.after_send(message)
        return message

    def list(self, *, to: str | None = None, from_: str | None = None, limit: int = 50,
             **_filters: Any) -> list[dict[str, Any]]:
        with self.lock:
            found = [m for m in reversed(self.sent)
                     if (to is None or m["to"] == to) and (from_ is None or m["from"] == from_)]
        return found[:limit]

    def to(self, number: str) -> list[str]:
        return [m["body"] for m in self.sent if m["to"] == number]


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)
