"""The URLs of the flows: ``/flows/NAME`` for a number's Voice URL and Messaging URL alike
(a ``CallSid`` makes it a call, a ``MessageSid`` a message; with neither, nothing starts and
the apology is answered), and below it what Twilio comes back to during a call and for a
question's status:

- ``/flows/NAME/step/WIDGET/SOURCE``: a Gather's, Record's, Dial's or Enqueue's action, the
  Redirect after a Gather or a Record that got nothing, a TwiML Redirect's way back (of a
  call, or of a conversation: a request carrying a ``MessageSid``, to ``.../return``);
- ``/flows/NAME/message-status/EXECUTION/WIDGET``: the status callback of the question a Send
  & Wait For Reply sent (``deliveryFailure`` when it failed);
- ``/flows/NAME/call-status``: a Status Callback URL for the flow's calls: stored as
  ``/voice/status`` stores it, and the call's execution ends with the call;
- ``/flows/NAME/recording-status/WIDGET``: the recording status callback of a Record
  Voicemail's ``<Record>`` (unless the flow gives its own): stored as
  ``/voice/recording-status`` stores it, and a recording longer than 0 s is announced to the
  operator (:func:`~switchboard.callbacks.notices.notify_voicemail`), as the bundled IVR's;
- ``/flows/NAME/outgoing-call/EXECUTION/WIDGET`` (and ``.../status``): the URL and status
  callback of a call a Make Outgoing Call widget placed
  (:mod:`~switchboard.callbacks.studio.outbound`).

``NAME`` is a flow of the folder by name or SID, or a flow of the Studio API by SID (from the
database: a draft runs only for its test users). ``WIDGET`` is a widget's name, whatever it
holds (``/``, ``%``, spaces...), as :class:`WidgetConverter` writes and reads it.

Every route has the webhooks' signature check, deadline and never-500 policy
(:func:`switchboard.callbacks.handlers.make_view`). An unknown flow name is answered with
the apology (a call) or no reply (a message), and logged.
"""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter

from switchboard.callbacks.errors import safe_answer, voice_apology
from switchboard.callbacks.handlers import (
    TwilioBlueprint,
    external_url,
    make_view,
    read_form,
    taking_url_values,
)
from switchboard.callbacks.notices import notify_voicemail
from switchboard.callbacks.now_and_then import NowAndThen
from switchboard.callbacks.studio import executions, outbound
from switchboard.callbacks.studio.definition import Flow
from switchboard.callbacks.studio.flows_store import DatabaseFlows
from switchboard.callbacks.studio.runtime import (
    ClientFactory,
    FlowLookup,
    Runtime,
    apologise,
    contact_of,
)
from switchboard.callbacks.studio.widgets.base import (
    MESSAGING,
    VOICE,
    Output,
    from_url_segment,
    url_segment,
)
from switchboard.callbacks.twilio_request import CallRequest, MessageRequest, StatusCallback
from switchboard.callbacks.twiml import MessagingResponse, TwiMLError, VoiceResponse

log = logging.getLogger("switchboard.callbacks.studio")

__all__ = ["register_studio", "studio_blueprint"]

#: Seconds between two purges of old executions in a process.
PURGE_EVERY = 600.0


#: The app's extension holding the step URLs made so far, at most :data:`_STEP_URLS_KEPT`.
_STEP_URLS = "switchboard.studio.step_urls"
_STEP_URLS_KEPT = 4096


class RequestLinks:
    """Links for Twilio to come back by, as it reaches this server (public URL, proxies)."""

    def __init__(self, flow_name: str) -> None:
        self.flow = flow_name
        #: The request's origin (None: not read yet; False: URLs made afresh every time).
        self._origin: tuple[Any, ...] | bool | None = None

    def step(self, widget: str, source: str) -> str:
        """Built once per flow, widget, source and request origin (as :func:`external_url`
        keeps its URLs without values), unless the app has URL defaults functions."""
        origin = self._origin
        if origin is None:
            origin = self._origin = self._request_origin()
        if origin is False:
            return external_url(".step", name=self.flow, widget=widget, source=source)
        key = (self.flow, widget, source, origin)
        urls = current_app.extensions.setdefault(_STEP_URLS, {})
        url = urls.get(key)
        if url is None:
            url = external_url(".step", name=self.flow, widget=widget, source=source)
            if len(urls) < _STEP_URLS_KEPT:
                urls[key] = url
        return url

    @staticmethod
    def _request_origin() -> tuple[Any, ...] | bool:
        """What a URL made for this request depends on, or False when the app has URL defaults
        functions (which may change it per request)."""
        app = current_app
        if any(app.url_default_functions.values()):
            return False
        environ = request.environ
        switchboard = app.extensions.get("switchboard")
        return (
            request.blueprint,
            switchboard.settings.public_url if switchboard is not None else None,
            environ.get("wsgi.url_scheme"), environ.get("HTTP_HOST"),
            environ.get("SERVER_NAME"), environ.get("SERVER_PORT"), environ.get("SCRIPT_NAME"),
        )

    def message_status(self, execution_sid: str, widget: str) -> str | None:
        return external_url(".message_status", name=self.flow, execution=execution_sid,
                            widget=widget)

    def outgoing_call(self, execution_sid: str, widget: str) -> str | None:
        return external_url(".outgoing_call", name=self.flow, execution=execution_sid,
                            widget=widget)

    def outgoing_call_status(self, execution_sid: str, widget: str) -> str | None:
        return external_url(".outgoing_call_status", name=self.flow, execution=execution_sid,
                            widget=widget)

    def recording_status(self, widget: str) -> str | None:
        return external_url(".recording_status", name=self.flow, widget=widget)


class WidgetConverter(BaseConverter):
    """A widget's name as one segment of a URL (``<studio_widget:widget>``), whatever it holds:
    :func:`~switchboard.callbacks.studio.widgets.base.url_segment` writes it,
    :func:`~switchboard.callbacks.studio.widgets.base.from_url_segment` reads it back."""

    def to_python(self, value: str) -> str:
        return from_url_segment(value)

    def to_url(self, value: Any) -> str:
        return url_segment(str(value))


class Purger(NowAndThen):
    """Deletes the executions older than ``retention`` now and then, in a thread of its own."""

    what = "Studio executions"
    thread_name = "switchboard-studio-purge"

    def __init__(self, retention: timedelta | None) -> None:
        super().__init__(PURGE_EVERY)
        self.retention = retention

    def arguments(self) -> tuple[Any, ...]:
        return (self.retention or _retention(current_app.extensions["switchboard"].settings),)

    def work(self, store: Any, *arguments: Any) -> None:
        (retention,) = arguments
        count = executions.purge_executions(store, retention)
        if count:
            log.info("%d Studio executions older than %s deleted", count, retention)


def _retention(settings: Any) -> timedelta:
    """``SWITCHBOARD_STUDIO_RETENTION_DAYS`` (``settings.studio_retention_days``)."""
    return timedelta(days=settings.studio_retention_days)


def studio_blueprint(
    flows: Mapping[str, Flow],
    *,
    client_factory: ClientFactory | None = None,
    clock: Callable[[], Any] | None = None,
    retention: timedelta | None = None,
    lookup: FlowLookup | None = None,
) -> TwilioBlueprint:
    """The blueprint serving ``flows`` (by name, as :func:`load_flows` gives them) at
    ``/flows/NAME``: register it on the app :func:`~switchboard.callbacks.create_app` made.

    ``client_factory(settings)`` gives the REST client for messages that cannot be replies
    (default: the app's account); ``retention`` how long executions are kept (default
    ``SWITCHBOARD_STUDIO_RETENTION_DAYS``, else 30 days); ``lookup`` finds the flows that are
    not in ``flows`` (default: the Studio API's, in the app's database).
    """
    runtime = Runtime(flows, client_factory=client_factory, clock=clock,
                      lookup=lookup if lookup is not None else DatabaseFlows())
    purge = Purger(retention)
    bp = TwilioBlueprint("studio", __name__)

    def context(name: str, contact: str | None = None) -> tuple[Flow | None, Any, Any]:
        """The flow (as it runs for ``contact``, who starts or continues an execution), the
        settings and the store."""
        switchboard = current_app.extensions["switchboard"]
        flow = runtime.flow(name) if contact is None else runtime.flow_for(name, contact)
        return flow, switchboard.settings, switchboard.store

    def missing(name: str, contact: str) -> str:
        """Why no flow runs at ``/flows/NAME`` for ``contact``."""
        if runtime.flow(name) is None:
            return f"there is no flow {name!r}"
        return (f"flow {name} has no published revision that can run, and {contact or '-'} "
                "is not one of its test users")

    def flow_call(call: CallRequest) -> VoiceResponse | bytes:
        name = request.view_args["name"]
        if not call.call_sid:
            settings = current_app.extensions["switchboard"].settings
            log.warning("a request to /flows/%s with neither a CallSid nor a MessageSid: no "
                        "execution started; answered with the apology", name)
            return voice_apology(settings.voice, settings.language)
        contact = contact_of(call.params)
        flow, settings, store = context(name, contact)
        if flow is None:
            log.error("call %s to /flows/%s: %s", call.call_sid, name, missing(name, contact))
            return voice_apology(settings.voice, settings.language)
        db = runtime.database(store)
        output = _once(call, settings, lambda: runtime.call(
            flow, call.params, db=db, settings=settings, links=RequestLinks(name)))
        purge(store)
        return output if isinstance(output, bytes) else _voice(output, settings)

    def flow_message(message: MessageRequest) -> MessagingResponse | bytes | None:
        name = request.view_args["name"]
        contact = message.params.get("From") or ""
        flow, settings, store = context(name, contact)
        if flow is None:
            log.error("message %s to /flows/%s: %s", message.message_sid or "-", name,
                      missing(name, contact))
            return None
        db = runtime.database(store)
        output = _once(message, settings, lambda: runtime.message(
            flow, message.params, db=db, settings=settings, links=RequestLinks(name)))
        purge(store)
        return output if isinstance(output, bytes) else output.messaging()

    def flow_step(call: CallRequest) -> VoiceResponse | bytes:
        args = request.view_args
        flow, settings, store = context(args["name"])
        if flow is None:
            log.error("call %s to /flows/%s: there is no flow %r", call.call_sid or "-",
                      args["name"], args["name"])
            return voice_apology(settings.voice, settings.language)
        output = _once(call, settings, lambda: runtime.step(
            flow, call.params, args["widget"], args["source"], db=runtime.database(store),
            settings=settings, links=RequestLinks(args["name"])))
        return output if isinstance(output, bytes) else _voice(output, settings)

    def flow_message_step(message: MessageRequest) -> MessagingResponse | bytes | None:
        args = request.view_args
        contact = message.params.get("From") or ""
        flow, settings, store = context(args["name"], contact)
        if flow is None:
            log.error("message %s to /flows/%s: %s", message.message_sid or "-", args["name"],
                      missing(args["name"], contact))
            return None
        if args["source"] != "return":
            log.warning("message %s to /flows/%s/step/%s/%s: a conversation comes back to a "
                        "flow only by a TwiML Redirect's .../return; not answered",
                        message.message_sid or "-", args["name"], args["widget"],
                        args["source"])
            return None
        output = _once(message, settings, lambda: runtime.message_return(
            flow, message.params, args["widget"], db=runtime.database(store),
            settings=settings, links=RequestLinks(args["name"])))
        return output if isinstance(output, bytes) else output.messaging()

    def flow_message_status(status: StatusCallback) -> None:
        args = request.view_args
        flow, settings, store = context(args["name"])
        if flow is None:  # a repeat goes on: moving the execution may have failed the first time
            return
        runtime.message_status(flow, status.params, args["execution"], args["widget"],
                               db=runtime.database(store), settings=settings,
                               links=RequestLinks(args["name"]))

    def flow_call_status(status: StatusCallback) -> None:
        if status.sid:  # a repeat too: ending the execution may have failed the first time
            store = current_app.extensions["switchboard"].store
            executions.end_call_executions(store, status.sid, status.status)

    def flow_recording_status(status: StatusCallback) -> None:
        """Stored by the route itself; a completed recording longer than 0 s is announced,
        once, after the answer. The flow is not looked up: the recording is the caller's
        voicemail whatever became of the flow since."""
        if status.recording_duration != 0:
            notify_voicemail(status)

    def outgoing_call(call: CallRequest) -> VoiceResponse | bytes:
        args = request.view_args
        flow, settings, store = context(args["name"])
        if flow is None:
            log.error("call %s to /flows/%s: there is no flow %r", call.call_sid or "-",
                      args["name"], args["name"])
            return voice_apology(settings.voice, settings.language)
        output = _once(call, settings, lambda: outbound.answer_call(
            runtime, flow, call.params, args["execution"], args["widget"],
            store_or_engine=store, settings=settings, links=RequestLinks(args["name"])))
        return output if isinstance(output, bytes) else _voice(output, settings)

    def outgoing_call_status(status: StatusCallback) -> None:
        args = request.view_args
        flow, settings, store = context(args["name"])
        if flow is not None:
            outbound.call_status(runtime, flow, status.params, args["execution"],
                                 args["widget"], store_or_engine=store, settings=settings,
                                 links=RequestLinks(args["name"]))

    @bp.record_once
    def widget_names(state: Any) -> None:
        """Before the rules: ``WIDGET`` in them is a widget's name, whatever it holds."""
        state.app.url_map.converters["studio_widget"] = WidgetConverter

    bp.add_url_rule("/flows/<name>", "flow",
                    _call_or_message(_route(flow_call, "voice"), _route(flow_message, "sms")),
                    methods=["GET", "POST"])
    bp.add_url_rule("/flows/<name>/step/<studio_widget:widget>/<source>", "step",
                    _call_or_message(_route(flow_step, "voice"),
                                     _route(flow_message_step, "sms")),
                    methods=["GET", "POST"])
    bp.add_url_rule("/flows/<name>/message-status/<execution>/<studio_widget:widget>",
                    "message_status", _route(flow_message_status, "message_status"),
                    methods=["GET", "POST"])
    bp.add_url_rule("/flows/<name>/call-status", "call_status",
                    _route(flow_call_status, "call_status"), methods=["GET", "POST"])
    bp.add_url_rule("/flows/<name>/recording-status/<studio_widget:widget>",
                    "recording_status", _route(flow_recording_status, "recording_status"),
                    methods=["GET", "POST"])
    bp.add_url_rule("/flows/<name>/outgoing-call/<execution>/<studio_widget:widget>",
                    "outgoing_call", _route(outgoing_call, "voice"), methods=["GET", "POST"])
    bp.add_url_rule("/flows/<name>/outgoing-call/<execution>/<studio_widget:widget>/status",
                    "outgoing_call_status", _route(outgoing_call_status, "call_status"),
                    methods=["GET", "POST"])
    bp.runtime = runtime  # type: ignore[attr-defined]
    return bp


def _route(handler: Callable[..., Any], kind: str) -> Callable[..., Response]:
    """The webhook view of ``handler`` (signature check, parsing, deadline, error policy);
    the URL's variables are read from ``request.view_args``."""
    return taking_url_values(make_view(handler, kind))


def _call_or_message(call_view: Callable[..., Response],
                     message_view: Callable[..., Response]) -> Callable[..., Response]:
    """One URL for both: ``message_view`` when the request carries a ``MessageSid``."""

    def view(**variables: str) -> Response:
        try:
            form = read_form(request)  # parsed once: the webhook's view reads it again
        except HTTPException as error:
            log.warning("%s %s refused: %s", request.method, request.path, error.name)
            return safe_answer("voice", current_app.extensions["switchboard"].settings)
        if _is_message(request.args) or _is_message(form):
            return message_view(**variables)
        return call_view(**variables)

    view.twilio_kind = "voice"  # type: ignore[attr-defined]
    return view


#: The fields only a message's webhook carries.
_MESSAGE_SIDS = ("MessageSid", "SmsSid", "SmsMessageSid")


def _is_message(fields: Mapping[str, str]) -> bool:
    # ``in`` first: a werkzeug MultiDict's ``get`` of a missing name raises and catches a
    # KeyError of its own, some microseconds each, on every call's request
    return any(name in fields and fields[name] for name in _MESSAGE_SIDS)


def _once(twilio_request: CallRequest | MessageRequest, settings: Any,
          run: Callable[[], Output]) -> Output | bytes:
    """``run()``, the flow moved for the webhook; or, when the webhook is Twilio's retry of one
    that moved an execution already (the same ``I-Twilio-Idempotency-Token`` for the same call
    or message: :attr:`~.TwilioRequest.retry_key`), the TwiML that first attempt was answered,
    and nothing runs (:func:`~.executions.answering`)."""
    render = functools.partial(_answer, settings=settings)
    try:
        with executions.answering(twilio_request.retry_key, render):
            return run()
    except executions.Answered as answered:
        log.info("%s %s: Twilio's retry of a request that moved execution %s; answered as "
                 "its first attempt was", request.method, request.path,
                 answered.execution_sid)
        return answered.answer.encode()


def _answer(output: Output, *, settings: Any) -> str:
    """The TwiML the webhook answers for ``output``, as the routes make it, leaving ``output``
    as it is (the run may add to it after)."""
    if output.channel == MESSAGING:
        return str(output.messaging())
    if output.apologise:
        shown = Output(VOICE)
        shown.voice, shown.apologise = copy.deepcopy(output.voice), True
        output = shown
    answer = _voice(output, settings)
    return answer.decode() if isinstance(answer, bytes) else str(answer)


def _voice(output: Output, settings: Any) -> VoiceResponse | bytes:
    if not output.apologise:
        return output.voice
    try:
        apologise(output, settings)
    except TwiMLError:
        return voice_apology(settings.voice, settings.language)
    return output.voice


def register_studio(app: Flask) -> None:
    """Serve the flows of the flows folder (the ``flows_dir`` setting, else ``./flows`` when it
    exists) on ``app``, which :func:`~switchboard.callbacks.create_app` made.

    Every flow is checked first: a flow that cannot run raises
    :class:`~switchboard.callbacks.studio.definition.FlowError`, one line per problem naming
    the file, the state and the property, so the server does not start. Warnings (a widget
    Switchboard cannot run on its own) are logged.
    """
    from switchboard.callbacks.studio.loader import flows_dir, load_flows

    settings = app.extensions["switchboard"].settings
    folder = flows_dir(settings.flows_dir)
    flows = {} if folder is None else load_flows(
        folder, warn=lambda problem: app.logger.warning("%s", problem))
    app.register_blueprint(studio_blueprint(flows))
    from switchboard.callbacks.studio.timers import start_timers

    start_timers(app)
