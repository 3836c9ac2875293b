"""The caller side of the emulator: a phone that dials your webhooks.

:class:`Phone` places simulated calls and messages against the numbers, applications and
calls held in an :class:`~emulator.state.EmulatorState`: inbound calls and SMS to a number
(synchronous, returning a :class:`~emulator.transcript.Transcript`), and the outbound calls and
messages created through the REST side (in background threads; :meth:`Phone.wait_idle` waits
for them). Every webhook is signed with the auth token of the account that owns the number or
call, and every call sends its status callbacks as Twilio does.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import requests

from switchboard.emulator.messaging import MAGIC_MESSAGE_OUTCOMES, Messaging
from switchboard.emulator.resources import now, rfc2822
from switchboard.emulator.script import CallScript, DialOutcome
from switchboard.emulator.transcript import Event, Transcript, event_line, render_request
from switchboard.emulator.twiml_runner import (
    SIP_RESPONSE_CODES,
    CallContext,
    CallRunner,
    Fetch,
    MeetingBoard,
    QueueBoard,
    TwiMLProblem,
    absolute_media_url,
    parse_document,
)
from switchboard.emulator.webhooks import WebhookClient

if TYPE_CHECKING:
    from switchboard.emulator.state import EmulatorState

log = logging.getLogger("switchboard.emulator")

#: Outbound calls to these numbers do not answer (the REST side's callers can script more in
#: ``Phone.call_outcomes``).
MAGIC_CALL_OUTCOMES: dict[str, str] = {
    "+15005550020": "busy",
    "+15005550021": "no-answer",
    "+15005550022": "failed",
}

#: The call progress events a status callback gets unless the call asks for others.
DEFAULT_EVENTS = ("completed",)
#: Twilio's error for a call to a number of a suspended or closed account.
INACTIVE_ACCOUNT = 10003
#: The SHAKEN/STIR verification results Twilio reports in ``StirVerstat``: passed or failed at
#: attestation level A, B or C (``-Diverted``: as signed by the service provider that forwarded
#: the call), failed with no level, or a PASSporT that could not be checked.
STIR_VERSTATS = (
    "TN-Validation-Passed-A", "TN-Validation-Passed-B", "TN-Validation-Passed-C",
    "TN-Validation-Failed-A", "TN-Validation-Failed-B", "TN-Validation-Failed-C",
    "TN-Validation-Failed", "No-TN-Validation",
    "TN-Validation-Passed-A-Diverted", "TN-Validation-Passed-B-Diverted",
    "TN-Validation-Passed-C-Diverted", "TN-Validation-Failed-A-Diverted",
    "TN-Validation-Failed-B-Diverted", "TN-Validation-Failed-C-Diverted",
)


class CallProgress:
    """A call's status callbacks: the requested events, numbered from 0, in order."""

    def __init__(self, runner: CallRunner, url: str | None, method: str,
                 events: Iterable[str] | str | None) -> None:
        self.runner = runner
        self.url = url
        self.method = method or "POST"
        if isinstance(events, str):
            events = events.replace(",", " ").split()
        self.events = {e.strip().lower() for e in (events or DEFAULT_EVENTS) if e.strip()}
        self.sequence = 0

    def send(self, event: str, call_status: str, **extra: str) -> None:
        if not self.url or event not in self.events:
            return
        ctx = self.runner.ctx
        params = self.runner.base_params()
        params.update(
            CallStatus=call_status,
            CallbackSource="call-progress-events",
            SequenceNumber=str(self.sequence),
            Timestamp=rfc2822(_sim_now(ctx)),
        )
        params.update(extra)
        self.sequence += 1
        self.runner.callback("status", self.url, self.method, params)


def _sim_now(ctx: CallContext) -> Any:
    """The call's simulated clock: its answer time plus the simulated seconds since."""
    return (ctx.started_at or now()) + timedelta(seconds=ctx.elapsed)


class Phone:
    """Places simulated calls and messages; see the module docstring.

    ``session_factory`` makes the ``requests.Session`` each call uses (the CLI's in-process
    mode mounts a Flask test-client adapter on it). ``call_outcomes`` (To number -> busy,
    no-answer, failed) and ``message_outcomes`` (To number -> (status, error code)) script what
    happens at the far end of outbound calls and messages; ``outbound_scripts`` (To number ->
    :class:`CallScript`) what the person who answers an outbound call does; ``answered_by``
    (To number -> ``human``, ``machine_start``...) the ``AnsweredBy`` of calls placed with
    MachineDetection; ``caller_names`` (From number -> name) the ``CallerName`` sent to numbers
    with VoiceCallerIdLookup (default ``WIRELESS CALLER``).
    """

    def __init__(
        self,
        state: EmulatorState,
        *,
        api_base_url: str = "",
        session_factory: Callable[[], requests.Session] | None = None,
    ) -> None:
        self.state = state
        self.api_base_url = api_base_url
        self.session_factory = session_factory or requests.Session
        self.call_outcomes: dict[str, str] = dict(MAGIC_CALL_OUTCOMES)
        self.message_outcomes: dict[str, tuple[str, int]] = dict(MAGIC_MESSAGE_OUTCOMES)
        self.outbound_scripts: dict[str, CallScript] = {}
        self.answered_by: dict[str, str] = {}
        self.caller_names: dict[str, str] = {}
        self.queues = QueueBoard()
        self.meetings = MeetingBoard()
        self.messaging = Messaging(self)
        self._transcripts: dict[str, Transcript] = {}
        self.keep_transcripts = 1000
        self._live: dict[str, CallRunner] = {}
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)

    # -- plumbing ------------------------------------------------------------------------------

    def new_client(self) -> WebhookClient:
        return WebhookClient(self.session_factory())

    def remember(self, sid: str, transcript: Transcript) -> None:
        """Keep ``transcript`` for :meth:`transcript` (the most recent ones only)."""
        with self._lock:
            self._transcripts[sid] = transcript
            while len(self._transcripts) > self.keep_transcripts:
                del self._transcripts[next(iter(self._transcripts))]

    def transcript(self, sid: str) -> Transcript | None:
        """The transcript of call or message ``sid`` (also of background ones)."""
        with self._lock:
            return self._transcripts.get(sid)

    def _background(self, name: str, target: Callable[[], Any]) -> None:
        def work() -> None:
            try:
                target()
            except Exception:
                log.exception("emulator: %s failed", name)
            finally:
                with self._idle:
                    self._threads.discard(threading.current_thread())
                    self._idle.notify_all()

        thread = threading.Thread(target=work, name=name, daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def wait_idle(self, timeout: float = 10) -> bool:
        """Wait until every background call and delivery has finished; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._threads, timeout)

    # -- configuration of numbers ---------------------------------------------------------

    def account_active(self, account_sid: str) -> bool:
        """False for a suspended or closed account: Twilio answers none of its calls."""
        account = self.state.get("accounts", account_sid)
        return account is None or account.get("status", "active") == "active"

    def voice_config(self, number: dict[str, Any]) -> dict[str, Any]:
        """The voice URLs of a number, from its voice application when it has one."""
        source = number
        if number.get("voice_application_sid"):
            source = self.state.get("applications", number["voice_application_sid"]) or number
        return {
            "url": source.get("voice_url"),
            "method": source.get("voice_method") or "POST",
            "fallback_url": source.get("voice_fallback_url"),
            "fallback_method": source.get("voice_fallback_method") or "POST",
            "status_callback": source.get("status_callback"),
            "status_callback_method": source.get("status_callback_method") or "POST",
        }

    def sms_config(self, number: dict[str, Any]) -> dict[str, Any]:
        source = number
        status_callback = None
        if number.get("sms_application_sid"):
            app = self.state.get("applications", number["sms_application_sid"])
            if app is not None:
                source = app
                status_callback = app.get("sms_status_callback")
        return {
            "url": source.get("sms_url"),
            "method": source.get("sms_method") or "POST",
            "fallback_url": source.get("sms_fallback_url"),
            "fallback_method": source.get("sms_fallback_method") or "POST",
            "status_callback": status_callback,
        }

    # -- calls -------------------------------------------------------------------------------

    def inbound_call(
        self,
        to: str,
        from_: str,
        *,
        script: CallScript | None = None,
        on_event: Callable[[Event], None] | None = None,
        stir_verstat: str | None = None,
    ) -> Transcript:
        """Call the number ``to`` from ``from_`` and follow its TwiML to the end.

        ``stir_verstat`` is the SHAKEN/STIR verification of the caller's number (one of
        :data:`STIR_VERSTATS`, e.g. ``TN-Validation-Passed-A``): the incoming call's request to
        the number's voice URL carries it as ``StirVerstat`` (and so does its fallback, which
        repeats that request), as Twilio's does for a call that came with a SHAKEN PASSporT;
        the call's later requests (actions, redirects, status callbacks) do not. Without one
        (the default) none carries it. ValueError for a value Twilio does not send.
        """
        if stir_verstat is not None and stir_verstat not in STIR_VERSTATS:
            raise ValueError(f"stir_verstat {stir_verstat!r} is not one of "
                             f"{', '.join(STIR_VERSTATS)}")
        transcript = Transcript("call", on_event=on_event)
        number = self.state.find_number(to)
        if number is None:
            transcript.add("error", f"{to} is not a number of this emulator: not in service")
            transcript.status = "failed"
            transcript.done.set()
            return transcript
        config = self.voice_config(number)
        account_sid = number["account_sid"]
        if not self.account_active(account_sid):
            transcript.add("error", f"{to} belongs to an account that is not active: the call is "
                           "not answered (error 10003)", code=INACTIVE_ACCOUNT)
            transcript.error_codes.append(INACTIVE_ACCOUNT)
            transcript.status = "failed"
            transcript.done.set()
            return transcript
        call = self.state.create_call(
            account_sid, to=to, from_=from_, direction="inbound", status="ringing",
            phone_number_sid=number["sid"], url=config["url"], method=config["method"],
            fallback_url=config["fallback_url"], fallback_method=config["fallback_method"],
            status_callback=config["status_callback"],
            status_callback_method=config["status_callback_method"],
            caller_name=self.caller_names.get(from_, "WIRELESS CALLER")
            if number.get("voice_caller_id_lookup") else None,
            stir_verstat=stir_verstat,
        )
        transcript.sid = call["sid"]
        self.remember(call["sid"], transcript)
        runner = self._runner(call, transcript, script or CallScript(), call_status="ringing")
        progress = CallProgress(runner, config["status_callback"],
                                config["status_callback_method"], DEFAULT_EVENTS)
        if not config["url"]:
            transcript.add("error", f"{to} has no voice URL: the caller hears silence")
            runner.answer()
            self._finish(runner, progress, "completed")
            return transcript
        incoming = {"StirVerstat": stir_verstat} if stir_verstat else {}
        status = runner.run(Fetch(config["url"], config["method"], incoming, purpose="voice"))
        self._finish(runner, progress, status)
        return transcript

    def place_outbound_call(self, call: dict[str, Any]) -> None:
        """Place a call created through the REST side, in the background."""
        self._background(f"call-{call['sid']}", lambda: self.run_outbound_call(call))

    def run_outbound_call(self, call: dict[str, Any]) -> Transcript:
        """Place a REST-created call now: ring, answer (or not), run its TwiML, report."""
        sid = call["sid"]
        transcript = Transcript("call", sid=sid)
        self.remember(sid, transcript)
        current = self.state.get("calls", sid) or call
        app: dict[str, Any] = {}
        if current.get("application_sid"):
            app = self.state.get("applications", current["application_sid"]) or {}
        url = current.get("url") or app.get("voice_url")
        method = current.get("method") if current.get("url") else app.get("voice_method")
        method = method or "POST"
        status_callback = current.get("status_callback") or app.get("status_callback")
        status_method = (current.get("status_callback_method")
                         or app.get("status_callback_method") or "POST")
        to = current.get("to") or ""
        script = self.outbound_scripts.get(to) or CallScript()
        runner = self._runner(
            current, transcript, script, call_status="in-progress",
            fallback_url=current.get("fallback_url") or app.get("voice_fallback_url"),
            fallback_method=(current.get("fallback_method")
                             or app.get("voice_fallback_method") or "POST"),
        )
        progress = CallProgress(runner, status_callback, status_method,
                                current.get("status_callback_event"))
        for stage in ("initiated", "ringing"):
            if not self._dialing(runner, stage):
                self._finish(runner, progress, "canceled")
                return transcript
            progress.send(stage, stage)
        outcome = self.call_outcomes.get(to)
        if outcome and outcome not in {"answered", "completed"}:
            runner.advance(int(current.get("timeout") or 60) if outcome == "no-answer" else 2)
            with self.state.lock:  # a cancel while it rang wins over the far end's outcome
                canceled = self._was_canceled(sid)
                if not canceled:
                    self.state.update_call(sid, status=outcome)
            if canceled:
                self._finish(runner, progress, "canceled")
                return transcript
            transcript.add("dial", f"{to}: {outcome}")
            self._finish(runner, progress, outcome)
            return transcript
        with self.state.lock:  # canceled before it is answered, or answered
            canceled = self._was_canceled(sid)
            if not canceled:
                runner.answer()
        if canceled:
            self._finish(runner, progress, "canceled")
            return transcript
        progress.send("answered", "in-progress")
        if current.get("twiml"):
            document = str(current["twiml"]).encode()
            try:
                parse_document(document, warnings=[])  # warnings are logged as it runs
            except TwiMLProblem as problem:
                transcript.add("error", f"the call's TwiML is invalid: {problem}")
                self._finish(runner, progress, "failed")
                return transcript
            status = runner.run(Fetch(url or self.api_base_url or "http://localhost/",
                                      purpose="twiml", document=document))
        elif url:
            status = runner.run(Fetch(url, method, purpose="voice"))
        else:
            transcript.add("error", "the call has no Url, ApplicationSid or Twiml")
            status = "failed"
        self._finish(runner, progress, status)
        return transcript

    def _was_canceled(self, sid: str) -> bool:
        """Whether the REST side canceled call ``sid`` (``Status=canceled``, or ``completed``
        before it was answered)."""
        return (self.state.get("calls", sid) or {}).get("status") == "canceled"

    def _dialing(self, runner: CallRunner, stage: str) -> bool:
        """Move an outbound call on to ``stage`` (``initiated``, ``ringing``); False, and the
        call left as it is, when the REST side canceled it first."""
        with self.state.lock:
            if self._was_canceled(runner.ctx.call_sid):
                return False
            self.state.update_call(runner.ctx.call_sid, status=stage)
        runner.ctx.call_status = stage
        return True

    def _runner(self, call: dict[str, Any], transcript: Transcript, script: CallScript, *,
                call_status: str, fallback_url: str | None = None,
                fallback_method: str = "POST") -> CallRunner:
        account_sid = call["account_sid"]
        ctx = CallContext(
            state=self.state,
            call_sid=call["sid"],
            account_sid=account_sid,
            auth_token=self.state.auth_token_for(account_sid),
            from_=call.get("from") or "",
            to=call.get("to") or "",
            direction=call.get("direction") or "inbound",
            script=script,
            transcript=transcript,
            client=self.new_client(),
            callbacks=self.new_client(),
            fallback_url=fallback_url or call.get("fallback_url"),
            fallback_method=fallback_method or call.get("fallback_method") or "POST",
            deliver_message=self.deliver_outbound_message,
            queues=self.queues,
            meetings=self.meetings,
            api_base_url=self.api_base_url,
            time_limit=int(call["time_limit"]) if call.get("time_limit") else None,
            call_status=call_status,
        )
        if call.get("forwarded_from"):
            ctx.extra_params["ForwardedFrom"] = call["forwarded_from"]
        if call.get("parent_call_sid"):
            ctx.extra_params["ParentCallSid"] = call["parent_call_sid"]
        if call.get("caller_name"):
            ctx.extra_params["CallerName"] = call["caller_name"]
        if call.get("machine_detection"):
            ctx.extra_params["AnsweredBy"] = self.answered_by.get(ctx.to, "human")
        runner = CallRunner(ctx)
        with self._lock:
            self._live[ctx.call_sid] = runner
        return runner

    def call_updated(self, call: dict[str, Any]) -> None:
        """The REST side updated ``call``: redirect or hang up the live call, if it is live."""
        with self._lock:
            runner = self._live.get(call["sid"])
        if runner is not None:
            runner.interrupt(call)

    def _finish(self, runner: CallRunner, progress: CallProgress, status: str) -> None:
        """End the call: its resource's final fields, the completed status callback."""
        ctx = runner.ctx
        with self._lock:
            self._live.pop(ctx.call_sid, None)
        answered = ctx.answered and status == "completed"
        seconds = math.ceil(ctx.elapsed) if answered else 0
        if ctx.time_limit:
            seconds = min(seconds, ctx.time_limit)
        ctx.call_status = status
        fields: dict[str, Any] = {"status": status, "duration": str(seconds)}
        if ctx.started_at is not None:
            fields["start_time"] = rfc2822(ctx.started_at)
            fields["end_time"] = rfc2822(ctx.started_at + timedelta(seconds=seconds))
        else:
            fields["start_time"] = None
            ended = self.state.get("calls", ctx.call_sid) or {}
            if ended.get("status") == status and ended.get("end_time"):
                fields["end_time"] = ended["end_time"]  # canceled through the REST API then
        self.state.update_call(ctx.call_sid, **fields)
        extra = {"CallDuration": str(seconds), "Duration": str(math.ceil(seconds / 60)),
                 "SipResponseCode": SIP_RESPONSE_CODES.get(status, "487")}
        call = self.state.get("calls", ctx.call_sid) or {}
        if call.get("record") and answered:
            extra.update(self._record_call(runner, call, seconds))
        progress.send("completed", status, **extra)
        ctx.transcript.status = status
        ctx.transcript.add("status", f"call {status} after {seconds} s")
        ctx.client.close()
        ctx.callbacks.close()
        ctx.transcript.done.set()

    def _record_call(self, runner: CallRunner, call: dict[str, Any], seconds: int
                     ) -> dict[str, str]:
        """A call placed with ``Record=true``: its recording, and the recording callback."""
        ctx = runner.ctx
        recording = self.state.create_recording(
            ctx.account_sid, ctx.call_sid, duration=str(seconds), source="OutboundAPI",
            channels=1, status="completed", start_time=rfc2822(ctx.started_at),
        )
        recording_url = absolute_media_url(recording, self.api_base_url)
        if call.get("recording_status_callback"):
            runner.callback("recording-status", call["recording_status_callback"],
                            call.get("recording_status_callback_method") or "POST", {
                                "AccountSid": ctx.account_sid, "CallSid": ctx.call_sid,
                                "RecordingSid": recording["sid"], "RecordingUrl": recording_url,
                                "RecordingStatus": "completed",
                                "RecordingDuration": str(seconds), "RecordingChannels": "1",
                                "RecordingSource": "OutboundAPI",
                                "RecordingStartTime": rfc2822(ctx.started_at),
                                "RecordingTrack": "both", "ErrorCode": "0",
                            })
        return {"RecordingUrl": recording_url, "RecordingSid": recording["sid"],
                "RecordingDuration": str(seconds)}

    def report(self, transcript: Transcript, *, verbose: bool = False,
               timeout: float = 20) -> list[str]:
        """The lines ``switchboard simulate`` prints after a call or SMS: the delivery status of
        each message sent, every HTTP exchange (``verbose``), the errors. Waits (up to
        ``timeout``) for the background deliveries first."""
        lines = []
        if not self.wait_idle(timeout):
            lines.append("  (some status callbacks are still pending)")
        sent = [(m, self.transcript(m.get("sid", ""))) for m in transcript.messages]
        for message, delivery in sent:
            if delivery is not None and delivery.status:
                lines.append(f"  Message {message['sid']} to {message.get('to')}: "
                             f"{delivery.status}")
        if verbose:
            lines.append("HTTP exchanges:")
            requests_made = list(transcript.requests)
            for _message, delivery in sent:
                if delivery is not None:
                    requests_made.extend(delivery.requests)
            for request in requests_made:
                lines.extend(render_request(request))
        if transcript.error_codes:
            codes = ", ".join(str(c) for c in transcript.error_codes)
            lines.append(f"Errors (as Twilio's debugger would log them): {codes}")
        return lines

    # -- messages ----------------------------------------------------------------------------

    def deliver_outbound_message(self, message: dict[str, Any]) -> None:
        """Report a sent message's statuses (sent, delivered...), in the background."""
        self._background(f"message-{message['sid']}", lambda: self.messaging.deliver(message))

    def inbound_sms(
        self,
        to: str,
        from_: str,
        body: str,
        media_urls: Iterable[str] = (),
        *,
        on_event: Callable[[Event], None] | None = None,
    ) -> Transcript:
        """Text ``body`` from ``from_`` to the number ``to``; replies are sent as messages."""
        return self.messaging.inbound_sms(to, from_, body, media_urls, on_event=on_event)


__all__ = ["CallProgress", "CallScript", "DialOutcome", "Phone", "Transcript"]


# -- the simulator's endpoints ---------------------------------------------------------------


def script_from_form(form: Any) -> CallScript:
    """A :class:`CallScript` from the simulator endpoint's fields (``Digits`` "1,2#",
    ``Speech`` and ``DialOutcome`` "[NUMBER=]OUTCOME[:SECONDS]" repeatable, ``RecordSeconds``);
    ValueError naming the field when one is wrong."""
    from switchboard.emulator.script import RecordingTake, check_digits, parse_dial_outcome

    try:
        check_digits(form.get("Digits"))
    except ValueError as error:
        raise ValueError(f"Digits: {error}") from None
    dial: dict[str, DialOutcome] = {}
    for spec in form.getlist("DialOutcome"):
        number, _, outcome = spec.rpartition("=")
        try:
            dial[number or "*"] = parse_dial_outcome(outcome)
        except ValueError as error:
            raise ValueError(f"DialOutcome: {error}") from None
    try:
        seconds = int(form.get("RecordSeconds", "5"))
    except ValueError:
        raise ValueError(f"RecordSeconds: {form.get('RecordSeconds')!r} is not a number") from None
    if not 0 <= seconds <= 3600:
        raise ValueError("RecordSeconds: must be between 0 and 3600")
    return CallScript(form.get("Digits"), speech=form.getlist("Speech"), dial=dial,
                      recording=RecordingTake(duration=seconds, digits="#"))


def simulator_blueprint() -> Any:
    """The endpoints ``switchboard simulate --emulator URL`` drives, to be registered under
    the API root of the emulator's REST app (``/2010-04-01``), with its Basic auth:

    - ``POST /Accounts/{AccountSid}/Simulator/Calls.json`` (``To``, ``From``, ``Digits``,
      ``Speech``, ``DialOutcome``, ``RecordSeconds``, ``StirVerstat``, ``Verbose``): calls the
      number ``To`` of that account from ``From`` and answers when the call is over;
    - ``POST /Accounts/{AccountSid}/Simulator/Messages.json`` (``To``, ``From``, ``Body``,
      ``MediaUrl``, ``Verbose``): texts it.

    Both answer ``{"sid", "status", "lines": [{"request": bool, "text"}], "report": [...],
    "transcript": {...}}``: the lines ``simulate`` prints, in order. The call, its recordings
    and messages are the running emulator's own resources.
    """
    from flask import Blueprint, g, jsonify, request

    from switchboard.emulator.params import APIError, not_found
    from switchboard.emulator.restkit import authenticate, context

    bp = Blueprint("simulator", __name__)
    bp.before_request(authenticate)

    def run(kind: str, account_sid: str) -> Any:
        ctx = context()
        form = request.form
        if not ctx.state.can_access(g.credential_account, account_sid):
            raise not_found(request.path)
        if ctx.phone is None:
            raise APIError(503, 20503, "This emulator has no caller side")
        to, from_ = form.get("To"), form.get("From") or "+15555550100"
        number = ctx.state.find_number(to or "") if to else None
        if number is None or not ctx.state.can_access(account_sid, number["account_sid"]):
            raise APIError(404, 21404, f"To {to!r} is not a number of account {account_sid}")
        lines: list[dict[str, Any]] = []

        def collect(event: Event) -> None:
            is_request, text = event_line(event)
            lines.append({"request": is_request, "text": text})

        if kind == "call":
            try:
                script = script_from_form(form)
            except ValueError as error:
                raise APIError(400, 21100, str(error)) from None
            verstat = form.get("StirVerstat") or None
            if verstat is not None and verstat not in STIR_VERSTATS:
                raise APIError(400, 21100, f"StirVerstat: {verstat!r} is not one of "
                                           f"{', '.join(STIR_VERSTATS)}")
            transcript = ctx.phone.inbound_call(to, from_, script=script, on_event=collect,
                                                stir_verstat=verstat)
        else:
            transcript = ctx.phone.inbound_sms(to, from_, form.get("Body") or "",
                                               form.getlist("MediaUrl"), on_event=collect)
        verbose = (form.get("Verbose") or "").lower() == "true"
        return jsonify({
            "sid": transcript.sid,
            "status": transcript.status,
            "lines": lines,
            "report": ctx.phone.report(transcript, verbose=verbose),
            "transcript": transcript.to_dict(),
        })

    @bp.post("/Accounts/<account_sid>/Simulator/Calls.json")
    def simulate_call(account_sid: str) -> Any:
        return run("call", account_sid)

    @bp.post("/Accounts/<account_sid>/Simulator/Messages.json")
    def simulate_sms(account_sid: str) -> Any:
        return run("sms", account_sid)

    return bp
