"""Liquid as Studio runs it: the environment the checks parse with and the runtime renders
with, its comparisons of numbers with text, and the numbers a template outputs."""

from __future__ import annotations

import operator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal, localcontext
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
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
    source = ("{% if a == 2 %}equal{% endif %}{% case a %}{% when 2 %}when{% endcase %}"
              "{% if a > 2 %}x{% endif %}")
    assert render(source, {"a": "3"}) == "x"
    assert render_markup(source, {"a": "2"}) == "equalwhen"
    plain = Environment()
    with pytest.raises(LiquidError):
        plain.from_string(source).render(a="3")
    assert plain.from_string(source.replace(">", "==")).render(a="2") == ""
    assert Environment().from_string("{% if a == 2 %}x{% endif %}").render(a="2") == ""
    assert plain.from_string("{% if true < 2 %}x{% endif %}").render() == "x"


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
    ("{{ widgets.ask.Body | plus: 0 }}", 0),
    ("{{ flow.variables.price | times: 2 }}", 5.0),
    ("{{ flow.variables.words | plus: 0 }}", "nan"),
    ("{{ flow.variables.huge | sum }}", "inf"),
    ("{{ flow.variables.exact }}", 3.0),
    ("{{ flow.variables.hundred }}", "1E+2"),
    ("{{ flow.variables.tenth }}", "0.10"),
])
def test_evaluate_keeps_the_number_a_template_only_outputs(template: str, value: object) -> None:
    numbers = {**NUMBERS, "flow": {"variables": {
        **NUMBERS["flow"]["variables"], "words": "nan", "huge": ["1e400"],
        "exact": Decimal("3.0"), "hundred": Decimal("1E+2"), "tenth": Decimal("0.10")}}}
    found = evaluate(template, numbers)
    assert found == value
    assert type(found) is type(value)
    assert str(found) == render(template, numbers)


def test_evaluate_says_what_is_wrong_as_render_does() -> None:
    with pytest.raises(TemplateError, match=r"^Liquid error at line 1, column .*divided_by"):
        evaluate("{{ 10 | divided_by: 0 }}", NUMBERS)
    with pytest.raises(TemplateError, match=r"^Liquid syntax error"):
        evaluate("{{ oops", NUMBERS)
    with pytest.raises(TemplateError, match=r"^Liquid error at line 1, column 1: integer"):
        evaluate("{{ widgets.menu.Digits | append: x | plus: 0 }}", {**NUMBERS, "x": "9" * 5000})


@pytest.mark.parametrize(("condition", "holds"), [
    ("big == '9007199254740993'", False),
    ("big == '9007199254740993.0'", False),
    ("big < '9007199254740992.5'", True),
    ("big == ' 9007199254740992.000 '", True),
    ("big < '" + "9" * 5000 + "'", True),
    ("big == '" + "9" * 5000 + "'", False),
    ("'-" + "9" * 5000 + ".5' < big", True),
    ("tenth == '0.1'", True),
    ("tenth >= '0.1'", True),
    ("tenth < '0.1'", False),
    ("exact == '0.1'", True),
    ("exact < '0.1'", False),
    ("exact >= '0.10'", True),
    ("endless == '" + "9" * 400 + "'", False),
    ("endless > '" + "9" * 400 + "'", True),
    ("largest < '" + "9" * 400 + "'", True),
])
def test_text_compares_with_a_number_exactly_however_many_its_digits(condition: str,
                                                                     holds: bool) -> None:
    template = f"{{% if {condition} %}}yes{{% else %}}no{{% endif %}}"
    context = {"big": 2 ** 53, "tenth": 0.1, "exact": Decimal("0.1"),
               "endless": float("inf"), "largest": 1.7976931348623157e308}
    assert render(template, context) == ("yes" if holds else "no")


OPERATORS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt,
             "<=": operator.le, ">=": operator.ge}


@given(number=st.integers(min_value=-10 ** 30, max_value=10 ** 30),
       offset=st.decimals(min_value=-2, max_value=2, places=3),
       padding=st.sampled_from(["", " ", "\n", " \t"]),
       comparison=st.sampled_from(sorted(OPERATORS)))
@settings(max_examples=300, deadline=None)
def test_a_whole_number_and_text_compare_as_the_numbers_they_write(
        number: int, offset: Decimal, padding: str, comparison: str) -> None:
    with localcontext(prec=100):
        text = number + offset
    template = (f"{{% if n {comparison} t %}}yes{{% endif %}}"
                f"{{% if t {comparison} n %}}swapped{{% endif %}}")
    found = render(template, {"n": number, "t": f"{padding}{text}{padding}"})
    expected = ("yes" if OPERATORS[comparison](number, text) else "") + (
        "swapped" if OPERATORS[comparison](text, number) else "")
    assert found == expected


@given(written=st.decimals(allow_nan=False, allow_infinity=False, places=6,
                          min_value=-10 ** 12, max_value=10 ** 12),
       comparison=st.sampled_from(sorted(OPERATORS)))
@settings(max_examples=200, deadline=None)
def test_a_float_and_the_text_it_was_read_from_compare_as_one_number(
        written: Decimal, comparison: str) -> None:
    number = float(str(written))  # as a JSON number's text is read
    found = render(f"{{% if n {comparison} t %}}yes{{% endif %}}",
                   {"n": number, "t": str(written)})
    assert found == ("yes" if OPERATORS[comparison](number, number) else "")


@pytest.mark.parametrize("condition", [
    "true < 2", "2 > true", "false < 1", "false < true", "true > false", "flag < 2",
    "flag > 0", "flag < '2'", "flag <= 2", "flag >= 1", "true == 1", "flag == '1'",
    "false == 0",
])
def test_a_boolean_is_not_a_number(condition: str) -> None:
    template = f"{{% if {condition} %}}yes{{% else %}}no{{% endif %}}"
    assert render(template, {"flag": True}) == "no"


@pytest.mark.parametrize(("template", "expected"), [
    ("{% case x %}{% when 2, '2' %}two{% endcase %}", "two"),
    ("{% case x %}{% when '2' or 2 %}two{% endcase %}", "two"),
    ("{% case x %}{% when 2, 2.0, ' 2 ' %}two{% else %}other{% endcase %}", "two"),
    ("{% case x %}{% when '2', '2' %}two{% endcase %}", "twotwo"),  # Liquid's own
    ("{% case x %}{% when 3, 'x' %}three{% else %}other{% endcase %}", "other"),
    ("{% case n %}{% when 2, '2' %}two{% endcase %}", "two"),
    ("{% case n %}{% when 2, 2 %}two{% endcase %}", "twotwo"),  # Liquid's own
])
def test_a_when_listing_a_number_and_its_text_renders_once(template: str,
                                                            expected: str) -> None:
    assert render(template, {"x": "2", "n": 2}) == expected
    assert render_markup(template, {"x": "2", "n": 2}) == expected


def test_comparisons_in_every_tag_holding_others_compare_as_studio() -> None:
    template = ("{% liquid\nif x > 1\necho 'liquid'\nendif\ncase x\nwhen 2\necho ' when'\n"
                "endcase %}"
                "{% for i in items %}{% ifchanged %}{% if x >= i %} {{ i }}{% endif %}"
                "{% endifchanged %}{% endfor %}"
                "{% for i in nothing %}{% else %}{% unless x < 1 %} else{% endunless %}"
                "{% endfor %}"
                "{% capture said %}{% if x == 2 %} captured{% endif %}{% endcapture %}{{ said }}"
                "{% tablerow i in items limit: 1 %}{% if x != 3 %}cell{% endif %}{% endtablerow %}"
                "{% case 1 %}{% when 1 %}{% case x %}{% when 2 %} nested{% endcase %}{% endcase %}"
                "{%- if x contains 2 -%} contains{%- endif -%}")
    assert render(template, {"x": "2", "items": [1, 1, 2, 3]}) == (
        'liquid when 1 2 else captured<tr class="row1">\n<td class="col1">cell</td></tr>\n'
        " nestedcontains")


@pytest.mark.parametrize("template", ["{% include 'greeting' %}", "{% render 'greeting' %}",
                                      "{% include name %}"])
def test_a_template_cannot_include_another(template: str) -> None:
    for rendering in (render, render_markup):
        with pytest.raises(TemplateError) as raised:
            rendering(template, {"name": "greeting"})
        assert not raised.value.syntax
        assert raised.value.problem == (
            "no template 'greeting': a flow's Liquid cannot include or render another "
            "template")


#: Squared 15 times (Studio's most loops): 10 to the 32,768th, more digits than Python writes.
HUGE = "{% assign x = 10 %}{% for i in (1..15) %}{% assign x = x | times: x %}{% endfor %}"


def test_a_number_too_long_to_write_is_a_template_error() -> None:
    for rendering in (render, render_markup, evaluate):
        with pytest.raises(TemplateError) as raised:
            rendering(HUGE + "{{ x }}", {})
        assert str(raised.value) == (
            "Liquid error: a number of more than 4300 digits cannot be written out")
    assert render(HUGE + "{% if x > 2 %}large{% endif %}", {}) == "large"


#: Text doubled at each of 15 turns: 8 characters become 262,144.
DOUBLED = ("{% assign x = 'abcdefgh' %}{% for i in (1..15) %}{% assign x = x | append: x %}"
           "{% endfor %}{{ x | size }}")


def test_assign_and_capture_hold_at_most_256_kib() -> None:
    for rendering in (render, render_markup):
        with pytest.raises(TemplateError) as held:
            rendering(DOUBLED, {})
        assert held.value.problem == "its assign and capture tags hold more than 262144 bytes"
        captured = DOUBLED.replace("{% assign x = x | append: x %}",
                                   "{% capture x %}{{ x }}{{ x }}{% endcapture %}")
        with pytest.raises(TemplateError):
            rendering(captured, {})
    assert render(DOUBLED.replace("abcdefgh", "ab"), {}) == "65536"


def test_templates_parse_as_studio_from_many_threads_at_once() -> None:
    def parse_and_render(number: int) -> str:
        template = f"{{% if x > {number} %}}{number}{{% endif %}}"
        return (render(template, {"x": str(number + 1)})
                + render_markup(template, {"x": str(number + 1)}))

    with ThreadPoolExecutor(max_workers=8) as pool:
        found = list(pool.map(parse_and_render, range(1000, 1200)))
    assert found == [f"{number}{number}" for number in range(1000, 1200)]
