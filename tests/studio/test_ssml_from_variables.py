"""SSML in the text to say of Say/Play and Gather Input On Call comes from the flow's own
template only: what a Liquid variable holds (a caller's speech, a message, an HTTP answer) is
said as text, escaped in the TwiML, whether on its own or inside the template's SSML."""

from __future__ import annotations

import json
from typing import Any

import pytest
from lxml import etree

from switchboard.callbacks.studio.definition import Flow
from switchboard.callbacks.studio.widgets.base import VOICE, Output, Visit
from switchboard.callbacks.studio.widgets.voice import GatherInputOnCall, SayPlay

SPEECH = '<break time="3s"/>'
SLOW = '<prosody rate="x-slow">hi</prosody>'
BODY = '<say-as interpret-as="characters">SOS</say-as>'
NAME = "Tom & \"Jerry\" <3 'n'"

CONTEXT: dict[str, Any] = {
    "trigger": {"message": {"Body": BODY}},
    "widgets": {"gather": {"SpeechResult": SPEECH}, "again": {"SpeechResult": SLOW},
                "http": {"parsed": {"name": NAME, "rate": "slow",
                                    "sneaky": 'slow" volume="x-loud'}}},
    "flow": {"flow_sid": "FW" + "0" * 32, "sid": "FN" + "0" * 32,
             "channel": {"address": "+15555550100"}, "variables": {}, "data": {}},
    "contact": {"channel": {"address": "+15555550123"}},
}

WIDGETS = {
    "say-play": (SayPlay, ("audioComplete",)),
    "gather-input-on-call": (GatherInputOnCall, ("keypress", "speech", "timeout")),
}


class Links:
    def step(self, widget: str, source: str) -> str:
        return f"http://localhost/flows/f/step/{widget}/{source}"

    def message_status(self, execution_sid: str, widget: str) -> str | None:
        return None

    def outgoing_call(self, execution_sid: str, widget: str) -> str | None:
        return None

    def outgoing_call_status(self, execution_sid: str, widget: str) -> str | None:
        return None

    def recording_status(self, widget: str) -> str | None:
        return None


def answer(kind: str, say: str) -> bytes:
    """The TwiML a widget of ``kind`` answers with ``say`` as its text to say."""
    widget_class, events = WIDGETS[kind]
    state = {"name": "prompt", "type": kind, "properties": {"say": say, "loop": 1},
             "transitions": [{"event": event} for event in events]}
    flow = Flow("f", {"states": [state], "initial_state": "prompt"}, "f.json")
    visit = Visit(name="prompt", type=kind, properties=state["properties"], flow=flow,
                  context=CONTEXT, output=Output(VOICE), settings=None,  # type: ignore[arg-type]
                  links=Links(), execution_sid="FN" + "0" * 32, remaining=lambda: 10.0,
                  rest_client=lambda: None)
    widget_class().run(visit)
    return visit.output.voice.to_bytes()


def said(kind: str, say: str) -> etree._Element:
    """The ``<Say>`` a widget of ``kind`` answers for the text to say ``say``."""
    (element,) = etree.fromstring(answer(kind, say)).iter("Say")
    return element


def inside(element: etree._Element) -> list[tuple[str, dict[str, str], str | None, int]]:
    """Each child of ``element``: its tag, attributes, text and how many children it has."""
    return [(child.tag, dict(child.attrib), child.text, len(child)) for child in element]


kinds = pytest.mark.parametrize("kind", list(WIDGETS))


@kinds
@pytest.mark.parametrize(("template", "expected"), [
    ("{{widgets.gather.SpeechResult}}", SPEECH),
    ("You said {{widgets.gather.SpeechResult}}.", f"You said {SPEECH}."),
    ("You said {{ widgets.again.SpeechResult }}", f"You said {SLOW}"),
    ("You wrote {{trigger.message.Body}}", f"You wrote {BODY}"),
    ("Hello {{widgets.http.parsed.name}}.", f"Hello {NAME}."),
    ("{{ widgets.again.SpeechResult | upcase }}", SLOW.upper()),
])
def test_markup_a_variable_holds_is_said_as_text(kind: str, template: str,
                                                  expected: str) -> None:
    say = said(kind, template)
    assert (len(say), say.text) == (0, expected)


@kinds
def test_the_templates_own_ssml_holds_the_variables_as_text(kind: str) -> None:
    say = said(kind, '<prosody rate="slow">You said {{widgets.again.SpeechResult}}</prosody>'
                     '<break time="1s"/>{{widgets.gather.SpeechResult}} and '
                     "{{trigger.message.Body}}")
    assert say.text is None
    assert inside(say) == [("prosody", {"rate": "slow"}, f"You said {SLOW}", 0),
                           ("break", {"time": "1s"}, None, 0)]
    assert say[-1].tail == f"{SPEECH} and {BODY}"
    assert b"You said &lt;prosody rate=\"x-slow\"&gt;hi&lt;/prosody&gt;</prosody>" in answer(
        kind, '<prosody rate="slow">You said {{widgets.again.SpeechResult}}</prosody>')


@kinds
def test_ampersands_angle_brackets_and_quotes_from_a_variable_are_text(kind: str) -> None:
    say = said(kind, "<emphasis>{{widgets.http.parsed.name}}</emphasis>, "
                     "<s>{{ widgets.http.parsed | to_json }}</s>")
    assert inside(say) == [("emphasis", {}, NAME, 0),
                           ("s", {}, json.dumps(CONTEXT["widgets"]["http"]["parsed"]), 0)]
    assert say[0].tail == ", "
    assert b"<emphasis>Tom &amp; \"Jerry\" &lt;3 'n'</emphasis>" in answer(
        kind, "<emphasis>{{widgets.http.parsed.name}}</emphasis>")


def test_a_variable_in_an_attribute_is_its_value_never_more_attributes() -> None:
    assert inside(said("say-play", '<prosody rate="{{widgets.http.parsed.rate}}">Hi</prosody>'
                       )) == [("prosody", {"rate": "slow"}, "Hi", 0)]
    template = '<prosody rate="{{widgets.http.parsed.sneaky}}">Hi</prosody>'
    say = said("say-play", template)
    assert (len(say), say.text) == (
        0, '<prosody rate="slow" volume="x-loud">Hi</prosody>')


@pytest.mark.parametrize(("template", "expected"), [
    ("<s>{{ widgets.gather.SpeechResult | escape }}</s>", [("s", {}, SPEECH, 0)]),
    ("<s>{{ trigger.message.Body | strip_html }}</s>", [("s", {}, "SOS", 0)]),
    ("<s>{{ widgets.again.SpeechResult | safe }}</s>", [("s", {}, SLOW, 0)]),
    ("<s>{{ widgets.nothing | default: 'none' }}</s>", [("s", {}, "none", 0)]),
    ('<s>Wait</s>{{ "<break/>" }}', [("s", {}, "Wait", 0), ("break", {}, None, 0)]),
])
def test_filters_in_ssml(template: str, expected: list[Any]) -> None:
    assert inside(said("say-play", template)) == expected


@pytest.mark.parametrize(("template", "expected"), [
    ("Hello {{contact.channel.address}}.", "Hello +15555550123."),
    ("Tom & Jerry", "Tom & Jerry"),
    ("1 < 2 and 3 &amp; 4", "1 < 2 and 3 &amp; 4"),
    ("Tom & {{widgets.http.parsed.name}} <b>", f"Tom & {NAME} <b>"),
    ("{% if widgets.http.parsed.rate < 'z' %}{{widgets.http.parsed.name}}{% endif %}", NAME),
    ('Wait <break time="forever"/> for {{widgets.http.parsed.name}}',
     f'Wait <break time="forever"/> for {NAME}'),
])
def test_text_that_is_not_ssml_is_said_as_it_renders(template: str, expected: str) -> None:
    say = said("say-play", template)
    assert (len(say), say.text) == (0, expected)
