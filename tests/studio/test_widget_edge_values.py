"""Widget properties at the edges of what Studio and Twilio take, run through ``/flows/NAME``
on SQLite and PostgreSQL: Split Based On's time conditions with UTC offsets, a Send & Wait For
Reply ``timeout`` longer than a Studio execution lives, a TwiML Redirect ``timeout`` past
Studio's 4 hours, a Gather ``timeout`` of 0, and a Connect Call To whose ``caller_id`` is
blank."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from switchboard.callbacks.errors import VOICE_APOLOGY
from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.blueprint import studio_blueprint
from switchboard.callbacks.studio.check import check_definition
from switchboard.callbacks.studio.definition import Flow
from switchboard.callbacks.studio.schema import LONGEST_REDIRECT, LONGEST_REPLY_WAIT
from switchboard.callbacks.studio.widgets.conditions import matches
from tests.server.conftest import clean_app, message_params, spoken, twiml
from tests.studio import MINIMAL_WIDGETS, widget_flow
from tests.studio.test_runtime_voice import Call, definition, say, widget


def at(kind: str, value: str) -> dict[str, Any]:
    """A time condition on the time the call was checked at (``CheckedAt``)."""
    return {"friendly_name": f"If value {kind} {value}", "type": kind, "value": value,
            "arguments": ["{{trigger.call.CheckedAt}}"]}


#: Open from 9 to 5 at UTC-7 (Pacific daylight time), each side of it said apart.
HOURS = [
    {"next": "unread", "event": "noMatch"},
    {"next": "early", "event": "match", "conditions": [at("is_before_time", "09:00-07:00")]},
    {"next": "opened", "event": "match",
     "conditions": [at("is_after_time", "08:59-07:00"), at("is_before_time", "5:00 PM -0700")]},
    {"next": "late", "event": "match", "conditions": [at("is_after_time", "16:59 -07:00")]},
]


def ask_definition(timeout: str) -> dict[str, Any]:
    """A conversation that asks and waits ``timeout`` seconds for the reply."""
    trigger = {"name": "Trigger", "type": "trigger",
               "transitions": [{"next": "ask", "event": "incomingMessage"},
                               {"event": "incomingCall"}, {"event": "incomingRequest"}],
               "properties": {"offset": {"x": 0, "y": 0}}}
    return {"description": "Ask", "initial_state": "Trigger",
            "flags": {"allow_concurrent_calls": True},
            "states": [trigger, widget("ask", "send-and-wait-for-reply", {
                "from": "{{flow.channel.address}}", "body": "Still there?", "timeout": timeout,
            }, incomingMessage=None, timeout=None, deliveryFailure=None)]}


DEFINITIONS: dict[str, dict[str, Any]] = {
    "hours": definition(
        {**widget("open", "split-based-on", {"input": "{{trigger.call.CheckedAt}}"}),
         "transitions": HOURS},
        say("early", "We open at nine."),
        say("opened", "We are open."),
        say("late", "We closed at five."),
        say("unread", "What time is it?"),
    ),
    "menu_without_wait": definition(
        widget("menu", "gather-input-on-call", {"say": "Press 1 for sales.", "timeout": 0},
               keypress="pressed", speech=None, timeout="silence"),
        say("pressed", "You pressed {{widgets.menu.Digits}}."),
        say("silence", "We heard nothing."),
    ),
    "menu_with_negative_wait": definition(
        widget("menu", "gather-input-on-call", {"say": "Press 1 for sales.", "timeout": "-3"},
               keypress=None, speech=None, timeout=None),
    ),
    "connect_blank_caller_id": definition(
        widget("dial", "connect-call-to", {"noun": "number", "to": "+15555550101",
                                           "caller_id": ""},
               callCompleted=None, hangup=None),
    ),
    "connect_caller_id_renders_blank": definition(
        widget("dial", "connect-call-to", {"noun": "number", "to": "+15555550101",
                                           "caller_id": "{{flow.variables.line}}"},
               callCompleted=None, hangup=None),
    ),
    "connect_given_caller_id": definition(
        widget("dial", "connect-call-to", {"noun": "number", "to": "+15555550101",
                                           "caller_id": "{{flow.channel.address}}"},
               callCompleted=None, hangup=None),
    ),
    "ask_from_template": ask_definition("{{trigger.message.Body}}"),
    "redirect_from_template": definition(
        widget("away", "add-twiml-redirect", {"url": "https://example.com/twiml",
                                              "timeout": "{{trigger.call.Wait}}"},
               **{"return": None, "timeout": None, "fail": None}),
    ),
}
FLOWS = {name: Flow(name, body, f"{name}.json") for name, body in DEFINITIONS.items()}


@pytest.fixture(scope="module")
def app(module_database_url: str) -> Iterator[Flask]:
    application = clean_app(module_database_url, BUNDLED_FLOWS=False, STUDIO_FLOWS=False)
    application.register_blueprint(studio_blueprint(FLOWS))
    yield application
    application.extensions["switchboard"].store.close()


def execution_of(store: Any, call: Call) -> executions.Execution:
    (found,) = [e for e in executions.list_executions(store) if e.call_sid == call.sid]
    return found


# -- Split Based On: time conditions with UTC offsets ------------------------------------------


@pytest.mark.parametrize(("checked_at", "heard"), [
    ("2026-07-01T16:30:00Z", "We are open."),       # 09:30 at UTC-7
    ("2026-07-01T15:30:00Z", "We open at nine."),   # 08:30 at UTC-7
    ("2026-07-01T23:59:00+00:00", "We are open."),  # 16:59:00 at UTC-7
    ("2026-07-02T00:30:00Z", "We closed at five."),  # 17:30 at UTC-7
    ("Wed, 01 Jul 2026 19:00:00 +0200", "We are open."),  # 10:00 at UTC-7
    ("10:15-07:00", "We are open."),
    ("6:15 PM -04:00", "We are open."),             # 15:15 at UTC-7
    ("1:30 AM GMT", "We closed at five."),          # 18:30 at UTC-7, the day before
    ("14:30", "We are open."),                      # no offset: on the value's clock
    ("6:00", "We open at nine."),
    ("14:30 America/Los_Angeles", "What time is it?"),  # a zone by name is not read
])
def test_business_hours_at_utc_minus_7_against_times_with_offsets(twilio, checked_at, heard):
    assert check_definition(DEFINITIONS["hours"], "flows/hours.json") == []
    root = Call(twilio, "hours").start(CheckedAt=checked_at)
    assert spoken(root) == heard


@pytest.mark.parametrize(("kind", "subject", "value", "expected"), [
    ("is_before_time", "2026-07-01T18:00:00+02:00", "2026-07-01T17:30:00+00:00", True),
    ("is_after_time", "2026-07-01T18:00:00+02:00", "2026-07-01T17:30:00+00:00", False),
    ("is_after_time", "14:30Z", "9:00 AM -0500", True),
    ("is_before_time", "14:30 UTC", "09:00-05", False),
    ("is_before_time", "23:30-08:00", "08:00Z", True),   # 07:30 UTC, the next day
    ("is_after_time", "2026-07-01T10:00:00+02:00", "09:00", True),  # one side: as written
    ("is_before_time", "9:00", "10:00+05:30", True),
])
def test_time_conditions_compare_both_sides_on_one_clock(kind, subject, value, expected):
    assert matches(kind, subject, value) is expected


# -- Send & Wait For Reply: a timeout longer than an execution lives ----------------------------


@pytest.mark.parametrize("timeout", [LONGEST_REPLY_WAIT + 1, "3000000", 2592000.5, "1e7"])
def test_a_reply_wait_longer_than_30_days_is_refused_when_the_flow_loads(timeout) -> None:
    problems = check_definition(_ask_flow(timeout), "flows/ask.json")
    shown = repr(timeout) if isinstance(timeout, str) else str(timeout)
    assert [str(problem) for problem in problems] == [
        f"flows/ask.json: state 'w': property 'timeout': {shown} seconds is longer than "
        "Studio waits for a reply: an execution lives 30 days at most; use 2592000 or less"]
    for loads in (LONGEST_REPLY_WAIT, str(LONGEST_REPLY_WAIT), "3600", 1, "{{flow.data.wait}}"):
        assert check_definition(_ask_flow(loads), "flows/ask.json") == [], loads


def _ask_flow(timeout: object) -> dict[str, Any]:
    properties = {**MINIMAL_WIDGETS["send-and-wait-for-reply"], "timeout": timeout}
    return widget_flow("send-and-wait-for-reply", properties)


def test_a_reply_wait_that_renders_longer_than_30_days_ends_the_execution(twilio, store,
                                                                          caplog):
    number = "+1555" + str(uuid.uuid4().int)[:7]
    caplog.set_level(logging.ERROR, logger="switchboard.callbacks.studio")
    root = twiml(twilio.post("/flows/ask_from_template",
                             message_params(str(LONGEST_REPLY_WAIT + 1), From=number)))
    assert root.findall("Message") == []
    assert "timeout is 2592001 seconds; Studio waits 2592000" in caplog.text
    (execution,) = [e for e in executions.list_executions(store)
                    if e.contact_channel_address == number]
    assert (execution.status, execution.wait_until) == ("ended", None)

    waiting = "+1555" + str(uuid.uuid4().int)[:7]
    root = twiml(twilio.post("/flows/ask_from_template",
                             message_params(str(LONGEST_REPLY_WAIT), From=waiting)))
    assert ["".join(m.itertext()) for m in root.findall("Message")] == ["Still there?"]
    (execution,) = [e for e in executions.list_executions(store)
                    if e.contact_channel_address == waiting]
    assert (execution.status, execution.waiting_for) == ("active", "reply")


# -- Gather Input On Call: a timeout of 0 -------------------------------------------------------


def test_a_gather_timeout_of_0_gathers_with_twilios_default_wait(twilio, store, caplog):
    caplog.set_level(logging.WARNING, logger="switchboard.callbacks.studio")
    call = Call(twilio, "menu_without_wait")
    root = call.start()
    gather = root.find("Gather")
    assert gather is not None
    assert gather.get("timeout") == "5"
    assert spoken(root) == "Press 1 for sales."
    assert VOICE_APOLOGY not in spoken(root)
    assert "timeout 0 is not a number of seconds <Gather> takes" in caplog.text
    assert execution_of(store, call).status == "active"
    assert spoken(call.step("menu", "gather", Digits="1")) == "You pressed 1."

    quiet = Call(twilio, "menu_without_wait")
    quiet.start()
    assert spoken(quiet.step("menu", "timeout")) == "We heard nothing."


def test_a_negative_gather_timeout_also_waits_the_default(twilio):
    gather = Call(twilio, "menu_with_negative_wait").start().find("Gather")
    assert gather.get("timeout") == "5"


# -- TwiML Redirect: at most 4 hours to come back ----------------------------------------------


def test_a_redirect_wait_that_renders_past_4_hours_ends_the_execution(twilio, store, caplog):
    caplog.set_level(logging.ERROR, logger="switchboard.callbacks.studio")
    call = Call(twilio, "redirect_from_template")
    root = call.start(Wait=str(LONGEST_REDIRECT + 1))
    assert root.find("Redirect") is None
    assert spoken(root) == VOICE_APOLOGY
    assert "timeout is 14401; it must be 14400 or less" in caplog.text
    assert execution_of(store, call).status == "ended"

    waits = Call(twilio, "redirect_from_template")
    assert waits.start(Wait=str(LONGEST_REDIRECT)).find("Redirect").text == (
        "https://example.com/twiml")
    assert execution_of(store, waits).status == "active"


# -- Connect Call To: a blank caller ID ---------------------------------------------------------


@pytest.mark.parametrize("flow", ["connect_blank_caller_id", "connect_caller_id_renders_blank"])
def test_a_blank_caller_id_is_studios_default_the_contacts_number(twilio, flow):
    call = Call(twilio, flow)
    dial = call.start().find("Dial")
    assert dial.get("callerId") == call.params["From"]
    assert [number.text for number in dial.findall("Number")] == ["+15555550101"]

    given = Call(twilio, "connect_given_caller_id")
    assert given.start().find("Dial").get("callerId") == given.params["To"]
