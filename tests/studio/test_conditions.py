"""Split Based On: every condition type as Studio evaluates it (no case, trimmed values), then
the widget in a flow on SQLite and PostgreSQL: the first match whose conditions all hold,
``noMatch`` otherwise, Liquid in the input, the arguments and the values."""

from __future__ import annotations

import time as clock
import uuid
from collections.abc import Iterator
from datetime import date, time
from typing import Any

import pytest
from flask import Flask

from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.blueprint import studio_blueprint
from switchboard.callbacks.studio.definition import Flow
from switchboard.callbacks.studio.widgets.conditions import (
    CONDITION_TYPES,
    UnknownCondition,
    day,
    matches,
    time_of_day,
)
from tests.conftest import _fresh_postgres_url, _postgres_base_url
from tests.server.conftest import Twilio, clean_app, message_params, twiml

CASES: list[tuple[str, Any, Any, bool]] = [
    ("equal_to", "Yes", "yes", True),
    ("equal_to", "  YES ", "yes", True),
    ("equal_to", "yes please", "yes", False),
    ("equal_to", "", "", True),
    ("not_equal_to", "No", "yes", True),
    ("not_equal_to", "YES", "yes", False),
    ("matches_any_of", "Sales", "support, sales,billing", True),
    ("matches_any_of", "sale", "support,sales", False),
    ("matches_any_of", "", "a,,b", True),
    ("does_not_match_any_of", "other", "support,sales", True),
    ("does_not_match_any_of", "SUPPORT", "support,sales", False),
    ("is_blank", "", None, True),
    ("is_blank", "   ", None, True),
    ("is_blank", None, None, True),
    ("is_blank", "x", None, False),
    ("is_not_blank", "x", None, True),
    ("is_not_blank", " ", None, False),
    ("regex", "order 12345", r"\d{5}", True),
    ("regex", "ORDER", "^order$", True),
    ("regex", "order", r"^\d+$", False),
    ("regex", "anything", "([unclosed", False),
    ("contains", "I want SALES now", "sales", True),
    ("contains", "support", "sales", False),
    ("does_not_contain", "support", "sales", True),
    ("does_not_contain", "presales", "SALES", False),
    ("starts_with", "Stop it", "stop", True),
    ("starts_with", "please stop", "stop", False),
    ("does_not_start_with", "please stop", "stop", True),
    ("does_not_start_with", "STOP", "stop", False),
    ("less_than", "9", "10", True),
    ("less_than", "10", "9", False),
    ("less_than", "-1.5", "0", True),
    ("less_than", "1,000", "2000", True),
    ("greater_than", "1,000,000.5", "999,999", True),
    ("greater_than", "1,5", "10", False),  # not 15: commas only group thousands
    ("greater_than", "12,34", "100", False),
    ("greater_than", "infinity", "100", False),
    ("greater_than", "1_000", "5", False),
    ("greater_than", "1e3", "5", False),
    ("less_than", "5.", "6", True),
    ("less_than", ".5", "1", True),
    ("less_than", "+", "1", False),
    ("less_than", "ten", "20", False),
    ("less_than", "", "20", False),
    ("greater_than", "10", "9", True),
    ("greater_than", "9.99", "10", False),
    ("greater_than", "NaN", "1", False),
    ("is_before_time", "08:59", "09:00", True),
    ("is_before_time", "09:00", "09:00", False),
    ("is_before_time", "2:30 PM", "15:00", True),
    ("is_before_time", "2026-12-07T07:15:00Z", "8:00 am", True),
    ("is_before_time", "Mon, 07 Dec 2026 18:00:00 +0000", "17:30", False),
    ("is_before_time", "", "17:30", False),
    ("is_before_time", "soon", "17:30", False),
    ("is_after_time", "17:31", "17:30", True),
    ("is_after_time", "5 PM", "17:30", False),
    ("is_after_time", "23:00:05", "23:00", True),
    ("is_before_date", "2026-12-24", "2026-12-25", True),
    ("is_before_date", "12/26/2026", "2026-12-25", False),
    ("is_before_date", "2026-12-24T23:59:00+00:00", "2026-12-25", True),
    ("is_after_date", "2027-01-01", "2026-12-31", True),
    ("is_after_date", "Dec 31, 2026", "2026-12-31", False),
    ("is_after_date", "not a date", "2026-12-31", False),
]


@pytest.mark.parametrize(("kind", "subject", "value", "expected"), CASES)
def test_each_condition_type(kind: str, subject: Any, value: Any, expected: bool) -> None:
    assert matches(kind, subject, value) is expected


def test_every_condition_type_of_studio_is_known_and_tested() -> None:
    assert {case[0] for case in CASES} == CONDITION_TYPES == {
        "equal_to", "not_equal_to", "matches_any_of", "does_not_match_any_of", "is_blank",
        "is_not_blank", "regex", "contains", "does_not_contain", "starts_with",
        "does_not_start_with", "less_than", "greater_than", "is_before_time", "is_after_time",
        "is_before_date", "is_after_date",
    }
    with pytest.raises(UnknownCondition, match="is_purple"):
        matches("is_purple", "x", "y")


def test_times_and_dates_are_read_in_the_usual_forms() -> None:
    assert time_of_day("9:05 pm") == time(21, 5)
    assert time_of_day("21:05:30") == time(21, 5, 30)
    assert time_of_day("7AM") == time(7, 0)
    assert day("2026-02-03") == date(2026, 2, 3)
    assert day("02/03/2026") == date(2026, 2, 3)
    assert day("3 Feb 2026") == date(2026, 2, 3)


# -- the widget in a flow ---------------------------------------------------------------------


def match(to: str, *conditions: dict[str, Any]) -> dict[str, Any]:
    return {"next": to, "event": "match", "conditions": list(conditions)}


def condition(kind: str, value: str, argument: str = "{{trigger.message.Body}}"
              ) -> dict[str, Any]:
    return {"friendly_name": f"If value {kind} {value}", "arguments": [argument],
            "type": kind, "value": value}


def reply(name: str, body: str) -> dict[str, Any]:
    return {"name": name, "type": "send-message",
            "transitions": [{"event": "sent"}, {"event": "failed"}],
            "properties": {"from": "{{flow.channel.address}}",
                           "to": "{{contact.channel.address}}", "body": body,
                           "offset": {"x": 0, "y": 300}}}


ROUTER = {
    "description": "Split on the message",
    "states": [
        {"name": "Trigger", "type": "trigger",
         "transitions": [{"next": "setup", "event": "incomingMessage"},
                         {"event": "incomingCall"}, {"event": "incomingRequest"}],
         "properties": {"offset": {"x": 0, "y": 0}}},
        {"name": "setup", "type": "set-variables", "transitions": [{"next": "split",
                                                                    "event": "next"}],
         "properties": {"variables": [{"key": "keyword", "value": "help"}],
                        "offset": {"x": 0, "y": 100}}},
        {"name": "split", "type": "split-based-on",
         "transitions": [
             {"next": "nothing", "event": "noMatch"},
             match("empty", condition("is_blank", "")),
             match("both", condition("starts_with", "order"),
                   condition("regex", r"\d{3}$")),
             match("order", condition("starts_with", "order")),
             match("keyword", condition("equal_to", "{{flow.variables.keyword}}")),
             match("big", condition("greater_than", "100", "{{trigger.message.Body}}")),
             {"event": "match", "conditions": [condition("equal_to", "stop")]},
         ],
         "properties": {"input": "{{trigger.message.Body}}", "offset": {"x": 0, "y": 200}}},
        reply("nothing", "no match"),
        reply("empty", "empty"),
        reply("both", "order with a number"),
        reply("order", "order"),
        reply("keyword", "help is on its way"),
        reply("big", "a big number"),
    ],
    "initial_state": "Trigger",
    "flags": {"allow_concurrent_calls": True},
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[Flask]:
    if request.param == "sqlite":
        urls: Iterator[str] = iter(
            [f"sqlite:///{tmp_path_factory.mktemp('split') / 'switchboard.sqlite3'}"])
    else:
        urls = _fresh_postgres_url(_postgres_base_url())
    url = next(urls)
    application = clean_app(url, BUNDLED_FLOWS=False, STUDIO_FLOWS=False)
    application.register_blueprint(studio_blueprint({"router": Flow("router", ROUTER, "r")}))
    yield application
    application.extensions["switchboard"].store.close()
    for _ in urls:  # the PostgreSQL database is dropped
        pass


@pytest.mark.parametrize(("body", "answer"), [
    ("", "empty"),
    ("Order 123", "order with a number"),
    ("order please", "order"),
    ("HELP", "help is on its way"),
    ("150", "a big number"),
    ("99", "no match"),
    ("stop", None),
])
def test_split_takes_the_first_match_whose_conditions_all_hold(app, body, answer):
    number = "+1555" + str(uuid.uuid4().int)[:7]
    root = twiml(Twilio(app.test_client()).post(
        "/flows/router", message_params(body, From=number)))
    assert ["".join(m.itertext()) for m in root] == ([answer] if answer else [])
    store = app.extensions["switchboard"].store
    (execution,) = [e for e in executions.list_executions(store)
                    if e.contact_channel_address == number]
    split = [s for s in executions.list_steps(store, execution.sid)
             if s["transitioned_from"] == "split"]
    assert split[0]["name"] == ("noMatch" if answer == "no match" else "match")
    assert execution.status == "ended"


def test_a_regex_that_backtracks_for_ever_is_cut_by_the_webhooks_deadline(tmp_path) -> None:
    """A flow's pattern that backtracks exponentially on a caller's text does not hold the
    worker: the handler's deadline interrupts the match, and the caller gets an answer."""
    greedy = {
        **ROUTER,
        "states": [
            ROUTER["states"][0] | {"transitions": [{"next": "split", "event": "incomingMessage"},
                                                   {"event": "incomingCall"},
                                                   {"event": "incomingRequest"}]},
            {"name": "split", "type": "split-based-on",
             "transitions": [{"next": "nothing", "event": "noMatch"},
                             match("both", condition("regex", "(a+)+$"))],
             "properties": {"input": "{{trigger.message.Body}}"}},
            reply("nothing", "no match"),
            reply("both", "matched"),
        ],
    }
    application = clean_app(f"sqlite:///{tmp_path / 'switchboard.sqlite3'}",
                            BUNDLED_FLOWS=False, STUDIO_FLOWS=False,
                            SWITCHBOARD_HANDLER_TIMEOUT="1")
    application.register_blueprint(studio_blueprint({"greedy": Flow("greedy", greedy, "g")}))
    try:
        twilio = Twilio(application.test_client())
        started = clock.monotonic()
        response = twilio.post("/flows/greedy", message_params("a" * 60 + "b"))
        took = clock.monotonic() - started
        assert response.status_code == 200
        twiml(response)  # valid TwiML: the apology, or nothing to send
        assert took < 3, took
        assert ["".join(m.itertext()) for m in twiml(
            twilio.post("/flows/greedy", message_params("aaa", From="+15550009999")))
        ] == ["matched"]
    finally:
        application.extensions["switchboard"].store.close()
