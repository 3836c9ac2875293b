"""Studio's execution context, the names Liquid sees in a flow's properties:

- ``trigger``: what started the execution: ``trigger.call`` (the incoming call's fields,
  ``trigger.call.From``), ``trigger.message`` (``trigger.message.Body``), ``trigger.parent``
  (a subflow's ``parameters``);
- ``widgets``: each widget's variables once it ran (``widgets.menu.Digits``);
- ``flow``: ``flow_sid``, ``sid`` (the execution's), ``channel.address`` (the flow's own
  number), ``variables`` (set by Set Variables), ``data`` (parameters the execution was given);
- ``contact``: ``channel.address``, the caller's or texter's number.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from switchboard.callbacks.studio.definition import Flow
from switchboard.callbacks.studio.templates import render

#: Properties that are layout, never text: left as they are.
NOT_TEXT = frozenset({"offset"})


def flow_sid(flow: Flow) -> str:
    """The flow's SID (:attr:`Flow.sid`)."""
    return flow.sid


def fields(params: Mapping[str, Any]) -> dict[str, str]:
    """A webhook's fields as a plain dict (a ``MultiDict`` gives each name's first value)."""
    return {str(name): params[name] for name in params}


def new_context(
    flow: Flow, *, execution_sid: str, trigger: Mapping[str, Any], contact: str,
    channel_address: str | None, data: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "flow": {
            "flow_sid": flow_sid(flow),
            "sid": execution_sid,
            "channel": {"address": channel_address or ""},
            "variables": {},
            "data": dict(data or {}),
        },
        "trigger": dict(trigger),
        "widgets": {},
        "contact": {"channel": {"address": contact}},
    }


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """``value`` with every string in it rendered as Liquid (lists and mappings walked)."""
    if isinstance(value, str):
        return render(value, context) if ("{" in value) else value
    if isinstance(value, Mapping):
        return {
            key: item if key in NOT_TEXT else render_value(item, context)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [render_value(item, context) for item in value]
    return value


def text(value: Any, context: Mapping[str, Any]) -> str:
    """A property as text: rendered, stripped; ``""`` for a missing one."""
    if value is None:
        return ""
    rendered = render_value(value, context)
    return rendered.strip() if isinstance(rendered, str) else str(rendered)
