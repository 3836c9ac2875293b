"""Studio flows end to end, on real sockets: the emulator calls and texts a number whose Voice
and Messaging URLs are ``/flows/NAME`` of the real app (on SQLite, then PostgreSQL), with
the caller's keys, words, recording and dialled party scripted; the emulator runs every
document the flows answer, and the executions are in the database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from switchboard.api import TwilioClient
from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.blueprint import studio_blueprint
from switchboard.callbacks.studio.definition import Flow
from switchboard.emulator.script import CallScript, RecordingTake
from switchboard.emulator.stack import SwitchboardStack
from switchboard.emulator.transcript import Transcript
from tests.studio import widget

CALLER = "+15555550100"
OPERATOR = "+15557770000"
TEAM = "+15557770001"


def trigger(call: str | None = None, message: str | None = None) -> dict[str, Any]:
    transitions = [{"event": "incomingMessage"}, {"event": "incomingCall"},
                   {"event": "incomingRequest"}]
    for item, target in zip(transitions, (message, call, None), strict=True):
        if target:
            item["next"] = target
    return {"name": "Trigger", "type": "trigger", "transitions": transitions,
            "properties": {"offset": {"x": 0, "y": 0}}}


def say(name: str, text: str, after: str | None = None) -> dict[str, Any]:
    return widget(name, "say-play", {"say": text, "voice": "Polly.Joanna", "loop": 1},
                  audioComplete=after)


def send(name: str, body: str, after: str | None = None, to: str = "{{contact.channel.address}}"
         ) -> dict[str, Any]:
    return widget(name, "send-message", {"from": "{{flow.channel.address}}", "to": to,
                                         "body": body}, sent=after, failed=None)


IVR = {
    "description": "Front desk",
    "states": [
        trigger(call="welcome"),
        say("welcome", "Welcome to Acme, caller {{trigger.call.From}}.", after="menu"),
        widget("menu", "gather-input-on-call", {
            "say": "Press 1 for sales, 2 to leave a message, or say operator.",
            "number_of_digits": 1, "timeout": 5, "speech_timeout": "auto",
            "hints": "operator", "stop_gather": True,
        }, keypress="route", speech="route", timeout="count"),
        widget("count", "set-variables", {"variables": [
            {"key": "tries", "value": "{{flow.variables.tries | default: 0 | plus: 1}}"}]},
            next="again"),
        widget("again", "split-based-on", {"input": "{{flow.variables.tries}}"},
               noMatch="menu"),
        widget("route", "split-based-on", {"input": "{{widgets.menu.Digits}}"},
               noMatch="unknown"),
        widget("sales", "connect-call-to", {
            "noun": "number", "to": OPERATOR, "caller_id": "{{contact.channel.address}}",
            "timeout": 20,
        }, callCompleted="after_call", hangup=None),
        say("after_call", "Your call with sales was {{widgets.sales.DialCallStatus}}. "
                          "Goodbye."),
        say("record_prompt", "Leave your message after the beep.", after="voicemail"),
        widget("voicemail", "record-voicemail", {
            "max_length": 60, "finish_on_key": "#", "play_beep": "true", "timeout": 5,
        }, recordingComplete="saved", noAudio="nothing", hangup=None),
        widget("saved", "send-message", {
            "from": "{{flow.channel.address}}", "to": TEAM,
            "body": "New voicemail from {{contact.channel.address}}: "
                    "{{widgets.voicemail.RecordingUrl}}",
        }, sent="thanks", failed="thanks"),
        say("thanks", "Thanks, we got {{widgets.voicemail.RecordingDuration}} seconds."),
        say("nothing", "We did not hear anything."),
        say("unknown", "That is not an option. Goodbye."),
    ],
    "initial_state": "Trigger",
    "flags": {"allow_concurrent_calls": True},
}


def _state(definition: dict[str, Any], name: str) -> dict[str, Any]:
    return next(state for state in definition["states"] if state["name"] == name)


_state(IVR, "route")["transitions"] += [
    {"next": "sales", "event": "match", "conditions": [
        {"friendly_name": "1", "arguments": ["{{widgets.menu.Digits}}"], "type": "equal_to",
         "value": "1"}]},
    {"next": "record_prompt", "event": "match", "conditions": [
        {"friendly_name": "2", "arguments": ["{{widgets.menu.Digits}}"], "type": "equal_to",
         "value": "2"}]},
    {"next": "sales", "event": "match", "conditions": [
        {"friendly_name": "operator", "arguments": ["{{widgets.menu.SpeechResult}}"],
         "type": "contains", "value": "operator"}]},
]
_state(IVR, "again")["transitions"].append(
    {"next": "unknown", "event": "match", "conditions": [
        {"friendly_name": "3 tries", "arguments": ["{{flow.variables.tries}}"],
         "type": "greater_than", "value": "2"}]})

BOT = {
    "description": "Appointments by text",
    "states": [
        trigger(message="ask"),
        widget("ask", "send-and-wait-for-reply", {
            "from": "{{flow.channel.address}}", "body": "Hi! Which day suits you?",
            "timeout": "2",
        }, incomingMessage="check", timeout="expired", deliveryFailure=None),
        widget("check", "split-based-on", {"input": "{{widgets.ask.inbound.Body}}"},
               noMatch="unclear"),
        send("booked", "Booked for {{widgets.ask.inbound.Body | capitalize}}.", after="tell"),
        send("tell", "{{contact.channel.address}} booked {{widgets.ask.inbound.Body}}",
             to=TEAM),
        send("unclear", "Sorry, we only open Monday to Friday."),
        send("expired", "You did not answer in time; text us again."),
    ],
    "initial_state": "Trigger",
    "flags": {"allow_concurrent_calls": True},
}
_state(BOT, "check")["transitions"].append(
    {"next": "booked", "event": "match", "conditions": [
        {"friendly_name": "weekday", "arguments": ["{{widgets.ask.inbound.Body}}"],
         "type": "matches_any_of", "value": "monday,tuesday,wednesday,thursday,friday"}]})

HOP_A = {
    "description": "Hands the call to another flow, which hands it back",
    "states": [
        trigger(call="out"),
        say("out", "Going out.", after="away"),
        widget("away", "add-twiml-redirect", {"url": "/flows/hop_b", "method": "POST",
                                              "timeout": "600"},
               **{"return": "back", "timeout": None, "fail": None}),
        say("back", "Back in A, with {{widgets.away.note}}."),
    ],
    "initial_state": "Trigger",
    "flags": {"allow_concurrent_calls": True},
}
HOP_B = {
    "description": "Says something, then returns to the flow that sent the call",
    "states": [
        trigger(call="inside"),
        say("inside", "Inside B.", after="home"),
        widget("home", "add-twiml-redirect",
               {"url": "/flows/hop_a?FlowEvent=return&note=a+souvenir", "method": "POST"},
               **{"return": None, "timeout": None, "fail": None}),
    ],
    "initial_state": "Trigger",
    "flags": {"allow_concurrent_calls": True},
}

FLOWS = {name: Flow(name, body, f"{name}.json") for name, body in
         (("ivr", IVR), ("bot", BOT), ("hop_a", HOP_A), ("hop_b", HOP_B))}


@dataclass
class House:
    stack: SwitchboardStack
    client: TwilioClient
    number: str

    @property
    def store(self) -> Any:
        return self.stack.store

    def call(self, script: CallScript) -> Transcript:
        transcript = self.stack.emulator.phone.inbound_call(self.number, CALLER, script=script)
        assert self.stack.wait_idle(20)
        return transcript

    def text(self, body: str) -> Transcript:
        transcript = self.stack.emulator.phone.inbound_sms(self.number, CALLER, body)
        assert self.stack.wait_idle(20)
        return transcript

    def sent_to(self, number: str) -> list[str]:
        state = self.stack.emulator.state
        return [m["body"] for m in state.list("messages")
                if m.get("to") == number and m.get("direction") != "inbound"]


@pytest.fixture
def house(database_url: str) -> Iterator[House]:
    stack = SwitchboardStack(database_url=database_url, config={"BUNDLED_FLOWS": False,
                                                                 "STUDIO_FLOWS": False}).start()
    stack.app.register_blueprint(studio_blueprint(FLOWS))
    client = stack.client()
    try:
        bought = client.incoming_phone_numbers.create(
            area_code="415", voice_url=f"{stack.url}/flows/ivr",
            sms_url=f"{stack.url}/flows/bot")
        yield House(stack, client, bought["phone_number"])
    finally:
        client.close()
        stack.stop()


def heard(transcript: Transcript) -> list[str]:
    return [event.text for event in transcript.events if event.kind == "say"]


def kinds(transcript: Transcript) -> list[str]:
    return [event.kind for event in transcript.events]


def the_execution(house: House, flow: str) -> executions.Execution:
    found = [e for e in executions.list_executions(house.store)
             if e.flow_name == flow and e.contact_channel_address == CALLER]
    return found[0]


def test_a_caller_presses_1_and_is_put_through_to_sales(house: House) -> None:
    transcript = house.call(CallScript(digits=["1"], dial={OPERATOR: "answered:42"}))
    assert transcript.error_codes == []
    assert heard(transcript) == [
        f"Welcome to Acme, caller {CALLER}.",
        "Press 1 for sales, 2 to leave a message, or say operator.",
        "Your call with sales was completed. Goodbye.",
    ]
    (dial,) = [e for e in transcript.events if e.kind == "dial"]
    assert dial.detail["number"] == OPERATOR
    assert transcript.status == "completed"
    execution = the_execution(house, "ivr")
    assert execution.status == "ended"
    assert execution.context["widgets"]["sales"]["DialCallStatus"] == "completed"
    assert execution.context["widgets"]["sales"]["DialCallDuration"] == "42"
    assert [s["transitioned_to"] for s in executions.list_steps(house.store, execution.sid)] == [
        "welcome", "menu", "route", "sales", "after_call", "Ended"]


def test_a_caller_says_operator(house: House) -> None:
    transcript = house.call(CallScript(digits=[], speech=["operator please"]))
    assert transcript.error_codes == []
    assert heard(transcript)[-1] == "Your call with sales was completed. Goodbye."
    assert the_execution(house, "ivr").context["widgets"]["menu"]["SpeechResult"] == (
        "operator please")


def test_a_caller_leaves_a_voicemail_and_the_team_is_texted(house: House) -> None:
    transcript = house.call(CallScript(digits=["2"], recording=RecordingTake(9, "#")))
    assert transcript.error_codes == []
    assert heard(transcript)[-2:] == ["Leave your message after the beep.",
                                      "Thanks, we got 9 seconds."]
    assert "record" in kinds(transcript)
    (note,) = house.sent_to(TEAM)
    assert note.startswith(f"New voicemail from {CALLER}: http")
    recording_url = the_execution(house, "ivr").context["widgets"]["voicemail"]["RecordingUrl"]
    assert note.endswith(recording_url)


def test_a_silent_caller_hears_the_menu_three_times_then_goodbye(house: House) -> None:
    transcript = house.call(CallScript(digits=["", "", ""]))
    assert transcript.error_codes == []
    menus = [text for text in heard(transcript) if text.startswith("Press 1")]
    assert len(menus) == 3
    assert heard(transcript)[-1] == "That is not an option. Goodbye."
    assert the_execution(house, "ivr").context["flow"]["variables"]["tries"] == 3


def test_a_conversation_resumes_on_the_reply(house: House) -> None:
    first = house.text("hello")
    assert [e.text for e in first.events if e.kind == "message"] == [
        f"to {CALLER}: Hi! Which day suits you?"]
    execution = the_execution(house, "bot")
    assert (execution.status, execution.waiting_for) == ("active", "reply")
    second = house.text("tuesday")
    assert [e.text for e in second.events if e.kind == "message"] == [
        f"to {CALLER}: Booked for Tuesday."]
    assert second.error_codes == []
    assert house.sent_to(TEAM) == [f"{CALLER} booked tuesday"]
    assert the_execution(house, "bot").status == "ended"


def test_a_reply_after_the_timeout_gets_the_timeout_branch_then_a_new_question(
    house: House,
) -> None:
    house.text("hello")
    time.sleep(2.2)
    late = house.text("monday")
    assert [e.text for e in late.events if e.kind == "message"] == [
        f"to {CALLER}: You did not answer in time; text us again.",
        f"to {CALLER}: Hi! Which day suits you?",
    ]
    found = [e for e in executions.list_executions(house.store) if e.flow_name == "bot"]
    assert sorted(e.status for e in found) == ["active", "ended"]


def test_a_call_handed_to_other_twiml_comes_back_and_ends_with_the_call(house: House) -> None:
    """Flow A redirects the call to flow B's URL; B says its piece and redirects back to A
    with ``FlowEvent=return``. The call's status callback, at ``/flows/hop_a/call-status``,
    ends B's execution, left waiting for a return that never comes."""
    url = house.stack.url
    number = house.client.incoming_phone_numbers.create(
        area_code="415", voice_url=f"{url}/flows/hop_a",
        status_callback=f"{url}/flows/hop_a/call-status")["phone_number"]
    transcript = house.stack.emulator.phone.inbound_call(number, CALLER, script=CallScript())
    assert house.stack.wait_idle(20)
    assert transcript.error_codes == []
    assert heard(transcript) == ["Going out.", "Inside B.", "Back in A, with a souvenir."]
    found = {e.flow_name: e for e in executions.list_executions(house.store)
             if e.call_sid == transcript.sid}
    assert set(found) == {"hop_a", "hop_b"}
    assert found["hop_a"].status == "ended"
    assert found["hop_b"].status == "ended"
    assert found["hop_b"].widget is None
    statuses = [c["status"] for c in house.store.status_callbacks(transcript.sid)]
    assert statuses[-1] == "completed"
