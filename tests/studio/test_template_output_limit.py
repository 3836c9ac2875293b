"""What one Liquid template writes is bounded at 262,144 characters (``OUTPUT_LIMIT``), counted
in characters whatever the text holds (a lone UTF-16 surrogate too): loops nested three deep
over a caller's text end the widget in one line, in a Say, a message, Set Variables and an
HTTP body, through ``/flows/NAME`` on SQLite and PostgreSQL, and nothing of it reaches the
execution's context or the web service."""

from __future__ import annotations

import json
import logging
import tracemalloc
import uuid
from collections.abc import Iterator
from typing import Any

import flask
import pytest
from flask import Flask

from switchboard.callbacks.errors import VOICE_APOLOGY
from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.templates import (
    OUTPUT_LIMIT,
    TemplateError,
    evaluate,
    render,
    render_markup,
)
from tests.server.conftest import (
    Twilio,
    call_params,
    message_params,
    spoken,
    twiml,
)
from tests.studio import app_with_service

PROBLEM = f"the template writes more than {OUTPUT_LIMIT} characters"


def nested(inner: str, *, depth: int = 3) -> str:
    """``inner`` in ``depth`` loops of 15 turns, one inside the other."""
    names = "abcdefgh"[:depth]
    return ("".join(f"{{% for {name} in (1..15) %}}" for name in names) + inner
            + "{% endfor %}" * depth)


#: 3,375 turns of the text a caller sent: megabytes from a message of a few hundred bytes.
FROM_A_CALLER = nested("{{ trigger.message.Body }}")


def _context(text: str) -> dict[str, Any]:
    return {"trigger": {"message": {"Body": text}}, "x": text}


@pytest.mark.parametrize("rendering", [render, render_markup, evaluate])
def test_loops_nested_over_a_callers_text_are_one_template_error(rendering: Any) -> None:
    with pytest.raises(TemplateError) as raised:
        rendering(FROM_A_CALLER, _context("x" * 100))
    assert raised.value.problem == PROBLEM
    assert not raised.value.syntax
    assert str(raised.value) == f"Liquid error at line 1, column 4: {PROBLEM}"
    assert len(rendering(FROM_A_CALLER, _context("x" * 77))) == 3375 * 77


@pytest.mark.parametrize("rendering", [render, render_markup])
def test_the_limit_counts_characters_whatever_their_utf_8_bytes(rendering: Any) -> None:
    eight = "{% for i in (1..8) %}{{ x }}{% endfor %}"
    for char in ("a", "é", "😀", "\ud800"):  # 1, 2 and 4 UTF-8 bytes, and none at all
        written = rendering(eight, {"x": char * (OUTPUT_LIMIT // 8)})
        assert len(written) == OUTPUT_LIMIT
        with pytest.raises(TemplateError, match=PROBLEM):
            rendering(eight + char, {"x": char * (OUTPUT_LIMIT // 8)})


def test_a_template_without_a_loop_is_bounded_too() -> None:
    half = "y" * (OUTPUT_LIMIT // 2)
    assert len(render("{{ x }}{{ x }}", {"x": half})) == OUTPUT_LIMIT
    assert len(evaluate("{{ x | append: x }}", {"x": half})) == OUTPUT_LIMIT
    for template in ("{{ x }}{{ x }}!", "{% if x %}{{ x }}{{ x }}!{% endif %}",
                     "{{ x | append: x | append: '!' }}"):
        for rendering in (render, render_markup, evaluate):
            with pytest.raises(TemplateError) as raised:
                rendering(template, {"x": half})
            assert str(raised.value).startswith("Liquid error")
            assert str(raised.value).endswith(PROBLEM)


@pytest.mark.parametrize("template", [
    "{% capture c %}" + FROM_A_CALLER + "{% endcapture %}{{ c | size }}",
    "{% for i in (1..2) %}{% ifchanged %}" + FROM_A_CALLER + "{% endifchanged %}{% endfor %}",
    "{% liquid\nfor a in (1..15)\nfor b in (1..15)\nfor c in (1..15)\n"
    "echo trigger.message.Body\nendfor\nendfor\nendfor %}",
    "{% tablerow a in (1..15) %}{% tablerow b in (1..15) %}{% tablerow c in (1..15) %}"
    "{{ x }}{% endtablerow %}{% endtablerow %}{% endtablerow %}",
])
def test_captures_and_every_loop_are_stopped_as_they_write(template: str) -> None:
    with pytest.raises(TemplateError) as raised:
        render(template, _context("x" * 100))
    assert raised.value.problem == PROBLEM


# -- through /flows/NAME ---------------------------------------------------------------------------

SERVICE = flask.Flask("output_limit_service")
RECEIVED: list[int] = []


@SERVICE.route("/hook", methods=["POST"])
def hook() -> Any:
    RECEIVED.append(len(flask.request.get_data()))
    return {"ok": True}


def _trigger(first: str, event: str) -> dict[str, Any]:
    return {"name": "Trigger", "type": "trigger", "properties": {"offset": {"x": 0, "y": 0}},
            "transitions": [{"event": name, **({"next": first} if name == event else {})}
                            for name in ("incomingMessage", "incomingCall", "incomingRequest")]}


def _flow(kind: str, properties: dict[str, Any], events: tuple[str, ...],
          event: str = "incomingMessage") -> dict[str, Any]:
    return {"description": "Output limit", "initial_state": "Trigger",
            "flags": {"allow_concurrent_calls": True},
            "states": [_trigger("w", event),
                       {"name": "w", "type": kind, "transitions": [{"event": e} for e in events],
                        "properties": {**properties, "offset": {"x": 0, "y": 0}}}]}


DEFINITIONS = {
    "message": _flow("send-message", {"from": "{{flow.channel.address}}",
                                      "to": "{{contact.channel.address}}",
                                      "body": FROM_A_CALLER}, ("sent", "failed")),
    "variables": _flow("set-variables", {"variables": [
        {"key": "echo", "value": FROM_A_CALLER}]}, ("next",)),
    "http": _flow("make-http-request", {"method": "POST", "url": "http://SERVICE/hook",
                                        "content_type": "text/plain", "body": FROM_A_CALLER},
                  ("success", "failed")),
    "say": _flow("say-play", {"say": nested("{{ trigger.call.From }}" + "x" * 70)},
                 ("audioComplete",), event="incomingCall"),
}


@pytest.fixture(scope="module")
def app(module_database_url: str) -> Iterator[Flask]:
    with app_with_service(module_database_url, SERVICE, DEFINITIONS) as application:
        yield application


def _ended(twilio: Twilio, contact: str, kind: str, caplog: pytest.LogCaptureFixture
           ) -> executions.Execution:
    """The contact's one execution, ended, with the widget's one-line error logged."""
    store = twilio.client.application.extensions["switchboard"].store
    (execution,) = [e for e in executions.list_executions(store)
                    if e.contact_channel_address == contact]
    assert execution.status == "ended"
    assert len(json.dumps(execution.context)) < 10_000
    lines = [record.getMessage() for record in caplog.records
             if record.levelno == logging.ERROR and execution.sid in record.getMessage()]
    assert any(line.endswith(f"ends: widget w ({kind}): Liquid error at line 1, column 4: "
                             f"{PROBLEM}") for line in lines), lines
    assert not [record for record in caplog.records if record.exc_info]
    return execution


@pytest.mark.parametrize("flow", ["message", "variables", "http"])
def test_a_widget_writing_megabytes_from_a_message_ends_in_one_line(
        twilio: Twilio, caplog: pytest.LogCaptureFixture, flow: str) -> None:
    contact = "+1555" + str(uuid.uuid4().int)[:7]
    RECEIVED.clear()
    with caplog.at_level(logging.INFO):
        root = twiml(twilio.post(f"/flows/{flow}",
                                 message_params("x" * 100, From=contact)))
    assert list(root) == []
    execution = _ended(twilio, contact, DEFINITIONS[flow]["states"][1]["type"], caplog)
    assert execution.context["flow"]["variables"] == {}
    assert not execution.context["widgets"].get("w")
    assert RECEIVED == []


def test_a_say_writing_megabytes_ends_the_call_with_the_apology(
        twilio: Twilio, caplog: pytest.LogCaptureFixture) -> None:
    contact = "+1555" + str(uuid.uuid4().int)[:7]
    with caplog.at_level(logging.INFO):
        answer = twilio.post("/flows/say", call_params(From=contact))
    assert spoken(twiml(answer)) == VOICE_APOLOGY
    _ended(twilio, contact, "say-play", caplog)


def test_a_chain_of_appends_stops_at_the_first_link_past_the_limit() -> None:
    """Each ``append`` (or ``prepend``) adds what it is given: a chain of them in one output
    is refused at the link that passes the limit, not once the whole text is made."""
    half = "z" * (OUTPUT_LIMIT // 2)
    for link in ("append", "prepend"):
        template = "{{ x" + f" | {link}: x" * 40 + " }}"
        tracemalloc.start()
        try:
            with pytest.raises(TemplateError, match=PROBLEM):
                render(template, {"x": half})
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 4 * 1024 * 1024, peak


def test_a_template_of_many_outputs_is_stopped_as_it_writes() -> None:
    """A template without a loop but with many outputs (more than FEW_OUTPUTS) is counted
    as it writes, as a loop is: refused once past the limit, not once it is all written."""
    many = "{{ x | upcase }}" * 400  # a new text at each output, as a template's filters make
    tracemalloc.start()
    try:
        with pytest.raises(TemplateError, match=PROBLEM):
            render(many, {"x": "w" * (OUTPUT_LIMIT // 8)})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024, peak
    assert len(render("{{ x }}" * 400, {"x": "w"})) == 400
