"""``/v2/Flows/{FlowSid}/Executions``: start a flow for a contact (Studio's REST API trigger,
``incomingRequest``), fetch, list (``DateCreatedFrom``, ``DateCreatedTo``, ``status``), end
(``Status=ended``) and delete executions. One active execution per flow and contact: a second
start while one is active is refused with Twilio's 20409."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask import Response, request

from switchboard.callbacks.studio import executions as store
from switchboard.callbacks.studio.api import catalog, forms, urls
from switchboard.callbacks.studio.api.errors import ApiError, bad_request, conflict, not_found
from switchboard.callbacks.studio.api.paging import page_body, page_request
from switchboard.callbacks.studio.api.request_ids import request_sid
from switchboard.callbacks.studio.executions import ACTIVE, ENDED, Execution
from switchboard.callbacks.studio.flows_store import revision_of
from switchboard.callbacks.studio.outbound import REQUEST_SID, AlreadyActive, start_execution
from switchboard.callbacks.studio.parameters import PARAMETERS_DEPTH as PARAMETERS_DEPTH
from switchboard.callbacks.studio.parameters import ParametersError, check_parameters
from switchboard.callbacks.studio.runtime import rest_client
from switchboard.callbacks.studio.widgets.base import MESSAGING

#: Twilio's limit on ``To`` and ``From`` together (error 81023).
CONTACT_BYTES = 300
#: A number whose leading ``+`` came as a space (`` 14155550100``, ``whatsapp: 1415...``):
#: sent unencoded in a form, where ``+`` stands for a space.
LOST_PLUS = re.compile(r"(?:[A-Za-z]+:)? [0-9]+")


def initiated_by(execution: Execution) -> str | None:
    """What started the execution: the call's or the message's SID, or the SID of the API
    request (``Twilio-Request-Id``) that started it; None for one started otherwise (from
    Python, ``switchboard flows run``)."""
    trigger = execution.context.get("trigger") or {}
    for kind, key in (("call", "CallSid"), ("message", "MessageSid"), ("request", REQUEST_SID)):
        found = (trigger.get(kind) or {}).get(key)
        if found:
            return str(found)
    return None


def resource(execution: Execution) -> dict[str, Any]:
    url = urls.execution(execution.flow_sid, execution.sid)
    return {
        "sid": execution.sid,
        "account_sid": urls.settings().account_sid,
        "flow_sid": execution.flow_sid,
        "contact_sid": None,
        "contact_channel_address": execution.contact_channel_address,
        "context": execution.context,
        "status": execution.status,
        "date_created": urls.date(execution.date_created),
        "date_updated": urls.date(execution.date_updated),
        "initiated_by": initiated_by(execution),
        "flow_version": revision_of(execution.flow_name),
        "url": url,
        "links": {"steps": f"{url}/Steps", "execution_context": f"{url}/Context"},
    }


def found(flow_sid: str, sid: str) -> Execution:
    """Execution ``sid`` of flow ``flow_sid``, or a 404."""
    catalog.find_or_404(flow_sid)
    execution = store.get(store.Database(catalog.store()), sid)
    if execution is None or execution.flow_sid != flow_sid:
        raise not_found()
    return execution


def read_parameters() -> dict[str, Any] | None:
    """``Parameters``, the JSON object that becomes ``flow.data``; None when it is absent or
    empty. Anything else is a 400 (20001) saying what is wrong and where
    (:func:`~switchboard.callbacks.studio.parameters.check_parameters`): JSON that is not an
    object (``null`` included), nesting deeper than :data:`PARAMETERS_DEPTH`, a number JSON
    cannot carry (``1e400``), or a string with a lone surrogate (``"\\ud800"``)."""
    value = forms.json_value("Parameters", needed=False)
    if value is None and forms.optional("Parameters") is None:
        return None
    try:
        return check_parameters(value, name="Parameters")
    except ParametersError as error:
        raise bad_request(str(error)) from None


def contact_parameter(name: str) -> str:
    """``To`` or ``From`` without the whitespace around it, as the contact's messages and
    calls will name it. A number whose ``+`` arrived as a space is a 400 (81023) rather than
    a guess: the form that sent it was not encoded, and its other values may be wrong too."""
    value = forms.required(name)
    if LOST_PLUS.fullmatch(value.rstrip()):
        raise ApiError(400, 81023, f"{name} {value[:40]!r} has a space where its '+' belongs: "
                       "a '+' sent unencoded in a form arrives as a space; encode the form "
                       "(the '+' as %2B)")
    return value.strip()


def create(flow_sid: str) -> tuple[dict[str, Any], int]:
    entry = catalog.find_or_404(flow_sid)
    to, from_ = contact_parameter("To"), contact_parameter("From")
    if len(to.encode()) + len(from_.encode()) > CONTACT_BYTES:
        raise ApiError(400, 81023, f"To and From together are longer than {CONTACT_BYTES} "
                       "bytes; send a phone number (E.164) or a short identifier each")
    parameters = read_parameters()
    flow = catalog.runnable(entry, to)
    if flow is None:
        raise conflict(f"Flow {flow_sid} has no published revision that can run, and {to} is "
                       "not one of its test users: publish it (Status=published) or add "
                       f"{to} to its TestUsers")
    runtime = catalog.studio_runtime()
    try:
        execution = start_execution(
            catalog.store(), flow, to=to, from_=from_, parameters=parameters,
            settings=urls.settings(),
            client_factory=runtime.client_factory if runtime is not None else rest_client,
            flows=runtime.flows if runtime is not None else None,
            clock=runtime.clock if runtime is not None else None, request_sid=request_sid(),
        )
    except AlreadyActive:
        active = store.find_active(store.Database(catalog.store()), flow_sid, to, MESSAGING)
        which = f"Execution {active.sid}" if active is not None else "An execution"
        raise conflict(f"{which} of flow {flow_sid} is already active for {to}: end it "
                       "(Status=ended) before starting another") from None
    return resource(execution), 201


def fetch(flow_sid: str, sid: str) -> dict[str, Any]:
    return resource(found(flow_sid, sid))


def _date(name: str) -> datetime | None:
    value = request.args.get(name)
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "+"))
    except ValueError:
        raise bad_request(f"{name} must be an ISO 8601 date-time (YYYY-MM-DDThh:mm:ss-hh:mm), "
                          f"not {value[:40]!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def list_(flow_sid: str) -> dict[str, Any]:
    catalog.find_or_404(flow_sid)
    page = page_request()
    created_from, created_to = _date("DateCreatedFrom"), _date("DateCreatedTo")
    status = request.args.get("status") or request.args.get("Status")
    if status is not None and status not in (ACTIVE, ENDED):
        raise bad_request(f"Status must be {ACTIVE} or {ENDED}, not {status[:40]!r}")
    rows = store.page_executions(catalog.store(), flow_sid, status=status,
                                 created_from=created_from, created_to=created_to,
                                 offset=page.offset, limit=page.size + 1)
    filters = {"DateCreatedFrom": request.args.get("DateCreatedFrom", ""),
               "DateCreatedTo": request.args.get("DateCreatedTo", ""), "status": status or ""}
    return page_body("executions", [resource(row) for row in rows[:page.size]], page,
                     more=len(rows) > page.size, path=f"/Flows/{flow_sid}/Executions",
                     filters=filters)


def update(flow_sid: str, sid: str) -> dict[str, Any]:
    found(flow_sid, sid)
    forms.status((ENDED,))
    ended = store.end_execution(catalog.store(), sid)
    if ended is None:
        raise not_found()
    return resource(ended)


def delete(flow_sid: str, sid: str) -> Response:
    found(flow_sid, sid)
    if not store.delete_execution(catalog.store(), sid):
        raise not_found()
    return Response(status=204)
