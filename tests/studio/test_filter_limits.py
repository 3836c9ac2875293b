"""Liquid's filters that can make text longer than what they are given refuse a result of more
than 262,144 characters (``OUTPUT_LIMIT``) with the output limit's one-line template error:
``replace`` (``'a'`` into a text as long as the limit, between every character for an empty
``seq``), ``join`` (a long separator between many items), ``concat`` (an array doubled at each
turn of a loop), ``date`` (a format of wide fields) before they build it, in a few kilobytes of
memory; the escapes, ``base64_encode``, ``to_json``, ``truncatewords``, ``replace_first`` and
``replace_last`` once it is made, so that a chain of them stops at the limit. Otherwise each
gives what python-liquid's own filter gives. Through ``/flows/NAME`` on SQLite and PostgreSQL,
a caller's text multiplied by ``replace`` ends the widget in one line."""

from __future__ import annotations

import contextlib
import json
import logging
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import liquid.builtin
import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from liquid import Markup, Undefined

from switchboard.callbacks.errors import VOICE_APOLOGY
from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.blueprint import studio_blueprint
from switchboard.callbacks.studio.definition import Flow
from switchboard.callbacks.studio.templates import (
    OUTPUT_LIMIT,
    PACIFIC,
    TemplateError,
    environment,
    markup_environment,
    render,
    render_markup,
    to_json,
)
from switchboard.callbacks.studio.templates import _most_written as most_written
from tests.server.conftest import Twilio, call_params, clean_app, message_params, spoken, twiml

PROBLEM = f"the template writes more than {OUTPUT_LIMIT} characters"

#: Each filter Studio's environment holds in place of python-liquid's (``date`` aside: Studio's
#: own, in Pacific time).
BOUNDED = ["base64_encode", "base64_url_safe_encode", "capitalize", "concat", "downcase",
           "escape", "escape_once", "escapejs", "join", "newline_to_br", "replace",
           "replace_first", "replace_last", "strip_newlines", "to_json", "truncate",
           "truncatewords", "upcase", "url_encode"]


def refused(template: str, context: dict[str, Any], *, column: int = 1) -> None:
    """``template`` is refused by both renderings, at line 1, ``column``, with the output
    limit's error, in little memory: none of it was built."""
    for rendering in (render, render_markup):
        tracemalloc.start()
        try:
            with pytest.raises(TemplateError) as raised:
                rendering(template, context)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert str(raised.value) == f"Liquid error at line 1, column {column}: {PROBLEM}"
        assert peak < 4_000_000, f"{rendering.__name__}: {peak} bytes"


# -- the same as python-liquid's -------------------------------------------------------------------

TEXT = st.text(alphabet="ab <>&'\"\n\r\t é😀%+\\-;=,", max_size=12) | st.text(max_size=8)
LEAVES = (TEXT | TEXT.map(Markup) | st.integers() | st.floats() | st.none() | st.booleans()
          | st.just(Undefined("missing")))
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(TEXT, inner, max_size=3), max_leaves=12)


def outcome(function: Any, value: object, args: list[object], autoescape: bool) -> tuple:
    """What ``function`` gives or raises for ``value`` and ``args``."""
    env = markup_environment if autoescape else environment
    kwargs = {"environment": env} if getattr(function, "with_environment", False) else {}
    try:
        result = function(value, *args, **kwargs)
    except Exception as error:
        return ("raises", type(error), str(error))
    return ("gives", type(result), result)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(BOUNDED), autoescape=st.booleans(), value=VALUES,
       args=st.lists(VALUES, max_size=3))
def test_each_bounded_filter_gives_what_python_liquids_gives(
        name: str, autoescape: bool, value: object, args: list[object]) -> None:
    ours = (markup_environment if autoescape else environment).filters[name]
    theirs = to_json if name == "to_json" else getattr(liquid.builtin, name)
    assert ours is not theirs
    assert outcome(ours, value, args, autoescape) == outcome(theirs, value, args, autoescape)


@pytest.mark.parametrize(("template", "expected"), [
    ("{{ 'ab' | replace: '', '-' }}", "-a-b-"),
    ("{{ '' | replace: '', '-' }}", "-"),
    ("{{ 'aXbX' | replace_first: 'X', '--' }}|{{ 'aXbX' | replace_last: 'X', '--' }}",
     "a--bX|aXb--"),
    ("{{ 'a,b,c' | split: ',' | join: ' & ' }}", "a & b & c"),
    ("{{ 'a,b' | split: ',' | concat: list | join: '' }}", "ab12"),
    ("{{ 1700000000 | date: '%Y-%m-%d %H:%M %Z' }}", "2023-11-14 14:13 PST"),
    ("{{ 'now' | date: fmt }}", "Today, and again today. " * 20),
])
def test_filters_render_as_in_liquid(template: str, expected: str) -> None:
    context = {"list": [1, 2], "fmt": "Today, and again today. " * 20}
    assert render(template, context) == expected


@pytest.mark.parametrize(("template", "plain", "markup"), [
    ("{{ x | split: '' | join }}", "& &", "&amp; &amp;"),
    ("{% assign e = x | escape %}{{ e | replace: '&', '<' }}", "<amp;<amp;", "<amp;<amp;"),
    ("{% assign e = x | escape %}{{ e | replace: '&', y }}", "<amp;<amp;", "&lt;amp;&lt;amp;"),
])
def test_escaped_text_is_counted_as_written(template: str, plain: str, markup: str) -> None:
    assert render(template, {"x": "&&", "y": "<"}) == plain
    assert render_markup(template, {"x": "&&", "y": "<"}) == markup


# -- refused before it is built ----------------------------------------------------------------

FIVE_THOUSAND = "a" * 5000


@pytest.mark.parametrize(("template", "context"), [
    ("{{ x | replace: 'a', x }}", {"x": FIVE_THOUSAND}),  # 25,000,000 characters
    ("{{ x | replace: '', x }}", {"x": FIVE_THOUSAND}),
    ("{{ x | replace_first: 'a', x | replace: 'a', x }}", {"x": FIVE_THOUSAND}),
    ("{{ x | split: '' | join: x }}", {"x": FIVE_THOUSAND}),
    ("{{ x | split: '' | join: x | size }}", {"x": FIVE_THOUSAND}),
    ("{{ 'now' | date: format }}", {"format": "%250Y" * 20_000}),  # 5,000,000 characters
    ("{{ 1700000000 | date: format }}", {"format": "%c" * 5000}),
])
def test_a_filter_multiplying_text_is_refused_before_it_is_built(
        template: str, context: dict[str, Any]) -> None:
    refused(template, context)


def test_an_array_doubled_in_a_loop_is_refused_before_it_is_written() -> None:
    template = ("{% assign a = x | split: ',' %}{% for i in (1..14) %}"
                "{% assign a = a | concat: a %}{% endfor %}{{ a }}")  # 16384 times x
    refused(template, {"x": "a" * 2000}, column=template.index("for i") + 1)
    counted = template.replace("{{ a }}", "{{ a | size }}").replace("14", "6")
    assert render(counted, {"x": "a" * 2000}) == "64"


@pytest.mark.parametrize(("template", "context"), [
    ("{% assign y = x | replace_first: 'a', x %}", {"x": "a" * 150_000}),
    ("{% assign y = x | replace_last: 'a', x %}", {"x": "a" * 150_000}),
    ("{% assign y = x | truncatewords: 1, x %}", {"x": "a" * 150_000}),
    ("{% assign y = x | truncate: 149999, x %}", {"x": "a" * 150_000}),
    ("{% assign y = x | escape %}", {"x": "&" * 60_000}),
    ("{% assign y = x | newline_to_br %}", {"x": "\n" * 40_000}),
    ("{% assign y = x | strip_newlines | url_encode %}", {"x": "😀" * 30_000}),
    ("{% assign y = x | base64_encode | base64_encode | base64_encode | base64_encode | "
     "base64_encode %}", {"x": "a" * 100_000}),
    ("{% assign y = x | to_json | to_json %}", {"x": "\\" * 100_000}),
    ("{% assign y = x | escapejs %}", {"x": "<" * 50_000}),
    ("{% assign y = x | upcase %}", {"x": "ß" * 150_000}),
])
def test_a_filter_making_text_a_few_times_longer_is_refused_once_made(
        template: str, context: dict[str, Any]) -> None:
    for rendering in (render, render_markup):
        with pytest.raises(TemplateError) as raised:
            rendering(template, context)
        assert str(raised.value) == f"Liquid error at line 1, column 4: {PROBLEM}"


@pytest.mark.parametrize(("template", "fits", "too_long"), [
    ("{{ x | replace: 'a', 'bb' }}", {"x": "a" * (OUTPUT_LIMIT // 2)},
     {"x": "a" * (OUTPUT_LIMIT // 2 + 1)}),
    ("{{ x | replace: '', y }}", {"x": "aaaa", "y": "b" * 52428},
     {"x": "aaaa", "y": "b" * 52429}),
    ("{{ x | replace_first: 'a', y }}", {"x": "ab", "y": "c" * (OUTPUT_LIMIT - 1)},
     {"x": "ab", "y": "c" * OUTPUT_LIMIT}),
    ("{{ x | split: '' | join: y }}", {"x": "ab", "y": "c" * (OUTPUT_LIMIT - 2)},
     {"x": "ab", "y": "c" * (OUTPUT_LIMIT - 1)}),
])
def test_the_limit_is_the_output_limit_to_the_character(
        template: str, fits: dict[str, str], too_long: dict[str, str]) -> None:
    for rendering in (render, render_markup):
        assert len(rendering(template, fits)) == OUTPUT_LIMIT
        with pytest.raises(TemplateError) as raised:
            rendering(template, too_long)
        assert str(raised.value) == f"Liquid error at line 1, column 1: {PROBLEM}"


@pytest.mark.parametrize(("template", "char", "each"), [
    ("{{ x | split: '' | join }}", "&", 6),  # "&amp;" and a space
    ("{% assign e = x | escape %}{{ e | replace: '@', y }}", "@", 4),  # "&lt;"
])
def test_escaping_in_markup_counts_toward_the_limit(template: str, char: str, each: int
                                                    ) -> None:
    count = OUTPUT_LIMIT // each + 1
    assert len(render(template, {"x": char * count, "y": "<"})) < OUTPUT_LIMIT
    assert len(render_markup(template, {"x": char * (count - 1), "y": "<"})) <= OUTPUT_LIMIT
    with pytest.raises(TemplateError) as raised:
        render_markup(template, {"x": char * count, "y": "<"})
    assert str(raised.value).endswith(f"column {template.index('{{') + 1}: {PROBLEM}")


# -- date formats ------------------------------------------------------------------------------

DIRECTIVES = st.builds(lambda flag, width, modifier, conversion: (
    f"%{flag}{width}{modifier}{conversion}"), st.sampled_from(["", "-", "_", "0", "^", "#"]),
    st.sampled_from(["", "1", "9", "40", "250"]), st.sampled_from(["", "E", "O"]),
    st.sampled_from(list("aAbBcdHIjmMpSUwWxXyYzZfGgeuVCDFhnRrtTs%+Q")))
FORMATS = st.lists(DIRECTIVES | st.text(max_size=5), max_size=40).map("".join)
MOMENTS = st.sampled_from([
    datetime(2023, 11, 14, 14, 13, tzinfo=PACIFIC),
    datetime(2020, 1, 1, tzinfo=timezone(timedelta(hours=-5, seconds=-7, microseconds=-3))),
])


@settings(max_examples=500, deadline=None)
@given(fmt=FORMATS, moment=MOMENTS)
def test_a_date_format_writes_no_more_than_its_bound(fmt: str, moment: datetime) -> None:
    try:
        written = moment.strftime(fmt)
    except ValueError:
        return
    assert len(written) <= most_written(fmt)


@settings(max_examples=300, deadline=None)
@given(fmt=st.text(alphabet="%-_0^#EO0123456789cYZzfx :", max_size=32), moment=MOMENTS)
def test_a_short_date_format_writes_less_than_the_limit(fmt: str, moment: datetime) -> None:
    with contextlib.suppress(ValueError):
        assert len(moment.strftime(fmt)) < OUTPUT_LIMIT


# -- through /flows/NAME -------------------------------------------------------------------------

#: 225 turns of a caller's text, then that text in place of each "x" of it: from a message of
#: 20 characters, 20 million (from a caller's number twice, between each two characters).
SQUARED = ("{% capture b %}{% for i in (1..15) %}{% for j in (1..15) %}{{ CALLER }}{% endfor %}"
           "{% endfor %}{% endcapture %}{{ b | replace: 'x', b }}")


def _flow(kind: str, properties: dict[str, Any], events: tuple[str, ...], event: str
          ) -> dict[str, Any]:
    trigger = {"name": "Trigger", "type": "trigger", "properties": {"offset": {"x": 0, "y": 0}},
               "transitions": [{"event": name, **({"next": "w"} if name == event else {})}
                               for name in ("incomingMessage", "incomingCall",
                                            "incomingRequest")]}
    return {"description": "Filter limits", "initial_state": "Trigger",
            "flags": {"allow_concurrent_calls": True},
            "states": [trigger, {"name": "w", "type": kind,
                                 "transitions": [{"event": e} for e in events],
                                 "properties": {**properties, "offset": {"x": 0, "y": 0}}}]}


DEFINITIONS = {
    "message": _flow("send-message", {
        "from": "{{flow.channel.address}}", "to": "{{contact.channel.address}}",
        "body": SQUARED.replace("CALLER", "trigger.message.Body")}, ("sent", "failed"),
        "incomingMessage"),
    "say": _flow("say-play", {"say": SQUARED.replace(
        "{{ CALLER }}", "{{ trigger.call.From }}{{ trigger.call.From }}").replace("'x'", "''")},
        ("audioComplete",), "incomingCall"),
}


@pytest.fixture(scope="module")
def app(module_database_url: str) -> Iterator[Flask]:
    flows = {name: Flow(name, body, f"{name}.json") for name, body in DEFINITIONS.items()}
    application = clean_app(module_database_url, BUNDLED_FLOWS=False, STUDIO_FLOWS=False)
    application.register_blueprint(studio_blueprint(flows))
    yield application
    application.extensions["switchboard"].store.close()


def _one_line(twilio: Twilio, contact: str, kind: str, caplog: pytest.LogCaptureFixture
              ) -> None:
    name, field = ("say", "say") if kind == "say-play" else ("message", "body")
    store = twilio.client.application.extensions["switchboard"].store
    (execution,) = [e for e in executions.list_executions(store)
                    if e.contact_channel_address == contact]
    assert execution.status == "ended"
    assert len(json.dumps(execution.context)) < 10_000
    column = DEFINITIONS[name]["states"][1]["properties"][field].index("{{ b |") + 1
    lines = [record.getMessage() for record in caplog.records
             if record.levelno >= logging.WARNING]
    assert lines == [f"execution {execution.sid} of flow {name} ends: widget w ({kind}): "
                     f"Liquid error at line 1, column {column}: {PROBLEM}"]
    assert not [record for record in caplog.records if record.exc_info]


def _posted(twilio: Twilio, path: str, params: dict[str, str]) -> Any:
    """The answer to ``params``, checked to have taken little memory: the text was not made."""
    tracemalloc.start()
    try:
        answer = twilio.post(path, params)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8_000_000, peak
    return answer


def test_a_message_multiplying_a_callers_text_ends_in_one_line(
        twilio: Twilio, caplog: pytest.LogCaptureFixture) -> None:
    contact = "+1555" + str(uuid.uuid4().int)[:7]
    with caplog.at_level(logging.INFO):
        root = twiml(_posted(twilio, "/flows/message", message_params("x" * 20, From=contact)))
    assert list(root) == []
    _one_line(twilio, contact, "send-message", caplog)


def test_a_say_multiplying_a_callers_number_ends_with_the_apology(
        twilio: Twilio, caplog: pytest.LogCaptureFixture) -> None:
    contact = "+1555" + str(uuid.uuid4().int)[:7]
    with caplog.at_level(logging.INFO):
        answer = _posted(twilio, "/flows/say", call_params(From=contact))
    assert spoken(twiml(answer)) == VOICE_APOLOGY
    _one_line(twilio, contact, "say-play", caplog)
