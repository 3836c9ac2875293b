"""The checks of a flow definition: each kind of problem refused in one line naming the file,
the state and the property; each widget's required properties; every condition type; whole
numbers as each widget reads them; the warnings for widgets Switchboard cannot run on its
own."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from click.testing import CliRunner
from jsonschema import Draft7Validator

from switchboard.callbacks import create_app
from switchboard.callbacks.studio.check import check_definition, check_flow_name
from switchboard.callbacks.studio.definition import Flow, FlowError
from switchboard.callbacks.studio.outbound import MakeOutgoingCall
from switchboard.callbacks.studio.schema import (
    CONDITION_TYPES,
    FLOW_SCHEMA,
    LARGEST_INTEGER,
    LONGEST_REDIRECT,
    LONGEST_REPLY_WAIT,
    UNSUPPORTED_WIDGETS,
    WIDGET_EVENTS,
    WIDGET_SCHEMAS,
    WIDGET_TYPES,
)
from switchboard.callbacks.studio.widgets import messaging, voice
from switchboard.callbacks.studio.widgets.base import MESSAGING, VOICE, Output, Visit, WidgetError
from switchboard.cli import cli
from tests.studio import (
    DOC_SIMPLE_FLOW,
    EXAMPLES,
    MINIMAL_WIDGETS,
    UNSUPPORTED_SAMPLES,
    condition,
    flow,
    state,
    transition,
    widget_flow,
    write,
)

SOURCE = "flows/t.json"


def lines(definition: object) -> list[str]:
    return [str(problem) for problem in check_definition(definition, SOURCE)
            if not problem.warning]


def warnings(definition: object) -> list[str]:
    return [str(problem) for problem in check_definition(definition, SOURCE)
            if problem.warning]


def test_the_schema_is_a_draft_07_schema_with_one_sub_schema_per_widget_type() -> None:
    Draft7Validator.check_schema(FLOW_SCHEMA)
    assert FLOW_SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert set(WIDGET_SCHEMAS) == set(WIDGET_TYPES)
    assert not set(WIDGET_EVENTS) & set(UNSUPPORTED_WIDGETS)
    json.dumps(FLOW_SCHEMA)   # plain data: it can be written out for an editor


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda path: path.stem)
def test_the_example_flows_check_clean(path: Any) -> None:
    definition = json.loads(path.read_text("utf-8"))
    assert check_definition(definition, str(path)) == []


def test_the_example_flows_are_an_ivr_with_voicemail_and_an_sms_reply_loop() -> None:
    ivr = json.loads((EXAMPLES / "ivr_voicemail.json").read_text("utf-8"))
    sms = json.loads((EXAMPLES / "sms_reply_loop.json").read_text("utf-8"))
    assert {"gather-input-on-call", "split-based-on", "record-voicemail",
            "connect-call-to"} <= {s["type"] for s in ivr["states"]}
    assert {"send-and-wait-for-reply", "split-based-on", "set-variables",
            "make-http-request"} <= {s["type"] for s in sms["states"]}
    for definition in (ivr, sms):
        assert list(definition) == ["description", "states", "initial_state", "flags"]
        assert all("offset" in s["properties"] for s in definition["states"])
    loop = {t.get("next") for s in sms["states"] if s["name"] == "ask_again"
            for t in s["transitions"]}
    assert "save_reply" in loop


def test_the_simple_flow_of_twilios_docs_passes() -> None:
    assert lines(DOC_SIMPLE_FLOW) == []
    assert warnings(DOC_SIMPLE_FLOW) == []


@pytest.mark.parametrize("kind", sorted(WIDGET_EVENTS))
def test_each_widget_switchboard_runs_passes_with_the_properties_studio_exports(kind: str
                                                                                ) -> None:
    properties = MINIMAL_WIDGETS.get(kind, {})
    definition = widget_flow(kind, properties, WIDGET_EVENTS[kind])
    assert check_definition(definition, SOURCE) == []


REQUIRED = [
    ("split-based-on", "input"),
    ("send-message", "body"),
    ("send-message", "from"),
    ("send-message", "to"),
    ("send-and-wait-for-reply", "body"),
    ("send-and-wait-for-reply", "from"),
    ("send-and-wait-for-reply", "timeout"),
    ("connect-call-to", "noun"),
    ("connect-call-to", "caller_id"),
    ("connect-call-to", "to"),
    ("make-http-request", "method"),
    ("make-http-request", "url"),
    ("make-http-request", "content_type"),
    ("run-function", "url"),
    ("run-subflow", "flow_sid"),
    ("run-subflow", "flow_revision"),
    ("add-twiml-redirect", "url"),
    ("record-call", "record_call"),
]


@pytest.mark.parametrize(("kind", "name"), REQUIRED)
def test_a_widget_without_a_property_it_needs_is_refused(kind: str, name: str) -> None:
    properties = {key: value for key, value in MINIMAL_WIDGETS[kind].items() if key != name}
    article = "an" if kind[0] in "aeiou" else "a"
    assert lines(widget_flow(kind, properties)) == [
        f"flows/t.json: state 'w': property '{name}': missing; {article} {kind} widget needs it"]


@pytest.mark.parametrize(("kind", "needs"), [
    ("say-play", "needs 'say', 'play' or 'digits'"),
    ("enqueue-call", "needs 'queue_name' or 'workflow_sid'"),
])
def test_a_widget_needing_one_of_several_properties_names_them(kind: str, needs: str) -> None:
    assert lines(widget_flow(kind, {"loop": 1} if kind == "say-play" else {"priority": 1})) \
        == [f"flows/t.json: state 'w': {needs}"]
    for name in needs.replace(",", "").replace(" or ", " ").split()[1:]:
        assert lines(widget_flow(kind, {name.strip("'"): "x"})) == []


def test_widgets_whose_needs_depend_on_another_property() -> None:
    sip = {"noun": "sip", "caller_id": "{{contact.channel.address}}"}
    assert lines(widget_flow("connect-call-to", sip)) == [
        "flows/t.json: state 'w': property 'sip_endpoint': missing; a connect-call-to widget "
        "needs it"]
    assert lines(widget_flow("connect-call-to", {**sip, "sip_endpoint": "sip:a@b.com"})) == []
    template = {"from": "+15555550100", "to": "{{contact.channel.address}}",
                "message_type": "content_template"}
    assert lines(widget_flow("send-message", template)) == [
        "flows/t.json: state 'w': property 'content_sid': missing; a send-message widget "
        "needs it"]
    assert lines(widget_flow("send-message", {**template, "content_sid": "HX" + "0" * 32})) \
        == []


def test_the_documented_condition_types_are_the_ones_accepted() -> None:
    assert CONDITION_TYPES == (
        "equal_to", "not_equal_to", "matches_any_of", "does_not_match_any_of", "is_blank",
        "is_not_blank", "regex", "contains", "does_not_contain", "starts_with",
        "does_not_start_with", "less_than", "greater_than", "is_before_time",
        "is_after_time", "is_before_date", "is_after_date")


def split_flow(*conditions: dict[str, Any]) -> dict[str, Any]:
    return flow(
        state("route", "split-based-on", {"input": "{{widgets.menu.Digits}}"},
              [transition("noMatch"), *(transition("match", "done", conditions=[c])
                                        for c in conditions)]),
        state("done", "say-play", {"say": "Done."}, [transition("audioComplete")]))


@pytest.mark.parametrize("kind", CONDITION_TYPES)
def test_every_condition_type_is_accepted(kind: str) -> None:
    value = {"is_before_time": "09:00", "is_after_time": "17:30",
             "is_before_date": "2030-01-01", "is_after_date": "2020-12-31",
             "regex": "^[0-9]{6}$", "less_than": "3", "greater_than": "10"}.get(kind, "yes")
    assert check_definition(split_flow(condition(kind, value)), SOURCE) == []


def test_an_unknown_condition_type_is_refused_with_the_closest_one() -> None:
    assert lines(split_flow(condition("equals_to", "1"))) == [
        "flows/t.json: state 'route': property 'transitions[1].conditions[0].type': "
        "unknown condition type 'equals_to'; did you mean 'equal_to'?"]
    (line,) = lines(split_flow(condition("between", "1")))
    assert line.startswith("flows/t.json: state 'route': property "
                           "'transitions[1].conditions[0].type': unknown condition type "
                           "'between'; use one of equal_to, not_equal_to, ")


def test_conditions_need_a_value_except_blank_checks_and_a_match_needs_conditions() -> None:
    blank = {"friendly_name": "If value is_blank", "arguments": ["{{x}}"], "type": "is_blank"}
    assert lines(split_flow(blank)) == []
    equal = {"friendly_name": "If value equal_to", "arguments": ["{{x}}"], "type": "equal_to"}
    assert lines(split_flow(equal)) == [
        "flows/t.json: state 'route': property 'transitions[1].conditions[0].value': missing; "
        "a condition needs it"]
    definition = split_flow(condition("equal_to", "1"))
    del definition["states"][1]["transitions"][1]["conditions"]
    assert lines(definition) == [
        "flows/t.json: state 'route': property 'transitions[1].conditions': missing; a match "
        "transition needs it"]
    definition["states"][1]["transitions"][1]["conditions"] = []
    assert lines(definition) == [
        "flows/t.json: state 'route': property 'transitions[1].conditions': needs at least 1 "
        "condition"]


def test_a_transition_to_no_state_is_refused_naming_the_state_and_property() -> None:
    definition = flow(state("menu", "gather-input-on-call", {"say": "Press 1."},
                            [transition("keypress", "gone"), transition("timeout", "menu")]))
    assert lines(definition) == [
        "flows/t.json: state 'menu': property 'next': no state named 'gone' "
        "(transition #1, on 'keypress')"]


def test_an_initial_state_naming_no_state_or_no_trigger_is_refused() -> None:
    definition = flow(state("hello", "say-play", {"say": "Hi"}))
    definition["initial_state"] = "Start"
    assert lines(definition) == ["flows/t.json: property 'initial_state': no state named 'Start'"]
    definition["initial_state"] = "hello"
    assert lines(definition) == [
        "flows/t.json: property 'initial_state': 'hello' is a say-play widget; the initial "
        "state must be the flow's trigger"]


def test_duplicate_state_names_are_refused() -> None:
    hello = state("hello", "say-play", {"say": "Hi"}, [transition("audioComplete")])
    assert lines(flow(hello, hello)) == [
        "flows/t.json: state 'hello': duplicate state name (state #2 has it too); state names "
        "must be unique"]


def test_an_unknown_widget_type_is_refused() -> None:
    assert lines(widget_flow("say_play", {"say": "Hi"})) == [
        "flows/t.json: state 'w': property 'type': unknown widget type 'say_play'; did you "
        "mean 'say-play'?"]
    (line,) = lines(widget_flow("teleport", {}))
    assert line.startswith("flows/t.json: state 'w': property 'type': unknown widget type "
                           "'teleport'; use one of trigger, say-play, ")


def test_a_property_of_the_wrong_type_or_value_is_refused() -> None:
    definition = widget_flow("gather-input-on-call", {"say": "Hi", "number_of_digits": [1],
                                                      "stop_gather": None})
    assert lines(definition) == [
        "flows/t.json: state 'w': property 'number_of_digits': must be a number or a string, "
        "not an array",
        "flows/t.json: state 'w': property 'stop_gather': must be a boolean or a string, not "
        "null"]
    definition = widget_flow("make-http-request", {**MINIMAL_WIDGETS["make-http-request"],
                                                   "method": "PATCH"})
    assert lines(definition) == [
        "flows/t.json: state 'w': property 'method': 'PATCH' is not one of GET, POST"]
    definition = widget_flow("set-variables", {"variables": [{"value": "1"}]})
    assert lines(definition) == [
        "flows/t.json: state 'w': property 'variables[0].key': missing; a key/value pair "
        "needs it"]


def test_the_shape_of_the_definition_and_its_states_is_checked() -> None:
    assert lines([]) == ["flows/t.json: must be an object, not an array"]
    assert lines({}) == [
        "flows/t.json: property 'initial_state': missing; a flow definition needs it",
        "flows/t.json: property 'states': missing; a flow definition needs it"]
    assert lines({"initial_state": "Trigger", "states": []}) == [
        "flows/t.json: property 'states': needs at least 1 state",
        "flows/t.json: property 'initial_state': no state named 'Trigger'"]
    definition = flow(state("hello", "say-play", {"say": "Hi"}))
    definition["states"] += ["oops", {"type": "say-play", "properties": {"say": "x"},
                                      "transitions": [{"next": "hello"}]}]
    assert lines(definition) == [
        "flows/t.json: state #3: must be an object, not a string",
        "flows/t.json: state #4: property 'name': missing; a state needs it",
        "flows/t.json: state #4: property 'transitions[0].event': missing; a transition "
        "needs it"]
    definition = flow(state("hello", "say-play", {"say": "Hi"}))
    del definition["states"][1]["transitions"]
    definition["flags"] = {"allow_concurrent_calls": "yes"}
    assert lines(definition) == [
        "flows/t.json: property 'flags.allow_concurrent_calls': must be a boolean, not a "
        "string",
        "flows/t.json: state 'hello': property 'transitions': missing; a state needs it"]


def test_a_state_whose_properties_or_transitions_are_not_what_they_should_be() -> None:
    definition = flow(state("hi", "say-play", {"say": "Hi"}))
    definition["states"][1]["properties"] = "say hi"
    definition["states"][1]["transitions"] = {"event": "audioComplete"}
    assert lines(definition) == [
        "flows/t.json: state 'hi': property 'properties': must be an object, not a string",
        "flows/t.json: state 'hi': property 'transitions': must be an array, not an object"]


def test_offsets_and_properties_studio_adds_later_are_allowed() -> None:
    definition = widget_flow("say-play", {"say": "Hi", "brand_new_option": {"a": [1]}})
    definition["states"][1]["properties"]["offset"] = {"x": -120.5, "y": 40}
    definition["states"][1]["something_else"] = True
    definition["$schema"] = "https://schemas.twilio.com/studio/draft/2019-09/flow-definition"
    assert check_definition(definition, SOURCE) == []


@pytest.mark.parametrize(("where", "properties", "line"), [
    ("say", {"say": "Hello\n{{ trigger.call.From "}, "line 2, column 1: expected '}}'"),
    ("play", {"play": "https://example.com/{% if x %}a.mp3"},
     "expected tag endif"),
    ("digits", {"digits": "{{ | }}"}, "line 1, column"),
])
def test_a_liquid_syntax_error_is_located(where: str, properties: dict[str, str], line: str
                                          ) -> None:
    (problem,) = lines(widget_flow("say-play", properties))
    assert problem.startswith(f"flows/t.json: state 'w': property '{where}': Liquid syntax "
                              "error")
    assert line in problem
    assert "\n" not in problem


def test_every_text_studio_renders_is_parsed_as_liquid() -> None:
    broken = "{{ oops"
    definition = flow(
        state("vars", "set-variables", {"variables": [{"key": "a", "value": broken}]},
              [transition("next", "http")]),
        state("http", "make-http-request", {**MINIMAL_WIDGETS["make-http-request"],
                                            "url": broken, "body": broken,
                                            "parameters": [{"key": "k", "value": broken}]},
              [transition("success", "route")]),
        state("route", "split-based-on", {"input": broken},
              [transition("match", "vars", conditions=[condition("equal_to", broken,
                                                                 broken)])]))
    assert [line.split(": Liquid")[0] for line in lines(definition)] == [
        "flows/t.json: state 'vars': property 'variables[0].value'",
        "flows/t.json: state 'http': property 'url'",
        "flows/t.json: state 'http': property 'body'",
        "flows/t.json: state 'http': property 'parameters[0].value'",
        "flows/t.json: state 'route': property 'input'",
        "flows/t.json: state 'route': property 'transitions[0].conditions[0].arguments[0]'",
        "flows/t.json: state 'route': property 'transitions[0].conditions[0].value'",
    ]


@pytest.mark.parametrize("kind", sorted(UNSUPPORTED_WIDGETS))
def test_widgets_switchboard_cannot_run_on_its_own_are_warnings(kind: str) -> None:
    definition = widget_flow(kind, UNSUPPORTED_SAMPLES.get(kind, {}), ("anyEventAtAll",))
    problems = check_definition(definition, SOURCE)
    assert [problem.warning for problem in problems] == [True]
    assert str(problems[0]).startswith(
        f"flows/t.json: state 'w': Switchboard cannot run a {kind} widget on its own (it ")
    assert str(problems[0]).endswith("); an execution that reaches it fails there")


@pytest.mark.parametrize("kind", ["run-function-v2", "update-sync-object", "create-task",
                                  "understand"])
def test_widgets_of_studios_own_schema_load_with_a_warning(kind: str) -> None:
    definition = widget_flow(kind, {"anything": "{{flow.data.x}}"}, ("success", "failed"))
    (problem,) = check_definition(definition, SOURCE)
    assert problem.warning
    assert str(problem).startswith(
        f"flows/t.json: state 'w': Switchboard cannot run a {kind} widget on its own (it ")


@pytest.mark.parametrize("loop", [0, "0", 100, "100", -1, 2.5, "twice", True])
@pytest.mark.parametrize("kind", ["say-play", "gather-input-on-call"])
def test_a_loop_outside_studios_1_to_99_is_refused(kind: str, loop: object) -> None:
    for good in (1, "1", 99, "99", 3.0, "{{flow.data.times}}"):
        assert lines(widget_flow(kind, {"say": "Hello", "loop": good})) == []
    definition = widget_flow(kind, {"say": "Hello", "loop": loop})
    shown = repr(loop) if isinstance(loop, str) else json.dumps(loop)
    expected = [f"flows/t.json: state 'w': property 'loop': {shown} is not a number of times "
                "from 1 to 99 (Studio's Loops; 0 would repeat the message until the call "
                "ends)"]
    if isinstance(loop, bool):
        expected = ["flows/t.json: state 'w': property 'loop': must be a number or a string, "
                    "not a boolean"]
    assert lines(definition) == expected


def test_connect_call_to_a_sim_passes() -> None:
    properties = {**MINIMAL_WIDGETS["connect-call-to"], "noun": "sim",
                  "to": "DE" + "1" * 32}
    assert check_definition(widget_flow("connect-call-to", properties,
                                        ("callCompleted", "hangup")), SOURCE) == []
    del properties["to"]
    assert lines(widget_flow("connect-call-to", properties)) == [
        "flows/t.json: state 'w': property 'to': missing; a connect-call-to widget needs it"]


def test_the_flex_widget_still_needs_its_workflow_and_channel() -> None:
    assert lines(widget_flow("send-to-flex", {"channel": "TC1"})) == [
        "flows/t.json: state 'w': property 'workflow': missing; a send-to-flex widget "
        "needs it"]


def test_an_event_the_widget_never_ends_with_and_an_unknown_filter_are_warnings() -> None:
    definition = widget_flow("say-play", {"say": "{{ trigger.call.From | shout }}"},
                             ("audioComplete", "keypress"))
    assert lines(definition) == []
    assert warnings(definition) == [
        "flows/t.json: state 'w': property 'say': Liquid filter 'shout' is not one Switchboard "
        "knows; it will output its input unchanged",
        "flows/t.json: state 'w': property 'event': a say-play widget never ends with event "
        "'keypress' (it ends with audioComplete); this transition is never taken"]


def test_problems_come_in_the_order_of_the_states_errors_before_warnings() -> None:
    definition = flow(
        state("a", "send-to-flex", {"workflow": "WW1", "channel": "TC1"}),
        state("b", "say-play", {}, [transition("audioComplete", "nowhere")]),
        state("c", "split-based-on", {}))
    definition["states"][0]["transitions"][0]["next"] = "b"
    problems = [str(problem) for problem in check_definition(definition, SOURCE)]
    assert problems == [
        "flows/t.json: state 'b': needs 'say', 'play' or 'digits'",
        "flows/t.json: state 'b': property 'next': no state named 'nowhere' (transition #1, "
        "on 'audioComplete')",
        "flows/t.json: state 'c': property 'input': missing; a split-based-on widget needs it",
        problems[3]]
    assert problems[3].startswith("flows/t.json: state 'a': Switchboard cannot run")


def test_the_definition_is_not_changed_by_the_check() -> None:
    definition = json.loads((EXAMPLES / "ivr_voicemail.json").read_text("utf-8"))
    before = copy.deepcopy(definition)
    check_definition(definition, SOURCE)
    assert definition == before


@pytest.mark.parametrize("name", ["ivr", "sms_reply-loop", "Support.v2", "0800~menu"])
def test_flow_names_that_are_url_segments(name: str) -> None:
    assert check_flow_name(name, "x.json") == []


@pytest.mark.parametrize("name", ["my flow", "ivr%20", "-ivr", ".hidden", "ivr/2", "é", ""])
def test_flow_names_that_are_not_url_segments_are_refused(name: str) -> None:
    (problem,) = check_flow_name(name, f"flows/{name}.json")
    assert str(problem).startswith(
        f"flows/{name}.json: flow name {name!r} is not a valid URL segment (/flows/NAME)")


# -- whole numbers: what each widget reads with Visit.integer -----------------------------------

WHOLE_NUMBERS: dict[tuple[str, str], int] = {
    ("gather-input-on-call", "timeout"): -LARGEST_INTEGER,   # below 1: <Gather>'s default
    ("gather-input-on-call", "number_of_digits"): 0,         # 0: no limit
    ("record-voicemail", "timeout"): 0,
    ("record-voicemail", "max_length"): 1,
    ("connect-call-to", "timeout"): 1,
    ("connect-call-to", "time_limit"): 1,
    ("enqueue-call", "priority"): 0,
    ("enqueue-call", "timeout"): 0,
    ("add-twiml-redirect", "timeout"): 0,                    # 0: no coming back
    ("send-and-wait-for-reply", "timeout"): 1,
    ("make-outgoing-call-v2", "timeout"): 1,
    ("make-outgoing-call-v2", "machine_detection_timeout"): 0,
}
"""The smallest value of each property a widget reads as a whole number."""


def with_property(kind: str, name: str, value: object) -> dict[str, Any]:
    return widget_flow(kind, {**MINIMAL_WIDGETS[kind], name: value})


def schema_minimums() -> dict[tuple[str, str], int]:
    """The ``minimum`` of each property the schema holds as a whole number."""
    return {(kind, name): sub["minimum"] for kind, schema in WIDGET_SCHEMAS.items()
            for name, sub in schema["properties"]["properties"]["properties"].items()
            if sub.get("x-number-text")}


def schema_maximums() -> dict[tuple[str, str], int]:
    """The ``maximum`` of each property the schema holds as a whole number."""
    return {(kind, name): sub["maximum"] for kind, schema in WIDGET_SCHEMAS.items()
            for name, sub in schema["properties"]["properties"]["properties"].items()
            if sub.get("x-number-text")}


def test_the_schema_holds_each_whole_number_with_its_smallest_value() -> None:
    assert schema_minimums() == WHOLE_NUMBERS


@pytest.mark.parametrize(("kind", "name", "value", "problem"), [
    ("gather-input-on-call", "timeout", "abc", "'abc' is not a number or a Liquid template"),
    ("gather-input-on-call", "timeout", "   ", "'   ' is not a number or a Liquid template"),
    ("gather-input-on-call", "timeout", "nan", "'nan' is not a number or a Liquid template"),
    ("gather-input-on-call", "timeout", "-Infinity",
     "'-Infinity' is not a number or a Liquid template"),
    ("gather-input-on-call", "timeout", "0x10", "'0x10' is not a number or a Liquid template"),
    ("gather-input-on-call", "timeout", -3_000_000_000,
     "-3000000000 is less than -2147483647; use -2147483647 or more"),
    ("gather-input-on-call", "number_of_digits", -3, "-3 is less than 0; use 0 or more"),
    ("gather-input-on-call", "number_of_digits", "-3", "'-3' is less than 0; use 0 or more"),
    ("gather-input-on-call", "number_of_digits", "four",
     "'four' is not a number or a Liquid template"),
    ("record-voicemail", "max_length", 0, "0 is less than 1; use 1 or more"),
    ("record-voicemail", "max_length", "0", "'0' is less than 1; use 1 or more"),
    ("record-voicemail", "timeout", "5s", "'5s' is not a number or a Liquid template"),
    ("connect-call-to", "timeout", 0, "0 is less than 1; use 1 or more"),
    ("connect-call-to", "time_limit", "0.5", "'0.5' is less than 1; use 1 or more"),
    ("enqueue-call", "priority", 2**31, "2147483648 is more than 2147483647; use 2147483647 "
     "or less"),
    ("enqueue-call", "timeout", "99999999999", "'99999999999' is more than 2147483647; use "
     "2147483647 or less"),
    ("enqueue-call", "timeout", "1e400", "'1e400' is more than 2147483647; use 2147483647 or "
     "less"),
    ("add-twiml-redirect", "timeout", -1, "-1 is less than 0; use 0 or more"),
    ("add-twiml-redirect", "timeout", "14401", "'14401' seconds is longer than Studio waits for "
     "TwiML to return (4 hours); use 14400 or less"),
    ("send-and-wait-for-reply", "timeout", 0, "0 is less than 1; use 1 or more"),
    ("send-and-wait-for-reply", "timeout", "an hour",
     "'an hour' is not a number or a Liquid template"),
    ("send-and-wait-for-reply", "timeout", 10**12, "1000000000000 seconds is longer than Studio "
     "waits for a reply: an execution lives 30 days at most; use 2592000 or less"),
    ("make-outgoing-call-v2", "timeout", "0", "'0' is less than 1; use 1 or more"),
    ("make-outgoing-call-v2", "machine_detection_timeout", "soon",
     "'soon' is not a number or a Liquid template"),
    ("connect-call-to", "timeout", True, "must be a number or a string, not a boolean"),
    ("record-voicemail", "max_length", False, "must be a number or a string, not a boolean"),
])
def test_a_whole_number_no_widget_takes_is_refused_in_one_line(kind: str, name: str,
                                                               value: object, problem: str
                                                               ) -> None:
    assert lines(with_property(kind, name, value)) == [
        f"flows/t.json: state 'w': property '{name}': {problem}"]


@pytest.mark.parametrize(("kind", "name"), sorted(WHOLE_NUMBERS))
def test_whole_numbers_as_studio_exports_them_and_templates_pass(kind: str, name: str
                                                                 ) -> None:
    smallest = WHOLE_NUMBERS[(kind, name)]
    largest = {"send-and-wait-for-reply": LONGEST_REPLY_WAIT,
               "add-twiml-redirect": LONGEST_REDIRECT}.get(kind, LARGEST_INTEGER)
    for value in (smallest, str(smallest), largest, str(largest), " 42 ", "60.0", 7.5, "1e2",
                  "+30", "",
                  "{{flow.data.wait}}", "{{ widgets.menu.Digits | plus: 1 }}", "{{ 'abc' }}"):
        assert lines(with_property(kind, name, value)) == [], value


@pytest.mark.parametrize(("kind", "name"), sorted(WHOLE_NUMBERS))
def test_the_smallest_value_passes_and_one_less_is_refused(kind: str, name: str) -> None:
    smallest = WHOLE_NUMBERS[(kind, name)]
    assert lines(with_property(kind, name, smallest)) == []
    for below in (smallest - 1, str(smallest - 1)):
        shown = repr(below) if isinstance(below, str) else str(below)
        assert lines(with_property(kind, name, below)) == [
            f"flows/t.json: state 'w': property '{name}': {shown} is less than {smallest}; "
            f"use {smallest} or more"]


def test_negative_and_zero_whole_numbers_follow_each_widgets_smallest() -> None:
    passing = [("gather-input-on-call", "timeout", 0), ("gather-input-on-call", "timeout", "-3"),
               ("gather-input-on-call", "number_of_digits", 0),
               ("record-voicemail", "timeout", "0"), ("add-twiml-redirect", "timeout", 0),
               ("enqueue-call", "priority", "0"),
               ("make-outgoing-call-v2", "machine_detection_timeout", 0)]
    for kind, name, value in passing:
        assert lines(with_property(kind, name, value)) == [], (kind, name)
    refused = [("gather-input-on-call", "number_of_digits", -1),
               ("record-voicemail", "max_length", "0"), ("connect-call-to", "timeout", "0"),
               ("connect-call-to", "time_limit", 0), ("send-and-wait-for-reply", "timeout", "0"),
               ("make-outgoing-call-v2", "timeout", 0), ("enqueue-call", "timeout", "-1")]
    for kind, name, value in refused:
        (line,) = lines(with_property(kind, name, value))
        assert f"property '{name}': " in line, (kind, name)


class Links:
    def step(self, widget: str, source: str) -> str:
        return f"http://localhost/flows/f/step/{widget}/{source}"

    def message_status(self, execution_sid: str, widget: str) -> str | None:
        return None

    def outgoing_call(self, execution_sid: str, widget: str) -> str:
        return f"http://localhost/flows/f/outgoing-call/{execution_sid}/{widget}"

    def outgoing_call_status(self, execution_sid: str, widget: str) -> str:
        return self.outgoing_call(execution_sid, widget) + "/status"

    def recording_status(self, widget: str) -> str | None:
        return None


CONTEXT: dict[str, Any] = {
    "trigger": {}, "widgets": {},
    "flow": {"flow_sid": "FW" + "0" * 32, "sid": "FN" + "0" * 32,
             "channel": {"address": "+15555550100"}, "variables": {}, "data": {}},
    "contact": {"channel": {"address": "+15555550123"}},
}


def visit(kind: str, properties: dict[str, Any], channel: str = VOICE) -> Visit:
    definition = {"states": [{"name": "w", "type": kind, "properties": properties,
                              "transitions": []}], "initial_state": "w"}
    return Visit(name="w", type=kind, properties=properties, flow=Flow("f", definition, "f.json"),
                 context=copy.deepcopy(CONTEXT), output=Output(channel),
                 settings=None,  # type: ignore[arg-type]
                 links=Links(), execution_sid="FN" + "0" * 32, remaining=lambda: 10.0,
                 rest_client=mock.MagicMock)


#: Each widget that reads whole numbers, the channel it runs in, and properties that take it
#: through every one of its reads.
READERS: list[tuple[str, Any, str, dict[str, Any]]] = [
    ("say-play", voice.SayPlay(), VOICE, MINIMAL_WIDGETS["say-play"]),
    ("gather-input-on-call", voice.GatherInputOnCall(), VOICE,
     MINIMAL_WIDGETS["gather-input-on-call"]),
    ("record-voicemail", voice.RecordVoicemail(), VOICE, MINIMAL_WIDGETS["record-voicemail"]),
    ("connect-call-to", voice.ConnectCallTo(), VOICE, MINIMAL_WIDGETS["connect-call-to"]),
    ("enqueue-call", voice.EnqueueCall(), VOICE,
     {"workflow_sid": "WW" + "0" * 32, "priority": 5, "timeout": 600}),
    ("add-twiml-redirect", voice.AddTwimlRedirect(), VOICE,
     MINIMAL_WIDGETS["add-twiml-redirect"]),
    ("send-and-wait-for-reply", messaging.SendAndWaitForReply(), MESSAGING,
     MINIMAL_WIDGETS["send-and-wait-for-reply"]),
    ("make-outgoing-call-v2", MakeOutgoingCall(), MESSAGING,
     MINIMAL_WIDGETS["make-outgoing-call-v2"]),
]


def test_the_check_and_the_widgets_agree_on_each_smallest_whole_number(
        monkeypatch: pytest.MonkeyPatch) -> None:
    read: dict[tuple[str, str], int] = {}
    largest: dict[tuple[str, str], int] = {}
    integer = Visit.integer

    def spy(self: Visit, key: str, default: int | None = None, *, minimum: int = 0,
            maximum: int = LARGEST_INTEGER) -> int | None:
        read[(self.type, key)] = minimum
        largest[(self.type, key)] = maximum
        return integer(self, key, default, minimum=minimum, maximum=maximum)

    monkeypatch.setattr(Visit, "integer", spy)
    for kind, widget, channel, properties in READERS:
        widget.run(visit(kind, dict(properties), channel))
    # loop has a rule of its own, Studio's 1 to 99 (test_a_loop_outside_studios_1_to_99...)
    loops = {key: read.pop(key) for key in list(read) if key[1] == "loop"}
    assert loops == {("say-play", "loop"): 0, ("gather-input-on-call", "loop"): 0}
    assert read == schema_minimums()
    # Send & Wait For Reply checks its 30 days itself, to say why (test_widget_edge_values)
    wait = ("send-and-wait-for-reply", "timeout")
    for key in loops:
        largest.pop(key)
    assert largest.pop(wait) == LARGEST_INTEGER
    assert largest == {key: value for key, value in schema_maximums().items() if key != wait}


@pytest.mark.parametrize("text", [
    "abc", "   ", " 42 ", "1e3", "3.5", "+7", "-3", "-0", "0", "1", "0.5", "inf", "-inf",
    "nan", "Infinity", "1_000", "0x10", "2147483647", "2147483648", "99999999999", "1e400",
    "٣",
])
@pytest.mark.parametrize(("kind", "name"), [("record-voicemail", "timeout"),
                                            ("connect-call-to", "timeout")])
def test_a_number_as_text_passes_the_check_when_the_widget_takes_it(kind: str, name: str,
                                                                    text: str) -> None:
    try:
        visit(kind, {name: text}).integer(name, minimum=WHOLE_NUMBERS[(kind, name)])
    except WidgetError:
        takes = False
    else:
        takes = True
    assert (lines(with_property(kind, name, text)) == []) is takes


def test_flows_check_refuses_a_whole_number_no_widget_takes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    definition = flow(state("main_menu", "gather-input-on-call",
                            {"say": "Press 1 for sales.", "timeout": "abc"},
                            [transition("keypress"), transition("timeout", "main_menu")]))
    write(tmp_path, "bad.json", definition)
    result = CliRunner().invoke(cli, ["flows", "check", "bad.json"])
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        "bad.json: state 'main_menu': property 'timeout': 'abc' is not a number or a Liquid "
        "template",
        "Error: 1 flow checked, 1 problem"]
    definition["states"][1]["properties"]["timeout"] = "3600"
    write(tmp_path, "bad.json", definition)
    result = CliRunner().invoke(cli, ["flows", "check", "bad.json"])
    assert (result.exit_code, result.stdout) == (0, "1 flow checked, no problems\n")


def test_the_server_refuses_to_start_with_a_whole_number_no_widget_takes(tmp_path: Path
                                                                         ) -> None:
    definition = with_property("gather-input-on-call", "number_of_digits", -3)
    path = write(tmp_path / "flows", "ivr.json", definition)
    with pytest.raises(FlowError) as raised:
        create_app({"SWITCHBOARD_FLOWS_DIR": str(tmp_path / "flows"), "TESTING": True,
                    "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"})
    assert str(raised.value) == (
        f"{path}: state 'w': property 'number_of_digits': -3 is less than 0; use 0 or more")


@pytest.mark.parametrize(("text", "tag"), [
    ("Hi {% include 'greeting' %}", "include"),
    ("{% render name %} and {% include 'x' %}", "render"),
])
def test_a_template_that_includes_another_is_refused_in_one_line(text: str, tag: str) -> None:
    problems = lines(widget_flow("say-play", {"say": text}))
    assert problems[0] == (
        f"flows/t.json: state 'w': property 'say': Liquid tag '{tag}' cannot be used in a "
        "flow: there is no other template to include or render")
    assert len(problems) == len({tag, "include"})
