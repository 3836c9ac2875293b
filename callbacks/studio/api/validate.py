"""``/v2/Flows/Validate``: the checks of ``switchboard flows check`` on a definition, nothing
saved: ``{"valid": true}``, or Twilio's 400 (81022) with every problem in ``details``."""

from __future__ import annotations

from typing import Any

from switchboard.callbacks.studio import flows_store
from switchboard.callbacks.studio.api import forms
from switchboard.callbacks.studio.api.flows import invalid
from switchboard.callbacks.studio.flows_store import FlowInvalid


def validate() -> dict[str, Any]:
    forms.required("FriendlyName")
    forms.status()
    definition = forms.json_value("Definition", needed=True)
    errors, warnings = flows_store.problems(definition, "definition")
    if errors:
        raise invalid(FlowInvalid(errors, warnings))
    return {"valid": True}
