"""Flow files mutated every way a hand edit can break them (a property deleted or given any
JSON value, bad Liquid, broken transitions, text that is not JSON, numbers JSON cannot hold,
deep nesting): the check answers one line per problem naming the file (and the state and the
property where there is one) and never a traceback; a flow it accepts answers a call, a
Gather's step and a message without a 500 and without a logged traceback."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switchboard.callbacks.studio.blueprint import studio_blueprint
from switchboard.callbacks.studio.check import check_definition
from switchboard.callbacks.studio.definition import Flow
from switchboard.callbacks.studio.loader import check_files
from switchboard.callbacks.studio.schema import WIDGET_EVENTS
from switchboard.cli import cli
from tests.server.conftest import Twilio, call_params, clean_app, message_params
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
            path = f"/flows/{name}/step/{state['name']}/gather"
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
