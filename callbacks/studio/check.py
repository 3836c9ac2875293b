"""The checks a flow definition passes before any caller meets it, offline: its structure
against :data:`~switchboard.callbacks.studio.schema.FLOW_SCHEMA` (jsonschema), what the schema
cannot say (state names, where transitions lead, the trigger), and every Liquid template.

:func:`check_definition` answers a list of :class:`~.definition.Problem`: errors, which stop a
flow from loading, and warnings (a widget Switchboard cannot run on its own, a transition on
an event the widget never ends with, a Liquid filter Switchboard does not know).
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from jsonschema import Draft7Validator, ValidationError, validators

from switchboard.callbacks.studio.definition import Problem
from switchboard.callbacks.studio.parameters import SURROGATE
from switchboard.callbacks.studio.schema import (
    CONDITION_TYPES,
    FLOW_SCHEMA,
    UNSUPPORTED_WIDGETS,
    WIDGET_EVENTS,
    WIDGET_TYPES,
)
from switchboard.callbacks.studio.templates import (
    TemplateError,
    including_tags,
    parse,
    unknown_filters,
    written_as_it_is,
)

FLOW_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]*")
"""A flow's name: one URL path segment (``/flows/NAME``) that needs no escaping."""

NOT_TEMPLATES = frozenset({"offset"})
"""Widget properties that are never Liquid."""

LOOPS = range(1, 100)
"""The ``loop`` of a Say/Play or a Gather: Studio's Loops, 1 to 99 (TwiML's 0 repeats the
message until the call ends)."""

LOOPING_WIDGETS = frozenset({"say-play", "gather-input-on-call"})

NUL_REFUSING_WIDGETS = frozenset({
    "say-play", "gather-input-on-call", "record-voicemail", "connect-call-to",
    "add-twiml-redirect", "enqueue-call", "record-call", "send-message",
    "send-and-wait-for-reply", "make-outgoing-call-v2"})
"""The widgets whose properties all end in TwiML (which lxml refuses a NUL character in), or
in a message or a call made through Twilio's API (its text, numbers and URLs): a NUL in the
text their templates write as it is can never be sent. Other widgets' texts may carry one:
into an HTTP request (percent-encoded in a URL or a form), into ``flow.variables`` (which the
database keeps as JSON text, escaped), or into a condition's comparison."""

MAX_DEPTH = 64
"""How deep a definition's arrays and objects may nest: Studio's own go about eight deep."""


def _number_text(validator: Any, wanted: bool, instance: object, schema: Mapping[str, Any]
                 ) -> Iterator[ValidationError]:
    """``x-number-text``: a string is a number from the schema's ``minimum`` to its
    ``maximum``, read as a widget reads it (``float``), a Liquid template or blank."""
    if not wanted or not isinstance(instance, str) or instance == "" or "{" in instance:
        return
    try:
        number = float(instance)
    except ValueError:
        number = math.nan
    if math.isnan(number) or (math.isinf(number) and not any(map(str.isdigit, instance))):
        yield ValidationError(f"{_show(instance)} is not a number or a Liquid template")
        return
    problem = _out_of_range(instance, number, schema)
    if problem:
        yield ValidationError(problem)


def _out_of_range(value: object, number: float, schema: Mapping[str, Any]) -> str | None:
    """What is wrong with ``value`` (``number`` as written) if it is outside the schema's
    ``minimum`` and ``maximum``; None when it is within them."""
    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    if minimum is not None and number < minimum:
        return f"{_show(value)} is less than {minimum}; use {minimum} or more"
    if maximum is not None and number > maximum:
        too_large = schema.get("x-too-large") or f"is more than {maximum}"
        return f"{_show(value)} {too_large}; use {maximum} or less"
    return None


_validator = validators.extend(Draft7Validator, {"x-number-text": _number_text})(FLOW_SCHEMA)

_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
               int: "a number", float: "a number", type(None): "null"}
_SCHEMA_TYPES = {"object": "an object", "array": "an array", "string": "a string",
                 "boolean": "a boolean", "integer": "a number", "number": "a number",
                 "null": "null"}


def check_flow_name(name: str, source: str) -> list[Problem]:
    """A problem if ``name`` (a file's stem) cannot be the ``NAME`` of ``/flows/NAME``."""
    if FLOW_NAME.fullmatch(name):
        return []
    return [Problem(source, f"flow name {name!r} is not a valid URL segment (/flows/NAME); "
                    "rename the file with letters, digits, '-', '_', '.' or '~', starting "
                    "with a letter or digit")]


def check_definition(definition: object, source: str) -> list[Problem]:
    """Every problem of one flow ``definition`` (the JSON Studio exports, decoded), each
    located in ``source`` (a file path, or ``"flow FW..."``): errors first, in the order of
    the definition, then warnings."""
    deep = _too_deep(definition)
    if deep is not None:
        return [_located(definition, deep[:4] if deep[:1] == ["states"] else deep[:1], source,
                         f"nested more than {MAX_DEPTH} levels deep; a flow definition "
                         "is a few levels deep")]
    problems = [_located(definition, path, source,
                         f"{_show(number)} is not a number JSON can hold; write a finite number")
                for path, number in _infinite_numbers(definition)]
    problems += [_located(definition, path, source,
                          f"{_show(text)} holds a lone UTF-16 surrogate, which no call or "
                          "message can carry; write text as UTF-8, or escape it as a "
                          "surrogate pair")
                 for path, text in _lone_surrogates(definition, [])]
    problems += [problem for error in sorted(_validator.iter_errors(definition), key=_where)
                 for problem in _schema_problem(error, definition, source)]
    states = definition.get("states") if isinstance(definition, Mapping) else None
    if isinstance(definition, Mapping) and isinstance(states, list):
        problems += _state_problems(definition, states, source)
    else:
        states = []
    position: dict[str | int | None, int] = {None: -1}
    for index in range(len(states) - 1, -1, -1):
        position[_state_label(states, index)] = index
    problems = sorted(dict.fromkeys(problems),
                      key=lambda problem: (problem.warning, position.get(problem.state, 0)))
    return problems


def _too_deep(definition: object) -> list[str | int] | None:
    """The path of the first array or object nested deeper than :data:`MAX_DEPTH`, found
    without recursion (the rest of the check recurses); None when there is none."""
    pending: list[tuple[object, list[str | int]]] = [(definition, [])]
    while pending:
        value, path = pending.pop()
        if isinstance(value, Mapping | list) and len(path) >= MAX_DEPTH:
            return path
        if isinstance(value, Mapping):
            pending.extend((item, [*path, str(key)]) for key, item in value.items())
        elif isinstance(value, list):
            pending.extend((item, [*path, index]) for index, item in enumerate(value))
    return None


def _infinite_numbers(value: object) -> Iterator[tuple[list[str | int], float]]:
    """Each NaN or infinite number of ``value`` (JSON has neither; Python's JSON reads them,
    and a number too large for a float, ``1e400``, as infinity), with its path."""
    for path, leaf in _leaves(value, []):
        if isinstance(leaf, float) and not math.isfinite(leaf):
            yield path, leaf


def _lone_surrogates(value: object, path: list[str | int]
                     ) -> Iterator[tuple[list[str | int], str]]:
    """Each text of ``value`` (a string, or the name of an object's member) holding a UTF-16
    surrogate, which Python's JSON decoder leaves alone when a ``\\ud800`` escape has no
    pair, with its path."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = [*path, str(key)]
            if isinstance(key, str) and SURROGATE.search(key):
                yield where, key
            yield from _lone_surrogates(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _lone_surrogates(item, [*path, index])
    elif isinstance(value, str) and SURROGATE.search(value):
        yield path, value


def _leaves(value: object, path: list[str | int]) -> Iterator[tuple[list[str | int], object]]:
    """Each value of ``value`` that is neither an object nor an array, with its path."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _leaves(item, [*path, str(key)])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, [*path, index])
    else:
        yield path, value


def _located(definition: object, path: list[str | int], source: str, message: str) -> Problem:
    """A problem at ``path`` in ``definition``, located by state and property."""
    state, path = _in_state(definition, path)
    if path[:1] == ["properties"] and len(path) > 1:
        path = path[1:]
    return Problem(source, message, state, _path(path) or None)


def _in_state(definition: object, path: list[Any]) -> tuple[str | int | None, list[Any]]:
    """The state a ``path`` into ``definition`` is in (its name or position; None when the
    path is not in ``states``), and the rest of the path within it."""
    if len(path) >= 2 and path[0] == "states" and isinstance(path[1], int):
        states = definition.get("states") if isinstance(definition, Mapping) else None
        return _state_label(states, path[1]), path[2:]
    return None, path


def _where(error: ValidationError) -> list[tuple[int, Any]]:
    return [(0, part) if isinstance(part, int) else (1, str(part))
            for part in error.absolute_path]


def _path(parts: Sequence[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _json_type(value: object) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _show(value: object, limit: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    if SURROGATE.search(text):  # a line holding one cannot be printed
        text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _unknown(what: str, value: object, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(value), known, n=1)
    if close:
        return f"unknown {what} {_show(value)}; did you mean {close[0]!r}?"
    return f"unknown {what} {_show(value)}; use one of {', '.join(known)}"


def _state_label(states: Any, index: int) -> str | int:
    """A state's name, or its 1-based position when it has none."""
    state = states[index] if isinstance(states, list) and index < len(states) else None
    if isinstance(state, Mapping) and isinstance(state.get("name"), str) and state["name"]:
        return state["name"]
    return index + 1


def _schema_problem(error: ValidationError, definition: object, source: str
                    ) -> list[Problem]:
    """``error`` as problems located by state and property: the state from the error's path
    into ``states``, the property from the rest (``properties.`` left out)."""
    state, path = _in_state(definition, list(error.absolute_path))
    if path[:1] == ["properties"] and (len(path) > 1 or error.validator != "type"):
        path = path[1:]
    title = error.schema.get("title") if isinstance(error.schema, Mapping) else None
    title = title or ("flow definition" if state is None else "state")

    if error.validator == "required":
        present = error.instance if isinstance(error.instance, Mapping) else {}
        missing = [name for name in error.validator_value if name not in present]
        article = "an" if title[0] in "aeiou" else "a"
        return [Problem(source, f"missing; {article} {title} needs it", state,
                        _path([*path, name])) for name in missing]

    where = _path(path) or None
    if error.validator == "enum" and where == "type":
        message = _unknown("widget type", error.instance, WIDGET_TYPES)
        return [Problem(source, message, state, where)]
    if error.validator == "enum" and path[-1:] == ["type"] and "conditions" in path:
        message = _unknown("condition type", error.instance, CONDITION_TYPES)
        return [Problem(source, message, state, where)]
    if error.validator == "enum":
        choices = ", ".join(str(choice) for choice in error.validator_value)
        return [Problem(source, f"{_show(error.instance)} is not one of {choices}",
                        state, where)]
    if error.validator == "type":
        kinds = error.validator_value
        kinds = [kinds] if isinstance(kinds, str) else kinds
        wanted = " or ".join(dict.fromkeys(_SCHEMA_TYPES.get(kind, kind) for kind in kinds))
        return [Problem(source, f"must be {wanted}, not {_json_type(error.instance)}",
                        state, where)]
    if error.validator == "minItems":
        item = "condition" if path[-1:] == ["conditions"] else "item"
        if path == ["states"]:
            item = "state"
        return [Problem(source, f"needs at least {error.validator_value} {item}",
                        state, where)]
    if error.validator == "minLength":
        return [Problem(source, "must not be empty", state, where)]
    if error.validator in ("minimum", "maximum") and isinstance(error.schema, Mapping):
        if isinstance(error.instance, float) and not math.isfinite(error.instance):
            return []   # not a JSON number: a problem of its own
        message = _out_of_range(error.instance, error.instance, error.schema)
        return [Problem(source, message or " ".join(error.message.split()), state, where)]
    if error.validator == "x-number-text":
        return [Problem(source, error.message, state, where)]
    if error.validator == "anyOf" and isinstance(error.schema, Mapping):
        message = error.schema.get("x-problem") or " ".join(error.message.split())
        return [Problem(source, message, state, where)]
    return [Problem(source, " ".join(error.message.split()), state, where)]


def _state_problems(definition: Mapping[str, Any], states: list[Any], source: str
                    ) -> list[Problem]:
    """What the schema cannot say: names, where transitions lead, the trigger, templates."""
    problems: list[Problem] = []
    first: dict[str, int] = {}
    for index, state in enumerate(states):
        name = state.get("name") if isinstance(state, Mapping) else None
        if not isinstance(name, str) or not name:
            continue
        if "\x00" in name:
            problems.append(Problem(
                source, "holds a NUL character (\\u0000), which neither the URLs Twilio comes "
                "back to a widget by nor the database can carry; rename the widget",
                name, "name"))
        if name in first:
            problems.append(Problem(
                source, f"duplicate state name (state #{first[name] + 1} has it too); "
                "state names must be unique", name))
        else:
            first[name] = index

    initial = definition.get("initial_state")
    if isinstance(initial, str) and initial:
        if initial not in first:
            problems.append(Problem(source, f"no state named {initial!r}",
                                    property="initial_state"))
        else:
            kind = states[first[initial]].get("type")
            if isinstance(kind, str) and kind != "trigger" and kind in WIDGET_TYPES:
                problems.append(Problem(
                    source, f"{initial!r} is a {kind} widget; the initial state must be the "
                    "flow's trigger", property="initial_state"))

    for index, state in enumerate(states):
        if not isinstance(state, Mapping):
            continue
        label = _state_label(states, index)
        kind = state.get("type")
        transitions = state.get("transitions")
        transitions = transitions if isinstance(transitions, list) else []
        for position, transition in enumerate(transitions):
            if not isinstance(transition, Mapping):
                continue
            target = transition.get("next")
            if isinstance(target, str) and target and target not in first:
                event = transition.get("event")
                problems.append(Problem(
                    source, f"no state named {target!r} (transition #{position + 1}, "
                    f"on {event!r})", label, "next"))
        if not isinstance(kind, str) or kind not in WIDGET_TYPES:
            continue
        problems += _template_problems(state, label, source)
        if kind in LOOPING_WIDGETS:
            problems += _loop_problems(state, label, source)
        if kind in UNSUPPORTED_WIDGETS:
            problems.append(Problem(
                source, f"Switchboard cannot run a {kind} widget on its own (it "
                f"{UNSUPPORTED_WIDGETS[kind]}); an execution that reaches it fails there",
                label, warning=True))
            continue
        events = WIDGET_EVENTS[kind]
        for transition in transitions:
            event = transition.get("event") if isinstance(transition, Mapping) else None
            if isinstance(event, str) and event and event not in events:
                problems.append(Problem(
                    source, f"a {kind} widget never ends with event {event!r} (it ends "
                    f"with {', '.join(events)}); this transition is never taken",
                    label, "event", warning=True))
    return problems


def _loop_problems(state: Mapping[str, Any], label: str | int, source: str) -> list[Problem]:
    """``loop`` outside 1 to 99 (a Liquid template is taken as it renders, at run time)."""
    properties = state.get("properties")
    loop = properties.get("loop") if isinstance(properties, Mapping) else None
    if loop is None or loop == "" or isinstance(loop, bool) or not isinstance(
            loop, int | float | str):
        return []
    if isinstance(loop, str) and "{" in loop:
        return []
    if isinstance(loop, float) and not math.isfinite(loop):
        return []   # not a JSON number: a problem of its own
    if isinstance(loop, str | float):
        try:
            loop_number = float(loop)
        except ValueError:
            loop_number = None
        if loop_number is not None and loop_number.is_integer() and int(loop_number) in LOOPS:
            return []
    elif loop in LOOPS:
        return []
    return [Problem(source, f"{_show(loop)} is not a number of times from 1 to 99 (Studio's "
                    "Loops; 0 would repeat the message until the call ends)", label, "loop")]


def _strings(value: object, path: list[str | int]) -> Iterator[tuple[list[str | int], str]]:
    for where, leaf in _leaves(value, path):
        if isinstance(leaf, str):
            yield where, leaf


def _template_texts(state: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Every text of the state Studio renders as Liquid, with its property path: each string
    of ``properties`` (``offset`` aside), and each condition's ``arguments`` and ``value``."""
    properties = state.get("properties")
    if isinstance(properties, Mapping):
        for key, value in properties.items():
            if key not in NOT_TEMPLATES:
                for path, text in _strings(value, [str(key)]):
                    yield _path(path), text
    transitions = state.get("transitions")
    for position, transition in enumerate(transitions if isinstance(transitions, list) else []):
        conditions = transition.get("conditions") if isinstance(transition, Mapping) else None
        for number, condition in enumerate(conditions if isinstance(conditions, list) else []):
            if not isinstance(condition, Mapping):
                continue
            for key in ("arguments", "value"):
                base: list[str | int] = ["transitions", position, "conditions", number, key]
                for path, text in _strings(condition.get(key), base):
                    yield _path(path), text


def _template_problems(state: Mapping[str, Any], label: str | int, source: str
                       ) -> list[Problem]:
    problems: list[Problem] = []
    refuses_nul = state.get("type") in NUL_REFUSING_WIDGETS
    for where, text in _template_texts(state):
        if SURROGATE.search(text):
            continue  # a problem of its own
        try:
            parse(text)
        except TemplateError as error:
            problems.append(Problem(source, str(error), label, where))
            continue
        if refuses_nul and "\x00" in text and not where.startswith("transitions") and any(
                "\x00" in written for written in written_as_it_is(text)):
            problems.append(Problem(
                source, "holds a NUL character (\\u0000), which no TwiML, message or call "
                "can carry; remove it", label, where))
        for name in including_tags(text):
            problems.append(Problem(
                source, f"Liquid tag {name!r} cannot be used in a flow: there is no other "
                "template to include or render", label, where))
        for name in unknown_filters(text):
            problems.append(Problem(
                source, f"Liquid filter {name!r} is not one Switchboard knows; it will "
                "output its input unchanged", label, where, warning=True))
    return problems
