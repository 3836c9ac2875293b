"""The builder's rules: attribute conversion, chaining and nesting, escaping, errors."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from lxml import etree

from switchboard.callbacks.twiml import (
    DECLARATION,
    NODE_CLASSES,
    Dial,
    Gather,
    Hangup,
    MessagingResponse,
    Number,
    Say,
    Sip,
    TwiMLError,
    VoiceResponse,
    parse_twiml,
)
from switchboard.callbacks.twiml_vocabulary import CHILD_METHODS, method_name


def body(response: VoiceResponse | MessagingResponse) -> str:
    text = str(response)
    assert text.startswith(DECLARATION)
    return text.removeprefix(DECLARATION)


# --- serialisation ----------------------------------------------------------------------------


def test_str_is_the_declaration_and_the_compact_document() -> None:
    r = VoiceResponse().say("Hi").hangup()
    assert (
        str(r)
        == '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Hi</Say><Hangup/></Response>'
    )


def test_to_bytes_is_the_same_document_in_utf8() -> None:
    r = VoiceResponse().say("Café, 東京 ☎")
    assert r.to_bytes() == str(r).encode("utf-8")
    assert "Café, 東京 ☎".encode() in r.to_bytes()


def test_an_empty_messaging_response_sends_no_reply() -> None:
    assert body(MessagingResponse()) == "<Response/>"


# --- attribute conversion ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keywords", "attributes"),
    [
        ({"num_digits": 3}, 'numDigits="3"'),
        ({"numDigits": 3}, 'numDigits="3"'),  # Twilio's own spelling works too
        ({"barge_in": True}, 'bargeIn="true"'),
        ({"barge_in": False}, 'bargeIn="false"'),
        ({"hints": 2.5}, 'hints="2.5"'),
        ({"timeout": Decimal("7")}, 'timeout="7"'),
        ({"input": ["dtmf", "speech"]}, 'input="dtmf speech"'),
        ({"input": ("speech",)}, 'input="speech"'),
        ({"hints": "a, b"}, 'hints="a, b"'),
        ({"action": None, "method": "GET"}, 'method="GET"'),
        ({"action": ""}, 'action=""'),
    ],
)
def test_keyword_values_become_twilio_attributes(keywords: dict, attributes: str) -> None:
    assert (
        body(VoiceResponse().gather(**keywords)) == f"<Response><Gather {attributes}/></Response>"
    )


def test_all_none_attributes_leave_a_bare_element() -> None:
    assert body(VoiceResponse().gather(action=None)) == "<Response><Gather/></Response>"


def test_from_and_for_take_a_trailing_underscore() -> None:
    r = MessagingResponse().message("hi", to="+15551234567", from_="+15550001111")
    assert (
        body(r)
        == '<Response><Message to="+15551234567" from="+15550001111">hi</Message></Response>'
    )
    with VoiceResponse().pay() as pay:
        pay.prompt(for_="expiration-date")
        assert str(pay) == '<Pay><Prompt for="expiration-date"/></Pay>'


def test_xml_lang_becomes_the_xml_namespace_attribute() -> None:
    with VoiceResponse().say() as say:
        say.lang("Hola", xml_lang="es-ES")
    assert str(say) == '<Say><lang xml:lang="es-ES">Hola</lang></Say>'


def test_true_and_one_are_not_confused_by_the_prototype_cache() -> None:
    first = body(VoiceResponse().gather(hints=1))
    second = body(VoiceResponse().gather(hints=True))
    third = body(VoiceResponse().gather(hints=1))
    assert first == third == '<Response><Gather hints="1"/></Response>'
    assert second == '<Response><Gather hints="true"/></Response>'


def test_equal_decimals_keep_their_own_digits() -> None:
    a = body(VoiceResponse().pay(charge_amount=Decimal("10.0")))
    b = body(VoiceResponse().pay(charge_amount=Decimal("10.00")))
    assert 'chargeAmount="10.0"' in a
    assert 'chargeAmount="10.00"' in b


def test_attribute_order_follows_the_call() -> None:
    assert body(VoiceResponse().dial(timeout=5, action="/a")) == (
        '<Response><Dial timeout="5" action="/a"/></Response>'
    )


def test_elements_from_the_cache_are_independent_copies() -> None:
    r = VoiceResponse().say("one", voice="alice").say("two", voice="alice")
    first, second = r.element
    first.set("voice", "changed")
    assert second.get("voice") == "alice"
    assert body(VoiceResponse().say("three", voice="alice")) == (
        '<Response><Say voice="alice">three</Say></Response>'
    )


def test_threads_build_the_same_documents() -> None:
    expected = body(VoiceResponse().say("hi", voice="alice", loop=2).pause(length=1))
    results: list[str] = []

    def build() -> None:
        for _ in range(200):
            results.append(body(VoiceResponse().say("hi", voice="alice", loop=2).pause(length=1)))

    threads = [threading.Thread(target=build) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == [expected] * 800


# --- chaining and nesting -------------------------------------------------------------------------


def test_every_verb_method_returns_the_node_it_was_called_on() -> None:
    r = VoiceResponse()
    assert r.say("a") is r
    assert r.pause(length=1).play("x.mp3") is r
    with r.dial() as d:
        assert d.number("+1555").client("bob") is d
    assert r.hangup() is r


def test_with_opens_the_element_just_added() -> None:
    r = VoiceResponse()
    with r.gather(num_digits=1, action="/voice/menu") as g:
        g.say("Press 1")
    r.say("Bye")
    assert body(r) == (
        '<Response><Gather numDigits="1" action="/voice/menu"><Say>Press 1</Say></Gather>'
        "<Say>Bye</Say></Response>"
    )


def test_nesting_three_levels_deep() -> None:
    r = VoiceResponse()
    with r.gather(input="speech") as g, g.say("Say ") as say:
        say.emphasis("yes").add_text(" or ").emphasis("no")
    assert body(r) == (
        '<Response><Gather input="speech"><Say>Say <emphasis>yes</emphasis> or '
        "<emphasis>no</emphasis></Say></Gather></Response>"
    )


def test_with_can_reopen_the_last_element_later() -> None:
    r = VoiceResponse().dial(caller_id="+1555")
    with r as dial:
        dial.number("+1666")
    assert body(r) == '<Response><Dial callerId="+1555"><Number>+1666</Number></Dial></Response>'


def test_with_before_any_verb_is_an_error() -> None:
    with pytest.raises(TwiMLError, match="nothing to open"), VoiceResponse():
        pass


def test_nodes_built_on_their_own_can_be_appended() -> None:
    gather = Gather(num_digits=1, action="/menu").say("Press 1").play("menu.mp3")
    dial = Dial(timeout=10).append(Number("+15551234567", send_digits="ww1"))
    r = VoiceResponse().append(gather).append(dial)
    assert body(r) == (
        '<Response><Gather numDigits="1" action="/menu"><Say>Press 1</Say><Play>menu.mp3</Play>'
        '</Gather><Dial timeout="10"><Number sendDigits="ww1">+15551234567</Number></Dial>'
        "</Response>"
    )
    with r as last:
        last.number("+15557654321")
    assert body(r).endswith("<Number>+15557654321</Number></Dial></Response>")


def test_a_standalone_node_prints_without_declaration() -> None:
    assert str(Say("Hi", voice="alice")) == '<Say voice="alice">Hi</Say>'
    assert Say("Hi").to_bytes() == b"<Say>Hi</Say>"


def test_mixed_text_inside_say() -> None:
    with VoiceResponse().say("Your code is ") as say:
        say.say_as("1234", interpret_as="digits").add_text(". Goodbye.")
    assert (
        str(say) == '<Say>Your code is <say-as interpret-as="digits">1234</say-as>. Goodbye.</Say>'
    )


def test_add_text_on_an_empty_say() -> None:
    with VoiceResponse().say() as say:
        say.add_text("a").add_text("b")
    assert str(say) == "<Say>ab</Say>"


def test_text_may_be_a_number() -> None:
    with VoiceResponse().dial() as d:
        d.number(15551234567)
    assert str(d) == "<Dial><Number>15551234567</Number></Dial>"


# --- escaping ----------------------------------------------------------------------------------


def test_caller_text_stays_text() -> None:
    hostile = "</Say><Dial>+1900</Dial><Say>"
    r = VoiceResponse().say(hostile)
    assert (
        body(r)
        == "<Response><Say>&lt;/Say&gt;&lt;Dial&gt;+1900&lt;/Dial&gt;&lt;Say&gt;</Say></Response>"
    )
    root = parse_twiml(str(r))
    assert [child.tag for child in root] == ["Say"]
    assert root[0].text == hostile


def test_attribute_values_are_escaped() -> None:
    r = VoiceResponse().redirect('/next?a=1&b="2"', method="POST")
    assert body(r) == (
        '<Response><Redirect method="POST">/next?a=1&amp;b="2"</Redirect></Response>'
    )
    r = VoiceResponse().gather(hints='1"/><Hangup foo="')
    assert '<Gather hints="1&quot;/&gt;&lt;Hangup foo=&quot;"/>' in body(r)
    assert [child.tag for child in parse_twiml(str(r))] == ["Gather"]


def test_an_echoed_sms_body_is_escaped() -> None:
    sms = "R&D <b>bold</b> ]]> 'quotes'"
    r = MessagingResponse().message(f"You said: {sms}")
    assert parse_twiml(r.to_bytes())[0].text == f"You said: {sms}"


# --- errors at build time -------------------------------------------------------------------------


def test_unknown_attribute_names_the_element_and_attribute() -> None:
    with pytest.raises(TwiMLError, match=r"<Gather> has no attribute 'numdigits'; did you mean"):
        VoiceResponse().gather(numdigits=1)
    with pytest.raises(TwiMLError, match=r"<Say> has no attribute 'colour'; known: language"):
        VoiceResponse().say("x", colour="blue")
    with pytest.raises(TwiMLError, match=r"<Hangup> takes no attributes, got 'reason'"):
        Hangup(reason="busy")
    with pytest.raises(TwiMLError, match=r"<Parameter> has no attribute 'extra'"):
        VoiceResponse().hangup().__enter__().parameter(name="a", value="b", extra="c")


def test_attribute_of_another_element_is_refused() -> None:
    with pytest.raises(TwiMLError, match=r"<Pause> has no attribute 'voice'"):
        VoiceResponse().pause(voice="alice")


def test_child_in_the_wrong_parent_names_both() -> None:
    g = VoiceResponse().gather().__enter__()
    with pytest.raises(TwiMLError, match=r"<Gather> cannot contain <Dial>; it takes <Say>"):
        g.dial("+1555")
    with pytest.raises(TwiMLError, match=r"<Response> \(messaging\) cannot contain <Say>"):
        MessagingResponse().say("hi")
    with pytest.raises(TwiMLError, match=r"<Response> \(voice\) cannot contain <Message>"):
        VoiceResponse().message("hi")


def test_wrong_parent_is_still_an_attribute_error_for_hasattr() -> None:
    g = Gather()
    assert not hasattr(g, "dial")
    assert hasattr(g, "say")
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        g.nonsense  # noqa: B018
    assert getattr(g, "dial", None) is None
    with pytest.raises(TwiMLError, match=r"<Gather> cannot contain <Dial>; it takes <Say>"):
        Gather.dial  # noqa: B018 - on the class as on a node


def test_every_node_class_refuses_exactly_the_children_its_element_does_not_take() -> None:
    for cls in NODE_CLASSES.values():
        allowed = {method_name(tag) for tag in cls._spec.children}
        for name in CHILD_METHODS:
            assert hasattr(cls, name) == (name in allowed), (cls.__name__, name)
        # refused through descriptors, not __getattr__: that would slow every attribute lookup
        assert all("__getattr__" not in vars(k) for k in cls.__mro__ if k is not object)


def test_ssml_nesting_follows_twilio_rules() -> None:
    with VoiceResponse().say() as say, say.w("word") as w:
        w.emphasis("ok")
        with pytest.raises(TwiMLError, match=r"<w> cannot contain <p>"):
            w.p("paragraph")
    with pytest.raises(TwiMLError, match=r"<break> cannot contain"):
        say.break_().__enter__().emphasis("x")


def test_appending_a_node_in_the_wrong_place() -> None:
    with pytest.raises(TwiMLError, match=r"<Response> \(voice\) cannot contain Number"):
        VoiceResponse().append(Number("+1555"))
    with VoiceResponse().refer() as refer, pytest.raises(TwiMLError, match="cannot contain Sip"):
        refer.append(Sip("sip:a@b"))  # the <Sip> of <Dial>, not the one of <Refer>


def test_required_text_is_required() -> None:
    with pytest.raises(TwiMLError, match=r"<Redirect> needs text"):
        VoiceResponse().redirect(None)  # type: ignore[arg-type]
    with pytest.raises(TwiMLError, match=r"<Number> needs text"):
        Number()
    with pytest.raises(TwiMLError, match=r"<Redirect> needs text"):
        VoiceResponse().redirect("")
    with pytest.raises(TwiMLError, match=r"<Redirect> needs text, not only blanks"):
        VoiceResponse().redirect("  ")


def test_empty_optional_text_is_no_text() -> None:
    assert body(VoiceResponse().say("")) == "<Response><Say/></Response>"


def test_text_is_refused_where_twilio_takes_none() -> None:
    with pytest.raises(TwiMLError, match=r"<Gather> takes no text"):
        Gather("hello")


def test_bad_values_are_refused() -> None:
    r = VoiceResponse()
    with pytest.raises(TwiMLError, match=r"<Gather> attribute 'timeout': cannot use a 'dict'"):
        r.gather(timeout={"s": 5})
    with pytest.raises(TwiMLError, match=r"<Say> text: cannot use a 'bool'"):
        r.say(True)  # type: ignore[arg-type]
    with pytest.raises(TwiMLError, match="not XML-compatible"):
        r.say("bell \x07")
    with pytest.raises(TwiMLError, match="XML compatible"):
        r.say("x", voice="a\x00b")
    with VoiceResponse().say("a") as say, pytest.raises(TwiMLError, match="not XML-compatible"):
        say.add_text("\x1b[0m")
    assert body(r) == "<Response/>"  # nothing half-made was left behind


def test_a_failed_call_leaves_the_document_as_it_was() -> None:
    r = VoiceResponse().say("kept")
    with pytest.raises(TwiMLError):
        r.say("dropped", volume="loud")
    with pytest.raises(TwiMLError):
        r.say("dropped \x00")
    assert body(r) == "<Response><Say>kept</Say></Response>"
    with r as say:  # `with` still opens the last element that was really added
        assert say.element.text == "kept"


def test_twiml_error_is_a_value_error() -> None:
    assert issubclass(TwiMLError, ValueError)
    assert TwiMLError("x").code is None


def test_element_exposes_the_lxml_tree() -> None:
    r = VoiceResponse().say("hi")
    assert isinstance(r.element, etree._Element)
    assert r.element.tag == "Response"
    assert repr(r) == "<VoiceResponse <Response> with 1 children>"
