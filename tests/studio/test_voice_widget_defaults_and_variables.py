"""The call widgets' defaults, events and variables as Twilio's widget library documents them,
run through ``/flows/NAME`` on SQLite and PostgreSQL: what each widget does when the flow leaves
a property out, which event each answer from Twilio takes, and what ``widgets.NAME.*`` holds
for the widgets after it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.blueprint import studio_blueprint
from switchboard.callbacks.studio.check import check_definition
from switchboard.callbacks.studio.definition import Flow
from tests.server.conftest import clean_app, spoken, verbs
from tests.studio import MINIMAL_WIDGETS, widget_flow
from tests.studio.test_runtime_voice import Call, definition, say, widget

#: The fields Twilio adds to a call's requests beyond the few of ``call_params``.
CALL_DETAILS = {"CallerCity": "OAKLAND", "FromCountry": "US", "CalledZip": "94612",
                "CallerName": "ADA LOVELACE", "ForwardedFrom": "+15550009999",
                "StirVerstat": "TN-Validation-Passed-A"}

DEFINITIONS: dict[str, dict[str, Any]] = {
    "say_variables": definition(
        widget("hello", "say-play", {"say": "Hello.", "voice": "Polly.Amy",
                                     "language": "en-GB"}, audioComplete="echo"),
        say("echo", "[{{widgets.hello.voice}}] [{{widgets.hello.language}}]"),
    ),
    "say_default_voice": definition(
        widget("hello", "say-play", {"say": "Hello."}, audioComplete="echo"),
        say("echo", "[{{widgets.hello.voice}}] [{{widgets.hello.language}}]"),
    ),
    "speech_without_timeout": definition(
        widget("menu", "gather-input-on-call", {"say": "Say sales or support."},
               keypress=None, speech="heard", timeout=None),
        say("heard", "You said {{widgets.menu.SpeechResult}}."),
    ),
    "gather_fields": definition(
        widget("menu", "gather-input-on-call", {"say": "Press a key."},
               keypress="pressed", speech=None, timeout="silence"),
        say("pressed", "{{widgets.menu.Digits}} from {{widgets.menu.From}} in "
                       "{{widgets.menu.CallerCity}}, call {{widgets.menu.CallSid}}."),
        say("silence", "Nothing from {{widgets.menu.From}} ({{widgets.menu.CallStatus}})."),
    ),
    "voicemail_fields": definition(
        widget("vm", "record-voicemail", {}, recordingComplete="saved", noAudio="nothing",
               hangup=None),
        say("saved", "{{widgets.vm.Sid}} of {{widgets.vm.CallSid}} for "
                     "{{widgets.vm.AccountSid}}, {{widgets.vm.CallStatus}}."),
        say("nothing", "Nothing from {{widgets.vm.From}}."),
    ),
    "connect_time_limit": definition(
        widget("dial", "connect-call-to", {"noun": "number", "to": "+15555550101",
                                           "caller_id": "{{contact.channel.address}}",
                                           "time_limit": "3600"},
               callCompleted=None, hangup=None),
    ),
    "connect_no_time_limit": definition(
        widget("dial", "connect-call-to", {"noun": "number", "to": "+15555550101",
                                           "caller_id": "{{contact.channel.address}}"},
               callCompleted=None, hangup=None),
    ),
    "record_call_defaults": definition(
        widget("start", "record-call", {"record_call": True}, success="stop", failed=None),
        widget("stop", "record-call", {"record_call": ""}, success=None, failed=None),
    ),
    "enqueue_hold_music": definition(
        widget("queue", "enqueue-call", {"queue_name": "support",
                                         "wait_url": "https://example.com/hold.mp3"},
               callComplete="done", failedToEnqueue="full", callFailure="broken"),
        say("done", "{{widgets.queue.QueueResult}} after {{widgets.queue.QueueTime}} s for "
                    "{{widgets.queue.From}} ({{widgets.queue.CallerName}})."),
        say("full", "The queue is full."),
        say("broken", "Something broke."),
    ),
    "redirect_unusable": definition(
        widget("away", "add-twiml-redirect", {"url": "{{trigger.call.url}}"},
               **{"return": None, "timeout": None, "fail": "broken"}),
        say("broken", "The redirect failed: {{widgets.away.error}}."),
    ),
    "redirect_back": definition(
        widget("away", "add-twiml-redirect", {"url": "https://example.com/ivr"},
               **{"return": None, "timeout": None, "fail": None}),
    ),
    "redirect_relative": definition(
        widget("away", "add-twiml-redirect", {"url": "/twiml/next?step=2"},
               **{"return": None, "timeout": None, "fail": "broken"}),
        say("broken", "The redirect failed."),
    ),
}
FLOWS = {name: Flow(name, body, f"{name}.json") for name, body in DEFINITIONS.items()}


@pytest.fixture(scope="module")
def app(module_database_url: str) -> Iterator[Flask]:
    application = clean_app(module_database_url, BUNDLED_FLOWS=False, STUDIO_FLOWS=False)
    application.register_blueprint(studio_blueprint(FLOWS))
    yield application
    application.extensions["switchboard"].store.close()


def variables(store: Any, call: Call, name: str) -> dict[str, Any]:
    (found,) = [e for e in executions.list_executions(store) if e.call_sid == call.sid]
    return found.context["widgets"][name]


# -- Say/Play -----------------------------------------------------------------------------------


def test_say_play_gives_its_voice_and_language_as_variables(twilio, store):
    call = Call(twilio, "say_variables")
    root = call.start()
    assert spoken(root) == "Hello. [Polly.Amy] [en-GB]"
    assert variables(store, call, "hello") == {"voice": "Polly.Amy", "language": "en-GB"}


def test_say_play_without_a_voice_leaves_it_to_the_accounts_text_to_speech_default(twilio):
    root = Call(twilio, "say_default_voice").start()
    hello = root.find("Say")
    assert (hello.get("voice"), hello.get("language")) == (None, None)
    assert spoken(root) == "Hello. [] []"


# -- Gather Input On Call -----------------------------------------------------------------------


def test_a_gather_listening_for_speech_stops_at_a_pause_unless_told_otherwise(twilio):
    call = Call(twilio, "speech_without_timeout")
    gather = call.start().find("Gather")
    assert (gather.get("input"), gather.get("speechTimeout")) == ("speech", "auto")
    assert spoken(call.step("menu", "gather", SpeechResult="sales")) == "You said sales."


def test_a_gather_gives_every_field_of_twilios_request_as_variables(twilio, store):
    call = Call(twilio, "gather_fields", **CALL_DETAILS)
    call.start()
    heard = spoken(call.step("menu", "gather", Digits="42"))
    assert heard == f"42 from {call.params['From']} in OAKLAND, call {call.sid}."
    kept = variables(store, call, "menu")
    assert kept == {**call.params, "Digits": "42"}

    quiet = Call(twilio, "gather_fields")
    quiet.start()
    assert spoken(quiet.step("menu", "timeout")) == (
        f"Nothing from {quiet.params['From']} (in-progress).")
    assert variables(store, quiet, "menu")["CallSid"] == quiet.sid


# -- Record Voicemail ---------------------------------------------------------------------------


def test_record_voicemail_gives_the_request_and_the_recordings_sid_as_variables(twilio, store):
    call = Call(twilio, "voicemail_fields")
    record = call.start().find("Record")
    assert (record.get("maxLength"), record.get("timeout"), record.get("playBeep")) == (
        "3600", "5", "true")
    saved = call.step("vm", "record", RecordingUrl="https://example.com/RE1",
                      RecordingDuration="4", RecordingSid="RE1", Digits="#")
    assert spoken(saved) == f"RE1 of {call.sid} for {call.params['AccountSid']}, in-progress."
    kept = variables(store, call, "vm")
    assert (kept["RecordingUrl"], kept["RecordingSid"], kept["Digits"]) == (
        "https://example.com/RE1", "RE1", "#")

    silent = Call(twilio, "voicemail_fields")
    silent.start()
    assert spoken(silent.step("vm", "noAudio")) == f"Nothing from {silent.params['From']}."


# -- Connect Call To ----------------------------------------------------------------------------


def test_connect_call_to_limits_the_connected_call_to_its_time_limit(twilio):
    dial = Call(twilio, "connect_time_limit").start().find("Dial")
    assert (dial.get("timeLimit"), dial.get("timeout")) == ("3600", "30")
    assert Call(twilio, "connect_no_time_limit").start().find("Dial").get("timeLimit") is None


def test_a_time_limit_that_is_not_a_number_is_refused_when_the_flow_loads() -> None:
    properties = {**MINIMAL_WIDGETS["connect-call-to"], "time_limit": [3600]}
    problems = check_definition(widget_flow("connect-call-to", properties), "flows/t.json")
    assert [str(problem) for problem in problems] == [
        "flows/t.json: state 'w': property 'time_limit': must be a number or a string, not an "
        "array"]


# -- Call Recording -----------------------------------------------------------------------------


def test_call_recording_keeps_silence_and_is_off_unless_switched_on(twilio, store):
    call = Call(twilio, "record_call_defaults")
    root = call.start()
    assert verbs(root) == ["Start", "Stop"]
    recording = root.find("Start").find("Recording")
    assert recording.get("trim") == "do-not-trim"
    assert recording.get("name") == root.find("Stop").find("Recording").get("name")


# -- Enqueue Call -------------------------------------------------------------------------------


def test_enqueue_requests_its_hold_music_with_get_unless_told_otherwise(twilio):
    enqueue = Call(twilio, "enqueue_hold_music").start().find("Enqueue")
    assert (enqueue.get("waitUrl"), enqueue.get("waitUrlMethod")) == (
        "https://example.com/hold.mp3", "GET")


@pytest.mark.parametrize(("result", "heard"), [
    ("bridged", "bridged after 30 s for {From} (ADA LOVELACE)."),
    ("error", "error after 30 s for {From} (ADA LOVELACE)."),
    ("redirected", "redirected after 30 s for {From} (ADA LOVELACE)."),
    ("queue-full", "The queue is full."),
    ("system-error", "Something broke."),
])
def test_enqueue_fails_only_on_a_full_queue_or_a_system_error(twilio, store, result, heard):
    call = Call(twilio, "enqueue_hold_music", CallerName="ADA LOVELACE")
    call.start()
    answer = call.step("queue", "enqueue", QueueResult=result, QueueSid="QU1", QueueTime="30")
    assert spoken(answer) == heard.format(From=call.params["From"])
    assert variables(store, call, "queue")["CallSid"] == call.sid


# -- TwiML Redirect -----------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "why"), [
    ("https:///twiml", "the url is not an http or https URL with a host"),
    ("ftp://example.com/twiml", "the url is not an http or https URL with a host"),
    ("http://[::1/twiml", "the url cannot be parsed: Invalid IPv6 URL"),
])
def test_twiml_redirect_to_a_url_that_cannot_be_used_fails(twilio, url, why):
    root = Call(twilio, "redirect_unusable").start(**{"url": url})
    assert verbs(root) == ["Say"]
    assert spoken(root) == f"The redirect failed: {why}."


def test_twiml_redirect_to_a_path_of_this_server_is_twilios_to_resolve(twilio):
    root = Call(twilio, "redirect_relative").start()
    assert verbs(root) == ["Redirect"]
    assert root.find("Redirect").text == "/twiml/next?step=2"


def test_twiml_redirects_variables_are_what_the_twiml_sent_back_not_the_calls_fields(
    twilio, store,
):
    call = Call(twilio, "redirect_back", **CALL_DETAILS)
    call.start()
    call.start(FlowEvent="return", choice="billing", ToCity="OAKLAND")
    assert variables(store, call, "away") == {"choice": "billing"}
