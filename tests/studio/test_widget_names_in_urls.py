"""A widget may be named anything Studio lets it be named (``menu/main``, ``100% sure``,
``..``, a tab...), and every URL Twilio is given to come back to it still leads back to it:
``/flows/NAME/step/WIDGET/SOURCE``, ``.../recording-status/WIDGET``,
``.../message-status/EXECUTION/WIDGET`` and ``.../outgoing-call/EXECUTION/WIDGET``, made in a
request or without one. Driven end to end over real sockets (the emulator calls the flow,
on SQLite, then PostgreSQL), and link by link through the app's routing. The one name no
flow can run, one holding a NUL (which no URL Twilio comes back by and no database text
carries), is refused in one line by ``flows check`` and at start-up."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from click.testing import CliRunner
from flask import Flask, request

from switchboard.callbacks import create_app
from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.blueprint import RequestLinks, studio_blueprint
from switchboard.callbacks.studio.check import check_definition
from switchboard.callbacks.studio.definition import Flow, FlowError
from switchboard.callbacks.studio.runtime import PathLinks
from switchboard.callbacks.studio.widgets.base import from_url_segment, url_segment
from switchboard.cli import cli
from switchboard.emulator.script import CallScript, RecordingTake
from switchboard.emulator.stack import SwitchboardStack
from tests.studio import widget

CALLER = "+15555550100"
NUMBER = "+14155550123"
EXECUTION = "FN" + "0" * 32

#: Names no URL path segment holds as they are: a slash, a query, a fragment, a percent sign
#: (alone and as an escape), spaces, control characters, dot segments, text beyond ASCII.
NAMES = ["menu/main", "a?b#c", "100% sure", "literal%2Fescape", "..", ".", "/leading",
         "trailing/", "two//slashes", "tab\tand\nnewline", "ünïcödé wïdgét", "back\\slash",
         "!$&'()*+,;=:@~"]


def menus_flow() -> dict[str, Any]:
    """A Gather for each of :data:`NAMES`, one after the other, a Say, and a Record
    Voicemail named ``voice/mail``."""
    gathers = [widget(name, "gather-input-on-call",
                      {"say": f"Menu {number}.", "number_of_digits": 1, "timeout": 5},
                      keypress=NAMES[number + 1] if number + 1 < len(NAMES) else "pressed",
                      speech=None, timeout=None)
               for number, name in enumerate(NAMES)]
    return {
        "description": "Widgets with names that are no URL segment",
        "states": [
            widget("Trigger", "trigger", {}, incomingMessage=None, incomingCall=NAMES[0],
                   incomingRequest=None),
            *gathers,
            widget("pressed", "say-play", {"say": "Leave a message.", "loop": 1},
                   audioComplete="voice/mail"),
            widget("voice/mail", "record-voicemail", {"finish_on_key": "#", "timeout": 5},
                   recordingComplete="thanks", noAudio=None, hangup=None),
            widget("thanks", "say-play",
                   {"say": "{{widgets['voice/mail'].RecordingDuration}} seconds, thanks.",
                    "loop": 1}, audioComplete=None),
        ],
        "initial_state": "Trigger",
        "flags": {"allow_concurrent_calls": True},
    }


FLOWS = {"menus": Flow("menus", menus_flow(), "menus.json")}


def test_the_flow_passes_the_check() -> None:
    assert check_definition(menus_flow(), "menus.json") == []


@pytest.fixture
def stack(database_url: str) -> Iterator[SwitchboardStack]:
    stack = SwitchboardStack(database_url=database_url,
                             config={"BUNDLED_FLOWS": False, "STUDIO_FLOWS": False}).start()
    assert stack.app is not None
    stack.app.register_blueprint(studio_blueprint(FLOWS))
    try:
        yield stack
    finally:
        stack.stop()


def test_a_caller_goes_through_widgets_whose_names_are_no_url_segment(
    stack: SwitchboardStack,
) -> None:
    state = stack.emulator.state
    state.buy_number(state.main_account_sid, NUMBER, voice_url=stack.url + "/flows/menus")
    digits = [str(number % 10) for number in range(len(NAMES))]
    script = CallScript(digits=digits, recording=RecordingTake(duration=7, digits="#"))
    transcript = stack.emulator.phone.inbound_call(NUMBER, CALLER, script=script)
    assert stack.wait_idle(20)
    assert transcript.error_codes == []
    assert transcript.said[-2:] == ["Leave a message.", "7 seconds, thanks."]
    [execution] = [found for found in executions.list_executions(stack.store)
                   if found.call_sid == transcript.sid]
    assert execution.status == "ended"
    assert [execution.context["widgets"][name]["Digits"] for name in NAMES] == digits
    steps = [step["transitioned_to"]
             for step in executions.list_steps(stack.store, execution.sid)]
    assert steps == [*NAMES, "pressed", "voice/mail", "thanks", "Ended"]
    [record] = transcript.events_of("record")
    recording_sid = record.detail["recording"]["sid"]
    assert [row["status"] for row in stack.store.status_callbacks(recording_sid)] == [
        "completed"]


# -- every link, made in a request and without one, routes back to its widget ------------------

def links_app() -> Flask:
    app = create_app({"TESTING": True, "BUNDLED_FLOWS": False, "STUDIO_FLOWS": False,
                      "SWITCHBOARD_DATABASE_URL": "sqlite://",
                      "SWITCHBOARD_PUBLIC_URL": "https://switchboard.example.com"})
    app.register_blueprint(studio_blueprint(FLOWS))
    return app


def routed(app: Flask, url: str) -> tuple[str, dict[str, Any]]:
    """The endpoint and the URL's variables the app routes ``url`` to, as a WSGI server
    hands it over (its path percent-decoded)."""
    path = urlsplit(url).path
    with app.test_request_context(path, method="POST"):
        assert request.url_rule is not None, f"{url} leads nowhere"
        return request.url_rule.endpoint, dict(request.view_args or {})


def links_of(app: Flask) -> Iterator[tuple[str, Any]]:
    yield "made without a request", PathLinks("https://switchboard.example.com", "menus")
    with app.test_request_context("/flows/menus", method="POST"):
        yield "made in a request", RequestLinks("menus")


@pytest.mark.parametrize("name", [*NAMES, "plain_name", "%", "%25", "%2E"])
def test_every_link_leads_back_to_its_widget(name: str) -> None:
    app = links_app()
    made: list[tuple[str, str, str]] = []
    for how, links in links_of(app):
        made += [
            (how, "studio.step", links.step(name, "gather")),
            (how, "studio.message_status", links.message_status(EXECUTION, name)),
            (how, "studio.recording_status", links.recording_status(name)),
            (how, "studio.outgoing_call", links.outgoing_call(EXECUTION, name)),
            (how, "studio.outgoing_call_status", links.outgoing_call_status(EXECUTION, name)),
        ]
    expected = {
        "studio.step": {"name": "menus", "widget": name, "source": "gather"},
        "studio.message_status": {"name": "menus", "execution": EXECUTION, "widget": name},
        "studio.recording_status": {"name": "menus", "widget": name},
        "studio.outgoing_call": {"name": "menus", "execution": EXECUTION, "widget": name},
        "studio.outgoing_call_status": {"name": "menus", "execution": EXECUTION,
                                        "widget": name},
    }
    for how, endpoint, url in made:
        assert routed(app, url) == (endpoint, expected[endpoint]), (how, url)


def test_a_plain_name_is_its_own_url_segment() -> None:
    assert url_segment("menu_1") == "menu_1"
    assert PathLinks("https://h.example", "ivr").step("menu_1", "gather") == (
        "https://h.example/flows/ivr/step/menu_1/gather")


def test_a_segment_reads_back_as_the_name_it_was_made_from() -> None:
    for name in [*NAMES, "%", "%25", "%2F", "%2e", "a%2f%2Fb", "...", "%%2525"]:
        decoded = unquote(url_segment(name))
        assert "/" not in decoded
        assert decoded not in (".", "..")
        assert from_url_segment(decoded) == name, name


def test_a_name_written_into_a_url_by_hand_reads_as_written() -> None:
    """A TwiML Redirect's way back (``/step/WIDGET/return``) is written by hand: a name with
    a space or a lone percent sign, percent-encoded once, reads back as the name; a ``/`` is
    written ``%252F``."""
    assert from_url_segment(unquote("100%25%20sure")) == "100% sure"
    assert from_url_segment(unquote("two%20words")) == "two words"
    assert from_url_segment(unquote("main%252Fmenu")) == "main/menu"


# -- the one name no flow can run: a NUL character --------------------------------------------

def nul_flow() -> dict[str, Any]:
    definition = menus_flow()
    definition["states"][1]["name"] = "menu\x00main"
    definition["states"][0]["transitions"][1]["next"] = "menu\x00main"
    return definition


def nul_line(source: str) -> str:
    return (f"{source}: state 'menu\\x00main': property 'name': holds a NUL character "
            "(\\u0000), which neither the URLs Twilio comes back to a widget by nor the "
            "database can carry; rename the widget")


def test_a_name_holding_a_nul_is_refused_in_one_line() -> None:
    assert [str(problem) for problem in check_definition(nul_flow(), "menus.json")] == [
        nul_line("menus.json")]


def test_flows_check_and_the_server_refuse_a_name_holding_a_nul(tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    folder.mkdir()
    path = folder / "menus.json"
    path.write_text(json.dumps(nul_flow()), encoding="utf-8")
    result = CliRunner().invoke(cli, ["flows", "check", str(path)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [nul_line(str(path)),
                                          "Error: 1 flow checked, 1 problem"]
    with pytest.raises(FlowError) as raised:
        create_app({"TESTING": True, "BUNDLED_FLOWS": False,
                    "SWITCHBOARD_DATABASE_URL": "sqlite://",
                    "SWITCHBOARD_FLOWS_DIR": str(folder)})
    assert str(raised.value).splitlines() == [nul_line(str(path))]
