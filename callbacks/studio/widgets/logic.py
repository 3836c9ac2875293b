"""Flow control: Split Based On, Set Variables, Run Subflow, and the widgets Switchboard cannot
run on its own (Flex, Autopilot, Pay, virtual agents, streams)."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any

from switchboard.callbacks.studio.definition import Flow
from switchboard.callbacks.studio.parameters import read_json
from switchboard.callbacks.studio.templates import evaluate
from switchboard.callbacks.studio.widgets.base import (
    JSON_DEPTH,
    Enter,
    Immediate,
    Transition,
    Visit,
    WidgetError,
    log,
    nests_deeper,
    reference,
    referenced,
)
from switchboard.callbacks.studio.widgets.conditions import UnknownCondition, matches


class SplitBasedOn(Immediate):
    """The first ``match`` transition whose conditions all hold, else ``noMatch``. A
    condition's subject is its first argument (Studio puts the input there), else the input."""

    def run(self, visit: Visit) -> Transition:
        default = visit.text("input")
        for transition in visit.flow.transitions(visit.name):
            conditions = transition.get("conditions") or []
            if transition.get("event") != "match" or not conditions:
                continue
            if all(self._holds(visit, condition, default) for condition in conditions):
                return Transition("match", to=transition.get("next") or None, direct=True)
        return Transition("noMatch")

    def _holds(self, visit: Visit, condition: Mapping[str, Any], default: str) -> bool:
        arguments = condition.get("arguments") or []
        subject = visit.render(arguments[0]) if arguments else default
        value = visit.render(condition.get("value", ""))
        try:
            return matches(str(condition.get("type", "")), subject, value)
        except UnknownCondition as error:
            raise WidgetError(str(error)) from None


class SetVariables(Immediate):
    """Each ``{key, value}`` into ``flow.variables.KEY``, values rendered in order (a later
    one may use an earlier one). A number stays a number: one written as such (``0``,
    ``-1.5``), or the one a template only outputs (``{{flow.variables.count | plus: 1}}``);
    anything else is text (``"1"`` in quotation marks, ``007``, ``{{widgets.menu.Digits}}``).
    ``type: json`` (or a value Studio marked ``parse_as_json``) keeps a JSON value, or the
    object a template names, as an object."""

    def run(self, visit: Visit) -> Transition:
        variables = visit.context["flow"].setdefault("variables", {})
        for item in visit.properties.get("variables") or []:
            key = str(item.get("key") or "").strip()
            if not key:
                continue
            variables[key] = _value(visit, key, item, numbers=True)
        return Transition("next")


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?", re.ASCII)


def _number(text: str) -> int | float | None:
    """``text`` as a number when it is one written as Liquid writes it back (``0``, ``-12``,
    ``1.5``); None for other text (``+1``, ``007``, ``1.50``, ``1e3``), which stays text."""
    if _NUMBER.fullmatch(text) is None:
        return None
    try:
        number = float(text) if "." in text else int(text)
        return number if str(number) == text else None
    except ValueError:  # more digits than Python turns into an int
        return None


def _typed(visit: Visit, raw: str) -> Any:
    """``raw`` rendered, a number kept as a number (see :class:`SetVariables`)."""
    if "{" not in raw:
        number = _number(raw.strip())
        return raw if number is None else number
    found = reference(raw, visit.context)
    return found if found is not None else evaluate(raw, visit.context)


def _value(visit: Visit, key: str, item: Mapping[str, Any], *, numbers: bool = False) -> Any:
    """An item's ``value`` rendered (``numbers``: as Set Variables keeps them); with Studio's
    "Parse as JSON object" (``type: json``, ``parse_as_json``), the JSON it holds, or the
    object or array a template only naming one passes on (``{{widgets.http.parsed}}``)."""
    raw = item.get("value", "")
    if item.get("type") != "json" and not item.get("parse_as_json"):
        if numbers and isinstance(raw, str):
            return _typed(visit, raw)
        return visit.render(raw)
    if isinstance(raw, str):
        found = referenced(raw.strip(), visit.context)
        if isinstance(found, dict | list):
            if nests_deeper(found):
                raise _too_deep(key)
            return copy.deepcopy(found)
    return _json(key, visit.render(raw))


def _json(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        parsed = read_json(value)
    except ValueError:  # not JSON, or NaN or Infinity, which JSON has not
        raise WidgetError(f"variable {key!r} is not JSON: {value[:60]!r}") from None
    except RecursionError:
        raise _too_deep(key) from None
    if nests_deeper(parsed):
        raise _too_deep(key)
    return parsed


def _too_deep(key: str) -> WidgetError:
    return WidgetError(f"variable {key!r} nests more than {JSON_DEPTH} levels deep; keep "
                       "it flatter")


class RunSubflow(Immediate):
    """Another flow of the folder, named by ``flow_sid`` (its SID or its name), given the
    ``parameters`` (``trigger.parent.parameters.KEY`` in it). The subflow's own
    ``flow.variables`` come back as this widget's variables; ``completed`` when it ends,
    ``failed`` when it cannot start or fails."""

    def __init__(self, find: Callable[[str], Flow | None]) -> None:
        self.find = find

    def run(self, visit: Visit) -> Enter | Transition:
        wanted = visit.text("flow_sid")
        flow = self.find(wanted) if wanted else None
        if flow is None:
            log.error("flow %s, widget %s: no flow %r in the flows folder: taking 'failed'",
                      visit.flow.name, visit.name, wanted)
            return Transition("failed", {"error": f"no flow {wanted!r}"})
        parameters: dict[str, Any] = {}
        for item in visit.properties.get("parameters") or []:
            key = str(item.get("key") or "").strip()
            if key:
                parameters[key] = _value(visit, key, item)
        return Enter(flow, parameters)


#: Widgets Switchboard cannot run by itself, with the transitions that mean failure.
UNSUPPORTED: dict[str, tuple[str, ...]] = {
    "send-to-flex": ("failedToEnqueue", "callFailure"),
    "send-to-auto-pilot": ("failure",),
    "capture-payments": ("providerError", "payInterrupted"),
    "connect-virtual-agent": (),
    "fork-stream": (),
}
#: For a widget type Switchboard does not know at all.
FAILURE_EVENTS = ("failed", "fail", "failure", "error")


class Unsupported(Immediate):
    """Take the widget's failure transition when it leads somewhere; else the execution ends
    with the error logged (a caller hears the apology)."""

    def __init__(self, events: tuple[str, ...]) -> None:
        self.events = events

    def run(self, visit: Visit) -> Transition:
        for event in self.events:
            if visit.flow.next_state(visit.name, event):
                log.warning("flow %s, widget %s: Switchboard cannot run %s widgets; taking %r",
                            visit.flow.name, visit.name, visit.type, event)
                return Transition(event, {"error": f"{visit.type} is not available"})
        raise WidgetError(f"Switchboard cannot run {visit.type} widgets, and this one has no "
                          "failure transition to take")
