"""``/v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps``: each transition an execution took,
newest first, as Twilio lists, and each step's context (the variables its widget set)."""

from __future__ import annotations

from typing import Any

from switchboard.callbacks.studio import executions as store
from switchboard.callbacks.studio.api import catalog, urls
from switchboard.callbacks.studio.api.errors import not_found
from switchboard.callbacks.studio.api.executions import found
from switchboard.callbacks.studio.api.paging import page_body, page_request


def resource(step: dict[str, Any]) -> dict[str, Any]:
    url = urls.step(step["flow_sid"], step["execution_sid"], step["sid"])
    return {
        "sid": step["sid"],
        "account_sid": urls.settings().account_sid,
        "flow_sid": step["flow_sid"],
        "execution_sid": step["execution_sid"],
        "parent_step_sid": None,
        "name": step["name"],
        "context": step["context"],
        "transitioned_from": step["transitioned_from"],
        "transitioned_to": step["transitioned_to"],
        "type": step["type"],
        "date_created": urls.date(step["date_created"]),
        "date_updated": urls.date(step["date_updated"]),
        "url": url,
        "links": {"step_context": f"{url}/Context"},
    }


def list_(flow_sid: str, execution_sid: str) -> dict[str, Any]:
    found(flow_sid, execution_sid)
    page = page_request()
    steps = store.list_steps(catalog.store(), execution_sid)[::-1]  # newest first
    shown = steps[page.offset:page.offset + page.size]
    return page_body("steps", [resource(step) for step in shown], page,
                     more=len(steps) > page.offset + page.size,
                     path=f"/Flows/{flow_sid}/Executions/{execution_sid}/Steps")


def find_step(flow_sid: str, execution_sid: str, sid: str) -> dict[str, Any]:
    """Step ``sid`` of execution ``execution_sid`` of flow ``flow_sid``, or a 404."""
    found(flow_sid, execution_sid)
    step = store.get_step(catalog.store(), execution_sid, sid)
    if step is None:
        raise not_found()
    return step


def fetch(flow_sid: str, execution_sid: str, sid: str) -> dict[str, Any]:
    return resource(find_step(flow_sid, execution_sid, sid))
