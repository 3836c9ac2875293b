"""What the builder refuses because Twilio could not read it: values and texts XML cannot
carry, numbers Twilio cannot read, misplaced appends, documents broken through ``.element``
(the caller then gets the safe TwiML), documents over 64 kB, and look-alikes of documented
values; and what it still takes (bytes as UTF-8 text, Polly's accented voice names)."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from switchboard.callbacks.errors import VOICE_APOLOGY
from switchboard.callbacks.handlers import TwilioBlueprint
from switchboard.callbacks.twilio_request import CallRequest, MessageRequest
from switchboard.callbacks.twiml import (
    DECLARATION,
    MAX_DOCUMENT_BYTES,
    MessagingResponse,
    SsmlEmphasis,
    SsmlProsody,
    TwiMLError,
    VoiceResponse,
    parse_twiml,
)
from tests.server.conftest import Twilio, call_params, clean_app, message_params

# --- values and texts Twilio cannot read --------------------------------------------------------


@pytest.mark.parametrize("value", ["a\x00b", "a\ud800b", "a\ufffeb", "bell\x07"])
def test_an_attribute_value_xml_cannot_carry_names_the_verb_and_attribute(value: str) -> None:
    with pytest.raises(TwiMLError, match=r"^<Say> attribute 'voice': the value is not XML"):
        VoiceResponse().say("hi", voice=value)
    with pytest.raises(TwiMLError, match=r"^<Gather> attribute 'input': the value is not XML"):
        VoiceResponse().gather(action="/ok", input=["dtmf", value])


@pytest.mark.parametrize(
    "number",
    [math.nan, math.inf, -math.inf, 1j, Fraction(1, 3), Decimal("NaN"), Decimal("-Infinity")],
)
def test_numbers_twilio_cannot_read_are_refused(number: Any) -> None:
    with pytest.raises(TwiMLError, match=r"^<Pause> attribute 'length': cannot use the"):
        VoiceResponse().pause(length=number)
    with pytest.raises(TwiMLError, match=r"^<Say> text: cannot use the"):
        VoiceResponse().say(number)


def test_an_int_too_long_to_print_is_a_twiml_error_not_lxml_or_python_s() -> None:
    huge = 10**5000
    with pytest.raises(TwiMLError, match=r"^<Pause> attribute 'length': cannot use the int"):
        VoiceResponse().pause(length=huge)
    with pytest.raises(TwiMLError, match=r"^<Number> text: cannot use the int"):
        VoiceResponse().dial().__enter__().number(huge)


def test_a_number_whose_text_xml_cannot_carry_is_refused_at_the_call() -> None:
    class Odd(float):
        def __str__(self) -> str:
            return "1\x00"

    r = VoiceResponse().say("kept")
    with pytest.raises(TwiMLError, match=r"^<Say> text: cannot use the Odd"):
        r.say(Odd(1))
    with pytest.raises(TwiMLError, match=r"^<Pause> attribute 'length': cannot use the Odd"):
        r.pause(length=Odd(1))
    assert str(r) == f"{DECLARATION}<Response><Say>kept</Say></Response>"


def test_finite_numbers_are_written_as_given() -> None:
    r = VoiceResponse().pause(length=2).pay(charge_amount=1.5)
    r.pay(charge_amount=Decimal("3.0")).say(42).say(Decimal("0.50"))
    assert str(r) == (
        f'{DECLARATION}<Response><Pause length="2"/><Pay chargeAmount="1.5"/>'
        '<Pay chargeAmount="3.0"/>'
        "<Say>42</Say><Say>0.50</Say></Response>"
    )


def test_one_attribute_in_two_spellings_is_refused() -> None:
    for keywords in ({"num_digits": 1, "numDigits": 2}, {"numDigits": 2, "num_digits": 1}):
        with pytest.raises(TwiMLError, match=r"^<Gather> attribute 'numDigits' is given twice"):
            VoiceResponse().gather(**keywords)
    with VoiceResponse().say() as say, pytest.raises(TwiMLError, match="'xml:lang' is given"):
        say.lang("hola", xml_lang="es-ES", **{"xml:lang": "es-MX"})
    # a None still means "left out", in either spelling
    assert 'numDigits="2"' in str(VoiceResponse().gather(num_digits=None, numDigits=2))


def test_a_task_mapping_that_is_not_json_is_a_twiml_error() -> None:
    r = VoiceResponse()
    with r.enqueue(workflow_sid="WW1") as enqueue:
        with pytest.raises(TwiMLError, match=r"^<Task> text: the mapping is not JSON"):
            enqueue.task({"when": object()})
        with pytest.raises(TwiMLError, match=r"^<Task> text: the mapping is not JSON"):
            enqueue.task({"priority": math.nan})  # NaN is not JSON: Twilio would refuse it
        enqueue.task({"language": "</Task>&"})
    task = parse_twiml(r.to_bytes())[0][0]
    assert json.loads(task.text) == {"language": "</Task>&"}


# --- append -------------------------------------------------------------------------------------


@pytest.mark.parametrize("thing", ["<Say>hi</Say>", None, etree.Element("Say")])
def test_append_refuses_what_is_not_a_node_in_one_clear_line(thing: Any) -> None:
    with pytest.raises(TypeError, match=r"^<Response> \(voice\): append\(\) takes a node"):
        VoiceResponse().append(thing)


def test_append_of_a_node_into_itself_is_a_twiml_error() -> None:
    emphasis = SsmlEmphasis("x")
    with pytest.raises(TwiMLError, match=r"^cannot append <emphasis> inside itself"):
        emphasis.append(emphasis)
    outer = SsmlProsody("a", rate="slow")
    with outer.prosody("b") as inner, pytest.raises(TwiMLError, match="<prosody> inside itself"):
        inner.append(outer)
    assert str(outer) == '<prosody rate="slow">a<prosody>b</prosody></prosody>'


# --- a document broken through .element ---------------------------------------------------------


def _broken_documents() -> list[VoiceResponse]:
    unknown = VoiceResponse().say("hi")
    unknown.element.append(etree.Element("Dance"))
    text = VoiceResponse().say("hi")
    text.element.text = "spoken? no: refused by Twilio"
    nested = VoiceResponse()
    with nested.gather(action="/menu") as gather:
        gather.say("Press 1")
    gather.element.append(etree.Element("Dial"))
    attribute = VoiceResponse().say("hi")
    attribute.element[0].set("colour", "blue")
    after_comment = VoiceResponse().say("hi")
    note = etree.Comment("note")
    note.tail = "text after a comment is still text in <Response>"
    after_comment.element.insert(0, note)
    return [unknown, text, nested, attribute, after_comment]


@pytest.mark.parametrize("index", range(5))
def test_a_document_changed_through_element_is_checked_when_written(index: int) -> None:
    response = _broken_documents()[index]
    with pytest.raises(TwiMLError, match=r"^the document, changed through \.element: <"):
        response.to_bytes()
    with pytest.raises(TwiMLError, match=r"changed through \.element"):
        str(response)


def test_a_valid_change_through_element_is_written() -> None:
    r = VoiceResponse().say("one", voice="alice")
    r.element[0].set("voice", "bob")
    r.element.append(etree.Comment(" a note "))
    r.hangup()
    assert r.to_bytes() == (
        DECLARATION.encode()
        + b'<Response><Say voice="bob">one</Say><!-- a note --><Hangup/></Response>'
    )


def test_the_caller_gets_the_safe_twiml_when_a_handler_breaks_its_document(
    tmp_path: Path,
) -> None:
    bp = TwilioBlueprint("broken_documents", __name__, url_prefix="/broken-documents")

    @bp.voice("/voice")
    def voice(call: CallRequest) -> VoiceResponse:
        return _broken_documents()[int(call.params["Index"])]

    @bp.sms("/sms")
    def sms(message: MessageRequest) -> MessagingResponse:
        reply = MessagingResponse().message(message.body)
        reply.element[0].append(etree.Element("Say"))
        return reply

    app = clean_app(f"sqlite:///{tmp_path / 'switchboard.sqlite3'}")
    app.register_blueprint(bp)
    twilio = Twilio(app.test_client())
    try:
        for index in range(5):
            response = twilio.post("/broken-documents/voice", call_params(Index=str(index)))
            assert response.status_code == 200
            root = parse_twiml(response.data, kind="voice")
            assert [child.tag for child in root] == ["Say", "Hangup"]
            assert root[0].text == VOICE_APOLOGY
        response = twilio.post("/broken-documents/sms", message_params("<b>hi</b>"))
        assert response.status_code == 200
        assert len(parse_twiml(response.data, kind="messaging")) == 0  # no reply sent
    finally:
        app.extensions["switchboard"].store.close()


# --- what is sent to Twilio ------------------------------------------------------------------


def test_a_document_over_64_kb_is_refused_when_written_for_twilio() -> None:
    """Twilio reads at most 64 kB of an answer (error 11750): the server's error policy must
    answer in its place, so ``to_bytes()`` refuses a longer document."""
    empty = len(VoiceResponse().say("x").to_bytes()) - 1
    fits = VoiceResponse().say("x" * (MAX_DOCUMENT_BYTES - empty))
    assert len(fits.to_bytes()) == MAX_DOCUMENT_BYTES == 64 * 1024
    too_long = VoiceResponse().say("é" * 40_000)  # 80,000 bytes of UTF-8
    with pytest.raises(TwiMLError, match=r"^the document is 80\d\d\d bytes: Twilio reads at"):
        too_long.to_bytes()
    with pytest.raises(TwiMLError, match="error 11750"):
        MessagingResponse().message("a" * 70_000).to_bytes()


def test_a_str_with_a_lone_surrogate_is_not_twiml() -> None:
    lone = r"^not well-formed XML: '\\ud800' at position 15 is a lone surrogate"
    with pytest.raises(TwiMLError, match=lone) as caught:
        parse_twiml("<Response><Say>\ud800</Say></Response>")
    assert caught.value.code == 12100


@pytest.mark.parametrize("empty", [b"", bytearray()])
def test_empty_bytes_are_no_text_where_text_is_required(empty: bytes) -> None:
    """Else ``<Redirect></Redirect>``: a document the builder's own parser (and Twilio)
    refuses."""
    with pytest.raises(TwiMLError, match=r"^<Redirect> needs text$"):
        VoiceResponse().redirect(empty)  # type: ignore[arg-type]
    with VoiceResponse().dial() as dial, pytest.raises(TwiMLError, match=r"^<Number> needs"):
        dial.number(empty)  # type: ignore[arg-type]
    assert str(VoiceResponse().say(empty)) == f"{DECLARATION}<Response><Say/></Response>"


def test_add_text_takes_what_any_text_takes() -> None:
    """``add_text(b"...")`` takes bytes as ``say(b"...")`` does: as UTF-8 text."""
    with VoiceResponse().say(b"Hi ") as say:  # type: ignore[arg-type]
        say.add_text(b"there, ").add_text(3)  # type: ignore[arg-type]
        with pytest.raises(TwiMLError, match=r"^<Say> text is not XML-compatible"):
            say.add_text(b"\x00")  # type: ignore[arg-type]
        with pytest.raises(TwiMLError, match=r"^<Say> text: cannot use a 'bool' value"):
            say.add_text(True)  # type: ignore[arg-type]
    assert str(say) == "<Say>Hi there, 3</Say>"


# --- documented values: separators, look-alikes, secrets, bytes ----------------------------------


def test_a_list_value_separated_by_tabs_or_newlines_is_refused() -> None:
    """lxml writes a tab or newline in an attribute as a character reference, which XML keeps
    (it does not become a space), so Twilio would read one word "dtmf<TAB>speech"."""
    with pytest.raises(TwiMLError, match=r"^<Gather> attribute 'input': 'dtmf\\tspeech'"):
        VoiceResponse().gather(input="dtmf\tspeech")
    with VoiceResponse().dial() as dial, pytest.raises(TwiMLError, match="statusCallbackEvent"):
        dial.number("+15551234567", status_callback_event="initiated\ncompleted")
    assert 'input="dtmf speech"' in str(VoiceResponse().gather(input="dtmf speech"))


@pytest.mark.parametrize(
    ("build", "shown"),
    [
        (lambda: VoiceResponse().gather(method="po\u017ft"), r"'po\\u017ft'"),  # long s
        (lambda: VoiceResponse().dial("+1555", ring_tone="u\u212a"), r"'u\\u212a'"),  # Kelvin
        (lambda: VoiceResponse().say("hi", language="\u212aa-GE"), r"'\\u212aa-GE'"),
        (
            lambda: VoiceResponse().say("hi", voice="Google.en-US-Standard-\u212a"),
            r"'Google\.en-US-Standard-\\u212a'",
        ),
    ],
)
def test_look_alike_letters_do_not_pass_for_documented_values(build: Any, shown: str) -> None:
    """Case-insensitive matching of Unicode text lets U+017F match "s" and U+212A "k";
    Twilio's values are ASCII, and the error shows the look-alike as an escape."""
    with pytest.raises(TwiMLError, match=rf"attribute '\w+': {shown} is not a value"):
        build()


def test_polly_voice_names_keep_their_letters() -> None:
    r = VoiceResponse().say("Olá", voice="Polly.Vitória-Neural")
    assert 'voice="Polly.Vitória-Neural"' in str(r)


def test_a_sip_password_is_never_shown_in_an_error() -> None:
    with VoiceResponse().dial() as dial:
        with pytest.raises(TwiMLError, match=r"^<Sip> attribute 'password'.*: not shown$") as e:
            dial.sip("sip:desk@example.com", username="desk", password="hunter2\x00")
        assert "hunter2" not in str(e.value)


def test_utf8_bytes_are_text_and_other_bytes_are_named_for_what_they_are() -> None:
    r = VoiceResponse().say(b"caf\xc3\xa9")
    with r as say:
        say.add_text(bytearray(" crème".encode()))  # type: ignore[arg-type]
    assert str(r) == f"{DECLARATION}<Response><Say>café crème</Say></Response>"
    with pytest.raises(TwiMLError, match=r"^<Say> text: the bytes are not UTF-8 \(give a str\)"):
        VoiceResponse().say(b"caf\xe9")  # Latin-1: not "NUL or control characters"
