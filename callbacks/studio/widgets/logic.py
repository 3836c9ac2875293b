"""Flow control: Split Based On, Set Variables, Run Subflow, and the widgets Switchboard cannot
run on its own (Flex, Autopilot, Pay, virtual agents, streams)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from typing import Any

from switchboard.callbacks.studio.definition import Flow
from switchboard.callbacks.studio.widgets.base import (
    Enter,
    Immediate,
    Transition,
    Visit,
    WidgetError,
    log,
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
    one may use an earlier one). ``type: json`` (or a value Studio marked ``parse_as_json``)
    keeps a JSON value, or the object a template names, as an object."""

    def run(self, visit: Visit) -> Transition:
        variables = visit.context["flow"].setdefault("variables", {})
        for item in visit.properties.get("variables") or []:
            key = str(item.get("key") or "").strip()
            if not key:
                continue
            variables[key] = _value(visit, key, item)
        return Transition("next")


def _value(visit: Visit, key: str, item: Mapping[str, Any]) -> Any:
    """An item's ``value`` rendered; with Studio's "Parse as JSON object" (``type: json``,
    ``parse_as_json``), the JSON it holds, or the object or array a template only naming one
    passes on (``{{widgets.http.parsed}}``)."""
    raw = item.get("value", "")
    if item.get("type") != "json" and not item.get("parse_as_json"):
        return visit.render(raw)
    if isinstance(raw, str):
        found = referenced(raw.strip(), visit.context)
        if isinstance(found, dict | list):
            return copy.deepcopy(found)
    return _json(key, visit.render(raw))


def _json(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise WidgetError(f"variable {key!r} is not JSON: {value[:60]!r}") from None


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
