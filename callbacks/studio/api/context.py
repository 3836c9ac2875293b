"""The Context resources: an execution's whole context as it stands
(``.../Executions/{ExecutionSid}/Context``: ``flow``, ``trigger``, ``widgets``, ``contact``) and
a step's (``.../Steps/{StepSid}/Context``: the variables its widget set)."""

from __future__ import annotations

from typing import Any

from switchboard.callbacks.studio.api import urls
from switchboard.callbacks.studio.api.executions import found
from switchboard.callbacks.studio.api.steps import find_step


def execution(flow_sid: str, execution_sid: str) -> dict[str, Any]:
    run = found(flow_sid, execution_sid)
    return {
        "account_sid": urls.settings().account_sid,
        "context": run.context,
        "flow_sid": flow_sid,
        "execution_sid": execution_sid,
        "url": urls.execution(flow_sid, execution_sid) + "/Context",
    }


def step(flow_sid: str, execution_sid: str, step_sid: str) -> dict[str, Any]:
    found_step = find_step(flow_sid, execution_sid, step_sid)
    return {
        "account_sid": urls.settings().account_sid,
        "context": found_step["context"],
        "execution_sid": execution_sid,
        "flow_sid": flow_sid,
        "step_sid": step_sid,
        "url": urls.step(flow_sid, execution_sid, step_sid) + "/Context",
    }
