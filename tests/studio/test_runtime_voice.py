"""The call widgets run by the runtime through ``/flows/NAME``, on SQLite and PostgreSQL: the
TwiML of each widget, each of its events, its variables in Liquid, Studio's limits, and what
a caller hears when an execution cannot go on."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from lxml import etree

from switchboard.callbacks import handlers
from switchboard.callbacks.errors import VOICE_APOLOGY
from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.blueprint import studio_blueprint
from switchboard.callbacks.studio.context import flow_sid
from switchboard.callbacks.studio.definition import Flow
from tests.server.conftest import NUMBER, Twilio, call_params, clean_app, spoken, twiml, verbs
from tests.studio import widget


class Clock:
    """Now, or a time the test set."""

    def __init__(self) -> None:
        self.at: datetime | None = None

    def __call__(self) -> datetime:
        return self.at or datetime.now(UTC)


CLOCK = Clock()


def trigger(first: str | None, *, event: str = "incomingCall") -> dict[str, Any]:
    transitions = [{"event": "incomingMessage"}, {"event": "incomingCall"},
                   {"event": "incomingRequest"}, {"event": "incomingParent"}]
    for item in transitions:
        if item["event"] == event and first:
            item["next"] = first
    return {"name": "Trigger", "type": "trigger", "transitions": transitions,
            "properties": {"offset": {"x": 0, "y": 0}}}


def definition(*states: dict[str, Any], concurrent: bool = True) -> dict[str, Any]:
    return {"description": "A New Flow", "states": [trigger(states[0]["name"]), *states],
            "initial_state": "Trigger", "flags": {"allow_concurrent_calls": concurrent}}


def say(name: str, text: str, after: str | None = None) -> dict[str, Any]:
    return widget(name, "say-play", {"say": text, "loop": 1}, audioComplete=after)


DEFINITIONS: dict[str, dict[str, Any]] = {
    "sayplay": definition(
        widget("hello", "say-play", {"say": "Hello {{trigger.call.From}}, this is "
                                            "{{flow.channel.address}}.", "voice": "Polly.Joanna",
                                     "language": "en-GB", "loop": 2},
               audioComplete="music"),
        widget("music", "say-play", {"play": "https://example.com/hold.mp3", "loop": 3},
               audioComplete="tones"),
        widget("tones", "say-play", {"digits": "1234#"}, audioComplete=None),
    ),
    "gather": definition(
        widget("menu", "gather-input-on-call", {
            "say": "Press 1 or say sales.", "voice": "alice", "language": "en-US",
            "number_of_digits": 1, "finish_on_key": "#", "timeout": 7, "loop": 2,
            "speech_timeout": "auto", "hints": "sales,support", "gather_language": "en-US",
            "profanity_filter": "true", "stop_gather": True, "speech_model": "phone_call",
        }, keypress="pressed", speech="heard", timeout="silence"),
        say("pressed", "You pressed {{widgets.menu.Digits}}."),
        say("heard", "You said {{widgets.menu.SpeechResult}} "
                     "({{widgets.menu.Confidence}})."),
        say("silence", "We heard nothing."),
    ),
    "gather_no_stop": definition(
        widget("menu", "gather-input-on-call", {
            "play": "https://example.com/menu.mp3", "stop_gather": False, "timeout": 3,
        }, keypress=None, speech=None, timeout=None),
    ),
    "keypad_menu": definition(
        widget("menu", "gather-input-on-call", {
            "say": "Press 1 for sales.", "number_of_digits": 1, "speech_timeout": "auto",
            "hints": "sales", "speech_model": "phone_call", "profanity_filter": "true",
        }, keypress="pressed", speech=None, timeout="silence"),
        say("pressed", "You pressed {{widgets.menu.Digits}}."),
        say("silence", "We heard nothing."),
    ),
    "speech_menu": definition(
        widget("menu", "gather-input-on-call", {"say": "Say sales or support.",
                                                "speech_timeout": "auto"},
               keypress=None, speech="heard", timeout=None),
        say("heard", "You said {{widgets.menu.SpeechResult}}."),
    ),
    "gather_input_given": definition(
        widget("menu", "gather-input-on-call", {"say": "Say something.", "input": "speech"},
               keypress="heard", speech="heard", timeout=None),
        say("heard", "Thanks."),
    ),
    "ssml": definition(
        widget("hello", "say-play", {
            "say": 'Hi <emphasis level="strong">{{trigger.call.From}}</emphasis>, '
                   '<break time="500ms"/>this is <say-as interpret-as="characters">ABC'
                   '</say-as> <prosody rate="slow">calling <lang xml:lang="fr-FR">ici'
                   "</lang></prosody>.",
            "voice": "Polly.Joanna", "loop": 2,
        }, audioComplete="menu"),
        widget("menu", "gather-input-on-call", {
            "say": '<prosody volume="loud">Press 1</prosody>', "voice": "Polly.Joanna",
        }, keypress=None, speech=None, timeout=None),
    ),
    "not_ssml": definition(
        say("unknown", "Say <speak>hello</speak> and <Dial>+15555550100</Dial>.",
            after="broken"),
        say("broken", "Tom & Jerry <b>bold", after="bad_value"),
        say("bad_value", 'Wait <break time="forever"/> please.', after="no_text"),
        say("no_text", 'Spell <say-as interpret-as="characters"> </say-as>', after="plain"),
        say("plain", "1 < 2 and 3 &amp; 4"),
    ),
    "ssml_speech": definition(
        widget("menu", "gather-input-on-call", {"say": "Say something."},
               keypress=None, speech="heard", timeout=None),
        say("heard", '<prosody rate="slow">You said {{widgets.menu.SpeechResult}}</prosody>'),
    ),
    "loop_liquid": definition(
        widget("hello", "say-play", {"say": "Hello.", "loop": "{{flow.variables.none}}0"},
               audioComplete=None),
    ),
    "voicemail": definition(
        widget("vm", "record-voicemail", {
            "timeout": 4, "finish_on_key": "*", "max_length": 120, "play_beep": "false",
            "trim": "do-not-trim", "transcribe": True,
            "transcription_callback_url": "https://example.com/transcribed",
            "recording_status_callback_url": "https://example.com/recorded",
        }, recordingComplete="saved", noAudio="nothing", hangup="after_hangup"),
        say("saved", "Saved {{widgets.vm.RecordingDuration}} seconds at "
                     "{{widgets.vm.RecordingUrl}}."),
        say("nothing", "Nothing was recorded."),
        widget("after_hangup", "set-variables",
               {"variables": [{"key": "hung_up", "value": "yes"}]}, next="goodbye"),
        say("goodbye", "Never heard."),
    ),
    "connect": definition(
        widget("dial", "connect-call-to", {
            "noun": "number", "to": "+15555550101, +15555550102",
            "caller_id": "{{contact.channel.address}}", "timeout": 20, "record": True,
        }, callCompleted="done", hangup="gone"),
        say("done", "The call ended: {{widgets.dial.DialCallStatus}} after "
                    "{{widgets.dial.DialCallDuration}} seconds."),
        widget("gone", "set-variables", {"variables": [{"key": "gone", "value": "1"}]},
               next=None),
    ),
    "connect_client": definition(
        widget("dial", "connect-call-to", {"noun": "client", "to": "alice",
                                           "caller_id": "{{flow.channel.address}}"},
               callCompleted=None, hangup=None),
    ),
    "connect_sip": definition(
        widget("dial", "connect-call-to", {
            "noun": "sip", "sip_endpoint": "sip:desk@example.com", "sip_username": "u",
            "sip_password": "p", "caller_id": "{{flow.channel.address}}",
        }, callCompleted=None, hangup=None),
    ),
    "connect_sim": definition(
        widget("dial", "connect-call-to", {"noun": "sim", "to": "DE" + "1" * 32,
                                           "caller_id": "{{flow.channel.address}}"},
               callCompleted=None, hangup=None),
    ),
    "connect_conference": definition(
        widget("dial", "connect-call-to", {"noun": "conference", "to": "room-{{flow.sid}}",
                                           "caller_id": "{{flow.channel.address}}"},
               callCompleted=None, hangup=None),
    ),
    "connect_nobody": definition(
        widget("dial", "connect-call-to", {"noun": "number", "to": "{{flow.variables.none}}",
                                           "caller_id": "{{flow.channel.address}}"},
               callCompleted=None, hangup=None),
    ),
    "record_call": definition(
        widget("start", "record-call", {
            "record_call": True, "recording_status_callback": "https://example.com/rec",
            "recording_status_callback_method": "POST", "trim": "trim-silence",
            "recording_channels": "dual",
        }, success="talk", failed=None),
        say("talk", "This call is recorded.", after="stop"),
        widget("stop", "record-call", {"record_call": False}, success="end", failed=None),
        say("end", "Recording stopped."),
    ),
    "enqueue": definition(
        widget("queue", "enqueue-call", {"queue_name": "support",
                                         "wait_url": "https://example.com/hold"},
               callComplete="done", failedToEnqueue="full", callFailure="broken"),
        say("done", "Served: {{widgets.queue.QueueResult}}."),
        say("full", "The queue is full."),
        say("broken", "Something broke."),
    ),
    "enqueue_task": definition(
        widget("queue", "enqueue-call", {
            "workflow_sid": "WW" + "1" * 32, "priority": 5, "timeout": 60,
            "task_attributes": '{"from": "{{trigger.call.From}}"}',
        }, callComplete=None, failedToEnqueue=None, callFailure=None),
    ),
    "redirect": definition(
        widget("away", "add-twiml-redirect", {"url": "https://example.com/ivr?from="
                                                     "{{trigger.call.From}}",
                                              "method": "POST", "timeout": "60"},
               **{"return": "back", "timeout": "late", "fail": "broken"}),
        say("back", "Welcome back, {{widgets.away.choice}}."),
        say("late", "You took too long."),
        say("broken", "The redirect failed."),
    ),
    "redirect_away": definition(
        widget("away", "add-twiml-redirect", {"url": "https://example.com/elsewhere",
                                              "timeout": "0"},
               **{"return": "back", "timeout": "late", "fail": "broken"}),
        say("back", "Never heard."),
        say("late", "Never heard either."),
        say("broken", "The redirect failed."),
    ),
    "redirect_blank": definition(
        widget("away", "add-twiml-redirect", {"url": "{{flow.variables.none}}"},
               **{"return": None, "timeout": None, "fail": "broken"}),
        say("broken", "The redirect failed."),
    ),
    "flex": definition(
        widget("agent", "send-to-flex", {"workflow": "WW" + "0" * 32, "channel": "TC1"},
               callComplete=None, failedToEnqueue="sorry", callFailure=None),
        say("sorry", "No agent today."),
    ),
    "stream": definition(
        say("before", "One moment.", after="fork"),
        widget("fork", "fork-stream", {"stream_action": "start"}, next="after"),
        say("after", "Never heard."),
    ),
    "task": definition(
        widget("route", "create-task", {"workflow_sid": "WW" + "0" * 32}, failed="fallback"),
        say("fallback", "No task today."),
    ),
    "mystery": definition(
        widget("odd", "teleport-caller", {"where": "moon"}, failed="fallback"),
        say("fallback", "No teleporting."),
    ),
    "missing": definition(say("hello", "Hello.", after="nowhere")),
    "bad_liquid": definition(say("hello", "Hello {{ trigger.call.From ")),
    "malformed": definition(
        say("hello", "Hello.", after="set"),
        widget("set", "set-variables", {"variables": {"key": "a", "value": "b"}},
               next=None),
    ),
    "loop": definition(
        widget("menu", "gather-input-on-call", {"say": "Press something.", "timeout": 1},
               keypress=None, speech=None, timeout="menu"),
    ),
    "steps": definition(
        widget("a", "set-variables", {"variables": [{"key": "n", "value": "a"}]}, next="b"),
        widget("b", "set-variables", {"variables": [{"key": "n", "value": "b"}]}, next="a"),
    ),
    "single_line": definition(
        widget("menu", "gather-input-on-call", {"say": "One call at a time."},
               keypress=None, speech=None, timeout=None),
        concurrent=False,
    ),
    "context": definition(
        widget("vars", "set-variables", {"variables": [
            {"key": "greeting", "value": "Hi"},
            {"key": "who", "value": "{{flow.variables.greeting}} {{contact.channel.address}}"},
        ]}, next="speak"),
        say("speak", "{{flow.variables.who}} from {{trigger.call.To}} "
                     "[{{flow.flow_sid}}] [{{trigger.call.CallSid}}]"),
    ),
}
FLOWS = {name: Flow(name, body, f"{name}.json") for name, body in DEFINITIONS.items()}



@pytest.fixture(scope="module")
def app(module_database_url: str) -> Iterator[Flask]:
    application = clean_app(module_database_url, BUNDLED_FLOWS=False, STUDIO_FLOWS=False)
    application.register_blueprint(studio_blueprint(FLOWS, clock=CLOCK))
    yield application
    application.extensions["switchboard"].store.close()




@pytest.fixture(autouse=True)
def _clock() -> Iterator[None]:
    CLOCK.at = None
    yield
    CLOCK.at = None


def caller() -> str:
    return "+1555" + str(uuid.uuid4().int)[:7]


class Call:
    """One call to a flow, as Twilio makes its requests."""

    def __init__(self, twilio: Twilio, flow: str, **extra: str) -> None:
        self.twilio = twilio
        self.flow = flow
        self.params = call_params(From=extra.pop("From", caller()), **extra)

    @property
    def sid(self) -> str:
        return self.params["CallSid"]

    def start(self, **extra: str) -> Any:
        return twiml(self.twilio.post(f"/flows/{self.flow}", {**self.params, **extra}))

    def step(self, widget_name: str, source: str, **extra: str) -> Any:
        path = f"/flows/{self.flow}/step/{widget_name}/{source}"
        return twiml(self.twilio.post(path, {**self.params, **extra}))


def execution_of(store: Any, call: Call) -> executions.Execution:
    (found,) = [e for e in executions.list_executions(store) if e.call_sid == call.sid]
    return found


def steps_of(store: Any, call: Call) -> list[tuple[str, str, str]]:
    return [(s["name"], s["transitioned_from"], s["transitioned_to"])
            for s in executions.list_steps(store, execution_of(store, call).sid)]


def action(root: Any, tag: str) -> str:
    return root.find(tag).get("action")


# -- Say/Play -----------------------------------------------------------------------------------


def test_say_play_says_plays_and_sends_digits_then_the_execution_ends(twilio, store):
    call = Call(twilio, "sayplay")
    root = call.start()
    assert verbs(root) == ["Say", "Play", "Play"]
    first = root.find("Say")
    assert first.text == f"Hello {call.params['From']}, this is {NUMBER}."
    assert (first.get("voice"), first.get("language"), first.get("loop")) == (
        "Polly.Joanna", "en-GB", "2")
    music, tones = root.findall("Play")
    assert (music.text, music.get("loop")) == ("https://example.com/hold.mp3", "3")
    assert tones.get("digits") == "1234#"
    assert steps_of(store, call) == [
        ("incomingCall", "Trigger", "hello"), ("audioComplete", "hello", "music"),
        ("audioComplete", "music", "tones"), ("audioComplete", "tones", "Ended"),
    ]
    assert execution_of(store, call).status == "ended"


def test_ssml_in_the_text_to_say_becomes_elements_and_other_text_stays_plain(twilio):
    call = Call(twilio, "ssml")
    root = call.start()
    hello, gather, _ = root
    assert (hello.tag, hello.get("voice"), hello.get("loop")) == ("Say", "Polly.Joanna", "2")
    assert etree.tostring(hello, encoding="unicode").split(">", 1)[1] == (
        f'Hi <emphasis level="strong">{call.params["From"]}</emphasis>, <break time="500ms"/>'
        'this is <say-as interpret-as="characters">ABC</say-as> <prosody rate="slow">calling '
        '<lang xml:lang="fr-FR">ici</lang></prosody>.</Say>')
    (prompt,) = gather
    assert (prompt.get("voice"), prompt.get("loop")) == ("Polly.Joanna", "1")
    assert [(child.tag, child.get("volume"), child.text) for child in prompt] == [
        ("prosody", "loud", "Press 1")]

    root = Call(twilio, "not_ssml").start()
    assert [len(say) for say in root] == [0, 0, 0, 0, 0]
    assert [say.text for say in root] == [
        "Say <speak>hello</speak> and <Dial>+15555550100</Dial>.",
        "Tom & Jerry <b>bold",
        'Wait <break time="forever"/> please.',
        'Spell <say-as interpret-as="characters"> </say-as>',
        "1 < 2 and 3 &amp; 4",
    ]


def test_what_the_caller_said_is_said_back_as_text_never_as_ssml(twilio):
    call = Call(twilio, "speech_menu")
    call.start()
    root = call.step("menu", "gather", SpeechResult='<break time="3s"/>', Confidence="0.9")
    (said,) = root.iter("Say")
    assert (len(said), said.text) == (0, 'You said <break time="3s"/>.')

    call = Call(twilio, "ssml_speech")
    call.start()
    words = '<prosody rate="x-slow">hi</prosody> & <break time="3s"/>'
    (said,) = call.step("menu", "gather", SpeechResult=words, Confidence="0.9").iter("Say")
    assert [(child.tag, child.get("rate"), child.text, len(child)) for child in said] == [
        ("prosody", "slow", f"You said {words}", 0)]


def test_a_loop_that_renders_outside_1_to_99_ends_with_the_apology(twilio, store, caplog):
    call = Call(twilio, "loop_liquid")
    assert spoken(call.start()) == VOICE_APOLOGY
    assert "loop is 0; Studio plays a message 1 to 99 times" in caplog.text
    assert execution_of(store, call).status == "ended"


# -- Gather Input On Call ---------------------------------------------------------------------


def test_gather_asks_with_every_property_and_comes_back_on_each_way_out(twilio, store):
    call = Call(twilio, "gather")
    root = call.start()
    assert verbs(root) == ["Gather", "Redirect"]
    gather = root.find("Gather")
    assert dict(gather.attrib) == {
        "input": "dtmf speech", "action": "http://localhost/flows/gather/step/menu/gather",
        "method": "POST", "timeout": "7", "numDigits": "1", "finishOnKey": "#",
        "speechTimeout": "auto", "hints": "sales,support", "language": "en-US",
        "speechModel": "phone_call", "profanityFilter": "true",
    }
    prompt = gather.find("Say")
    assert (prompt.text, prompt.get("voice"), prompt.get("loop")) == (
        "Press 1 or say sales.", "alice", "2")
    assert root.find("Redirect").text == "http://localhost/flows/gather/step/menu/timeout"
    execution = execution_of(store, call)
    assert (execution.status, execution.widget, execution.waiting_for) == (
        "active", "menu", "gather")

    assert spoken(call.step("menu", "gather", Digits="1", FinishedOnKey="")) == "You pressed 1."
    assert execution_of(store, call).context["widgets"]["menu"]["Digits"] == "1"
    assert execution_of(store, call).status == "ended"


def test_gather_speech_and_timeout(twilio, store):
    call = Call(twilio, "gather")
    call.start()
    heard = call.step("menu", "gather", SpeechResult="sales please", Confidence="0.91")
    assert spoken(heard) == "You said sales please (0.91)."
    assert steps_of(store, call)[1] == ("speech", "menu", "heard")

    quiet = Call(twilio, "gather")
    quiet.start()
    assert spoken(quiet.step("menu", "timeout")) == "We heard nothing."
    empty = Call(twilio, "gather")
    empty.start()
    assert spoken(empty.step("menu", "gather", Digits="")) == "We heard nothing."


def test_gather_that_does_not_stop_plays_its_prompt_first(twilio):
    root = Call(twilio, "gather_no_stop").start()
    assert verbs(root) == ["Play", "Gather", "Redirect"]
    assert len(root.find("Gather")) == 0
    assert root.find("Gather").get("timeout") == "3"
    assert root.find("Gather").get("input") == "dtmf"


def test_a_keypad_menu_does_not_listen_for_speech(twilio, store):
    call = Call(twilio, "keypad_menu")
    gather = call.start().find("Gather")
    assert dict(gather.attrib) == {
        "input": "dtmf", "action": "http://localhost/flows/keypad_menu/step/menu/gather",
        "method": "POST", "timeout": "5", "numDigits": "1",
    }
    assert spoken(call.step("menu", "gather", Digits="1")) == "You pressed 1."


def test_a_gather_listens_for_speech_only_when_its_speech_transition_leads_somewhere(twilio):
    gather = Call(twilio, "speech_menu").start().find("Gather")
    assert (gather.get("input"), gather.get("speechTimeout")) == ("speech", "auto")
    assert Call(twilio, "gather").start().find("Gather").get("input") == "dtmf speech"
    assert Call(twilio, "gather_input_given").start().find("Gather").get("input") == "speech"


# -- Record Voicemail -------------------------------------------------------------------------


def test_record_voicemail_records_and_takes_each_event(twilio, store):
    call = Call(twilio, "voicemail")
    root = call.start()
    assert verbs(root) == ["Record", "Redirect"]
    assert dict(root.find("Record").attrib) == {
        "action": "http://localhost/flows/voicemail/step/vm/record", "method": "POST",
        "maxLength": "120", "timeout": "4", "playBeep": "false", "finishOnKey": "*",
        "trim": "do-not-trim", "transcribe": "true",
        "transcribeCallback": "https://example.com/transcribed",
        "recordingStatusCallback": "https://example.com/recorded",
    }
    assert root.find("Redirect").text.endswith("/flows/voicemail/step/vm/noAudio")
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1"
    saved = call.step("vm", "record", RecordingUrl=url, RecordingDuration="7",
                      RecordingSid="RE1", Digits="*")
    assert spoken(saved) == f"Saved 7 seconds at {url}."

    silent = Call(twilio, "voicemail")
    silent.start()
    assert spoken(silent.step("vm", "noAudio")) == "Nothing was recorded."
    empty = Call(twilio, "voicemail")
    empty.start()
    assert spoken(empty.step("vm", "record", RecordingUrl=url, RecordingDuration="0",
                             Digits="#")) == "Nothing was recorded."


def test_record_voicemail_hangup_runs_what_needs_no_caller_then_ends(twilio, store):
    call = Call(twilio, "voicemail")
    call.start()
    answer = call.step("vm", "record", RecordingUrl="https://example.com/r", Digits="hangup",
                       RecordingDuration="3", CallStatus="completed")
    assert verbs(answer) == []
    execution = execution_of(store, call)
    assert execution.status == "ended"
    assert execution.context["flow"]["variables"] == {"hung_up": "yes"}
    assert execution.context["widgets"]["vm"]["Digits"] == "hangup"
    assert steps_of(store, call)[-1] == ("next", "after_hangup", "goodbye")


# -- Connect Call To --------------------------------------------------------------------------


def test_connect_call_to_several_numbers_then_call_completed(twilio, store):
    call = Call(twilio, "connect")
    root = call.start()
    dial = root.find("Dial")
    assert dict(dial.attrib) == {
        "action": "http://localhost/flows/connect/step/dial/dial", "method": "POST",
        "timeout": "20", "callerId": call.params["From"], "record": "record-from-answer",
    }
    assert [n.text for n in dial.findall("Number")] == ["+15555550101", "+15555550102"]
    done = call.step("dial", "dial", DialCallStatus="completed", DialCallSid="CA2",
                     DialCallDuration="42", DialBridged="true")
    assert spoken(done) == "The call ended: completed after 42 seconds."
    assert execution_of(store, call).context["widgets"]["dial"]["DialCallSid"] == "CA2"


def test_connect_call_to_hangup_when_the_caller_hung_up(twilio, store):
    call = Call(twilio, "connect")
    call.start()
    assert verbs(call.step("dial", "dial", DialCallStatus="completed",
                           CallStatus="completed")) == []
    assert steps_of(store, call)[1] == ("hangup", "dial", "gone")


@pytest.mark.parametrize(("flow", "noun", "text", "attributes"), [
    ("connect_client", "Client", "alice", {}),
    ("connect_sip", "Sip", "sip:desk@example.com", {"username": "u", "password": "p"}),
])
def test_connect_call_to_a_client_or_sip(twilio, flow, noun, text, attributes):
    root = Call(twilio, flow).start()
    (element,) = root.find("Dial")
    assert (element.tag, element.text, dict(element.attrib)) == (noun, text, attributes)
    assert root.find("Dial").get("callerId") == NUMBER


def test_connect_call_to_a_programmable_wireless_sim(twilio):
    dial = Call(twilio, "connect_sim").start().find("Dial")
    (sim,) = dial
    assert (sim.tag, sim.text, dict(sim.attrib)) == ("Sim", "DE" + "1" * 32, {})
    assert dial.get("callerId") == NUMBER


def test_connect_call_to_a_conference(twilio, store):
    call = Call(twilio, "connect_conference")
    root = call.start()
    sid = execution_of(store, call).sid
    assert root.find("Dial").find("Conference").text == f"room-{sid}"


def test_connect_call_to_nobody_ends_with_the_apology(twilio, store):
    call = Call(twilio, "connect_nobody")
    root = call.start()
    assert verbs(root) == ["Say", "Hangup"]
    assert spoken(root) == VOICE_APOLOGY
    assert execution_of(store, call).status == "ended"


# -- Call Recording, Enqueue Call, TwiML Redirect -----------------------------------------------


def test_record_call_starts_and_stops_the_recording(twilio, store):
    call = Call(twilio, "record_call")
    root = call.start()
    assert verbs(root) == ["Start", "Say", "Stop", "Say"]
    name = f"studio-{execution_of(store, call).sid}"
    recording = root.find("Start").find("Recording")
    assert dict(recording.attrib) == {
        "name": name, "recordingStatusCallback": "https://example.com/rec",
        "recordingStatusCallbackMethod": "POST", "trim": "trim-silence", "channels": "dual",
    }
    assert dict(root.find("Stop").find("Recording").attrib) == {"name": name}
    assert [s[0] for s in steps_of(store, call)] == [
        "incomingCall", "success", "audioComplete", "success", "audioComplete"]


@pytest.mark.parametrize(("result", "heard"), [
    ("bridged", "Served: bridged."), ("hangup", "Served: hangup."),
    ("queue-full", "The queue is full."), ("error", "Served: error."),
    ("system-error", "Something broke."),
])
def test_enqueue_call_and_each_way_out_of_the_queue(twilio, result, heard):
    call = Call(twilio, "enqueue")
    root = call.start()
    enqueue = root.find("Enqueue")
    assert enqueue.text == "support"
    assert enqueue.get("action") == "http://localhost/flows/enqueue/step/queue/enqueue"
    assert enqueue.get("waitUrl") == "https://example.com/hold"
    assert spoken(call.step("queue", "enqueue", QueueResult=result, QueueSid="QU1")) == heard


def test_enqueue_call_to_a_taskrouter_workflow(twilio):
    call = Call(twilio, "enqueue_task")
    enqueue = call.start().find("Enqueue")
    assert enqueue.get("workflowSid") == "WW" + "1" * 32
    task = enqueue.find("Task")
    assert (task.text, task.get("priority"), task.get("timeout")) == (
        f'{{"from": "{call.params["From"]}"}}', "5", "60")


def test_twiml_redirect_and_its_return_through_the_flow_url(twilio, store):
    call = Call(twilio, "redirect")
    root = call.start()
    assert verbs(root) == ["Redirect"]
    redirect = root.find("Redirect")
    assert redirect.text == f"https://example.com/ivr?from={call.params['From']}"
    assert redirect.get("method") == "POST"
    back = call.start(FlowEvent="return", choice="billing")
    assert spoken(back) == "Welcome back, billing."
    assert execution_of(store, call).context["widgets"]["away"] == {"choice": "billing"}


def test_twiml_redirect_returning_late_takes_timeout(twilio):
    call = Call(twilio, "redirect")
    call.start()
    CLOCK.at = datetime.now(UTC) + timedelta(seconds=61)
    assert spoken(call.step("away", "return")) == "You took too long."
    CLOCK.at = None
    again = Call(twilio, "redirect")
    again.start()
    CLOCK.at = datetime.now(UTC) + timedelta(seconds=61)
    assert spoken(again.start(FlowEvent="return")) == "You took too long."


def test_twiml_redirect_with_timeout_0_ends_the_execution_at_the_redirect(twilio, store):
    call = Call(twilio, "redirect_away")
    root = call.start()
    assert verbs(root) == ["Redirect"]
    assert root.find("Redirect").text == "https://example.com/elsewhere"
    execution = execution_of(store, call)
    assert (execution.status, execution.widget, execution.wait_until) == ("ended", None, None)
    assert steps_of(store, call) == [("incomingCall", "Trigger", "away"),
                                     ("redirected", "away", "Ended")]
    again = call.start(FlowEvent="return")
    assert verbs(again) == ["Redirect"]
    assert len([e for e in executions.list_executions(store) if e.call_sid == call.sid]) == 2


def test_twiml_redirect_without_a_url_fails(twilio):
    assert spoken(Call(twilio, "redirect_blank").start()) == "The redirect failed."


# -- widgets Switchboard cannot run -------------------------------------------------------------


def test_an_unsupported_widget_takes_its_failure_transition(twilio, store):
    call = Call(twilio, "flex")
    assert spoken(call.start()) == "No agent today."
    assert steps_of(store, call)[1] == ("failedToEnqueue", "agent", "sorry")
    assert spoken(Call(twilio, "mystery").start()) == "No teleporting."
    task = Call(twilio, "task")
    assert spoken(task.start()) == "No task today."
    assert steps_of(store, task)[1] == ("failed", "route", "fallback")


def test_an_unsupported_widget_without_one_ends_with_the_apology(twilio, store, caplog):
    call = Call(twilio, "stream")
    root = call.start()
    assert spoken(root) == f"One moment. {VOICE_APOLOGY}"
    assert verbs(root) == ["Say", "Say", "Hangup"]
    assert execution_of(store, call).status == "ended"
    assert "cannot run fork-stream widgets" in caplog.text


# -- errors ---------------------------------------------------------------------------------------


def test_a_transition_to_a_missing_widget_ends_with_the_apology(twilio, store, caplog):
    call = Call(twilio, "missing")
    root = call.start()
    assert spoken(root) == f"Hello. {VOICE_APOLOGY}"
    assert "has no widget 'nowhere'" in caplog.text
    assert execution_of(store, call).status == "ended"


def test_liquid_that_does_not_parse_ends_with_the_apology(twilio, caplog):
    root = Call(twilio, "bad_liquid").start()
    assert spoken(root) == VOICE_APOLOGY
    assert "Liquid" in caplog.text


def test_a_widget_that_breaks_on_an_unexpected_definition_ends_with_the_apology(
    twilio, store, caplog,
):
    call = Call(twilio, "malformed")
    assert spoken(call.start()) == f"Hello. {VOICE_APOLOGY}"
    assert execution_of(store, call).status == "ended"
    assert "widget set (set-variables) raised" in caplog.text
    assert "AttributeError" in caplog.text


def test_an_unknown_flow_or_a_stale_step_gets_the_apology(twilio, caplog):
    assert spoken(twiml(twilio.post("/flows/nosuch", call_params()))) == VOICE_APOLOGY
    assert "there is no flow 'nosuch'" in caplog.text
    call = Call(twilio, "gather")
    call.start()
    assert spoken(call.step("elsewhere", "gather", Digits="1")) == VOICE_APOLOGY
    assert spoken(Call(twilio, "gather").step("menu", "gather")) == VOICE_APOLOGY


def test_requests_without_a_valid_signature_are_refused(twilio):
    assert twilio.post("/flows/gather", call_params(), signed=False).status_code == 403
    assert twilio.post("/flows/gather/step/menu/gather", call_params(),
                       signed=False).status_code == 403


def test_a_widget_that_needs_the_call_ends_the_execution_once_the_call_is_over(twilio, store):
    call = Call(twilio, "gather")
    call.start()
    root = call.step("menu", "gather", Digits="1", CallStatus="completed")
    assert verbs(root) == []
    assert execution_of(store, call).status == "ended"


# -- Studio's limits ----------------------------------------------------------------------------


def test_a_widget_runs_ten_times_in_a_row_at_most(twilio, store, caplog):
    call = Call(twilio, "loop")
    call.start()
    for _ in range(9):
        assert verbs(call.step("menu", "timeout")) == ["Gather", "Redirect"]
    last = call.step("menu", "timeout")
    assert spoken(last) == VOICE_APOLOGY
    assert "ran 10 times in a row" in caplog.text
    execution = execution_of(store, call)
    assert (execution.status, execution.step_count) == ("ended", 11)  # the trigger, 10 runs


def test_an_execution_takes_a_thousand_steps_at_most(twilio, store, caplog):
    call = Call(twilio, "steps")
    assert spoken(call.start()) == VOICE_APOLOGY
    execution = execution_of(store, call)
    assert (execution.status, execution.step_count) == ("ended", 1000)
    assert len(executions.list_steps(store, execution.sid)) == 1000
    assert "limit of 1000 steps" in caplog.text


# -- executions of calls ------------------------------------------------------------------------


def test_end_call_executions_ends_the_calls_execution(twilio, store):
    call = Call(twilio, "gather")
    call.start()
    assert executions.end_call_executions(store, call.sid) == 1
    assert execution_of(store, call).status == "ended"
    assert executions.end_call_executions(store, call.sid) == 0
    assert spoken(call.step("menu", "gather", Digits="1")) == VOICE_APOLOGY


def test_the_flows_call_status_url_ends_the_execution_with_the_call(twilio, store):
    call = Call(twilio, "gather")
    call.start()
    status = {**call.params, "CallStatus": "in-progress", "SequenceNumber": "0"}
    assert twilio.post("/flows/gather/call-status", status).status_code == 204
    assert execution_of(store, call).status == "active"
    assert executions.end_call_executions(store, call.sid, "ringing") == 0
    over = {**status, "CallStatus": "completed", "SequenceNumber": "1", "CallDuration": "9"}
    assert twilio.post("/flows/gather/call-status", over).status_code == 204
    assert execution_of(store, call).status == "ended"
    assert store.get_call(call.sid)["status"] == "completed"


def test_a_flow_without_concurrent_calls_refuses_a_second_call_from_the_contact(twilio):
    number = caller()
    assert verbs(Call(twilio, "single_line", From=number).start()) == ["Gather", "Redirect"]
    second = Call(twilio, "single_line", From=number).start()
    assert verbs(second) == ["Reject"]
    assert second.find("Reject").get("reason") == "busy"
    Call(twilio, "gather", From=number).start()
    assert verbs(Call(twilio, "gather", From=number).start()) == ["Gather", "Redirect"]


def test_liquid_sees_studios_context_of_a_call(twilio, store):
    call = Call(twilio, "context")
    heard = spoken(call.start())
    expected_sid = flow_sid(FLOWS["context"])
    assert heard == (f"Hi {call.params['From']} from {NUMBER} [{expected_sid}] [{call.sid}]")
    context = execution_of(store, call).context
    assert context["trigger"]["call"]["CallSid"] == call.sid
    assert context["contact"] == {"channel": {"address": call.params["From"]}}
    assert context["flow"]["channel"] == {"address": NUMBER}


def test_an_outbound_call_has_the_called_party_as_contact(twilio, store):
    call = Call(twilio, "context", Direction="outbound-api", From=NUMBER, To="+15550001111")
    assert spoken(call.start()).startswith("Hi +15550001111 from +15550001111")
    assert execution_of(store, call).contact_channel_address == "+15550001111"


def test_the_flows_urls_parse_a_request_once(twilio, monkeypatch):
    """The flow's URL and its steps choose the call's or the message's view from the
    request's fields; the view then reads the same parse, not a second one."""
    parsed: list[str] = []
    parse = handlers.parse_form
    monkeypatch.setattr(handlers, "parse_form", lambda text: parsed.append(text) or parse(text))
    call = Call(twilio, "ssml_speech")
    call.start()
    assert len(parsed) == 1
    (said,) = call.step("menu", "gather", SpeechResult="hi", Confidence="0.9").iter("Say")
    assert "".join(said.itertext()) == "You said hi"
    assert len(parsed) == 2
