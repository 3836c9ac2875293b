"""A NUL character (``\\u0000``) in a flow's texts. In the text a template writes as it is, of
a widget whose properties end in TwiML or in a message or a call (Say/Play, Gather, Send
Message, Connect Call To, ...), ``switchboard flows check`` refuses it in one line naming the
file, the state and the property; inside Liquid (a filter's argument), in a comment, or in a
widget that can carry it (an HTTP request, Set Variables, a condition) it is left alone, and
it runs. At run time, through ``/flows/NAME`` on SQLite and PostgreSQL: a caller's text holding
NUL reads as U+FFFD, said and sent back as such; a NUL from a web service's answer rendered
into a Say ends with the apology, into a reply with no message, each in one log line."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask
import pytest
from flask import Flask

from switchboard.callbacks.errors import VOICE_APOLOGY
from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.check import NUL_REFUSING_WIDGETS
from switchboard.callbacks.studio.loader import check_files
from tests.server.conftest import Twilio, call_params, message_params, spoken, twiml
from tests.studio import (
    MINIMAL_WIDGETS,
    app_with_service,
    flow,
    state,
    transition,
    widget_flow,
    write,
)

NUL_PROBLEM = ("holds a NUL character (\\u0000), which no TwiML, message or call can carry; "
               "remove it")


def checked(tmp_path: Path, definition: dict[str, Any]) -> list[str]:
    """The lines ``switchboard flows check`` prints for ``definition``, written as JSON (a NUL
    as its ``\\u0000`` escape)."""
    path = write(tmp_path, "flow.json", definition)
    assert "\\u0000" in path.read_text("ascii")
    return [str(problem) for problem in check_files([path]).problems]


def nul_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if "NUL" in line]


# -- the check -------------------------------------------------------------------------------------

TEXTS = [(kind, name) for kind in sorted(NUL_REFUSING_WIDGETS)
         for name, value in MINIMAL_WIDGETS.get(kind, {}).items()
         if isinstance(value, str) and name not in ("method", "noun")]


@pytest.mark.parametrize(("kind", "name"), TEXTS)
def test_a_nul_written_into_twiml_or_a_message_is_one_line(tmp_path: Path, kind: str,
                                                           name: str) -> None:
    properties = {**MINIMAL_WIDGETS[kind], name: MINIMAL_WIDGETS[kind][name] + "\x00!"}
    lines = checked(tmp_path, widget_flow(kind, properties))
    assert nul_lines(lines) == [
        f"{tmp_path / 'flow.json'}: state 'w': property '{name}': {NUL_PROBLEM}"]


@pytest.mark.parametrize("say", [
    "Hello\x00", "{% if flow.variables.x %}Hi{% else %}\x00{% endif %}",
    "{% for i in (1..2) %}\x00{% endfor %}", "{% raw %}\x00{% endraw %}",
])
def test_a_nul_in_any_branch_of_a_say_is_refused(tmp_path: Path, say: str) -> None:
    lines = checked(tmp_path, widget_flow("say-play", {"say": say}))
    assert nul_lines(lines) == [f"{tmp_path / 'flow.json'}: state 'w': property 'say': "
                                f"{NUL_PROBLEM}"]


@pytest.mark.parametrize("say", [
    "{{ widgets.http.body | remove: '\x00' }}", "{% comment %}\x00{% endcomment %}Hi",
    "{% # a note \x00 %}Hi", "{% assign nul = '\x00' %}{{ x | remove: nul }}",
])
def test_a_nul_liquid_does_not_write_is_left_alone(tmp_path: Path, say: str) -> None:
    assert checked(tmp_path, widget_flow("say-play", {"say": say})) == []


@pytest.mark.parametrize(("kind", "properties", "events"), [
    ("make-http-request", {"method": "POST", "url": "http://127.0.0.1:9/\x00",
                           "content_type": "text/plain", "body": "a\x00b"}, ()),
    ("make-http-request", {"method": "POST", "url": "http://127.0.0.1:9/",
                           "content_type": "application/x-www-form-urlencoded",
                           "parameters": [{"key": "k\x00", "value": "a\x00b"}]}, ()),
    ("run-function", {"url": "http://127.0.0.1:9/\x00",
                      "parameters": [{"key": "k", "value": "\x00"}]}, ()),
    ("set-variables", {"variables": [{"key": "k", "value": "a\x00b"}]}, ()),
    ("split-based-on", {"input": "a\x00b"}, ("noMatch", "match")),
])
def test_a_nul_a_widget_can_carry_is_left_alone(tmp_path: Path, kind: str,
                                                properties: dict[str, Any],
                                                events: tuple[str, ...]) -> None:
    definition = widget_flow(kind, properties, events)
    if kind == "split-based-on":
        definition["states"][1]["transitions"][1]["conditions"][0]["value"] = "a\x00b"
    assert nul_lines(checked(tmp_path, definition)) == []


def test_each_nul_is_its_own_line_in_its_own_state(tmp_path: Path) -> None:
    definition = flow(
        state("hello", "say-play", {"say": "Hi\x00", "voice": "Polly.Joanna\x00"},
              [transition("audioComplete", "bye")]),
        state("bye", "say-play", {"say": "Bye\x00"}, [transition("audioComplete")]))
    path = tmp_path / "flow.json"
    assert nul_lines(checked(tmp_path, definition)) == [
        f"{path}: state 'hello': property 'say': {NUL_PROBLEM}",
        f"{path}: state 'hello': property 'voice': {NUL_PROBLEM}",
        f"{path}: state 'bye': property 'say': {NUL_PROBLEM}"]


# -- at run time ---------------------------------------------------------------------------------

SERVICE = flask.Flask("nul_service")
RECEIVED: list[bytes] = []


@SERVICE.route("/nul", methods=["GET", "POST"])
def answer_with_a_nul() -> Any:
    RECEIVED.append(flask.request.get_data())
    return {"text": "a\u0000b"}


def _trigger(first: str, event: str) -> dict[str, Any]:
    return state("Trigger", "trigger", {}, [
        transition(name, first if name == event else None)
        for name in ("incomingMessage", "incomingCall", "incomingRequest")])


def _definition(event: str, *states: dict[str, Any]) -> dict[str, Any]:
    return {"description": "NUL", "initial_state": "Trigger",
            "flags": {"allow_concurrent_calls": True},
            "states": [_trigger(states[0]["name"], event), *states]}


def _reply(name: str, body: str) -> dict[str, Any]:
    return state(name, "send-message", {"from": "{{flow.channel.address}}",
                                        "to": "{{contact.channel.address}}", "body": body},
                 [transition("sent"), transition("failed")])


def _fetch(then: str, **properties: Any) -> dict[str, Any]:
    return state("fetch", "make-http-request", {
        "method": "POST", "url": "http://SERVICE/nul", "content_type": "text/plain",
        "body": "", **properties}, [transition("success", then), transition("failed")])


DEFINITIONS = {
    "echo": _definition("incomingMessage", _reply("w", "You wrote {{trigger.message.Body}}")),
    "heard": _definition(
        "incomingCall",
        state("menu", "gather-input-on-call", {"say": "Say something.", "input": "speech"},
              [transition("keypress"), transition("speech", "said"), transition("timeout")]),
        state("said", "say-play", {"say": "You said {{widgets.menu.SpeechResult}}"},
              [transition("audioComplete")])),
    "answer_said": _definition(
        "incomingCall", _fetch("said"),
        state("said", "say-play", {"say": "{{widgets.fetch.parsed.text}}"},
              [transition("audioComplete")])),
    "answer_sent": _definition(
        "incomingMessage", _fetch("w", body="a\x00b"),
        _reply("w", "{{widgets.fetch.parsed.text}}")),
    "kept": _definition(
        "incomingMessage",
        state("keep", "set-variables", {"variables": [{"key": "nul", "value": "a\x00b"}]},
              [transition("next", "w")]),
        _reply("w", "{{flow.variables.nul | replace: '\x00', '+' }}")),
}


@pytest.fixture(scope="module")
def app(module_database_url: str) -> Iterator[Flask]:
    with app_with_service(module_database_url, SERVICE, DEFINITIONS) as application:
        yield application


def _contact() -> str:
    return "+1555" + str(uuid.uuid4().int)[:7]


def _execution(twilio: Twilio, contact: str) -> executions.Execution:
    store = twilio.client.application.extensions["switchboard"].store
    (execution,) = [e for e in executions.list_executions(store)
                    if e.contact_channel_address == contact]
    return execution


def _problems(caplog: pytest.LogCaptureFixture) -> list[str]:
    assert not [record for record in caplog.records if record.exc_info]
    return [record.getMessage() for record in caplog.records
            if record.levelno >= logging.WARNING]


def test_a_callers_message_holding_nul_is_sent_back_with_u_fffd(
        twilio: Twilio, caplog: pytest.LogCaptureFixture) -> None:
    contact = _contact()
    with caplog.at_level(logging.INFO):
        root = twiml(twilio.post("/flows/echo", message_params("hi\x00there", From=contact)))
    assert [message.text for message in root] == ["You wrote hi\ufffdthere"]
    assert _problems(caplog) == []
    execution = _execution(twilio, contact)
    assert execution.status == "ended"
    assert execution.context["trigger"]["message"]["Body"] == "hi\ufffdthere"


def test_a_callers_speech_holding_nul_is_said_with_u_fffd(
        twilio: Twilio, caplog: pytest.LogCaptureFixture) -> None:
    contact = _contact()
    params = call_params(From=contact)
    with caplog.at_level(logging.INFO):
        gather = twiml(twilio.post("/flows/heard", params)).find("Gather")
        action = gather.get("action").replace("http://localhost", "")
        said = twiml(twilio.post(action, {**params, "SpeechResult": "yes\x00no",
                                          "Confidence": "0.9"}))
    assert spoken(said) == "You said yes\ufffdno"
    assert _problems(caplog) == []
    assert _execution(twilio, contact).status == "ended"


def test_a_nul_from_a_web_service_said_ends_with_the_apology_in_one_line(
        twilio: Twilio, caplog: pytest.LogCaptureFixture) -> None:
    contact = _contact()
    with caplog.at_level(logging.INFO):
        answer = twilio.post("/flows/answer_said", call_params(From=contact))
    assert spoken(twiml(answer)) == VOICE_APOLOGY
    execution = _execution(twilio, contact)
    assert execution.status == "ended"
    assert _problems(caplog) == [
        f"execution {execution.sid} of flow answer_said ends: widget said (say-play): <Say> "
        "text is not XML-compatible (NUL, control characters, lone surrogates, U+FFFE, "
        "U+FFFF): 'a\\x00b'"]


def test_a_nul_from_a_web_service_replied_sends_nothing_in_one_line(
        twilio: Twilio, caplog: pytest.LogCaptureFixture) -> None:
    RECEIVED.clear()
    contact = _contact()
    with caplog.at_level(logging.INFO):
        root = twiml(twilio.post("/flows/answer_sent", message_params("hi", From=contact)))
    assert list(root) == []
    assert RECEIVED == [b"a\x00b"]  # an HTTP request's body carries it
    (line,) = _problems(caplog)
    assert line.endswith("TwiMLError: <Message> text is not XML-compatible (NUL, control "
                         "characters, lone surrogates, U+FFFE, U+FFFF): 'a\\x00b'"), line
    assert _execution(twilio, contact).status == "ended"


def test_a_nul_kept_in_a_variable_is_stored_and_used(
        twilio: Twilio, caplog: pytest.LogCaptureFixture) -> None:
    contact = _contact()
    with caplog.at_level(logging.INFO):
        root = twiml(twilio.post("/flows/kept", message_params("hi", From=contact)))
    assert [message.text for message in root] == ["a+b"]
    assert _problems(caplog) == []
    assert _execution(twilio, contact).context["flow"]["variables"] == {"nul": "a\x00b"}
