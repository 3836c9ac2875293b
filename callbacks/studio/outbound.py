"""Executions this server starts itself: Studio's REST API trigger (``incomingRequest``), and
the calls their Make Outgoing Call widgets place.

:func:`start_execution` starts a flow for a contact (``to``) from the flow's number (``from_``)
with ``flow.data`` = the parameters, and runs its first widgets at once: Send Message and
Send & Wait For Reply send through the REST client; Make Outgoing Call
(``make-outgoing-call-v2``) places a call whose URL leads back to the flow
(``/flows/NAME/outgoing-call/EXECUTION/WIDGET``), where the call's widgets (Say/Play, Gather...)
continue the same execution once it is answered, and whose status callback
(``.../status``) takes ``busy``, ``noAnswer`` or ``failed`` when it is not. The contact's
reply on the number's Messaging URL (``/flows/NAME``) resumes an execution waiting for it, as
for any conversation (:meth:`~switchboard.callbacks.studio.runtime.Runtime.message`).

One active execution per flow and contact: a second start while one is active raises
:class:`~switchboard.callbacks.studio.executions.AlreadyActive` (Twilio's error 20409).
Parameters an execution cannot carry raise
:class:`~switchboard.callbacks.studio.parameters.ParametersError`, as the REST API refuses them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from switchboard.callbacks.studio import executions as runs
from switchboard.callbacks.studio.context import fields, flow_sid, new_context
from switchboard.callbacks.studio.definition import Flow
from switchboard.callbacks.studio.executions import ACTIVE, CALL_OVER, Execution
from switchboard.callbacks.studio.parameters import ParametersError, check_parameters
from switchboard.callbacks.studio.runtime import (
    ANSWER_MARGIN,
    OUTGOING_CALL,
    ClientFactory,
    PathLinks,
    Runtime,
    _claim,
    _deadline,
    rest_client,
)
from switchboard.callbacks.studio.widgets.base import (
    MESSAGING,
    VOICE,
    Links,
    Output,
    Transition,
    Visit,
    Wait,
    WidgetError,
    picked,
)

if TYPE_CHECKING:
    from switchboard.config import Settings

log = logging.getLogger("switchboard.callbacks.studio")

__all__ = ["AlreadyActive", "MakeOutgoingCall", "ParametersError", "start_execution"]

AlreadyActive = runs.AlreadyActive

#: The trigger's event of an execution the REST API starts.
INCOMING_REQUEST = "incomingRequest"
#: Where the trigger keeps the SID of the API request that started the execution
#: (``trigger.request.RequestSid``), as ``trigger.call.CallSid`` for a call.
REQUEST_SID = "RequestSid"
#: Seconds Make Outgoing Call lets the call ring (Studio's default).
DEFAULT_RING_TIMEOUT = 60
#: The REST API's call create waits at most this long.
CALL_TIMEOUT = 5.0
#: A call's final ``CallStatus`` that was not an answer, as the widget's event.
NOT_ANSWERED = {"busy": "busy", "no-answer": "noAnswer", "failed": "failed",
                "canceled": "failed"}
CALL_FIELDS = ("CallSid", "CallStatus", "AnsweredBy", "To", "From", "Direction",
               "ErrorCode", "SipResponseCode")


def url_name(flow: Flow) -> str:
    """The ``NAME`` of the flow's URL ``/flows/NAME``: a file's flow by its name, a flow of
    the Studio API by its SID."""
    if (flow.source or "").startswith("flow FW"):
        return flow_sid(flow)
    return flow.name


def public_base(settings: Settings) -> str | None:
    """Where Twilio reaches this server: ``SWITCHBOARD_PUBLIC_URL``, else (inside a request)
    the URL the request came to."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    from flask import has_request_context, request

    if has_request_context():
        return request.url_root.rstrip("/")
    return None


def start_execution(
    store_or_engine: Any,
    flow: Flow,
    *,
    to: str,
    from_: str,
    parameters: Mapping[str, Any] | None,
    settings: Settings,
    client_factory: ClientFactory = rest_client,
    flows: Mapping[str, Flow] | None = None,
    clock: Any = None,
    request_sid: str | None = None,
) -> Execution:
    """Start ``flow`` for the contact ``to`` from ``from_`` (the REST API's ``incomingRequest``
    trigger), with ``flow.data`` = ``parameters``, and run it until it waits or ends: the
    execution as it then stands (``status`` ``ended`` when the flow ended at once).

    :class:`AlreadyActive` when the flow has an active execution for ``to`` already;
    :class:`ParametersError` (a ``ValueError``), before anything is written or sent, for
    ``parameters`` that are not a mapping or hold what JSON cannot carry (nesting deeper than
    64 levels, ``inf`` or ``NaN``, a lone UTF-16 surrogate, a value that is not JSON's):
    :func:`~switchboard.callbacks.studio.parameters.check_parameters`.
    ``store_or_engine`` holds the executions (the app's store, or an SQLAlchemy engine);
    ``flows`` are other flows its subflows may name (the flows of the Studio API are found in
    the database); ``client_factory(settings)`` gives the REST client messages and calls go
    through; ``clock`` the current time (tests); ``request_sid`` the SID of the Studio API
    request that starts it (``trigger.request.RequestSid``, its ``initiated_by``).
    """
    from switchboard.callbacks.studio.flows_store import DatabaseFlows

    data = check_parameters({} if parameters is None else parameters)
    runtime = Runtime({**(flows or {}), flow.name: flow}, client_factory=client_factory,
                      clock=clock, lookup=DatabaseFlows(store_or_engine))
    db = runtime.database(store_or_engine)
    sid = runs.new_sid("FN")
    execution = Execution(
        sid=sid, flow_sid=flow_sid(flow), flow_name=flow.name, contact_channel_address=to,
        channel_address=from_ or None, channel=MESSAGING, status=ACTIVE, active_key=MESSAGING,
    )
    request_trigger: dict[str, Any] = {"parameters": data}
    if request_sid is not None:
        request_trigger[REQUEST_SID] = request_sid
    execution.context = new_context(
        flow, execution_sid=sid, trigger={"request": request_trigger}, contact=to,
        channel_address=from_, data=data,
    )
    ends = time.monotonic() + float(settings.handler_timeout)
    runs.create(db, execution, claim_for=_claim(settings))
    links = PathLinks(public_base(settings), url_name(flow))
    runtime._move(db, execution, Output(MESSAGING, webhook=False), settings, links, ends,
                  lambda runner: runner.start(INCOMING_REQUEST))
    return execution


class MakeOutgoingCall:
    """Make Outgoing Call (``make-outgoing-call-v2``): call ``to`` (default: the contact) from
    ``from`` (default: the flow's number) through the REST API, ``timeout`` seconds of ringing
    (default 60), with ``record``, ``send_digits``, answering machine detection
    (``detect_answering_machine``, ``machine_detection``...) as given. ``answered`` when the
    call is answered (the widgets after it run in the call), ``busy``, ``noAnswer`` or
    ``failed`` when it is not; ``CallSid``, ``CallStatus``, ``AnsweredBy`` as variables."""

    def run(self, visit: Visit) -> Wait | Transition:
        if visit.channel == VOICE:
            raise WidgetError("Make Outgoing Call places a call of its own; it cannot run "
                              "inside a call")
        to = visit.text("to", visit.contact)
        from_ = visit.text("from", visit.channel_address)
        if not to or not from_:
            raise WidgetError("no number to call or to call from (to, from)")
        url = visit.links.outgoing_call(visit.execution_sid, visit.name)
        status = visit.links.outgoing_call_status(visit.execution_sid, visit.name)
        if not url:
            return self._failed(visit, "no public URL for the call to come back to the flow: "
                                       "set SWITCHBOARD_PUBLIC_URL")
        client = visit.rest_client()
        if client is None:
            return self._failed(visit, "no Twilio account is configured (TWILIO_ACCOUNT_SID "
                                       f"and TWILIO_AUTH_TOKEN) to call {to}")
        options = self._options(visit)
        timeout = min(CALL_TIMEOUT, visit.remaining() - 0.5)
        try:
            if timeout <= 0.2:
                raise TimeoutError("no time left before the deadline")
            with client:
                client.timeout = (min(timeout, 3.0), timeout)
                call = client.calls.create(to, from_, url=url, method="POST",
                                           status_callback=status, **options)
        except Exception as error:
            return self._failed(visit, f"{type(error).__name__}: {error}")
        return Wait(OUTGOING_CALL, variables={"CallSid": call["sid"], "To": to,
                                              "From": from_})

    def resume(self, visit: Visit, source: str, params: Mapping[str, str]) -> Transition:
        variables = picked(params, CALL_FIELDS)
        if source == "answered":
            return Transition("answered", variables)
        if source in NOT_ANSWERED:
            return Transition(NOT_ANSWERED[source], variables)
        raise WidgetError(f"Make Outgoing Call does not come back as {source!r}")

    @staticmethod
    def _failed(visit: Visit, reason: str) -> Transition:
        log.error("flow %s, widget %s: the call was not placed: %s", visit.flow.name,
                  visit.name, reason)
        return Transition("failed", {"error": reason})

    @staticmethod
    def _options(visit: Visit) -> dict[str, Any]:
        options: dict[str, Any] = {
            "timeout": visit.integer("timeout", DEFAULT_RING_TIMEOUT, minimum=1),
        }
        if visit.flag("record"):
            options["record"] = True
        for key, option in (("send_digits", "send_digits"), ("trim", "trim"),
                            ("recording_channels", "recording_channels"),
                            ("recording_status_callback", "recording_status_callback"),
                            ("caller_id", "caller_id")):
            if visit.text(key):
                options[option] = visit.text(key)
        detection = visit.text("machine_detection")
        if not detection and visit.flag("detect_answering_machine"):
            detection = "Enable"
        if detection:
            options["machine_detection"] = detection
            seconds = visit.integer("machine_detection_timeout")
            if seconds:
                options["machine_detection_timeout"] = seconds
        return options


# -- the placed call's webhooks ------------------------------------------------------------------


def answer_call(runtime: Runtime, flow: Flow, params: Mapping[str, str], execution_sid: str,
                widget: str, *, store_or_engine: Any, settings: Settings, links: Links
                ) -> Output:
    """The call Make Outgoing Call placed was answered: its widget takes ``answered`` and the
    execution goes on in the call (its TwiML is the answer). A request that comes before the
    execution's start was written waits for it. A call answered after its execution ended
    (``Status=ended`` through the API, say) hangs up: the flow has nothing more to say.

    Under :func:`~switchboard.callbacks.studio.executions.answering` (the route's), Twilio's
    retry of the request that moved the execution, waiting or ended since, raises
    :class:`~switchboard.callbacks.studio.executions.Answered` from the reads made anyway:
    the route answers the first attempt's TwiML and nothing runs again."""
    output = Output(VOICE)
    values = fields(params)
    db = runtime.database(store_or_engine)
    ends = _deadline(settings)
    found = runs.get(db, execution_sid)
    if found is None or found.flow_sid != flow_sid(flow):
        log.warning("flow %s: call %s is answered, but there is no execution %s of the flow",
                    flow.name, values.get("CallSid") or "-", execution_sid)
        output.apologise = True
        return output
    execution = runs.claim_waiting(db, found, claim_for=_claim(settings),
                                   until=ends - ANSWER_MARGIN)
    if execution is None:
        log.info("flow %s: call %s is answered after its execution %s ended: it hangs up",
                 flow.name, values.get("CallSid") or "-", execution_sid)
        output.voice.hangup()
        return output
    if execution.widget != widget or execution.waiting_for != OUTGOING_CALL:
        runs.release(db, execution)
        log.warning("flow %s, execution %s: call %s is answered, but the execution waits at "
                    "%s", flow.name, execution.sid, values.get("CallSid") or "-",
                    execution.widget or "no widget")
        output.apologise = True
        return output
    runtime._move(db, execution, output, settings, links, ends,
                  lambda runner: runner.resume("answered", values))
    return output


def call_status(runtime: Runtime, flow: Flow, params: Mapping[str, str], execution_sid: str,
                widget: str, *, store_or_engine: Any, settings: Settings, links: Links) -> None:
    """The status callback of the call Make Outgoing Call placed: a call that ends without an
    answer takes ``busy``, ``noAnswer`` or ``failed`` (a ``canceled`` one ``failed``) if the
    execution still waits for it; an answered call that ends (``completed``) ends the
    execution (as a caller hanging up does). A callback that comes again after the execution
    moved on changes nothing; one that comes before the execution's start was written waits
    for it."""
    values = fields(params)
    status = values.get("CallStatus") or ""
    if status not in CALL_OVER:
        return
    db = runtime.database(store_or_engine)
    found = runs.get(db, execution_sid)
    if found is None or not found.active or found.flow_sid != flow_sid(flow):
        return
    ends = _deadline(settings)
    execution = runs.claim_waiting(db, found, claim_for=_claim(settings),
                                   until=ends - ANSWER_MARGIN)
    if execution is None:
        return
    if (execution.widget == widget and execution.waiting_for == OUTGOING_CALL
            and status != "completed"):
        runtime._move(db, execution, Output(MESSAGING, webhook=False), settings, links, ends,
                      lambda runner: runner.resume(status, values))
        return
    runs.release(db, execution)
    call_sid = values.get("CallSid")
    if status == "completed" and call_sid and execution.call_sid == call_sid:
        runs.end_call_executions(store_or_engine, call_sid, status)
