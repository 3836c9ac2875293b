"""A Studio flow as loaded: the definition Studio exports (``description``, ``states``,
``initial_state``, ``flags``), kept whole, with the look-ups the checks and the runtime share;
and what is wrong with a definition (:class:`Problem`, :class:`FlowError`).

Widget ``offset``s and properties Switchboard does not know are kept and ignored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


class StudioError(Exception):
    """Base class of the errors of Switchboard's Studio flows."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a flow definition, located: the file (or ``"flow FW..."``), the
    state (its name, or its 1-based position when it has none) and the property.

    ``str()`` is the one line a user reads, e.g.
    ``flows/ivr.json: state 'menu': property 'next': no state named 'gone'``. A warning
    (``warning=True``) does not stop the flow from loading."""

    source: str
    message: str
    state: str | int | None = None
    property: str | None = None
    warning: bool = False

    def __str__(self) -> str:
        parts = [self.source]
        if isinstance(self.state, int):
            parts.append(f"state #{self.state}")
        elif self.state is not None:
            parts.append(f"state {self.state!r}")
        if self.property is not None:
            parts.append(f"property {self.property!r}")
        parts.append(self.message)
        return ": ".join(parts)


class FlowError(StudioError):
    """Flow definitions that cannot be loaded: ``str()`` is one line per problem, every
    problem of every file."""

    def __init__(self, problems: Iterable[Problem | str]) -> None:
        self.problems: list[Problem | str] = list(problems)
        super().__init__("\n".join(map(str, self.problems)))

    @property
    def lines(self) -> list[str]:
        return [str(problem) for problem in self.problems]


@dataclass(frozen=True)
class Flow:
    """One flow: its name (the file's stem, or the name a Studio API flow was given), its
    definition as exported, and where it came from (a file path, or ``"flow FW..."``)."""

    name: str
    definition: Mapping[str, Any]
    source: str
    states: Mapping[str, Mapping[str, Any]] = field(init=False, repr=False, compare=False)
    #: The flow's SID: the one Studio gave it (a flow from Studio's API, or a definition
    #: carrying ``sid``), else ``FW`` and 32 hex digits made from its name, the same every time.
    sid: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        states = {state["name"]: state for state in self.definition.get("states", ())
                  if isinstance(state, Mapping) and isinstance(state.get("name"), str)}
        object.__setattr__(self, "states", states)
        object.__setattr__(self, "sid", _sid(self))

    @property
    def initial_state(self) -> str:
        return self.definition["initial_state"]

    @property
    def description(self) -> str:
        return self.definition.get("description", "")

    @property
    def flags(self) -> Mapping[str, Any]:
        return self.definition.get("flags", {})

    def widget(self, name: str) -> Mapping[str, Any]:
        """The state (widget) called ``name``: ``{"name", "type", "properties", "transitions"}``."""
        return self.states[name]

    def properties(self, name: str) -> Mapping[str, Any]:
        return self.states[name].get("properties", {})

    def next_state(self, name: str, event: str) -> str | None:
        """Where the widget ``name`` goes on ``event``: a state's name, or None (the execution
        ends there)."""
        for transition in self.states[name].get("transitions", ()):
            if transition.get("event") == event:
                return transition.get("next") or None
        return None

    @property
    def trigger_events(self) -> list[str]:
        """The events the initial state (the trigger) goes somewhere on: what starts an
        execution (``incomingCall``, ``incomingMessage``, ``incomingRequest``, ...)."""
        if self.definition.get("initial_state") not in self.states:
            return []
        return [transition["event"] for transition in self.transitions(self.initial_state)
                if transition.get("next") and isinstance(transition.get("event"), str)]

    def transitions(self, name: str) -> list[Mapping[str, Any]]:
        """The widget's transitions as exported (``event``, ``next``, and for
        ``split-based-on`` each match's ``conditions``)."""
        return list(self.states[name].get("transitions", ()))


def _sid(flow: Flow) -> str:
    source = flow.source or ""
    if source.startswith("flow FW"):
        return source.split()[1]
    given = flow.definition.get("sid")
    if isinstance(given, str) and given.startswith("FW"):
        return given
    return "FW" + hashlib.md5(flow.name.encode(), usedforsecurity=False).hexdigest()
