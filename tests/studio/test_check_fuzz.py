"""Flow files mutated every way a hand edit can break them (a property deleted or given any
JSON value, bad Liquid, broken transitions, text that is not JSON, numbers JSON cannot hold,
deep nesting, lone surrogates), each widget given properties of unexpected types and odd
names, and Liquid from its whole vocabulary of tags and filters in every property Studio
renders: the check answers one line per problem naming the file (and the state and the
property where there is one) and never a traceback; a template renders or fails with one
line; a flow the check accepts answers a call, a Gather's step and a message without a 500
and without a logged traceback, whatever its Liquid, an HTTP answer or a caller gives it."""

from __future__ import annotations

import copy
import itertools
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from flask import Flask, Response, request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switchboard.callbacks.errors import VOICE_APOLOGY
from switchboard.callbacks.studio.blueprint import studio_blueprint
from switchboard.callbacks.studio.check import check_definition
from switchboard.callbacks.studio.definition import Flow
from switchboard.callbacks.studio.loader import check_files
from switchboard.callbacks.studio.schema import WIDGET_EVENTS, WIDGET_SCHEMAS
from switchboard.callbacks.studio.templates import (
    TemplateError,
    environment,
    evaluate,
    including_tags,
    parse,
    render,
    render_markup,
    unknown_filters,
)
from switchboard.cli import cli
from tests.conftest import serving
from tests.server.conftest import (
    Twilio,
    call_params,
    clean_app,
    message_params,
    spoken,
    twiml,
)
from tests.studio import EXAMPLES, MINIMAL_WIDGETS, widget_flow, write

BASES: dict[str, dict[str, Any]] = {
    **{path.stem: json.loads(path.read_text("utf-8")) for path in EXAMPLES.glob("*.json")},
    **{kind.replace("-", "_"): widget_flow(kind, properties, WIDGET_EVENTS[kind])
       for kind, properties in MINIMAL_WIDGETS.items()},
}
"""The example flows and a flow of each widget Switchboard runs: what the mutations start from."""

TEXTS = st.sampled_from([
    "", "{{", "}}", "{% if %}", "{% bogus %}", "{{ x | no_such_filter }}", "{{ x | plus }}",
    "{% for i in (1..100) %}{{ i }}{% endfor %}", "{{ '1e400' }}", "{{ '-3' }}", "1e400",
    "NaN", "-5", "0", "nowhere", "Trigger", "x" * 100_000, "\x00", "\ud800", "<Dial>",
])
NUMBERS = st.sampled_from([0, -5, 10**9, 10**20, 10**400, 1e9, 1e300, float("inf"),
                           float("-inf"), float("nan")])
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXTS, st.integers(), st.floats(),
                    st.text(max_size=20))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6)


def _places(definition: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every value in ``definition``, itself included."""
    yield path
    if isinstance(definition, dict):
        for key, item in definition.items():
            yield from _places(item, (*path, key))
    elif isinstance(definition, list):
        for index, item in enumerate(definition):
            yield from _places(item, (*path, index))


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """A base flow with one to three of its values deleted or replaced, or a state or key
    added."""
    definition = copy.deepcopy(BASES[draw(st.sampled_from(sorted(BASES)))])
    for _ in range(draw(st.integers(1, 3))):
        places = [path for path in _places(definition) if path]
        path = draw(st.sampled_from(places))
        parent = definition
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["delete", "replace", "duplicate", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = draw(VALUES)
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[path[-1]]))
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(VALUES)
    return definition


def _text(definition: object) -> str:
    """``definition`` as Python's JSON writes it (``NaN``, ``Infinity`` included)."""
    return json.dumps(definition)


def _checked(path: Path) -> list[str]:
    report = check_files([path])
    for line in map(str, report.problems):
        assert line.startswith(f"{path}: "), line
        assert "\n" not in line, line
    return [str(problem) for problem in report.errors]


FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@FUZZ
@given(definition=mutated())
def test_every_problem_of_a_mutated_flow_is_one_line_naming_its_file(
        tmp_path: Path, definition: dict[str, Any]) -> None:
    _checked(write(tmp_path, "flow.json", _text(definition)))


@FUZZ
@given(data=st.one_of(st.binary(max_size=40), st.sampled_from([
    b"", b"[]", b"null", b'"x"', b"1e400", b"\xef\xbb\xbf", b"\xff\xfe{", "é".encode("latin-1"),
    b"[" * 100_000, b'{"a":' * 100_000, b"9" * 5000, b'{"states": {}}',
])))
def test_a_file_that_is_not_a_flow_is_one_line_naming_it(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "flow.json"
    path.write_bytes(data)
    assert _checked(path)


def test_flows_check_answers_the_lines_and_exits_1_without_a_traceback(tmp_path: Path) -> None:
    deep = write(tmp_path, "deep.json", "[" * 100_000 + "]" * 100_000)
    huge = write(tmp_path, "huge.json", "9" * 5000)
    result = CliRunner().invoke(cli, ["flows", "check", str(deep), str(huge)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"{deep}: invalid JSON: nested too deeply for a flow definition" in result.output
    assert f"{huge}: invalid JSON: a number with too many digits to read" in result.output


def test_a_loop_too_large_for_a_float_is_a_problem_of_the_loop(tmp_path: Path) -> None:
    definition = copy.deepcopy(BASES["say_play"])
    definition["states"][1]["properties"]["loop"] = 10**400
    (line,) = _checked(write(tmp_path, "flow.json", _text(definition)))
    assert line.startswith(f"{tmp_path / 'flow.json'}: state 'w': property 'loop': 1000")
    assert line.endswith("is not a number of times from 1 to 99 (Studio's Loops; 0 would "
                         "repeat the message until the call ends)")


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_number_json_cannot_hold_is_a_problem_of_its_property(tmp_path: Path,
                                                                number: str) -> None:
    text = _text(BASES["gather_input_on_call"]).replace('"timeout": 5', f'"timeout": {number}')
    (line,) = _checked(write(tmp_path, "flow.json", text))
    shown = {"1e400": "Infinity"}.get(number, number)
    assert line == (f"{tmp_path / 'flow.json'}: state 'w': property 'timeout': {shown} is not a "
                    "number JSON can hold; write a finite number")


@pytest.mark.parametrize(("where", "located"), [
    ("properties", "state 'main_menu': property 'junk'"),
    ("transitions", "state 'route_digits': property 'transitions[1]'"),
])
def test_deep_nesting_in_a_definition_is_one_problem(where: str, located: str) -> None:
    nested: list[Any] = []
    for _ in range(5000):
        nested = [nested]
    definition = copy.deepcopy(BASES["ivr_voicemail"])
    if where == "properties":
        definition["states"][1]["properties"]["junk"] = nested
    else:
        definition["states"][2]["transitions"][1]["conditions"][0]["arguments"] = nested
    (problem,) = check_definition(definition, "flows/t.json")
    assert str(problem) == (f"flows/t.json: {located}: nested more than 64 levels deep; a "
                            "flow definition is a few levels deep")


def test_a_flow_saved_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    path = tmp_path / "flow.json"
    path.write_bytes(b"\xef\xbb\xbf" + (EXAMPLES / "ivr_voicemail.json").read_bytes())
    assert _checked(path) == []
    assert check_files([path]).flows["flow"].initial_state == "Trigger"


class Flows:
    """The flows a test puts in, found by name (a runtime's ``lookup``)."""

    def __init__(self) -> None:
        self.flows: dict[str, Flow] = {}

    def find(self, wanted: str) -> Flow | None:
        return self.flows.get(wanted)

    def for_contact(self, wanted: str, contact: str) -> Flow | None:
        return self.flows.get(wanted)


FLOWS = Flows()


@pytest.fixture(scope="module")
def app(module_database_url: str) -> Iterator[Flask]:
    application = clean_app(module_database_url, BUNDLED_FLOWS=False, STUDIO_FLOWS=False)
    application.register_blueprint(studio_blueprint({}, lookup=FLOWS))
    yield application
    application.extensions["switchboard"].store.close()


def _drive(twilio: Twilio, name: str, definition: dict[str, Any], number: int) -> list[int]:
    """A call to the flow, each Gather's step, and a message: the statuses answered."""
    call = call_params(From=f"+1555{number:07d}")
    statuses = [twilio.post(f"/flows/{name}", call).status_code]
    for state in definition["states"]:
        if state["type"] == "gather-input-on-call":
            path = f"/flows/{name}/step/{quote(state['name'], safe='')}/gather"
            statuses.append(twilio.post(path, {**call, "Digits": "1"}).status_code)
    message = message_params(From=f"+1556{number:07d}")
    statuses.append(twilio.post(f"/flows/{name}", message).status_code)
    return statuses


def _runs(twilio: Twilio, caplog: pytest.LogCaptureFixture, tmp_path: Path,
          definition: dict[str, Any]) -> None:
    path = write(tmp_path, "flow.json", _text(definition))
    report = check_files([path])
    if report.errors:
        return
    name = f"f{len(FLOWS.flows)}"
    FLOWS.flows[name] = Flow(name, report.flows["flow"].definition, f"{name}.json")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        statuses = _drive(twilio, name, definition, len(FLOWS.flows))
    assert 500 not in statuses
    assert not [record for record in caplog.records if record.exc_info], caplog.text


@pytest.mark.parametrize("value", ["1e400", "{{ '1e400' }}", "1e300", 10**20, 10**12])
@pytest.mark.parametrize("kind", ["gather_input_on_call", "send_and_wait_for_reply",
                                  "add_twiml_redirect"])
def test_a_timeout_beyond_any_clock_is_refused_or_ends_with_the_apology(
        twilio: Twilio, caplog: pytest.LogCaptureFixture, tmp_path: Path, kind: str,
        value: Any) -> None:
    definition = copy.deepcopy(BASES[kind])
    definition["states"][1]["properties"]["timeout"] = value
    if kind == "send_and_wait_for_reply":
        definition["states"][0]["transitions"][0]["event"] = "incomingMessage"
    problems = _checked(write(tmp_path, "flow.json", _text(definition)))
    if not (isinstance(value, str) and "{" in value):
        # more than any widget takes: refused when the flow loads
        assert [line.split(": ", 3)[2] for line in problems] == ["property 'timeout'"]
        return
    assert problems == []
    _runs(twilio, caplog, tmp_path, definition)
    assert "timeout is" in caplog.text


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(definition=mutated())
def test_a_mutated_flow_the_check_accepts_never_answers_500(
        twilio: Twilio, caplog: pytest.LogCaptureFixture, tmp_path: Path,
        definition: dict[str, Any]) -> None:
    _runs(twilio, caplog, tmp_path, definition)


# -- Liquid from its whole vocabulary ----------------------------------------------------------

LIQUID_VALUES = st.sampled_from([
    "0", "1", "-1", "3", "16", "2.5", "1e308", "-1e308", "99999999999999999999",
    "9223372036854775808", "'x'", "''", "'inf'", "'-inf'", "'nan'", "'sNaN'", "'1e400'",
    "'99999999999999999999999'", "'-5'", "'now'", "'today'", "'2026-07-01T10:00:00Z'", "'%'",
    "'%Q %-d %E'", "'a,b,,c'", "nil", "true", "false", "empty", "blank", "flow", "flow.variables",
    "flow.variables.items", "flow.variables.nested", "flow.variables.big", "flow.variables.none",
    "widgets.menu.Digits", "widgets.lookup.parsed", "trigger.call", "contact.channel.address",
    "flow.variables.items[0]", "flow.variables.items[-1]", "flow.variables['items'].size",
    "flow.variables.items[99999999999999999999]", "(1..3)", "(1..widgets.menu.Digits)",
    "(-5..flow.variables.big)", "('a'..'z')", "missing",
])
"""Values of every kind a template meets: numbers past a float's range, text that reads as
infinity, dates, objects, arrays, ranges, a number a caller pressed."""
LOOPED = st.sampled_from(["(1..3)", "(1..16)", "flow.variables.items", "flow", "'abc'", "5",
                          "(1..widgets.menu.Digits)", "nil", "flow.variables.nested"])
LOOP_OPTIONS = st.sampled_from(["", " limit: 2", " offset: 1", " limit: 99999999999999999999",
                                " offset: -1e308", " limit: 'x'", " offset: continue",
                                " reversed", " limit: flow", " cols: 2", " cols: 0",
                                " cols: (1..2)", " cols: 1e308"])
OPERATORS = st.sampled_from(["==", "!=", "<", ">", "<=", ">=", "contains", "and", "or"])
FILTERS = st.sampled_from([*sorted(environment.filters), "no_such_filter"])


@st.composite
def filtered(draw: st.DrawFn) -> str:
    """A value through up to three filters, each given up to three arguments of any kind
    (too few, too many, of the wrong type, by keyword)."""
    text = draw(LIQUID_VALUES)
    for _ in range(draw(st.integers(0, 3))):
        arguments = draw(st.lists(LIQUID_VALUES, max_size=3))
        if draw(st.integers(0, 4)) == 0:
            arguments.append(f"allow_false: {draw(LIQUID_VALUES)}")
        text += f" | {draw(FILTERS)}" + (": " + ", ".join(arguments) if arguments else "")
    return text


CONDITIONS = st.builds("{} {} {}".format, LIQUID_VALUES, OPERATORS, LIQUID_VALUES)
LIQUID_LEAVES = st.one_of(
    st.builds("{{{{ {} }}}}".format, filtered()),
    st.builds("{{% echo {} %}}".format, filtered()),
    st.builds("{{% assign a = {} %}}{{{{ a }}}}".format, filtered()),
    st.builds("{{% liquid\nassign b = {}\necho b | {}\n%}}".format, filtered(), FILTERS),
    st.sampled_from([
        "text", "{% include 'x' %}", "{% render 'x' with a as b %}", "{% include missing %}",
        "{% break %}", "{% continue %}", "{% cycle 'a', 'b' %}", "{% cycle g: 1, 2 %}",
        "{% increment n %}{% increment n %}", "{% decrement n %}", "{% # a note %}",
        "{% comment %}{{ x {% endcomment %}", "{% raw %}{{ x }}{% endraw %}",
        "{% doc %}x{% enddoc %}", "{{", "}}", "{% %}", "{{ x | }}", "{% endif %}",
        "{% for %}", "{% liquid\nif\n%}",
    ]),
)


def _liquid_blocks(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds("{}{}".format, inner, inner),
        st.builds("{{% if {} %}}{}{{% elsif {} %}}{}{{% else %}}x{{% endif %}}".format,
                  CONDITIONS, inner, CONDITIONS, inner),
        st.builds("{{% unless {} %}}{}{{% endunless %}}".format, CONDITIONS, inner),
        st.builds("{{% case {} %}}{{% when {}, 1 %}}{}{{% else %}}{}{{% endcase %}}".format,
                  LIQUID_VALUES, LIQUID_VALUES, inner, inner),
        st.builds("{{% for i in {}{} %}}{}{{% break %}}{{% else %}}e{{% endfor %}}".format,
                  LOOPED, LOOP_OPTIONS, inner),
        st.builds("{{% tablerow i in {}{} %}}{}{{% endtablerow %}}".format,
                  LOOPED, LOOP_OPTIONS, inner),
        st.builds("{{% capture c %}}{}{{% endcapture %}}{{{{ c }}}}".format, inner),
        st.builds("{{% ifchanged %}}{}{{% endifchanged %}}".format, inner),
    )


LIQUID = st.recursive(LIQUID_LEAVES, _liquid_blocks, max_leaves=5)
"""Templates from Liquid's whole vocabulary of tags and filters, nested, valid or not."""

LIQUID_CONTEXT: dict[str, Any] = {
    "flow": {"variables": {"items": [1, "b", None, {"a": 1}, [2]], "nested": [[[]]],
                           "big": 10**30, "none": None},
             "channel": {"address": "+15555550100"}, "data": {}},
    "trigger": {"call": {"From": "+15555550123", "Digits": "1"}},
    "widgets": {"menu": {"Digits": "99999999999"},
                "lookup": {"parsed": {"a": [1, {"b": None}], "c": "1e400"}}},
    "contact": {"channel": {"address": "+15555550123"}},
}

LIQUID_FUZZ = settings(max_examples=300, deadline=None)


@LIQUID_FUZZ
@given(template=LIQUID)
def test_any_liquid_parses_and_renders_or_fails_with_one_template_error(template: str) -> None:
    problems = []
    try:
        parse(template)
    except TemplateError as error:
        problems.append(str(error))
    else:
        unknown_filters(template)
        including_tags(template)
        for render_with in (render, render_markup, evaluate):
            try:
                render_with(template, LIQUID_CONTEXT)
            except TemplateError as error:
                problems.append(str(error))
    assert [problem for problem in problems if "\n" in problem] == []


def _templated(kind: str) -> list[str]:
    """The properties of a ``kind`` widget Studio renders as Liquid, as the schema names them
    (an ``enum`` aside), and where a Set Variables, an HTTP request or a subflow holds text."""
    schema = WIDGET_SCHEMAS[kind]["properties"]["properties"]["properties"]
    names = [name for name, property_schema in schema.items()
             if "enum" not in property_schema and property_schema.get("type") != "object"]
    return [name for name in names if name not in ("variables", "parameters")] + (
        ["variables[0].value", "variables[0].key"] if kind == "set-variables" else
        ["parameters[0].value"] if "parameters" in names else
        ["conditions[0].arguments[0]", "conditions[0].value"] if kind == "split-based-on" else
        [])


def _flow_of(kind: str, service: str) -> dict[str, Any]:
    """The flow of one ``kind`` widget ``w``, its URL the test service's."""
    properties = copy.deepcopy(MINIMAL_WIDGETS[kind])
    if kind in ("make-http-request", "run-function"):
        properties["url"] = f"{service}/echo"
    return widget_flow(kind, properties, WIDGET_EVENTS[kind])


def _put(definition: dict[str, Any], where: str, value: object) -> None:
    """``value`` at ``where`` in the widget ``w``: a property, or (``conditions[0]...``) in
    its ``match`` transition."""
    widget = definition["states"][1]
    if where.startswith("conditions"):
        match = next(item for item in widget["transitions"] if item["event"] == "match")
        condition = match["conditions"][0]
        if where.endswith("value"):
            condition["value"] = value
        else:
            condition["arguments"] = [value]
    elif "[0]." in where:
        name, key = where.split("[0].")
        widget["properties"][name] = [{"key": "k", "value": "v", key: value}]
    else:
        widget["properties"][where] = value


SERVICE = Flask("service")


@SERVICE.route("/echo", methods=["GET", "POST"])
def _echo() -> Any:
    return {"form": request.form.to_dict(), "body": request.get_data(as_text=True)}


@SERVICE.route("/nested/<int:depth>")
def _nested(depth: int) -> Response:
    return Response('{"a": ' + "[" * depth + "]" * depth + "}", mimetype="application/json")


@SERVICE.route("/surrogate")
def _surrogate() -> Response:
    return Response('{"name": "Ada \\ud800"}', mimetype="application/json")


@pytest.fixture(scope="module")
def service() -> Iterator[str]:
    with serving(SERVICE) as url:
        yield url


def _check_lines(definition: dict[str, Any]) -> None:
    """Check ``definition``: every problem one line naming where it is."""
    lines = [str(problem) for problem in check_definition(copy.deepcopy(definition),
                                                          "flows/t.json")]
    assert [line for line in lines if not line.startswith("flows/t.json: ")] == []
    assert [line for line in lines if "\n" in line] == []


WIDGET_FUZZ = settings(max_examples=40, deadline=None,
                       suppress_health_check=[HealthCheck.function_scoped_fixture,
                                              HealthCheck.too_slow])


@WIDGET_FUZZ
@given(data=st.data())
def test_liquid_in_any_templated_property_is_refused_or_runs_without_a_traceback(
        twilio: Twilio, caplog: pytest.LogCaptureFixture, tmp_path: Path, service: str,
        data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(sorted(MINIMAL_WIDGETS)))
    definition = _flow_of(kind, service)
    _put(definition, data.draw(st.sampled_from(_templated(kind))), data.draw(LIQUID))
    _check_lines(definition)
    _runs(twilio, caplog, tmp_path, definition)


# -- structures the schema lets through ----------------------------------------------------------

ODD = st.one_of(VALUES, st.sampled_from([
    [None], [[None]], {"a": None}, {"x": {"y": [None]}}, [{"key": None}],
    [{"key": "k", "value": [None]}], [{"key": "k", "value": {"a": None}, "type": "json"}],
    [{"key": "k", "value": "{{ flow.variables }}", "parse_as_json": True}],
    [{"key": "k", "value": "[[[[", "type": "json"}], "{{ flow }}", "é" * 3, "\u202e\x07",
]))
ODD_TEXT = st.one_of(TEXTS, LIQUID, st.text(max_size=20), st.sampled_from([
    "é" * 3, "\u202e\x07", "名前", "a\nb", "(?P<", "25:99", "1,000,000", "2026-02-30", "+",
]))
NAMES = st.one_of(st.text(min_size=1, max_size=12), st.sampled_from([
    "x" * 3000, "é", "名前", "a b", "a\tb", "a\nb", "\x07", "\u202e", "a/b", "a?b#c", "%2F",
    "..", "audioComplete", "incomingCall", "keypress", "match", "noMatch", "Trigger",
]))


@st.composite
def odd_flow(draw: st.DrawFn, service: str) -> dict[str, Any]:
    """A widget's flow with properties of unexpected JSON types, transitions and conditions
    with extra keys and odd arguments, odd names, offsets and flags."""
    kind = draw(st.sampled_from(sorted(MINIMAL_WIDGETS)))
    definition = _flow_of(kind, service)
    widget = definition["states"][1]
    names = sorted({*_templated(kind), *widget["properties"], "offset"} - {
        "variables[0].key", "conditions[0].value", "conditions[0].arguments[0]"})
    for name in draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True)):
        _put(definition, name, draw(st.one_of(ODD_TEXT, ODD_TEXT, ODD)))
    if draw(st.booleans()):
        widget["properties"][draw(st.sampled_from(["extra", "x_new", "é"]))] = draw(ODD)
    for transition in widget["transitions"]:
        if draw(st.booleans()):
            transition[draw(st.sampled_from(["extra", "next", "friendly_name"]))] = draw(
                st.one_of(st.sampled_from(["w", "Trigger", None, ""]), ODD, NAMES))
        for condition in transition.get("conditions", []):
            condition["arguments"] = draw(st.lists(st.one_of(ODD_TEXT, ODD), max_size=3))
            condition["value"] = draw(st.one_of(ODD_TEXT, ODD_TEXT, ODD))
    if draw(st.booleans()):
        widget["name"] = definition["states"][0]["transitions"][0]["next"] = draw(NAMES)
    if draw(st.booleans()):
        definition["flags"] = draw(st.one_of(ODD, st.dictionaries(
            st.sampled_from(["allow_concurrent_calls", "other"]), ODD, max_size=2)))
    return definition


@WIDGET_FUZZ
@given(data=st.data())
def test_a_flow_of_odd_structure_is_refused_or_runs_without_a_traceback(
        twilio: Twilio, caplog: pytest.LogCaptureFixture, tmp_path: Path, service: str,
        data: st.DataObject) -> None:
    definition = data.draw(odd_flow(service))
    _check_lines(definition)
    _runs(twilio, caplog, tmp_path, definition)


def test_split_with_hundreds_of_conditions_runs(twilio: Twilio, caplog: pytest.LogCaptureFixture,
                                                tmp_path: Path) -> None:
    definition = _flow_of("split-based-on", "")
    split = definition["states"][1]
    split["transitions"] = [{"event": "noMatch"}] + [
        {"event": "match", "next": "w", "conditions": [
            {"friendly_name": f"#{number}", "arguments": ["{{ trigger.call.From }}"],
             "type": kind, "value": value} for kind, value in (
                ("regex", "("), ("less_than", "1e400"), ("is_after_time", "25:99"),
                ("matches_any_of", ",,,"), ("is_before_date", "{{ 'now' | date: '%Q' }}"))]}
        for number in range(300)]
    assert check_definition(copy.deepcopy(definition), "flows/t.json") == []
    _runs(twilio, caplog, tmp_path, definition)


def test_a_subflow_running_itself_fails_ten_levels_down(
        twilio: Twilio, caplog: pytest.LogCaptureFixture) -> None:
    name = f"f{len(FLOWS.flows)}"  # as _said names it
    definition = widget_flow("run-subflow", {"flow_sid": name, "flow_revision": "1"})
    definition["states"][0]["transitions"].append({"event": "incomingParent", "next": "w"})
    definition["states"][1]["transitions"] = [{"event": "failed", "next": "said"}]
    definition["states"].append(_say("{{ widgets.w.error }}"))
    assert check_definition(copy.deepcopy(definition), "flows/t.json") == []
    assert _said(twilio, definition, caplog) == "more than 10 subflows inside one another"


# -- what the fuzzing found ----------------------------------------------------------------------

def _said(twilio: Twilio, definition: dict[str, Any], caplog: pytest.LogCaptureFixture,
          **digits: str) -> str:
    """What a caller hears from ``definition`` (its ``w`` a Gather when ``digits`` are given,
    pressed), every record logged checked for a traceback."""
    name = f"f{len(FLOWS.flows)}"
    FLOWS.flows[name] = Flow(name, definition, f"{name}.json")
    call = call_params()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        answer = twilio.post(f"/flows/{name}", call)
        if digits:
            answer = twilio.post(f"/flows/{name}/step/w/gather", {**call, **digits})
    assert not [record for record in caplog.records if record.exc_info], caplog.text
    return spoken(twiml(answer))


def _saying(say: str) -> dict[str, Any]:
    return widget_flow("say-play", {"say": say}, ("audioComplete",))


@pytest.mark.parametrize(("template", "problem"), [
    ("{{ 'inf' | ceil }}", "OverflowError: cannot convert float infinity to integer"),
    ("{{ '-inf' | floor }}", "OverflowError: cannot convert float infinity to integer"),
    ("{{ '1e400' | modulo: 2 }}",
     "a calculation with a number that is infinite, not a number or too large"),
    ("{{ 'abc' | uniq: 99999999999999999999 }}", "IndexError: cannot fit 'int'"),
    ("{{ flow | compact: 5 }}", "KeyError: 5"),
    ("{% tablerow i in (1..3) cols: (1..2) %}{{ i }}{% endtablerow %}", "TypeError: int()"),
])
def test_a_filter_python_cannot_compute_ends_the_execution_with_one_line(
        twilio: Twilio, caplog: pytest.LogCaptureFixture, template: str, problem: str) -> None:
    assert _said(twilio, _saying(template), caplog) == VOICE_APOLOGY
    assert f"widget w (say-play): Liquid error: {problem}" in caplog.text


def test_an_object_contains_no_object_and_no_array() -> None:
    template = ("{% if flow contains flow %}1{% endif %}{% if flow contains empty %}2{% endif %}"
                "{% if flow.variables contains flow.variables.items %}3{% endif %}none")
    assert render(template, LIQUID_CONTEXT) == "none"


def test_a_range_of_more_than_1000_numbers_is_a_template_error(
        twilio: Twilio, caplog: pytest.LogCaptureFixture) -> None:
    definition = _flow_of("gather-input-on-call", "")
    definition["states"][1]["transitions"] = [{"event": "keypress", "next": "said"}]
    definition["states"].append({"name": "said", "type": "say-play", "transitions": [],
                                 "properties": {"say": "{{ (1..widgets.w.Digits) | join }}"}})
    assert _said(twilio, copy.deepcopy(definition), caplog, Digits="1000").startswith("1 2 3")
    assert _said(twilio, definition, caplog, Digits="1001") == VOICE_APOLOGY
    assert "a range of 1001 numbers, more than 1000" in caplog.text
    with pytest.raises(TemplateError, match="a range of 99999999999 numbers, more than 1000"):
        render("{{ (1..widgets.menu.Digits) | sort | join }}", LIQUID_CONTEXT)


@pytest.mark.parametrize("when", ["99999999999999999999999", "-99999999999999999999999"])
def test_a_unix_time_beyond_any_calendar_is_dated_as_it_is(when: str) -> None:
    assert render(f"{{{{ '{when}' | date: '%Y' }}}}|{{{{ {when} | date: '%Y' }}}}",
                  LIQUID_CONTEXT) == f"{when}|{when}"


def _fetching(service: str, path: str, *then: dict[str, Any]) -> dict[str, Any]:
    """A call that fetches ``service`` ``path`` (widget ``h``) then runs the states ``then``,
    the last saying something."""
    definition = widget_flow("make-http-request", {
        "method": "GET", "url": f"{service}{path}", "content_type": "application/json"})
    fetch = definition["states"][1]
    fetch["name"] = definition["states"][0]["transitions"][0]["next"] = "h"
    fetch["transitions"] = [{"event": event, "next": then[0]["name"]}
                            for event in ("success", "failed")]
    for state, after in itertools.pairwise(then):
        state["transitions"] = [{"event": event, "next": after["name"]}
                                for event in WIDGET_EVENTS[state["type"]]]
    definition["states"] += then
    return definition


def _say(text: str) -> dict[str, Any]:
    return {"name": "said", "type": "say-play", "transitions": [], "properties": {"say": text}}


def _set(key: str, value: str, name: str = "v") -> dict[str, Any]:
    return {"name": name, "type": "set-variables", "transitions": [],
            "properties": {"variables": [{"key": key, "value": value, "type": "json"}]}}


@pytest.mark.parametrize("depth", [65, 30_000])
def test_an_answer_nested_deeper_than_a_flow_holds_is_not_parsed(
        twilio: Twilio, caplog: pytest.LogCaptureFixture, service: str, depth: int) -> None:
    definition = _fetching(service, f"/nested/{depth}",
                           _say("{{ widgets.h.status_code }} {{ widgets.h.parsed | size }}"))
    assert _said(twilio, definition, caplog) == "200 0"
    shallow = _fetching(service, "/nested/63",
                        _say("{{ widgets.h.status_code }} {{ widgets.h.parsed | size }}"))
    assert _said(twilio, shallow, caplog) == "200 1"


@pytest.mark.parametrize("depth", [65, 30_000])
def test_a_json_variable_nested_too_deeply_ends_the_execution_with_one_line(
        twilio: Twilio, caplog: pytest.LogCaptureFixture, service: str, depth: int) -> None:
    definition = _fetching(service, f"/nested/{depth}",
                           _set("j", "{{ widgets.h.body }}"), _say("set"))
    assert _said(twilio, definition, caplog) == VOICE_APOLOGY
    assert "widget v (set-variables): variable 'j' nests more than 64 levels deep" in (
        caplog.text)


def test_a_variable_nesting_itself_each_round_ends_the_execution_with_one_line(
        twilio: Twilio, caplog: pytest.LogCaptureFixture) -> None:
    definition = widget_flow("set-variables", {"variables": [
        {"key": "all", "value": "{{ flow.variables }}", "type": "json"}]}, ("next",))
    definition["states"][1]["transitions"] = [{"event": "next", "next": "again"}]
    again = {"key": "round", "value": "{{ flow.variables.round | plus: 1 }}"}
    definition["states"].append({"name": "again", "type": "set-variables",
                                 "transitions": [{"event": "next", "next": "w"}],
                                 "properties": {"variables": [again]}})
    assert _said(twilio, definition, caplog) == VOICE_APOLOGY
    assert "widget w (set-variables): variable 'all' nests more than 64 levels deep" in (
        caplog.text)


def test_a_lone_surrogate_from_an_answer_fails_the_request_it_would_be_sent_in(
        twilio: Twilio, caplog: pytest.LogCaptureFixture, service: str) -> None:
    send = {"name": "send", "type": "make-http-request", "transitions": [], "properties": {
        "method": "POST", "url": f"{service}/echo", "content_type": "application/json",
        "body": '{"name": "{{ widgets.h.parsed.name }}"}'}}
    definition = _fetching(service, "/surrogate", send, _say("{{ widgets.send.error }}"))
    definition["states"][2]["transitions"] = [{"event": "failed", "next": "said"}]
    assert _said(twilio, definition, caplog) == (
        f"the request to {service}/echo holds text that is not Unicode (a lone UTF-16 "
        "surrogate)")


@pytest.mark.parametrize("where", ["name", "say", "description", "key"])
def test_text_with_a_lone_surrogate_is_refused_where_it_is(tmp_path: Path, where: str) -> None:
    definition = _saying("Hello")
    if where == "name":
        definition["states"][1]["name"] = definition["states"][0]["transitions"][0]["next"] = (
            "w\ud800")
    elif where == "key":
        definition["states"][1]["properties"]["\udfff"] = "x"
    elif where == "say":
        definition["states"][1]["properties"]["say"] = "{{ 'x\ud800' }}"
    else:
        definition["description"] = "\ud83d"
    path = write(tmp_path, "flow.json", _text(definition))
    assert "\\ud" in path.read_text("ascii")  # as JSON escapes, in a file that is all ASCII
    lines = _checked(path)
    located = {"name": "state 'w\\ud800': property 'name'", "say": "state 'w': property 'say'",
               "key": "state 'w': property '\\udfff'", "description": "property 'description'"}
    assert any(line.startswith(f"{path}: {located[where]}: ") and line.endswith(
        "holds a lone UTF-16 surrogate, which no call or message can carry; write text as "
        "UTF-8, or escape it as a surrogate pair") for line in lines), lines
