"""Liquid as Studio runs it: the environment the checks parse with and the runtime renders
with, its comparisons of numbers with text, and the numbers a template outputs."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from liquid import Environment
from liquid.exceptions import LiquidError

from switchboard.callbacks.studio.definition import StudioError
from switchboard.callbacks.studio.templates import (
    TemplateError,
    environment,
    evaluate,
    markup_environment,
    parse,
    render,
    render_markup,
    unknown_filters,
)

CONTEXT = {
    "trigger": {"call": {"From": "+15555550123", "CallSid": "CA" + "0" * 32}},
    "widgets": {"menu": {"Digits": "2"},
                "lookup": {"parsed": {"status": "shipped", "items": [1, 2]}},
                "ask": {"SpeechResult": '<break time="3s"/> Tom & "Jerry"',
                        "words": ["<b>", "&"]}},
    "flow": {"variables": {"attempts": "2"}, "channel": {"address": "+15555550100"}},
    "contact": {"channel": {"address": "+15555550123"}},
}


def test_the_environment_is_one_python_liquid_environment() -> None:
    assert isinstance(environment, Environment)
    assert "to_json" in environment.filters
    assert {"append", "default", "downcase", "plus", "date", "url_encode"} <= set(
        environment.filters)


@pytest.mark.parametrize(("template", "expected"), [
    ("You pressed {{widgets.menu.Digits}}.", "You pressed 2."),
    ("{{ trigger.call.From | slice: -4, 4 }}", "0123"),
    ("{{ flow.variables.attempts | plus: 1 }}", "3"),
    ("{% if widgets.menu.Digits == '2' %}billing{% else %}other{% endif %}", "billing"),
    ("{{ widgets.nothing.here }}|{{ flow.variables.missing | default: 'none' }}", "|none"),
    ("{{ widgets.lookup.parsed | to_json }}", '{"status": "shipped", "items": [1, 2]}'),
    ("{{ widgets.nothing | to_json }}", "null"),
    ("{{ 'é' | to_json }}", '"é"'),
    ("Plain text, no markup: {not a tag} 100%", "Plain text, no markup: {not a tag} 100%"),
])
def test_render_as_studio(template: str, expected: str) -> None:
    assert render(template, CONTEXT) == expected


def test_dates_are_in_studios_pacific_time_whatever_the_servers_zone() -> None:
    pacific = ZoneInfo("America/Los_Angeles")
    form = "%Y-%m-%d %H:%M %z"
    before = datetime.now(pacific).strftime(form)
    now = render(f"{{{{ 'now' | date: '{form}' }}}}", CONTEXT)
    assert now in {before, datetime.now(pacific).strftime(form)}
    assert render("{{ 'today' | date: '%Z' }}", CONTEXT) in {"PST", "PDT"}
    assert render("{{ 1700000000 | date: '%Y-%m-%d %H:%M %Z' }}", CONTEXT) == (
        "2023-11-14 14:13 PST")
    assert render("{{ '1751371200' | date: '%H:%M %Z' }}", CONTEXT) == "05:00 PDT"
    assert render("{{ '2026-07-01T10:00:00Z' | date: '%H:%M %z' }}", CONTEXT) == "10:00 +0000"
    assert render("{{ 'soon' | date: '%H' }}|{{ widgets.nothing | date: '%H' }}", CONTEXT) == (
        "soon|")


def test_a_filter_liquid_does_not_know_passes_its_input_through() -> None:
    assert render("{{ widgets.menu.Digits | shout }}", CONTEXT) == "2"
    assert unknown_filters("{{ a | shout | upcase | whisper: 1 }}{{ b | shout }}") == [
        "shout", "whisper"]
    assert unknown_filters("{{ a | to_json | upcase }}") == []


@pytest.mark.parametrize(("template", "problem", "line", "column"), [
    ("Hello {{ name", "expected '}}', found end of file", 1, 7),
    ("one\ntwo {% endif %}", "unexpected tag 'endif'", 2, 8),
    ("{% for x in %}{% endfor %}", None, None, None),
    ("{% if a %}never closed", "expected tag endif", None, None),
])
def test_parse_says_what_and_where(template: str, problem: str | None, line: int | None,
                                   column: int | None) -> None:
    with pytest.raises(TemplateError) as raised:
        parse(template)
    error = raised.value
    assert isinstance(error, StudioError)
    assert error.syntax
    assert str(error).startswith("Liquid syntax error")
    assert "\n" not in str(error)
    if problem is not None:
        assert problem in error.problem
    if line is not None:
        assert (error.line, error.column) == (line, column)
        assert f"at line {line}, column {column}: " in str(error)


def test_render_refuses_a_template_that_does_not_parse_or_a_filter_that_fails() -> None:
    with pytest.raises(TemplateError, match=r"^Liquid syntax error"):
        render("{{ oops", CONTEXT)
    with pytest.raises(TemplateError) as raised:
        render("{{ 10 | divided_by: 0 }}", CONTEXT)
    assert not raised.value.syntax
    assert str(raised.value).startswith("Liquid error at line 1, column ")
    assert "divided_by" in str(raised.value)


def test_parsed_templates_are_cached() -> None:
    assert parse("Hi {{ contact.channel.address }}") is parse("Hi {{ contact.channel.address }}")


def test_each_loop_runs_15_times_at_most_as_in_studio() -> None:
    items = {"items": list(range(20)), "ten": list(range(10))}
    assert render("{% for i in (1..15) %}x{% endfor %}", items) == "x" * 15
    assert render("{% for i in items limit: 15 %}{{ i }} {% endfor %}", items) == (
        " ".join(str(i) for i in range(15)) + " ")
    nested = "{% for i in ten %}{% for j in ten %}x{% endfor %}{% endfor %}"
    assert render(nested, items) == "x" * 100  # each loop is counted on its own
    for template in ("{% for i in (1..16) %}x{% endfor %}",
                     "{% for i in items %}{{ i }}{% endfor %}",
                     "{% tablerow i in items %}{{ i }}{% endtablerow %}"):
        with pytest.raises(TemplateError) as raised:
            render(template, items)
        assert not raised.value.syntax
        assert "more than Studio's 15" in str(raised.value)
        assert "'limit: 15'" in str(raised.value)


@pytest.mark.parametrize(("template", "expected"), [
    ('<s>{{ widgets.ask.SpeechResult }}</s>',
     "<s>&lt;break time=&#34;3s&#34;/&gt; Tom &amp; &#34;Jerry&#34;</s>"),
    ("<p>{{ widgets.ask.SpeechResult | escape }}</p>",
     "<p>&lt;break time=&#34;3s&#34;/&gt; Tom &amp; &#34;Jerry&#34;</p>"),
    ("<p>{{ widgets.ask.SpeechResult | strip_html }}</p>", "<p> Tom &amp; &#34;Jerry&#34;</p>"),
    ("<p>{{ widgets.ask.SpeechResult | safe }}</p>",
     "<p>&lt;break time=&#34;3s&#34;/&gt; Tom &amp; &#34;Jerry&#34;</p>"),
    ("<p>{{ widgets.ask.words | join: '<break/>' }}</p>", "<p>&lt;b&gt;<break/>&amp;</p>"),
    ("{% capture said %}<s>{{ widgets.ask.words[1] }}</s>{% endcapture %}{{ said }}",
     "<s>&amp;</s>"),
    ('<s>{{ "<break/>" }}{{ widgets.nothing | default: "<break/>" }}</s>',
     "<s><break/><break/></s>"),
    ("<s>{{ widgets.lookup.parsed | to_json }}</s>",
     "<s>{&#34;status&#34;: &#34;shipped&#34;, &#34;items&#34;: [1, 2]}</s>"),
    ("You pressed {{widgets.menu.Digits}} & <break/>", "You pressed 2 & <break/>"),
])
def test_render_markup_escapes_what_liquid_outputs_never_the_template(template: str,
                                                                      expected: str) -> None:
    assert render_markup(template, CONTEXT) == expected


def test_render_markup_is_studios_liquid_and_render_does_not_escape() -> None:
    assert markup_environment.autoescape
    assert not environment.autoescape
    assert set(markup_environment.filters) == set(environment.filters)
    assert render("<s>{{ widgets.ask.words[0] }}</s>", CONTEXT) == "<s><b></s>"
    with pytest.raises(TemplateError, match=r"^Liquid syntax error at line 1, column 4: "):
        render_markup("<s>{{ oops", CONTEXT)
    with pytest.raises(TemplateError, match="more than Studio's 15"):
        render_markup("{% for i in (1..16) %}<s/>{% endfor %}", CONTEXT)


NUMBERS = {
    "flow": {"variables": {"count": 3, "price": 2.5, "items": [1, 2], "text": "3"}},
    "widgets": {"menu": {"Digits": "2"}, "ask": {"Body": "ten"}, "pin": {"Digits": "0123"}},
}


@pytest.mark.parametrize(("condition", "holds"), [
    ("flow.variables.count > 2", True),
    ("flow.variables.count > '2'", True),
    ("'4' > flow.variables.count", True),
    ("flow.variables.count < ' 10 '", True),
    ("flow.variables.count >= '3'", True),
    ("flow.variables.count <= '-1'", False),
    ("flow.variables.price > '2.25'", True),
    ("widgets.menu.Digits > 1", True),
    ("widgets.menu.Digits < 2", False),
    ("widgets.menu.Digits <= 2", True),
    ("widgets.menu.Digits == 2", True),
    ("widgets.menu.Digits != 2", False),
    ("flow.variables.count == '3'", True),
    ("flow.variables.count == '3.0'", True),
    ("flow.variables.count != '4'", True),
    ("widgets.pin.Digits == 123", True),
    ("widgets.pin.Digits == '123'", False),  # text with text: as written
    ("flow.variables.text < '10'", False),  # text with text: in the order of text
    ("flow.variables.count contains '3'", True),
    ("flow.variables.count contains 4", False),
])
def test_a_number_and_text_that_reads_as_one_compare_as_numbers(condition: str,
                                                                  holds: bool) -> None:
    template = f"{{% if {condition} %}}yes{{% else %}}no{{% endif %}}"
    assert render(template, NUMBERS) == ("yes" if holds else "no")
    assert render_markup(template, NUMBERS) == ("yes" if holds else "no")


@pytest.mark.parametrize("condition", [
    "widgets.ask.Body > 2", "widgets.ask.Body < 2", "widgets.ask.Body >= 2",
    "widgets.ask.Body <= 2", "widgets.ask.Body == 2", "2 > widgets.ask.Body",
    "flow.variables.items > 1", "flow.variables.items <= 1", "true > 1",
    "flow.variables.price contains 'x'", "true contains 'r'",
])
def test_an_order_that_cannot_be_made_does_not_hold_where_liquid_raises(condition: str) -> None:
    template = f"{{% if {condition} %}}yes{{% else %}}no{{% endif %}}"
    assert render(template, NUMBERS) == "no"
    assert render(f"{{% unless {condition} %}}no{{% endunless %}}", NUMBERS) == "no"


def test_every_tag_that_compares_compares_as_studio() -> None:
    assert render("{% if false %}{% elsif flow.variables.count > '2' %}elsif{% endif %}"
                  "{% unless widgets.menu.Digits > 5 %} unless{% endunless %}"
                  "{% for i in flow.variables.items %}{% if i >= '2' %} {{ i }}{% endif %}"
                  "{% endfor %}"
                  "{% if widgets.menu.Digits > 1 and flow.variables.count < 4 %} and{% endif %}"
                  "{% case widgets.menu.Digits %}{% when 1 %} one{% when 3, 2 %} two"
                  "{% else %} other{% endcase %}"
                  "{% case flow.variables.count %}{% when '3' %} three{% endcase %}",
                  NUMBERS) == "elsif unless 2 and two three"


def test_only_studios_environment_compares_so() -> None:
    with pytest.raises(LiquidError):
        Environment().from_string("{% if a > 2 %}x{% endif %}").render(a="3")
    assert Environment().from_string("{% if a == 2 %}x{% endif %}").render(a="2") == ""


@pytest.mark.parametrize(("template", "value"), [
    ("{{ flow.variables.count | plus: 1 }}", 4),
    ("{{ widgets.menu.Digits | plus: 0 }}", 2),
    ("{{flow.variables.count}}", 3),
    ("{{ flow.variables.price }}", 2.5),
    ("{{ '1.5' | plus: 1 }}", 2.5),
    ("{{ 7 }}", 7),
    ("{{ widgets.menu.Digits }}", "2"),
    ("{{ widgets.pin.Digits }}", "0123"),
    ("{{ flow.variables.count }} ", "3 "),
    ("#{{ flow.variables.count }}", "#3"),
    ("{% if true %}3{% endif %}", "3"),
    ("{{ flow.variables.items }}", "12"),
    ("{{ widgets.nothing }}", ""),
    ("{{ true }}", "true"),
])
def test_evaluate_keeps_the_number_a_template_only_outputs(template: str, value: object) -> None:
    found = evaluate(template, NUMBERS)
    assert found == value
    assert type(found) is type(value)
    assert str(found) == render(template, NUMBERS)


def test_evaluate_says_what_is_wrong_as_render_does() -> None:
    with pytest.raises(TemplateError, match=r"^Liquid error at line 1, column .*divided_by"):
        evaluate("{{ 10 | divided_by: 0 }}", NUMBERS)
    with pytest.raises(TemplateError, match=r"^Liquid syntax error"):
        evaluate("{{ oops", NUMBERS)
