"""A Studio flow as loaded: the definition Studio exports (``description``, ``states``,
``initial_state``, ``flags``), kept whole, with the look-ups the checks and the runtime share.

Widget ``offset``s and properties Switchboard does not know are kept and ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Flow:
    """One flow: its name (the file's stem, or the name a Studio API flow was given), its
    definition as exported, and where it came from (a file path, or ``"flow FW..."``)."""

    name: str
    definition: Mapping[str, Any]
    source: str
    states: Mapping[str, Mapping[str, Any]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        states = {state["name"]: state for state in self.definition.get("states", ())
                  if isinstance(state, Mapping) and isinstance(state.get("name"), str)}
        object.__setattr__(self, "states", states)

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

    def transitions(self, name: str) -> list[Mapping[str, Any]]:
        """The widget's transitions as exported (``event``, ``next``, and for
        ``split-based-on`` each match's ``conditions``)."""
        return list(self.states[name].get("transitions", ()))
