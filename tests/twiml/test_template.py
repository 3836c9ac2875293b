"""The recorded builder and its caches: every document is exactly the one lxml would build.

The reference for a document is the same calls made on a response whose ``.element`` was read
first: from then on every call goes straight to lxml, with no draft, shape or tree involved.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import switchboard.callbacks.twiml as twiml
import switchboard.callbacks.twiml_template as template
from switchboard.callbacks.twiml import (
    DECLARATION,
    Gather,
    MessagingResponse,
    TwiML,
    TwiMLError,
    VoiceResponse,
)
from switchboard.callbacks.twiml_vocabulary import ELEMENTS, ElementSpec, keyword_name, method_name
from tests.twiml.test_parse import allowed_examples, reachable, words, xml_text

# --- programs: the same calls, replayed on any response -----------------------------------------

#: (method name, text or None, keywords, the program run inside the element added)
Call = tuple[str, Any, dict[str, Any], list[Any]]

NO_KEYWORDS = {"echo", "hangup", "leave", "stop", "sim", "identity", "application_sid"}
NO_KEYWORDS |= {"body", "media"}

values = st.one_of(
    xml_text,
    st.sampled_from(["/a", "/b", "alice", "true"]),
    st.integers(min_value=-2, max_value=300),
    st.booleans(),
    st.none(),
    st.lists(words, min_size=1, max_size=3),
)


#: Keywords of an attribute that takes only the values Twilio documents, in some element.
RULED = frozenset(
    key for spec in ELEMENTS.values() for key, name in spec.keywords.items() if name in spec.values
)


def _values_of(spec: ElementSpec, key: str) -> st.SearchStrategy[Any]:
    """Any value for an attribute that takes any text; a documented one (or None) otherwise."""
    rule = spec.values.get(spec.keywords[key])
    return values if rule is None else st.none() | st.sampled_from(allowed_examples(rule))


def _keywords(spec: ElementSpec) -> list[str]:
    names = (name.replace(f"{{{twiml.XML_NAMESPACE}}}", "xml:") for name in spec.attributes)
    return sorted(keyword_name(name) for name in names)


@st.composite
def programs(draw: st.DrawFn, spec: ElementSpec, depth: int = 0) -> list[Call]:
    if not spec.children or depth > 2:
        return []
    program = []
    for tag in reachable(spec, draw(st.lists(st.sampled_from(sorted(spec.children)), max_size=4))):
        child = spec.children[tag]
        name = method_name(tag)
        keywords = {}
        if name not in NO_KEYWORDS and child.attributes:
            chosen = draw(st.lists(st.sampled_from(_keywords(child)), unique=True, max_size=3))
            keywords = {key: draw(_values_of(child, key)) for key in chosen}
        if child.text == "required":
            text = draw(xml_text.filter(str.strip))
        elif child.text == "optional":
            text = draw(st.none() | xml_text)
        else:
            text = None
        program.append((name, text, keywords, draw(programs(child, depth + 1))))
    return program


def run(program: list[Call], node: TwiML) -> TwiML:
    for name, text, keywords, inside in program:
        method = getattr(node, name)
        if text is None:
            method(**keywords)
        else:
            method(text, **keywords)
        if inside:
            with node as opened:
                run(inside, opened)
    return node


def reference(program: list[Call], response: type[TwiML]) -> str:
    """The document built by lxml directly."""
    node = response()
    node.element  # noqa: B018 - from here on every call goes to lxml
    return str(run(program, node))


def with_new_texts(program: list[Call], texts: Iterator[str]) -> list[Call]:
    """The same calls with other texts and other str values: the same shape."""
    changed = []
    for name, text, keywords, inside in program:
        if text is not None:
            text = next(texts) if text.strip() else text
        keywords = {
            key: next(texts) if type(value) is str and value.strip() and key not in RULED else value
            for key, value in keywords.items()
        }
        changed.append((name, text, keywords, with_new_texts(inside, texts)))
    return changed


def forget_everything() -> None:
    """Empty every cache, as in a new process."""
    template._roots.clear()
    template._kinds.clear()
    template._local.__dict__.clear()
    twiml._checked.clear()


@st.composite
def documents(draw: st.DrawFn) -> tuple[type[TwiML], list[Call]]:
    response = draw(st.sampled_from([VoiceResponse, MessagingResponse]))
    return response, draw(programs(response._spec))


# --- the same document, however it is made ---------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), st.lists(xml_text.filter(str.strip), min_size=40, max_size=40))
def test_cached_documents_are_the_ones_lxml_builds(
    document: tuple[type[TwiML], list[Call]], texts: list[str]
) -> None:
    response, program = document
    other = with_new_texts(program, iter(texts * 10))
    expected = reference(program, response)
    expected_other = reference(other, response)
    forget_everything()
    assert str(run(program, response())) == expected  # cold: everything made afresh
    for _ in range(2):  # warm: the same shape, texts and values changing between documents
        assert str(run(program, response())) == expected
        assert str(run(other, response())) == expected_other
        assert run(other, response()).to_bytes() == expected_other.encode()


def test_texts_and_values_change_between_documents_of_one_shape() -> None:
    def menu(name: str, call: int) -> str:
        r = VoiceResponse()
        with r.gather(num_digits=1, action=f"/menu?call={call}", timeout=5) as g:
            g.say(f"Hello {name}", voice="alice")
        r.hangup()
        return str(r)

    names = [("Ada", "Ada"), ("Grace", "Grace"), ("Ada", "Ada"), ("K&<B>", "K&amp;&lt;B&gt;")]
    for call, (name, escaped) in enumerate(names):
        assert menu(name, call) == (
            f'{DECLARATION}<Response><Gather numDigits="1" action="/menu?call={call}" '
            f'timeout="5"><Say voice="alice">Hello {escaped}</Say></Gather><Hangup/></Response>'
        )


@pytest.mark.parametrize(
    "text",
    ["</Say><Dial>+1900</Dial>", "R&D 'quotes' \"double\"", "Café, 東京 ☎", "]]>", "a\tb\nc"],
)
def test_caller_text_is_escaped_on_every_document_of_a_shape(text: str) -> None:
    for said, url in [("plain", "/a"), (text, f"/a?q={text}"), ("plain", "/a")]:
        r = VoiceResponse().say(said, voice="alice").redirect(url)
        root = twiml.parse_twiml(r.to_bytes())
        assert [child.tag for child in root] == ["Say", "Redirect"]
        assert (root[0].text, root[1].text) == (said, url)
        assert str(r) == reference(
            [("say", said, {"voice": "alice"}, []), ("redirect", url, {}, [])], VoiceResponse
        )


def test_values_equal_but_printed_differently_are_not_confused() -> None:
    for value, printed in [
        (1, "1"),
        (True, "true"),
        (1, "1"),
        (1.0, "1.0"),
        (Decimal("1.00"), "1.00"),
    ]:
        assert f'hints="{printed}"' in str(VoiceResponse().gather(hints=value))


def test_each_value_of_a_repeated_call_keeps_its_type() -> None:
    for hints, model, printed in [
        (5, True, 'hints="5" speechModel="true"'),
        (5, 1, 'hints="5" speechModel="1"'),
        (True, True, 'hints="true" speechModel="true"'),
        (5, True, 'hints="5" speechModel="true"'),
    ]:
        r = VoiceResponse().gather(hints=hints, speech_model=model)
        assert printed in str(r)


def test_texts_of_a_repeated_call_are_checked_as_new_ones() -> None:
    for _ in range(2):
        for text, printed in [("Hi", "<Say>Hi</Say>"), ("", "<Say/>"), ("  ", "<Say>  </Say>")]:
            assert printed in str(VoiceResponse().say(text).say("x"))
        assert "<Say>Caf\u00e9</Say>" in str(VoiceResponse().say("Caf\u00e9").say("x"))
        with pytest.raises(TwiMLError, match="not XML-compatible"):
            VoiceResponse().say("tab\x0b").say("x")


def test_attribute_order_follows_each_call() -> None:
    assert 'timeout="5" action="/a"' in str(VoiceResponse().dial(timeout=5, action="/a"))
    assert 'action="/a" timeout="5"' in str(VoiceResponse().dial(action="/a", timeout=5))


def test_a_list_changed_by_its_caller_is_read_again() -> None:
    events = ["initiated"]
    with VoiceResponse().dial() as d:
        d.number("+1555", status_callback_event=events)
    events.append("answered")
    with VoiceResponse().dial() as d:
        d.number("+1555", status_callback_event=events)
    assert 'statusCallbackEvent="initiated answered"' in str(d)


def test_new_str_values_beside_new_but_equal_values_are_taken() -> None:
    """A repeated call with a new str value and other values that are equal but not the very
    same objects (a list made afresh, a large int computed) is the document lxml builds."""

    def program(action: str, events: list[str], timeout: int) -> list[Call]:
        keywords = {"action": action, "input": events, "timeout": timeout, "method": "POST"}
        return [("gather", None, keywords, [("say", "Hi", {}, [])])]

    forget_everything()
    for call, events in enumerate([["dtmf"], ["dtmf"], ["dtmf", "speech"], ["dtmf"], ["speech"]]):
        values = (f"/menu?call={call}", list(events), int(str(10**6)))
        assert str(run(program(*values), VoiceResponse())) == reference(
            program(*values), VoiceResponse
        )


def test_values_changed_in_one_document_are_put_back_in_the_next() -> None:
    """A tree is only patched where its document or the next had other texts or values than
    the steps' last calls; each must come back when the next document has the usual one."""

    def program(action: str, method: str, text: str) -> list[Call]:
        return [("gather", None, {"action": action, "method": method}, [("say", text, {}, [])])]

    def build(action: str, method: str, text: str) -> str:
        return str(run(program(action, method, text), VoiceResponse()))

    forget_everything()
    usual = ("/a", "POST", "Hi")
    for values in [usual, ("/b", "POST", "Hi"), ("/a", "GET", "Hi"), usual, ("/b", "GET", "Yo")]:
        assert build(*values) == reference(program(*values), VoiceResponse)
        assert build(*usual) == reference(program(*usual), VoiceResponse)


def test_a_call_remembered_anew_while_a_document_is_built_is_seen() -> None:
    """A step's last call replaced (by any thread, any shape) sends documents back to being
    compared whole with their tree."""
    forget_everything()
    for time in range(3):
        r = VoiceResponse()
        r.say(f"first {time}", voice="alice")
        str(VoiceResponse().play(f"/other-{time}", loop=time))  # a new call, remembered
        r.say("second", voice="alice" if time % 2 else "woman")  # a new call every other time
        assert str(r) == reference(
            [
                ("say", f"first {time}", {"voice": "alice"}, []),
                ("say", "second", {"voice": "alice" if time % 2 else "woman"}, []),
            ],
            VoiceResponse,
        )


# --- errors are still raised at the call ------------------------------------------------------


def test_a_repeated_call_is_still_checked() -> None:
    for _ in range(3):
        VoiceResponse().say("hi", voice="alice")
    r = VoiceResponse().say("kept", voice="alice")
    with pytest.raises(TwiMLError, match="not XML-compatible"):
        r.say("bell \x07", voice="alice")
    with pytest.raises(TwiMLError, match="XML compatible"):
        r.say("hi", voice="alice\x00")
    with pytest.raises(TwiMLError, match=r"<Say> attribute 'voice': cannot use a 'dict'"):
        r.say("hi", voice={"a": 1})  # type: ignore[arg-type]
    with pytest.raises(TwiMLError, match=r"<Say> has no attribute 'voise'"):
        r.say("hi", voise="alice")
    assert str(r) == f'{DECLARATION}<Response><Say voice="alice">kept</Say></Response>'


def test_required_text_is_checked_on_repeated_calls() -> None:
    VoiceResponse().redirect("/next")
    with pytest.raises(TwiMLError, match=r"<Redirect> needs text, not only blanks"):
        VoiceResponse().redirect("  ")
    with pytest.raises(TwiMLError, match=r"<Redirect> needs text"):
        VoiceResponse().redirect("")


# --- bounds and threads -----------------------------------------------------------------------


def test_trees_per_thread_are_bounded() -> None:
    for count in range(template.MAX_TREES + 20):
        r = VoiceResponse()
        for _ in range(count % 7):
            r.pause()
        r.say("x" * (count // 7 + 1))
        str(r)
    assert len(template._local.trees) <= template.MAX_TREES


def test_steps_start_again_beyond_their_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(template, "MAX_STEPS", 20)
    monkeypatch.setattr(template, "_steps", template.count())
    built = []
    for length in range(1, 30):
        r = VoiceResponse()
        for number in range(length):
            r.pause(length=number + 1)
        built.append((r, length))
    assert len(template._roots) <= 1
    for r, length in built:  # drafts keep the steps they were made with
        assert str(r).count("<Pause") == length


def test_checked_calls_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(twiml, "_MAX_CHECKED", 10)
    for number in range(50):
        Gather(hints=f"v{number}")
        assert len(twiml._checked) <= 10


def test_threads_build_their_own_documents() -> None:
    def document(name: str, number: int) -> str:
        r = VoiceResponse()
        with r.gather(action=f"/menu?n={number}", num_digits=1) as g:
            g.say(f"Hi {name} {number}", voice="alice")
        r.record(max_length=number % 50 + 2, play_beep=number % 2 == 0)
        return str(r)

    expected = {(name, n): document(name, n) for name in "abcd" for n in range(300)}
    results: dict[tuple[str, int], str] = {}

    def build(name: str) -> None:
        for number in range(300):
            results[name, number] = document(name, number)

    threads = [threading.Thread(target=build, args=(name,)) for name in "abcd"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == expected


def test_a_call_replaced_while_another_thread_builds_is_not_written_stale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another thread may run between a step's last call being replaced and the epoch moving
    on: what it builds then must still be its own document, and so must every later one."""

    def document(loop: int) -> str:
        return str(VoiceResponse().say("race", voice="Polly.Race", loop=loop))

    document(7)
    document(7)  # this thread's tree now holds loop="7", taken from the step's last call
    root = VoiceResponse()._draft.step
    real = template._epochs
    in_between: list[str] = []

    class SwitchThreads:
        """Runs "another thread" once the new call is in place but before the epoch moves."""

        def __next__(self) -> int:
            last = root.last
            if not in_between and last is not None and last.values == ("Polly.Race", "8"):
                in_between.append(document(8))
            return next(real)

    monkeypatch.setattr(template, "_epochs", SwitchThreads())
    first = document(8)
    monkeypatch.setattr(template, "_epochs", real)
    expected = f'{DECLARATION}<Response><Say voice="Polly.Race" loop="8">race</Say></Response>'
    assert in_between == [expected]
    assert first == expected
    assert document(8) == expected  # the thread's tree was not left out of step
    assert document(7) == expected.replace('"8"', '"7"')


# --- the lxml element and nodes built on their own -------------------------------------------


def test_element_is_the_live_document() -> None:
    r = VoiceResponse().say("one", voice="alice")
    element = r.element
    assert r.element is element
    element[0].set("voice", "bob")
    r.say("two")
    assert str(r) == f'{DECLARATION}<Response><Say voice="bob">one</Say><Say>two</Say></Response>'
    assert element[1].text == "two"
    with r as say:
        assert say.element is element[1]


def test_appended_nodes_stay_recorded_and_keep_growing() -> None:
    gather = Gather(num_digits=1)
    r = VoiceResponse().append(gather).hangup()
    gather.say("Press 1")  # the node now adds to the response it was appended to
    assert r._draft.recorded
    assert str(r) == (
        f'{DECLARATION}<Response><Gather numDigits="1"><Say>Press 1</Say></Gather>'
        "<Hangup/></Response>"
    )
    other = VoiceResponse().append(gather)  # moved on: out of r, into other
    assert str(r) == f"{DECLARATION}<Response><Hangup/></Response>"
    assert str(other) == (
        f'{DECLARATION}<Response><Gather numDigits="1"><Say>Press 1</Say></Gather></Response>'
    )
    assert repr(other) == "<VoiceResponse <Response> with 1 children>"


def test_a_str_subclass_is_written_as_its_characters() -> None:
    """A (str, Enum) member is its value, on a cold call and on a repeated one alike."""
    import enum

    class Voice(str, enum.Enum):  # noqa: UP042 - its str() is "Voice.JOANNA", unlike StrEnum
        JOANNA = "Polly.Joanna"

    class Input(str, enum.Enum):  # noqa: UP042
        DTMF = "dtmf"

    assert str(Voice.JOANNA) != "Polly.Joanna"  # its own __str__ is not what gets written
    cold = VoiceResponse().say("hi", voice=Voice.JOANNA, language="en-US")
    plain = VoiceResponse().say("hi", voice="Polly.Joanna", language="en-US")
    repeated = VoiceResponse().say("hi", voice=Voice.JOANNA, language="en-US")
    listed = VoiceResponse().gather(input=[Input.DTMF, "speech"])
    assert str(cold) == str(plain) == str(repeated)
    assert 'voice="Polly.Joanna"' in str(cold)
    assert 'input="dtmf speech"' in str(listed)


# --- copies -------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), documents(), st.booleans())
def test_a_deep_copy_is_the_same_document_and_grows_on_its_own(
    document: tuple[type[TwiML], list[Call]],
    more: tuple[type[TwiML], list[Call]],
    live: bool,
) -> None:
    response, program = document
    original = run(program, response())
    if live:
        original.element  # noqa: B018 - a plain lxml tree from here on
    before = str(original)
    twin = copy.deepcopy(original)
    assert str(twin) == before
    later = more[1] if more[0] is response else []  # calls this kind of response takes
    if any(name in {"hangup", "reject", "redirect"} for name, *_ in program):
        later = []  # nothing may follow a verb that ends the document
    run(later, twin)
    assert str(original) == before
    expected = reference(program + later, response)
    assert str(twin) == expected


def test_nodes_copied_together_stay_in_one_document() -> None:
    r = VoiceResponse()
    with r.gather(action="/menu") as g:
        g.say("Press 1")
    r2, g2 = copy.deepcopy([r, g])
    g2.play("https://example.com/beep.mp3")
    r2.hangup()
    assert str(r).endswith("<Gather action=\"/menu\"><Say>Press 1</Say></Gather></Response>")
    assert str(r2).endswith(
        '<Gather action="/menu"><Say>Press 1</Say>'
        "<Play>https://example.com/beep.mp3</Play></Gather><Hangup/></Response>"
    )


def test_a_copy_of_a_node_built_alone_and_appended() -> None:
    g = Gather(num_digits=1)
    g.say("Press 1")
    r = VoiceResponse().append(g)
    r2 = copy.deepcopy(r)
    r2.say("Bye")
    assert str(r).endswith('<Gather numDigits="1"><Say>Press 1</Say></Gather></Response>')
    assert str(r2).endswith(
        '<Gather numDigits="1"><Say>Press 1</Say></Gather><Say>Bye</Say></Response>'
    )
