"""Attribute values Twilio documents, and verbs that would never run: refused at the call."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from switchboard.callbacks.twiml import (
    DECLARATION,
    Gather,
    Hangup,
    MessagingResponse,
    Redirect,
    Say,
    TwiMLError,
    VoiceResponse,
    parse_twiml,
)
from switchboard.callbacks.twiml_vocabulary import ELEMENTS

# --- values Twilio does not take ---------------------------------------------------------------


def _gather(r: VoiceResponse, **keywords: Any) -> None:
    r.gather(**keywords)


def _say(r: VoiceResponse, **keywords: Any) -> None:
    r.say("hi", **keywords)


def _record(r: VoiceResponse, **keywords: Any) -> None:
    r.record(**keywords)


def _dial(r: VoiceResponse, **keywords: Any) -> None:
    r.dial("+15551234567", **keywords)


def _number(r: VoiceResponse, **keywords: Any) -> None:
    with r.dial() as dial:
        dial.number("+15551234567", **keywords)


def _conference(r: VoiceResponse, **keywords: Any) -> None:
    with r.dial() as dial:
        dial.conference("room", **keywords)


def _pause(r: VoiceResponse, **keywords: Any) -> None:
    r.pause(**keywords)


def _pay(r: VoiceResponse, **keywords: Any) -> None:
    r.pay(**keywords)


def _transcription(r: VoiceResponse, **keywords: Any) -> None:
    with r.start() as start:
        start.transcription(**keywords)


def _prosody(r: VoiceResponse, **keywords: Any) -> None:
    with r.say() as say:
        say.prosody("words", **keywords)


def _emphasis(r: VoiceResponse, **keywords: Any) -> None:
    with r.say() as say:
        say.emphasis("words", **keywords)


def _say_as(r: VoiceResponse, **keywords: Any) -> None:
    with r.say() as say:
        say.say_as("12.50", **keywords)


@pytest.mark.parametrize(
    ("build", "keywords", "message"),
    [
        (_gather, {"method": "PUT"}, r"^<Gather> attribute 'method': 'PUT' .*give GET, POST$"),
        (_gather, {"timeout": "-3"}, r"^<Gather> attribute 'timeout': '-3' .*1 or more$"),
        (_gather, {"timeout": "abc"}, r"^<Gather> attribute 'timeout': 'abc'"),
        (_gather, {"timeout": 2.5}, r"^<Gather> attribute 'timeout': '2.5'"),
        (_gather, {"num_digits": 0}, r"^<Gather> attribute 'numDigits': '0' .*1 or more$"),
        (_gather, {"finish_on_key": "#*"}, r"^<Gather> attribute 'finishOnKey': '#\*'"),
        (_gather, {"input": "dtmf voice"}, r"^<Gather> attribute 'input'.*dtmf, speech"),
        (_gather, {"input": ""}, r"^<Gather> attribute 'input': ''"),
        (_gather, {"barge_in": "yes"}, r"^<Gather> attribute 'bargeIn'.*give true, false$"),
        (_gather, {"language": "english"}, r"^<Gather> attribute 'language'.*BCP-47"),
        (_gather, {"speech_timeout": "soon"}, r"^<Gather> attribute 'speechTimeout'.*auto$"),
        (_say, {"voice": "robot"}, r"^<Say> attribute 'voice': 'robot' .*Polly\."),
        (_say, {"loop": -1}, r"^<Say> attribute 'loop': '-1' .*0 or more$"),
        (_say, {"language": "en_US"}, r"^<Say> attribute 'language': 'en_US'"),
        (_record, {"trim": "maybe"}, r"^<Record> attribute 'trim'.*trim-silence, do-not-trim$"),
        (_record, {"max_length": 1}, r"^<Record> attribute 'maxLength'.*from 2 to 86400$"),
        (_record, {"finish_on_key": "A"}, r"^<Record> attribute 'finishOnKey'"),
        (_dial, {"record": "maybe"}, r"^<Dial> attribute 'record': 'maybe' .*do-not-record"),
        (_dial, {"timeout": 0}, r"^<Dial> attribute 'timeout'"),
        (_dial, {"ring_tone": "mars"}, r"^<Dial> attribute 'ringTone'"),
        (
            _number,
            {"status_callback_event": ["initiated", "hungup"]},
            r"^<Number> attribute 'statusCallbackEvent': 'initiated hungup' .*initiated, "
            r"ringing, answered, completed \(separated by spaces\)$",
        ),
        (_number, {"machine_detection_timeout": 61}, r"^<Number> .*from 3 to 60$"),
        (_number, {"send_digits": "12x"}, r"^<Number> attribute 'sendDigits'"),
        (_conference, {"beep": "loud"}, r"^<Conference> attribute 'beep'.*onEnter, onExit$"),
        (_conference, {"max_participants": 251}, r"^<Conference> .*from 1 to 250$"),
        (_conference, {"max_participants": 0}, r"^<Conference> .*from 1 to 250$"),
        (_conference, {"status_callback_event": "start finish"}, r"^<Conference> attribute"),
    ],
)
def test_a_value_twilio_does_not_take_is_refused_naming_verb_attribute_and_values(
    build: Any, keywords: dict[str, Any], message: str
) -> None:
    r = VoiceResponse()
    with pytest.raises(TwiMLError, match=message):
        build(r, **keywords)
    empty = f"{DECLARATION}<Response/>"  # (or with the <Dial> a noun was refused in)
    assert str(r) in (empty, f"{DECLARATION}<Response><Dial/></Response>")


def test_other_verbs_check_their_values_too() -> None:
    r = VoiceResponse()
    cases = [
        (lambda: r.play("x.mp3", loop=-1), "<Play> attribute 'loop'"),
        (lambda: r.pause(length=0), "<Pause> attribute 'length'"),
        (lambda: r.redirect("/next", method="DELETE"), "<Redirect> attribute 'method'"),
        (lambda: r.reject(reason="nope"), "<Reject> attribute 'reason'"),
        (lambda: r.enqueue("q", wait_url_method="PUT"), "<Enqueue> attribute 'waitUrlMethod'"),
        (lambda: MessagingResponse().message("hi", method="PUT"), "<Message> attribute 'method'"),
        (lambda: Gather(num_digits=0), "<Gather> attribute 'numDigits'"),  # made on its own
    ]
    for call, message in cases:
        with pytest.raises(TwiMLError, match=f"^{message}"):
            call()
    assert str(r) == f"{DECLARATION}<Response/>"  # nothing half-made was left behind


@pytest.mark.parametrize(
    ("build", "keywords", "printed"),
    [
        (_gather, {"method": "post"}, 'method="post"'),  # any case, as Twilio reads it
        (_gather, {"timeout": "5"}, 'timeout="5"'),  # numbers as text
        (_gather, {"barge_in": True}, 'bargeIn="true"'),
        (_gather, {"barge_in": "false"}, 'bargeIn="false"'),
        (_gather, {"input": "dtmf speech"}, 'input="dtmf speech"'),
        (_gather, {"input": ["speech", "dtmf"]}, 'input="speech dtmf"'),
        (_gather, {"finish_on_key": ""}, 'finishOnKey=""'),  # none: every key is input
        (_gather, {"finish_on_key": "*"}, 'finishOnKey="*"'),
        (_gather, {"speech_timeout": "auto"}, 'speechTimeout="auto"'),
        (_gather, {"language": "cmn-Hans-CN"}, 'language="cmn-Hans-CN"'),
        (_gather, {"speech_model": "deepgram_nova-3"}, 'speechModel="deepgram_nova-3"'),
        (_say, {"voice": "Polly.Joanna-Neural"}, 'voice="Polly.Joanna-Neural"'),
        (_say, {"voice": "Polly.Céline"}, 'voice="Polly.Céline"'),
        (_say, {"voice": "Google.en-US-Chirp3-HD-Aoede"}, 'voice="Google.en-US-Chirp3-HD-Aoede"'),
        (_say, {"voice": "alice", "language": "arb"}, 'voice="alice" language="arb"'),
        (_say, {"loop": 0}, 'loop="0"'),
        (_record, {"finish_on_key": "1234567890*#", "timeout": 0}, 'finishOnKey="1234567890*#"'),
        (_record, {"recording_status_callback_event": ["in-progress", "completed"]}, "in-progress"),
        (_dial, {"record": True}, 'record="true"'),  # Twilio's alias of record-from-answer
        (_dial, {"record": "record-from-ringing-dual"}, 'record="record-from-ringing-dual"'),
        (_dial, {"timeout": 600, "ring_tone": "uk"}, 'timeout="600" ringTone="uk"'),
        (_number, {"status_callback_event": "initiated ringing answered completed"}, "answered"),
        (_number, {"send_digits": "ww1234#"}, 'sendDigits="ww1234#"'),
        (_conference, {"beep": "onEnter", "region": "ie1"}, 'beep="onEnter" region="ie1"'),
        # Twilio's <Conference> reference: maxParticipants is a "positive integer <= 250"
        (_conference, {"max_participants": 1}, 'maxParticipants="1"'),
        (_conference, {"max_participants": 250}, 'maxParticipants="250"'),
        # Twilio's SSML <prosody> values (and Amazon Polly's) include "default"; Google's
        # voices take pitch in semitones; rate "default" is SSML's
        (_prosody, {"volume": "default"}, 'volume="default"'),
        (_prosody, {"pitch": "default"}, 'pitch="default"'),
        (_prosody, {"rate": "default"}, 'rate="default"'),
        (_prosody, {"pitch": "-2st"}, 'pitch="-2st"'),
        (_prosody, {"pitch": "+10%", "rate": "x-slow", "volume": "-6dB"}, 'volume="-6dB"'),
        # Google's SSML, for the Google.* voices
        (_emphasis, {"level": "none"}, 'level="none"'),
        (_say_as, {"interpret_as": "currency"}, 'interpret-as="currency"'),
        (_say_as, {"interpret_as": "verbatim"}, 'interpret-as="verbatim"'),
        # Polly voices of any engine, with or without a suffix
        (_say, {"voice": "Polly.Joanna-Generative"}, 'voice="Polly.Joanna-Generative"'),
        (_say, {"voice": "Polly.Danielle-Long-Form"}, 'voice="Polly.Danielle-Long-Form"'),
        (_say, {"voice": "Google.cmn-CN-Wavenet-A"}, 'voice="Google.cmn-CN-Wavenet-A"'),
        # Deepgram's many-language model, which Twilio passes on
        (_gather, {"language": "multi", "speech_model": "deepgram_nova-3"}, 'language="multi"'),
        (_transcription, {"language_code": "multi"}, 'languageCode="multi"'),
        (_transcription, {"language_code": "en-US", "track": "both_tracks"}, "both_tracks"),
        (_gather, {"speech_model": "googlev2_telephony", "enhanced": True}, 'enhanced="true"'),
        (_gather, {"speech_model": "experimental_conversations"}, "experimental_conversations"),
        (_gather, {"speech_model": "numbers_and_commands", "speech_timeout": 3}, "Timeout"),
        # <Pay validCardTypes>: space-separated in Twilio's reference, "comma separated" in
        # the description its helper libraries carry
        (_pay, {"valid_card_types": "visa mastercard amex"}, 'Types="visa mastercard amex"'),
        (_pay, {"valid_card_types": "visa,amex"}, 'validCardTypes="visa,amex"'),
        (_pay, {"valid_card_types": ["visa", "diners-club"]}, 'validCardTypes="visa diners-club"'),
        # numbers are written as Python prints them, checked or not: a float that is a
        # whole number is written 5.0
        (_gather, {"timeout": 5.0}, 'timeout="5.0"'),
        (_dial, {"timeout": 30.0, "time_limit": Decimal("600")}, 'timeout="30.0" timeLimit="600"'),
        (_pause, {"length": 2.0}, 'length="2.0"'),
        (_record, {"max_length": 3600.0, "play_beep": False}, 'maxLength="3600.0" playBeep'),
        (_number, {"machine_detection": "DetectMessageEnd", "machine_detection_timeout": 59},
         'machineDetection="DetectMessageEnd"'),
        (_number, {"machine_detection": "enable", "machine_detection_silence_timeout": 10000},
         'machineDetection="enable"'),
        (_dial, {"record": "record-from-answer-dual", "trim": "do-not-trim"}, "answer-dual"),
        (_dial, {"recording_track": "inbound", "ring_tone": "us-old"}, 'ringTone="us-old"'),
        (_conference, {"record": "record-from-start", "jitter_buffer_size": "off"}, 'record="rec'),
        (_conference, {"status_callback_event": "start end join leave mute hold modify speaker "
                       "announcement"}, "announcement"),
        (_conference, {"recording_status_callback_event": "in-progress completed absent"},
         "absent"),
    ],
)
def test_values_twilio_documents_are_accepted(
    build: Any, keywords: dict[str, Any], printed: str
) -> None:
    r = VoiceResponse()
    build(r, **keywords)
    assert printed in str(r)
    assert parse_twiml(r.to_bytes()) is not None


def test_ssml_values_are_checked() -> None:
    with VoiceResponse().say() as say:
        say.break_(time="500ms").prosody("slow", rate="80%", volume="+6dB", pitch="-10%")
        say.say_as("1234", interpret_as="digits").emphasis("so", level="strong")
        with pytest.raises(TwiMLError, match=r"^<break> attribute 'time'"):
            say.break_(time="half a second")
        with pytest.raises(TwiMLError, match=r"^<say-as> attribute 'interpret-as'"):
            say.say_as("1234", interpret_as="shouting")
        with pytest.raises(TwiMLError, match=r"^<lang> attribute 'xml:lang'"):
            say.lang("hola", xml_lang="Spanish!")


def test_a_repeated_call_with_a_new_value_twilio_does_not_take_is_refused() -> None:
    """A call like the last one made from its shape but for the text of one value takes the
    builder's short way: the new value is checked all the same."""

    def menu(method: str, action: str) -> str:
        r = VoiceResponse()
        r.gather(action=action, method=method)
        return str(r)

    for action in ("/a", "/b"):
        assert 'method="POST"' in menu("POST", action)
        assert 'method="GET"' in menu("GET", action)  # the same call but for one str value
        with pytest.raises(TwiMLError, match=r"^<Gather> attribute 'method': 'PUT'"):
            menu("PUT", action)
        with pytest.raises(TwiMLError, match=r"^<Gather> attribute 'method': 'PUT'"):
            menu("PUT", action)  # (a refused call is remembered nowhere)


def test_a_document_changed_through_element_still_checks_values() -> None:
    r = VoiceResponse().say("hi")
    r.element  # noqa: B018 - a plain lxml tree from here on
    with pytest.raises(TwiMLError, match=r"^<Gather> attribute 'numDigits'"):
        r.gather(num_digits=-1)
    assert str(r) == f"{DECLARATION}<Response><Say>hi</Say></Response>"


def test_a_value_xml_cannot_carry_is_named_as_such_where_twilio_also_documents_values() -> None:
    with pytest.raises(TwiMLError, match=r"^<Gather> attribute 'method': the value is not XML"):
        VoiceResponse().gather(method="POST\x00")


def test_every_rule_names_values_it_accepts() -> None:
    """The error's "give ..." is a list of values that work (the tests build with them)."""
    from tests.twiml.test_parse import allowed_examples

    for spec in ELEMENTS.values():
        for name, rule in spec.values.items():
            assert name in spec.attributes
            assert allowed_examples(rule), (spec.tag, name, rule.allowed)


def test_parse_twiml_still_reads_values_twilio_would_only_warn_about() -> None:
    """Twilio runs such a document (with a 12200 warning), so the parser, which tells TwiML
    from anything else, does not refuse it: only the builder does."""
    root = parse_twiml(b'<Response><Gather timeout="soon" method="PUT"/></Response>')
    assert root[0].get("timeout") == "soon"


# --- verbs after a verb that ends the document ----------------------------------------------


@pytest.mark.parametrize("ending", ["hangup", "reject", "redirect"])
def test_a_verb_after_hangup_reject_or_redirect_is_refused(ending: str) -> None:
    r = VoiceResponse().say("bye")
    getattr(r, ending)(*(["/next"] if ending == "redirect" else []))
    before = str(r)
    tag = ending.capitalize()
    message = rf"^<Response> \(voice\): <Say> after <{tag}> would never run"
    with pytest.raises(TwiMLError, match=message):
        r.say("never heard")
    with pytest.raises(TwiMLError, match=message):
        r.append(Say("never heard"))
    with pytest.raises(TwiMLError, match=rf"<Gather> after <{tag}>"):
        r.gather(num_digits=1)
    assert str(r) == before


def test_a_verb_after_redirect_in_a_messaging_response_is_refused() -> None:
    reply = MessagingResponse().message("one").redirect("/more")
    with pytest.raises(TwiMLError, match=r"^<Response> \(messaging\): <Message> after <Redirect>"):
        reply.message("two")
    with pytest.raises(TwiMLError, match=r"<Redirect> after <Redirect>"):
        reply.append(Redirect("/again"))


def test_children_of_an_ending_verb_and_nested_nouns_are_still_allowed() -> None:
    r = VoiceResponse()
    with r.gather(num_digits=1) as gather:
        gather.say("Press 1")
    r.hangup()
    with r as hangup:
        hangup.parameter("reason", "done")  # inside <Hangup>: not a verb after it
        hangup.parameter("more", "yes")
    with pytest.raises(TwiMLError, match=r"<Pause> after <Hangup>"):
        r.pause()  # the last verb is still <Hangup>, however deep the last element
    assert str(r) == (
        f'{DECLARATION}<Response><Gather numDigits="1"><Say>Press 1</Say></Gather><Hangup>'
        '<Parameter name="reason" value="done"/><Parameter name="more" value="yes"/>'
        "</Hangup></Response>"
    )


def test_leave_and_verbs_that_go_on_are_not_affected() -> None:
    r = VoiceResponse().leave().say("after leave").dial("+15551234567").say("after dial")
    r.enqueue("support").say("after enqueue").record().say("after record")
    assert len(parse_twiml(str(r))) == 8


def test_an_ending_verb_appended_whole_or_in_a_live_document_ends_it_too() -> None:
    r = VoiceResponse().say("bye").append(Hangup())
    with pytest.raises(TwiMLError, match=r"<Say> after <Hangup>"):
        r.say("never")
    live = VoiceResponse().redirect("/next")
    live.element.append(etree.Comment(" a note "))  # a plain lxml tree from here on
    with pytest.raises(TwiMLError, match=r"<Say> after <Redirect>"):
        live.say("never")
    assert str(live) == (
        f"{DECLARATION}<Response><Redirect>/next</Redirect><!-- a note --></Response>"
    )


def test_the_same_menu_is_refused_every_time() -> None:
    for _ in range(3):  # the short way for repeated calls never skips the check
        r = VoiceResponse().say("menu").hangup()
        with pytest.raises(TwiMLError, match=r"<Say> after <Hangup>"):
            r.say("again")
        assert str(r) == f"{DECLARATION}<Response><Say>menu</Say><Hangup/></Response>"


def test_a_rule_remembers_few_accepted_values_and_still_refuses_others() -> None:
    """Each rule remembers short texts it accepted (a set lookup on the repeated-call path,
    rather than a regular expression), a bounded number of them, and nothing it refused."""
    rule = ELEMENTS["Say"].values["voice"]

    def greet(voice: str) -> str:
        r = VoiceResponse()
        r.say("hi", voice=voice)
        return str(r)

    for _ in range(3):  # alternating voices: the short way for repeated calls
        assert 'voice="Polly.Joanna"' in greet("Polly.Joanna")
        assert 'voice="Google.en-US-Neural2-A"' in greet("Google.en-US-Neural2-A")
        with pytest.raises(TwiMLError, match=r"^<Say> attribute 'voice': 'robot'"):
            greet("robot")
    assert rule.accepts("Polly.Joanna")
    assert not rule.accepts("robot")
    for number in range(500):
        assert rule.accepts(f"Polly.Name-{'x' * (number % 7 + 1)}{chr(97 + number % 26)}")
    long_name = "Polly." + "J" * 200
    assert rule.accepts(long_name)
    remembered = rule._accepted  # (the rule's memory, bounded)
    assert len(remembered) <= 64
    assert long_name not in remembered
    assert "robot" not in remembered
