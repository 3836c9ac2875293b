"""parse_twiml: it accepts every document the builder makes, and refuses what is not TwiML."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from switchboard.callbacks.twiml import (
    MessagingResponse,
    TwiML,
    TwiMLError,
    VoiceResponse,
    parse_twiml,
)
from switchboard.callbacks.twiml_vocabulary import (
    ENDING_VERBS,
    ElementSpec,
    Values,
    keyword_name,
    method_name,
)

# --- every document the builder makes -----------------------------------------------------------

xml_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn"), blacklist_characters="\ufeff")
    | st.sampled_from("\t\n <>&'\"]]>"),
    max_size=20,
)
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=8)
values = st.one_of(
    xml_text,
    st.integers(min_value=-5, max_value=10_000),
    st.booleans(),
    st.lists(words, min_size=1, max_size=3),
)

# Methods whose signatures take no keyword attributes at all.
NO_KEYWORDS = {
    "echo",
    "hangup",
    "leave",
    "stop",
    "sim",
    "identity",
    "application_sid",
    "body",
    "media",
}


def allowed_examples(rule: Values) -> list[str]:
    """The values named in a rule's description that the rule accepts (``GET``, ``en-US``,
    ``500ms``, ...): valid values to build with."""
    words = {word.strip("(),'") for word in rule.allowed.split()}
    return sorted(word for word in words if rule.accepts(word))


def _value(draw: st.DrawFn, spec: ElementSpec, key: str) -> object:
    """Any value for an attribute Twilio takes any text in; one it documents for the others."""
    rule = spec.values.get(spec.keywords[key])
    return draw(values if rule is None else st.sampled_from(allowed_examples(rule)))


def reachable(spec: ElementSpec, tags: list[str]) -> list[str]:
    """``tags`` up to the first that ends a document of ``spec`` (nothing runs after it)."""
    ending = ENDING_VERBS.get(spec, frozenset())
    for place, tag in enumerate(tags):
        if tag in ending:
            return tags[: place + 1]
    return tags


def _attribute_keywords(spec: ElementSpec) -> list[str]:
    names = []
    for xml_name in sorted(spec.attributes):
        readable = xml_name.replace("{http://www.w3.org/XML/1998/namespace}", "xml:")
        names.append(keyword_name(readable))
    return names


def _grow(draw: st.DrawFn, node: TwiML, spec: ElementSpec, depth: int) -> None:
    if not spec.children or depth > 3:
        return
    for tag in reachable(spec, draw(st.lists(st.sampled_from(sorted(spec.children)), max_size=3))):
        child = spec.children[tag]
        name = method_name(tag)
        method = getattr(node, name)
        keywords = {}
        if name not in NO_KEYWORDS:
            chosen = (
                draw(st.lists(st.sampled_from(_attribute_keywords(child)), unique=True, max_size=3))
                if child.attributes
                else []
            )
            keywords = {key: _value(draw, child, key) for key in chosen}
        if child.text == "required":
            text = draw(xml_text.filter(lambda t: t.strip()))
            method(text, **keywords)
        elif child.text == "optional":
            method(draw(st.none() | xml_text), **keywords)
        else:
            method(**keywords)
        with node as opened:
            _grow(draw, opened, child, depth + 1)


@st.composite
def documents(draw: st.DrawFn) -> TwiML:
    response: TwiML = draw(st.sampled_from([VoiceResponse, MessagingResponse]))()
    _grow(draw, response, response._spec, 0)
    return response


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_every_built_document_parses_back_to_the_same_tree(response: TwiML) -> None:
    for data in (str(response), response.to_bytes()):
        root = parse_twiml(data)
        assert etree.tostring(root) == etree.tostring(response.element)


# --- well-formed documents from elsewhere ----------------------------------------------------


def test_pretty_printed_twiml_with_comments_is_accepted() -> None:
    root = parse_twiml(
        b"""<?xml version="1.0" encoding="UTF-8"?>
        <!-- page served by example.com -->
        <Response>
            <Gather numDigits="1" action="/menu">
                <Say voice="alice">Press 1</Say>
            </Gather>
            <Say>Bye <break time="1s"/> now</Say>
        </Response>
        """
    )
    assert [child.tag for child in root] == ["Gather", "Say"]


def test_other_encodings_and_str_input() -> None:
    latin = '<?xml version="1.0" encoding="ISO-8859-1"?><Response><Say>Café</Say></Response>'
    assert parse_twiml(latin.encode("latin-1"))[0].text == "Café"
    assert parse_twiml(latin)[0].text == "Café"  # a str is taken as the text it is
    assert parse_twiml(bytearray(b"<Response/>")).tag == "Response"


def test_kind_is_inferred_or_chosen() -> None:
    parse_twiml("<Response><Message>hi</Message><Redirect>/next</Redirect></Response>")
    parse_twiml("<Response><Redirect>/next</Redirect></Response>", kind="messaging")
    parse_twiml("<Response><Redirect>/next</Redirect></Response>", kind="voice")
    with pytest.raises(TwiMLError, match=r"<Response> \(voice\) cannot contain <Message>"):
        parse_twiml("<Response><Message>hi</Message></Response>", kind="voice")
    with pytest.raises(ValueError, match="kind must be"):
        parse_twiml("<Response/>", kind="fax")  # type: ignore[arg-type]


# --- what is not TwiML ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "code", "message"),
    [
        (b"", 12100, "empty document"),
        (b"   \n", 12100, "empty document"),
        (b"Thanks for calling!", 12100, "not well-formed XML"),
        (b"<Response><Say>hi</Response>", 12100, "not well-formed XML"),
        (b"<Response><Say>hi</Say></Response><Response/>", 12100, "not well-formed XML"),
        (b"<html><body>Oops</body></html>", 12100, "the root element is <html>, not <Response>"),
        (b'<Response xmlns="urn:x"/>', 12100, "not <Response>"),
        (b"<Response><Speak>hi</Speak></Response>", 12200, "cannot contain <Speak>"),
        (b"<Response><say>hi</say></Response>", 12200, "cannot contain <say>"),
        (b'<Response><Say colour="blue">hi</Say></Response>', 12200, "no attribute 'colour'"),
        (b'<Response><Say xml:lang="fr">hi</Say></Response>', 12200, "no attribute 'xml:lang'"),
        (b"<Response><Gather><Dial>+1555</Dial></Gather></Response>", 12200, "<Gather> cannot"),
        (b"<Response><Dial><Say>x</Say></Dial></Response>", 12200, "<Dial> cannot contain <Say>"),
        (b"<Response><Say>a</Say><Message>b</Message></Response>", 12200, "cannot contain <Say>"),
        (b"<Response>Hello<Say>a</Say></Response>", 12200, "cannot contain text"),
        (b"<Response><Hangup/>Bye</Response>", 12200, "cannot contain text"),
        (b"<Response><Pause>5</Pause></Response>", 12200, "<Pause> cannot contain text"),
        (b"<Response><Redirect/></Response>", 12200, "<Redirect> needs text"),
        (b"<Response><Redirect>  </Redirect></Response>", 12200, "<Redirect> needs text"),
        (b"<Response><Message><Say>x</Say></Message></Response>", 12200, "cannot contain <Say>"),
    ],
)
def test_not_twiml_is_refused_in_one_line(document: bytes, code: int, message: str) -> None:
    with pytest.raises(TwiMLError, match=message) as caught:
        parse_twiml(document)
    assert caught.value.code == code
    assert "\n" not in str(caught.value)


def test_entities_are_not_expanded_and_doctypes_are_refused(tmp_path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    external = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
        "<Response><Say>&x;</Say></Response>"
    )
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        "<Response><Say>&c;</Say></Response>"
    )
    for document in (external, laughs):
        with pytest.raises(TwiMLError, match="DOCTYPE is not allowed") as caught:
            parse_twiml(document)
        assert "TOP SECRET" not in str(caught.value)


def test_an_undefined_entity_is_a_parse_error() -> None:
    with pytest.raises(TwiMLError, match="not well-formed"):
        parse_twiml("<Response><Say>&nope;</Say></Response>")


def test_only_bytes_or_str() -> None:
    with pytest.raises(TypeError, match="bytes or str"):
        parse_twiml(None)  # type: ignore[arg-type]
