"""Running a call's TwiML verb by verb, as Twilio does.

:class:`CallRunner` fetches a document, runs its verbs in order and follows the requests they
make (a Gather's action, a Redirect...) until the call ends. Time is simulated: a Pause, a
Gather's timeout, a recording or a bridged Dial advance the call's clock without sleeping, so a
ten-minute call runs in milliseconds and its durations are still what Twilio would report.

Documents that cannot be fetched or run trigger the fallback URL with ``ErrorCode`` and
``ErrorUrl``; with no fallback the caller hears "An application error has occurred." and the
call ends.
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from lxml import etree

from switchboard.callbacks.twiml import TwiMLError, parse_twiml
from switchboard.callbacks.twiml_vocabulary import MESSAGING_RESPONSE, VOICE_RESPONSE
from switchboard.emulator.resources import API_VERSION, new_sid, now, rfc2822
from switchboard.emulator.script import CallScript, DialOutcome
from switchboard.emulator.transcript import Transcript
from switchboard.emulator.webhooks import (
    DOCUMENT_PARSE_FAILURE,
    INVALID_CONTENT_TYPE,
    SCHEMA_VALIDATION_WARNING,
    WebhookClient,
    WebhookResponse,
    error_document_kind,
)

if TYPE_CHECKING:
    from switchboard.emulator.state import EmulatorState

APPLICATION_ERROR = "An application error has occurred."
#: A call's final SIP response, by its final status (``SipResponseCode`` on completion):
#: 200 answered, 486 busy, 487 not answered or canceled, 404 failed (the number not found).
SIP_RESPONSE_CODES = {
    "completed": "200", "busy": "486", "no-answer": "487", "canceled": "487", "failed": "404",
}
#: A notification's ``log``: Twilio's levels for an error and a warning.
ERROR_LOG, WARNING_LOG = "0", "1"
#: Twilio's warning for a ``<Message>`` with no body and no media, or a body too long.
INVALID_BODY = 14103
MAX_MESSAGE_CHARS = 1600
MAX_DOCUMENTS = 100
MAX_CALL_SECONDS = 4 * 3600
#: ``loop="0"`` on a Say or Play: until the call ends, or this many times.
LOOP_FOREVER = 1000

VOICE_VERBS = frozenset({
    "Say", "Play", "Pause", "Gather", "Record", "Dial", "Redirect", "Hangup", "Reject", "Sms",
    "Message", "Enqueue", "Leave", "Connect", "Refer", "Pay", "Prompt", "Start", "Stop", "Echo",
})
MESSAGING_VERBS = frozenset({"Message", "Redirect", "Sms"})
#: Voice verbs Twilio knows that the emulator does not act out: noted and skipped. (Of
#: ``<Start>`` and ``<Stop>``, only ``<Recording>`` is acted out.)
UNSIMULATED = frozenset({"Connect", "Refer", "Pay", "Prompt", "Echo"})
#: The ``RecordingSource`` of a recording ``<Start><Recording>`` made: the closest of the
#: sources Twilio's API lists (it has none for TwiML).
CALL_RECORDING_SOURCE = "StartCallRecordingAPI"

#: Characters XML text cannot hold (a plain-text answer is spoken without them).
_NOT_XML_TEXT = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)


class TwiMLProblem(Exception):
    """A document that cannot be run (12100, an unknown verb, 12300...), or, in a list of
    warnings, one Twilio runs anyway (12200)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_document(body: bytes, verbs: frozenset[str] = VOICE_VERBS,
                   warnings: list[TwiMLProblem] | None = None) -> etree._Element:
    """The ``<Response>`` root of ``body``; :class:`TwiMLProblem` when it is not runnable TwiML.

    Not well-formed or not a ``<Response>`` is 12100, and so is an unknown verb (code 12200):
    Twilio cannot run either. :func:`switchboard.callbacks.twiml.parse_twiml` then checks every
    verb, noun
    and attribute, and each attribute value is checked against the values Twilio documents:
    what is found there (an unknown attribute, a value such as ``timeout="abc"``, an
    unexpected nested element, 12200) is only a warning, as in Twilio, which logs it and runs
    the document: it is added to ``warnings`` (raised when ``warnings`` is None).
    """
    if not body.strip():
        raise TwiMLProblem(DOCUMENT_PARSE_FAILURE, "the document is empty")
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise TwiMLProblem(DOCUMENT_PARSE_FAILURE, f"not well-formed XML: {exc}") from None
    if root.tag != "Response":
        raise TwiMLProblem(DOCUMENT_PARSE_FAILURE, f"the root element is <{root.tag}>")
    for child in root:
        if not isinstance(child.tag, str):
            continue
        if child.tag not in verbs:
            raise TwiMLProblem(SCHEMA_VALIDATION_WARNING, f"unknown verb <{child.tag}>")
    try:
        parse_twiml(body)
    except TwiMLError as exc:
        problem = TwiMLProblem(exc.code or SCHEMA_VALIDATION_WARNING, str(exc))
        if problem.code != SCHEMA_VALIDATION_WARNING or warnings is None:
            raise problem from None
        warnings.append(problem)
    for problem in _value_warnings(root, verbs):
        if warnings is None:
            raise problem
        warnings.append(problem)
    return root


def _value_warnings(root: etree._Element, verbs: frozenset[str]) -> list[TwiMLProblem]:
    """12200 for each attribute whose value is not one Twilio documents (``<Gather
    timeout="abc">``): Twilio's schema check warns of it, and the verb runs with its default."""
    spec = MESSAGING_RESPONSE if verbs == MESSAGING_VERBS else VOICE_RESPONSE
    problems = []
    pending = [(root, spec)]
    while pending:
        element, element_spec = pending.pop()
        for child in element:
            if not isinstance(child.tag, str):
                continue
            child_spec = element_spec.children.get(child.tag)
            if child_spec is None:
                continue
            for name, value in child.attrib.items():
                rule = child_spec.values.get(name)
                if rule is not None and not rule.accepts(value):
                    problems.append(TwiMLProblem(
                        SCHEMA_VALIDATION_WARNING,
                        f"<{child.tag} {name}={value!r}>: Twilio takes {rule.allowed}",
                    ))
            pending.append((child, child_spec))
    return problems


def interpret(response: WebhookResponse, verbs: frozenset[str] = VOICE_VERBS,
              warnings: list[TwiMLProblem] | None = None) -> etree._Element:
    """A successful answer as a runnable document, by its content type (see webhooks.md).

    TwiML types are parsed; ``text/plain`` is parsed, or spoken when it is not TwiML; audio is
    played and the call ends. Raises :class:`TwiMLProblem` for 12100/12200/12300, or adds a
    12200 Twilio runs anyway to ``warnings`` (see :func:`parse_document`).
    """
    kind = error_document_kind(response.content_type)
    if kind == "twiml":
        return parse_document(response.body, verbs, warnings)
    if kind == "maybe-twiml":
        try:
            return parse_document(response.body, verbs, warnings)
        except TwiMLProblem:
            root = etree.Element("Response")
            etree.SubElement(root, "Say").text = _NOT_XML_TEXT.sub("", response.text).strip()
            return root
    if kind == "audio":
        root = etree.Element("Response")
        etree.SubElement(root, "Play").text = response.final_url or response.url
        etree.SubElement(root, "Hangup")
        return root
    raise TwiMLProblem(
        INVALID_CONTENT_TYPE, f"Content-Type {response.content_type or '(none)'} is not TwiML"
    )


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def int_attr(element: etree._Element, name: str, default: int) -> int:
    """An integer attribute, ``default`` when it is not one; no bigger than a call can last."""
    try:
        value = int(element.get(name, default))
    except (TypeError, ValueError):
        return default
    return max(-MAX_CALL_SECONDS, min(value, MAX_CALL_SECONDS))


def country_of(number: str) -> str:
    return "US" if number.startswith("+1") else ""


def geography(prefixes: tuple[str, ...], number: str) -> dict[str, str]:
    """The geographic fields Twilio adds for a number (the emulator knows only the country):
    ``{Prefix}City``, ``{Prefix}State``, ``{Prefix}Zip`` (empty) and ``{Prefix}Country``."""
    fields: dict[str, str] = {}
    for prefix in prefixes:
        fields.update({f"{prefix}City": "", f"{prefix}State": "", f"{prefix}Zip": "",
                       f"{prefix}Country": country_of(number)})
    return fields


@dataclass
class QueueEntry:
    """A caller waiting in a queue; ``bridged`` is set when an agent dequeues them."""

    call_sid: str
    bridged: threading.Event = field(default_factory=threading.Event)
    agent_call_sid: str | None = None
    talk: int = 0


class QueueBoard:
    """The emulator's queues: their SIDs and the callers waiting in them (thread-safe).

    A call in ``<Enqueue>`` waits here; a concurrent call's ``<Dial><Queue>`` takes the first
    caller waiting and bridges with them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sids: dict[str, str] = {}
        self._waiting: dict[str, list[QueueEntry]] = {}

    def sid(self, name: str) -> str:
        with self._lock:
            return self._sids.setdefault(name, new_sid("QU"))

    def join(self, name: str, call_sid: str) -> tuple[QueueEntry, int]:
        """Add a caller; the entry and its position (from 1)."""
        entry = QueueEntry(call_sid)
        with self._lock:
            queue = self._waiting.setdefault(name, [])
            queue.append(entry)
            return entry, len(queue)

    def leave(self, name: str, entry: QueueEntry) -> bool:
        """Take a caller out; False when an agent dequeued them first."""
        with self._lock:
            queue = self._waiting.get(name, [])
            if entry in queue:
                queue.remove(entry)
                return True
            return False

    def dequeue(self, name: str) -> QueueEntry | None:
        """The first caller waiting in ``name`` (removed), or None."""
        with self._lock:
            queue = self._waiting.get(name, [])
            return queue.pop(0) if queue else None

    def size(self, name: str) -> int:
        with self._lock:
            return len(self._waiting.get(name, []))


class MeetingBoard:
    """How many participants each conference has had at once, so that callers scripted to wait
    for one another (``CallScript.conference_participants``) meet even when the last to
    join leaves at once."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._peak: dict[str, int] = {}

    def joined(self, conference_sid: str, count: int) -> None:
        with self._changed:
            self._peak[conference_sid] = max(self._peak.get(conference_sid, 0), count)
            self._changed.notify_all()

    def wait_for(self, conference_sid: str, count: int, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(
                lambda: self._peak.get(conference_sid, 0) >= count, timeout
            )


@dataclass
class Fetch:
    """A document to request next: from a verb's action, a Redirect, or the call's start."""

    url: str
    method: str = "POST"
    params: dict[str, str] = field(default_factory=dict)
    purpose: str = "action"
    ends_call: bool = False  # request it, but the caller has hung up: do not run the answer
    document: bytes | None = None  # TwiML given inline (a REST update's Twiml): no request


@dataclass
class CallRecording:
    """A recording of the whole call that ``<Start><Recording>`` started, until
    ``<Stop><Recording name>`` or the end of the call: its resource, when it started (the
    call's clock) and where its status callbacks go."""

    name: str
    sid: str
    started: float
    start_time: Any
    channels: int
    callback: str | None = None
    method: str = "POST"
    events: frozenset[str] = frozenset({"completed"})


@dataclass
class CallContext:
    """What the runner needs to know about one call leg."""

    state: EmulatorState
    call_sid: str
    account_sid: str
    auth_token: str = field(repr=False)
    from_: str
    to: str
    direction: str
    script: CallScript
    transcript: Transcript
    client: WebhookClient
    callbacks: WebhookClient
    fallback_url: str | None = None
    fallback_method: str = "POST"
    extra_params: dict[str, str] = field(default_factory=dict)
    deliver_message: Callable[[dict[str, Any]], None] | None = None
    queues: QueueBoard = field(default_factory=QueueBoard)
    meetings: MeetingBoard = field(default_factory=MeetingBoard)
    api_base_url: str = ""
    time_limit: int | None = None  # seconds (a REST call's TimeLimit)
    call_status: str = "ringing"
    answered: bool = False
    elapsed: float = 0.0  # simulated seconds since the call was answered
    started_at: Any = None


class CallRunner:
    """Runs one call's TwiML until the call ends; returns the final call status."""

    def __init__(self, ctx: CallContext) -> None:
        self.ctx = ctx
        self.final_status = "completed"
        self.ended = False
        self._recording_status_pending: list[Callable[[], None]] = []
        self._call_recordings: dict[str, CallRecording] = {}
        self._unnamed_recordings = 0
        self._update: dict[str, Any] | None = None
        self._prompting = False  # playing a Gather's prompt or a queue's hold music

    def interrupt(self, call: dict[str, Any]) -> None:
        """A REST update of the live call (``redirect`` or a final ``status``): acted on before
        the next verb."""
        self._update = call

    def _take_update(self) -> Fetch | None:
        """The document a REST update redirects to; ends the call when it was hung up."""
        update, self._update = self._update, None
        if update is None:
            return None
        if update.get("status") in {"completed", "canceled"}:
            self.ctx.transcript.add("hangup", "the call was ended through the REST API")
            self.ended = True
            return None
        redirect = update.get("redirect") or {}
        if redirect.get("twiml"):
            self.ctx.transcript.add("redirect", "new TwiML through the REST API")
            return Fetch("", purpose="update", document=str(redirect["twiml"]).encode())
        if redirect.get("url"):
            self.ctx.transcript.add("redirect", f"{redirect['url']} (through the REST API)")
            return Fetch(redirect["url"], redirect.get("method") or "POST", purpose="update")
        return None

    # -- parameters --------------------------------------------------------------------------

    def base_params(self) -> dict[str, str]:
        ctx = self.ctx
        params = {
            "AccountSid": ctx.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": ctx.call_sid,
            "CallStatus": ctx.call_status,
            "Called": ctx.to,
            "Caller": ctx.from_,
            "Direction": ctx.direction,
            "From": ctx.from_,
            "To": ctx.to,
            **geography(("Caller", "From"), ctx.from_),
            **geography(("Called", "To"), ctx.to),
        }
        params.update(ctx.extra_params)
        return params

    def advance(self, seconds: float) -> None:
        """Move the call's clock on; a call never lasts longer than Twilio's 4 hours."""
        self.ctx.elapsed = min(self.ctx.elapsed + max(seconds, 0), MAX_CALL_SECONDS)

    def answer(self) -> None:
        ctx = self.ctx
        if not ctx.answered:
            ctx.answered = True
            ctx.call_status = "in-progress"
            ctx.started_at = now()
            ctx.state.update_call(
                ctx.call_sid, status="in-progress", start_time=rfc2822(ctx.started_at)
            )

    # -- the main loop ----------------------------------------------------------------------

    def run(self, first: Fetch) -> str:
        """Follow documents from ``first`` until the call ends; the final call status."""
        pending: Fetch | None = first
        documents = 0
        while pending is not None and (pending.ends_call or not self.ended):
            documents += 1
            if documents > MAX_DOCUMENTS or self.ctx.elapsed >= MAX_CALL_SECONDS:
                self.ctx.transcript.add(
                    "error", "The call went on too long (100 documents or 4 hours); hanging up."
                )
                break
            if pending.document is not None:
                warnings: list[TwiMLProblem] = []
                try:
                    fetched = parse_document(pending.document, warnings=warnings), pending.url
                except TwiMLProblem as problem:
                    self.ctx.transcript.add("error", f"invalid TwiML: {problem}")
                    fetched = None
                for warning in warnings:
                    self._warn(None, warning)
            else:
                fetched = self.fetch_document(pending)
            self._flush_recording_callbacks()
            if pending.ends_call:
                break
            if fetched is None:
                break
            root, doc_url = fetched
            pending = self.execute(root, doc_url)
        for name in list(self._call_recordings):
            self._stop_call_recording(name, "the call ended")
        self._flush_recording_callbacks()
        return self.final_status

    def fetch_document(self, fetch: Fetch) -> tuple[etree._Element, str] | None:
        """Request ``fetch``; on failure the fallback URL; None when the call must end."""
        ctx = self.ctx
        params = {**self.base_params(), **fetch.params}
        response = ctx.client.fetch(fetch.url, params, auth_token=ctx.auth_token,
                                    method=fetch.method)
        ctx.transcript.add_request(fetch.purpose, response)
        if fetch.ends_call:
            return None
        root, problem = self._runnable(response)
        if root is not None:
            return root, response.final_url or response.url
        assert problem is not None
        self._notify(response, problem)
        if ctx.fallback_url:
            fallback_params = {**params, "ErrorCode": str(problem.code), "ErrorUrl": response.url}
            fallback = ctx.client.fetch(ctx.fallback_url, fallback_params,
                                        auth_token=ctx.auth_token, method=ctx.fallback_method)
            ctx.transcript.add_request("fallback", fallback)
            root, second = self._runnable(fallback)
            if root is not None:
                return root, fallback.final_url or fallback.url
            assert second is not None
            self._notify(fallback, second)
        self.answer()
        ctx.transcript.add("error", APPLICATION_ERROR, code=problem.code)
        self.advance(3)
        return None

    def _runnable(self, response: WebhookResponse
                  ) -> tuple[etree._Element | None, TwiMLProblem | None]:
        """The document of a good answer, or the problem (its code noted on ``response``)."""
        if not response.ok:
            return None, TwiMLProblem(response.error_code or 11200, response.error_message)
        warnings: list[TwiMLProblem] = []
        try:
            root = interpret(response, warnings=warnings)
        except TwiMLProblem as problem:
            response.error_code = problem.code
            response.error_message = str(problem)
            self.ctx.transcript.error_codes.append(problem.code)
            return None, problem
        for warning in warnings:
            self._warn(response, warning)
        return root, None

    def _warn(self, response: WebhookResponse | None, warning: TwiMLProblem) -> None:
        """A warning Twilio logs and runs the document anyway (12200)."""
        self.ctx.transcript.error_codes.append(warning.code)
        self.ctx.transcript.add("warning", f"warning {warning.code}: {warning}", code=warning.code)
        self._notify(response, warning, log=WARNING_LOG)

    def _notify(self, response: WebhookResponse | None, problem: TwiMLProblem,
                log: str = ERROR_LOG) -> None:
        """Record the error as Twilio's debugger would (a notification resource)."""
        request = {} if response is None else {
            "request_url": response.url, "request_method": response.method,
            "response_body": response.text[:2000],
        }
        with contextlib.suppress(AttributeError, KeyError):
            self.ctx.state.create_notification(
                self.ctx.account_sid,
                self.ctx.call_sid,
                error_code=str(problem.code),
                log=log,
                message_text=str(problem),
                **request,
            )

    # -- verbs ---------------------------------------------------------------------------------

    def execute(self, root: etree._Element, doc_url: str) -> Fetch | None:
        """Run the verbs of ``root``; the next document to fetch, or None when the call ends."""
        first = True
        for verb in root:
            if not isinstance(verb.tag, str):
                continue
            redirected = self._take_update()
            if redirected is not None or self.ended:
                return redirected
            limit = min(self.ctx.time_limit or MAX_CALL_SECONDS, MAX_CALL_SECONDS)
            if self.ctx.elapsed >= limit:
                self.ctx.transcript.add("hangup", f"the time limit ({limit} s) was reached")
                self.ended = True
                return None
            if verb.tag == "Reject":
                self.reject(verb, first)
                return None
            self.answer()
            first = False
            handler = getattr(self, f"verb_{verb.tag.lower()}", None)
            if handler is None:
                self.ctx.transcript.add("unsupported", f"<{verb.tag}> is not simulated; skipped")
                continue
            outcome = handler(verb, doc_url)
            if isinstance(outcome, Fetch):
                return outcome
            if self.ended:
                return None
        if first:
            self.answer()
        self.ended = True
        self.ctx.transcript.add("end", "The document ended; the call hangs up.")
        return None

    def resolve(self, url: str | None, doc_url: str) -> str:
        return urljoin(doc_url, url.strip()) if url and url.strip() else doc_url

    def verb_say(self, verb: etree._Element, _doc_url: str) -> None:
        text = " ".join("".join(verb.itertext()).split())
        loop = self._loop(verb)
        times = f" (x{loop})" if loop > 1 else ""
        self.ctx.transcript.add("say", text + times, voice=verb.get("voice"),
                                language=verb.get("language"))
        words = max(len(text.split()), 1)
        self.advance(math.ceil(words / 2.5) * max(loop, 1))

    def verb_play(self, verb: etree._Element, _doc_url: str) -> None:
        if verb.get("digits"):
            self.ctx.transcript.add("play", f"DTMF tones {verb.get('digits')}")
            self.advance(1)
            return
        url = (verb.text or "").strip()
        loop = self._loop(verb)
        self.ctx.transcript.add("play", url + (f" (x{loop})" if loop > 1 else ""))
        self.advance(5 * max(loop, 1))

    def _loop(self, verb: etree._Element) -> int:
        """How many times a Say or Play is heard: ``loop="0"`` repeats it 1,000 times, unless
        it prompts a Gather or plays to a queue's caller (who stops it by answering or leaving)."""
        loop = int_attr(verb, "loop", 1)
        if loop == 0:
            return 1 if self._prompting else LOOP_FOREVER
        return max(loop, 1)

    def verb_pause(self, verb: etree._Element, _doc_url: str) -> None:
        length = int_attr(verb, "length", 1)
        self.ctx.transcript.add("pause", f"{length} s")
        self.advance(length)

    def verb_hangup(self, _verb: etree._Element, _doc_url: str) -> None:
        self.ctx.transcript.add("hangup")
        self.ended = True

    def verb_leave(self, _verb: etree._Element, _doc_url: str) -> None:
        """Outside a queue's wait music, ``<Leave>`` does nothing."""

    def reject(self, verb: etree._Element, first: bool) -> None:
        reason = verb.get("reason", "rejected")
        self.ctx.transcript.add("reject", reason)
        self.ended = True
        if first and not self.ctx.answered:
            self.final_status = "busy" if reason == "busy" else "no-answer"

    def verb_redirect(self, verb: etree._Element, doc_url: str) -> Fetch:
        url = self.resolve(verb.text, doc_url)
        self.ctx.transcript.add("redirect", url)
        return Fetch(url, verb.get("method", "POST"), purpose="redirect")

    def verb_gather(self, verb: etree._Element, doc_url: str) -> Fetch | None:
        ctx = self.ctx
        for child in verb:
            if not isinstance(child.tag, str):
                continue
            handler = getattr(self, f"verb_{child.tag.lower()}", None)
            if child.tag in {"Say", "Play", "Pause"} and handler is not None:
                self._prompting = True
                try:
                    handler(child, doc_url)
                finally:
                    self._prompting = False
        modes = set((verb.get("input") or "dtmf").lower().split())
        dtmf, speech = "dtmf" in modes, "speech" in modes
        finish_on_key = verb.get("finishOnKey", "#")
        num_digits = int_attr(verb, "numDigits", 0)
        timeout = int_attr(verb, "timeout", 5)
        given = ctx.script.gather(dtmf=dtmf, speech=speech)
        params: dict[str, str] = {}
        if given.digits:
            digits, finished = _cut_digits(given.digits, finish_on_key, num_digits)
            ctx.transcript.add("input", f"pressed {given.digits}")
            self.advance(len(given.digits))
            if digits:
                params = {"Digits": digits, "FinishedOnKey": finished, "msg": "Gather End"}
        elif given.speech:
            ctx.transcript.add("input", f'said "{given.speech}"')
            params = {
                "SpeechResult": given.speech,
                "Confidence": f"{given.confidence:.2f}",
                "Language": verb.get("language", "en-US"),
            }
            self.advance(max(len(given.speech.split()) / 2.5, 1))
        if not params:
            ctx.transcript.add("no-input", f"no input ({timeout} s)")
            self.advance(timeout)
            if not truthy(verb.get("actionOnEmptyResult")):
                return None
            params = {"Digits": ""} if dtmf else {"SpeechResult": "", "Confidence": "0"}
        if not dtmf and "Digits" in params:
            params.pop("Digits")
        return Fetch(self.resolve(verb.get("action"), doc_url), verb.get("method", "POST"),
                     params, purpose="gather")

    def verb_record(self, verb: etree._Element, doc_url: str) -> Fetch | None:
        ctx = self.ctx
        take = ctx.script.take_recording()
        max_length = int_attr(verb, "maxLength", 3600)
        duration = max(0, min(take.duration, max_length if max_length > 0 else take.duration))
        if truthy(verb.get("playBeep", "true")):
            ctx.transcript.add("play", "(beep)")
        if duration == 0:
            timeout = int_attr(verb, "timeout", 5)
            ctx.transcript.add("no-input", f"silence ({timeout} s): nothing recorded")
            self.advance(timeout)
            return None
        start = now() + timedelta(seconds=ctx.elapsed)
        recording = ctx.state.create_recording(
            ctx.account_sid, ctx.call_sid, duration=str(duration), source="RecordVerb",
            channels=1, status="completed", start_time=rfc2822(start),
        )
        recording_url = absolute_media_url(recording, ctx.api_base_url)
        digits = take.digits or "hangup"
        ctx.transcript.add(
            "record", f"{duration} s recorded ({recording['sid']}), ended by {digits}",
            recording=recording,
        )
        self.advance(duration)
        callback = verb.get("recordingStatusCallback")
        if callback:
            events = set((verb.get("recordingStatusCallbackEvent") or "completed")
                         .replace(",", " ").split())
            method = verb.get("recordingStatusCallbackMethod", "POST")
            self._recording_status_pending.append(lambda: self.send_recording_status(
                self.resolve(callback, doc_url), method, recording, recording_url, events,
                start,
            ))
        if truthy(verb.get("transcribe")) or verb.get("transcribeCallback"):
            self._transcribe(verb, doc_url, recording, recording_url)
        params = {
            "RecordingUrl": recording_url,
            "RecordingDuration": str(duration),
            "RecordingSid": recording["sid"],
            "Digits": digits,
        }
        if digits == "hangup":
            self.ended = True
            ctx.call_status = "completed"
            ctx.transcript.add("hangup", "the caller hung up after recording")
        return Fetch(self.resolve(verb.get("action"), doc_url), verb.get("method", "POST"),
                     params, purpose="record", ends_call=digits == "hangup")

    def send_recording_status(self, url: str, method: str, recording: dict[str, Any],
                              recording_url: str, events: set[str], start: Any) -> None:
        ctx = self.ctx
        base = {
            "AccountSid": ctx.account_sid,
            "CallSid": ctx.call_sid,
            "RecordingSid": recording["sid"],
            "RecordingUrl": recording_url,
            "RecordingChannels": "1",
            "RecordingSource": "RecordVerb",
            "RecordingStartTime": rfc2822(start),
            "RecordingTrack": "both",
        }
        if "in-progress" in events:
            self.callback("recording-status", url, method,
                          {**base, "RecordingStatus": "in-progress", "RecordingDuration": "-1"})
        if "completed" in events:
            self.callback("recording-status", url, method, {
                **base, "RecordingStatus": "completed",
                "RecordingDuration": str(recording.get("duration", "0")), "ErrorCode": "0",
            })

    def _flush_recording_callbacks(self) -> None:
        pending, self._recording_status_pending = self._recording_status_pending, []
        for send in pending:
            send()

    def _transcribe(self, verb: etree._Element, doc_url: str, recording: dict[str, Any],
                    recording_url: str) -> None:
        ctx = self.ctx
        text = "(transcription of the simulated recording)"
        transcription = ctx.state.create_transcription(
            ctx.account_sid, recording["sid"], duration=str(recording.get("duration", "0")),
            transcription_text=text, status="completed",
        )
        if verb.get("transcribeCallback"):
            url = self.resolve(verb.get("transcribeCallback"), doc_url)
            self._recording_status_pending.append(lambda: self.callback(
                "transcription", url, "POST", {
                    **self.base_params(),
                    "TranscriptionSid": transcription["sid"],
                    "TranscriptionText": text,
                    "TranscriptionStatus": "completed",
                    "TranscriptionUrl": ctx.state.base_url + transcription["uri"].removesuffix(
                        ".json"),
                    "RecordingSid": recording["sid"],
                    "RecordingUrl": recording_url,
                }))

    def verb_start(self, verb: etree._Element, doc_url: str) -> None:
        """``<Start><Recording>`` starts recording the call (its other nouns are skipped)."""
        for noun in verb:
            if not isinstance(noun.tag, str):
                continue
            if noun.tag == "Recording":
                self._start_call_recording(noun, doc_url)
            else:
                self.ctx.transcript.add("unsupported",
                                        f"<Start><{noun.tag}> is not simulated; skipped")

    def verb_stop(self, verb: etree._Element, _doc_url: str) -> None:
        """``<Stop><Recording name>`` stops the recording started with that name."""
        for noun in verb:
            if not isinstance(noun.tag, str):
                continue
            if noun.tag != "Recording":
                self.ctx.transcript.add("unsupported",
                                        f"<Stop><{noun.tag}> is not simulated; skipped")
                continue
            name = noun.get("name") or ""
            if not name:
                self.ctx.transcript.add(
                    "record", "<Stop><Recording> without a name stops nothing (only a "
                    "recording started with a name can be stopped by name)")
            elif name not in self._call_recordings:
                self.ctx.transcript.add(
                    "record", f"no call recording named {name} is going on; nothing stopped")
            else:
                self._stop_call_recording(name, "stopped")

    def _start_call_recording(self, noun: etree._Element, doc_url: str) -> None:
        ctx = self.ctx
        name = noun.get("name") or ""
        if name in self._call_recordings:
            ctx.transcript.add("record", f"call recording {name} is going on already; "
                               "not started again")
            return
        if not name:
            self._unnamed_recordings += 1
            name = f"#{self._unnamed_recordings}"
        channels = 1 if (noun.get("channels") or "dual").lower() == "mono" else 2
        start = now() + timedelta(seconds=ctx.elapsed)
        recording = ctx.state.create_recording(
            ctx.account_sid, ctx.call_sid, duration="0", source=CALL_RECORDING_SOURCE,
            channels=channels, status="in-progress", start_time=rfc2822(start),
            track=noun.get("track") or "both",
        )
        callback = noun.get("recordingStatusCallback")
        events = frozenset((noun.get("recordingStatusCallbackEvent") or "completed")
                           .replace(",", " ").split())
        running = CallRecording(
            name, recording["sid"], ctx.elapsed, start, channels,
            self.resolve(callback, doc_url) if callback else None,
            noun.get("recordingStatusCallbackMethod", "POST"), events,
        )
        self._call_recordings[name] = running
        ctx.transcript.add("record", f"call recording {name} started ({recording['sid']})",
                           recording=recording)
        if running.callback and "in-progress" in events:
            self._recording_status_pending.append(
                lambda: self._call_recording_status(running, "in-progress", -1))

    def _stop_call_recording(self, name: str, why: str) -> None:
        ctx = self.ctx
        running = self._call_recordings.pop(name)
        duration = max(round(ctx.elapsed - running.started), 0)
        recording = ctx.state.update("recordings", running.sid, status="completed",
                                     duration=str(duration))
        ctx.transcript.add("record", f"call recording {name} {why}: {duration} s recorded "
                           f"({running.sid})", recording=recording)
        if running.callback and "completed" in running.events:
            self._recording_status_pending.append(
                lambda: self._call_recording_status(running, "completed", duration))

    def _call_recording_status(self, running: CallRecording, status: str,
                               duration: int) -> None:
        ctx = self.ctx
        recording = ctx.state.get("recordings", running.sid) or {}
        assert running.callback is not None
        params = {
            "AccountSid": ctx.account_sid,
            "CallSid": ctx.call_sid,
            "RecordingSid": running.sid,
            "RecordingUrl": absolute_media_url(recording, ctx.api_base_url)
            if recording else "",
            "RecordingStatus": status,
            "RecordingDuration": str(duration),
            "RecordingChannels": str(running.channels),
            "RecordingSource": CALL_RECORDING_SOURCE,
            "RecordingStartTime": rfc2822(running.start_time),
            "RecordingTrack": recording.get("track") or "both",
        }
        if status == "completed":
            params["ErrorCode"] = "0"
        self.callback("recording-status", running.callback, running.method, params)

    def verb_dial(self, verb: etree._Element, doc_url: str) -> Fetch | None:
        ctx = self.ctx
        nouns = [c for c in verb if isinstance(c.tag, str)]
        conference = next((c for c in nouns if c.tag == "Conference"), None)
        if conference is not None:
            return self.conference(verb, conference, doc_url)
        queue = next((c for c in nouns if c.tag == "Queue"), None)
        targets = [(c.tag, " ".join((c.text or "").split()), c) for c in nouns
                   if c.tag in {"Number", "Client", "Sip", "Sim", "Queue", "Application"}]
        if not targets and (verb.text or "").strip():
            targets = [("Number", verb.text.strip(), None)]
        timeout = int_attr(verb, "timeout", 30)
        caller_id = verb.get("callerId") or ctx.from_
        outcomes = [(tag, number, noun, ctx.script.dial_for(number)) for tag, number, noun
                    in targets]
        answered = next((o for o in outcomes if o[3].answered), None)
        if answered is not None:
            tag, number, noun, outcome = answered
            status = "completed"
        elif outcomes:
            tag, number, noun, outcome = outcomes[0]
            status = outcome.status
        else:
            tag, number, noun, outcome = "Number", "", None, DialOutcome("failed", 0)
            status = "failed"
        time_limit = int_attr(verb, "timeLimit", 14400)
        talk = min(outcome.duration, time_limit) if answered else 0
        if queue is not None:
            return self.dequeue(verb, " ".join((queue.text or "").split()), outcome, talk,
                                doc_url)
        ring = {"busy": 2, "failed": 1, "no-answer": timeout, "canceled": 1}.get(outcome.status, 3)
        child = ctx.state.create_call(
            ctx.account_sid, to=number, from_=caller_id, direction="outbound-dial",
            parent_call_sid=ctx.call_sid, status="ringing",
        )
        child_status = "completed" if answered else status
        start = now() + timedelta(seconds=ctx.elapsed + ring)
        ctx.state.update_call(
            child["sid"], status=child_status,
            start_time=rfc2822(start) if answered else None,
            end_time=rfc2822(start + timedelta(seconds=talk)),
            duration=str(talk),
        )
        what = {"completed": f"answered, talked {talk} s"}.get(status, status)
        ctx.transcript.add("dial", f"{tag.lower()} {number}: {what}", number=number,
                           status=status, call_sid=child["sid"])
        if noun is not None and noun.get("statusCallback"):
            self._child_status_callbacks(noun, doc_url, child["sid"], number, caller_id,
                                         status, talk)
        self.advance(ring + talk)
        recorded = self._record_dial(verb, doc_url, talk, start) if answered else {}
        if not verb.get("action"):
            return None
        params = {
            "DialCallStatus": status,
            "DialCallSid": child["sid"],
            "DialBridged": "true" if answered else "false",
        }
        if answered:
            params["DialCallDuration"] = str(talk)
        params.update(recorded)
        return Fetch(self.resolve(verb.get("action"), doc_url), verb.get("method", "POST"),
                     params, purpose="dial")

    def _record_dial(self, verb: etree._Element, doc_url: str, talk: int, start: Any
                     ) -> dict[str, str]:
        """``<Dial record="record-from-answer"...>``: the recording of the bridged call."""
        ctx = self.ctx
        mode = (verb.get("record") or "do-not-record").lower()
        if mode in {"do-not-record", "false"} or talk <= 0:
            return {}
        channels = 2 if mode.endswith("-dual") else 1
        recording = ctx.state.create_recording(
            ctx.account_sid, ctx.call_sid, duration=str(talk), source="DialVerb",
            channels=channels, status="completed", start_time=rfc2822(start),
        )
        url = absolute_media_url(recording, ctx.api_base_url)
        ctx.transcript.add("record", f"the bridged call was recorded ({recording['sid']})",
                           recording=recording)
        callback = verb.get("recordingStatusCallback")
        if callback:
            method = verb.get("recordingStatusCallbackMethod", "POST")
            self._recording_status_pending.append(lambda: self.callback(
                "recording-status", self.resolve(callback, doc_url), method, {
                    "AccountSid": ctx.account_sid, "CallSid": ctx.call_sid,
                    "RecordingSid": recording["sid"], "RecordingUrl": url,
                    "RecordingStatus": "completed", "RecordingDuration": str(talk),
                    "RecordingChannels": str(channels), "RecordingSource": "DialVerb",
                    "RecordingStartTime": rfc2822(start), "RecordingTrack": "both",
                    "ErrorCode": "0",
                }))
        return {"RecordingUrl": url, "RecordingSid": recording["sid"],
                "RecordingDuration": str(talk)}

    def _child_status_callbacks(self, noun: etree._Element, doc_url: str, child_sid: str,
                                number: str, caller_id: str, status: str, talk: int) -> None:
        """Status callbacks of a dialled leg (``<Number statusCallback=...>``)."""
        ctx = self.ctx
        url = self.resolve(noun.get("statusCallback"), doc_url)
        method = noun.get("statusCallbackMethod", "POST")
        events = set((noun.get("statusCallbackEvent") or "completed").replace(",", " ").split())
        base = {
            "AccountSid": ctx.account_sid, "ApiVersion": API_VERSION, "CallSid": child_sid,
            "ParentCallSid": ctx.call_sid, "From": caller_id, "To": number, "Called": number,
            "Caller": caller_id, "Direction": "outbound-dial",
            "CallbackSource": "call-progress-events",
        }
        progress = [("initiated", "initiated"), ("ringing", "ringing")]
        if status == "completed":
            progress.append(("answered", "in-progress"))
        progress.append(("completed", status))
        sequence = 0
        for event, call_status in progress:
            if event not in events:
                continue
            params = {**base, "CallStatus": call_status, "SequenceNumber": str(sequence),
                      "Timestamp": rfc2822()}
            if event == "completed":
                params.update(CallDuration=str(talk), Duration=str(math.ceil(talk / 60)))
                params["SipResponseCode"] = SIP_RESPONSE_CODES.get(status, "487")
            self.callback("dial-status", url, method, params)
            sequence += 1

    def queue_sid(self, name: str) -> str:
        return self.ctx.queues.sid(name)

    def dequeue(self, verb: etree._Element, name: str, outcome: DialOutcome, talk: int,
                doc_url: str) -> Fetch | None:
        """``<Dial><Queue>``: bridge with the first caller waiting in ``name``, if any."""
        ctx = self.ctx
        entry = ctx.queues.dequeue(name)
        params = {"QueueSid": self.queue_sid(name)}
        if entry is None:
            ctx.transcript.add("dial", f"queue {name}: nobody is waiting", number=name,
                               status="no-answer")
            self.advance(1)
            params.update(DialCallStatus="no-answer", DialBridged="false")
        else:
            talk = talk or outcome.duration
            entry.agent_call_sid, entry.talk = ctx.call_sid, talk
            entry.bridged.set()
            ctx.transcript.add("dial", f"queue {name}: bridged with {entry.call_sid}, talked "
                               f"{talk} s", number=name, status="completed",
                               call_sid=entry.call_sid)
            self.advance(talk)
            params.update(DialCallStatus="completed", DialCallSid=entry.call_sid,
                          DialCallDuration=str(talk), DialBridged="true")
        if not verb.get("action"):
            return None
        return Fetch(self.resolve(verb.get("action"), doc_url), verb.get("method", "POST"),
                     params, purpose="dial")

    def verb_enqueue(self, verb: etree._Element, doc_url: str) -> Fetch | None:
        ctx = self.ctx
        name = " ".join((verb.text or "").split()) or "default"
        queue_sid = self.queue_sid(name)
        entry, position = ctx.queues.join(name, ctx.call_sid)
        ctx.transcript.add("enqueue", f"waiting in queue {name} (position {position})")
        result = ctx.script.queue_outcome
        before = ctx.elapsed
        wait_url = verb.get("waitUrl")
        if wait_url and not entry.bridged.is_set():
            wait_params = {
                "QueueSid": queue_sid, "QueuePosition": str(position), "QueueTime": "0",
                "AvgQueueTime": "0", "CurrentQueueSize": str(ctx.queues.size(name)),
                "MaxQueueSize": verb.get("maxSize", "100"),
            }
            fetched = self.fetch_document(Fetch(self.resolve(wait_url, doc_url),
                                                verb.get("waitUrlMethod", "POST"), wait_params,
                                                purpose="queue-wait"))
            if fetched is not None:
                left = self._run_wait_music(*fetched)
                if left:
                    result = left
        if result == "wait":
            entry.bridged.wait(ctx.script.queue_wait)
        if ctx.queues.leave(name, entry):  # still waiting: the scripted outcome stands
            if result in {"wait", "bridged"} and not entry.bridged.is_set():
                result = "hangup" if result == "wait" else "bridged"
        else:  # an agent dequeued this caller
            entry.bridged.wait(5)
            result = "bridged"
        waited = ctx.elapsed - before
        if result == "bridged":
            talk = entry.talk or 30
            who = f" ({entry.agent_call_sid})" if entry.agent_call_sid else ""
            ctx.transcript.add("enqueue", f"an agent{who} picked up from queue {name}; talked "
                               f"{talk} s")
            self.advance(talk)
        elif result == "hangup":
            ctx.transcript.add("hangup", "the caller hung up while waiting")
        if not verb.get("action"):
            if result == "hangup":
                self.ended = True
            return None
        params = {"QueueResult": result, "QueueSid": queue_sid, "QueueTime": str(int(waited))}
        if result == "hangup":
            self.ended = True
            ctx.call_status = "completed"
        return Fetch(self.resolve(verb.get("action"), doc_url), verb.get("method", "POST"),
                     params, purpose="enqueue", ends_call=result == "hangup")

    def _run_wait_music(self, root: etree._Element, doc_url: str) -> str | None:
        """Run a queue's wait document: ``leave`` or ``hangup`` when it says so, else None."""
        for verb in root:
            if not isinstance(verb.tag, str):
                continue
            if verb.tag == "Leave":
                self.ctx.transcript.add("enqueue", "left the queue")
                return "leave"
            if verb.tag == "Hangup":
                return "hangup"
            if verb.tag in {"Say", "Play", "Pause"}:
                self._prompting = True  # the hold music stops when the caller leaves the queue
                try:
                    getattr(self, f"verb_{verb.tag.lower()}")(verb, doc_url)
                finally:
                    self._prompting = False
        return None

    def conference(self, dial: etree._Element, noun: etree._Element, doc_url: str
                   ) -> Fetch | None:
        ctx = self.ctx
        name = " ".join((noun.text or "").split())
        participant_fields = {
            "muted": truthy(noun.get("muted")),
            "start_conference_on_enter": noun.get("startConferenceOnEnter", "true") != "false",
            "end_conference_on_exit": truthy(noun.get("endConferenceOnExit")),
        }
        with ctx.state.lock:
            conference = ctx.state.create_conference(ctx.account_sid, name)
            others = len(ctx.state.list_participants(conference["sid"]))
            ctx.state.add_participant(conference["sid"], ctx.call_sid, **participant_fields)
        ctx.meetings.joined(conference["sid"], others + 1)
        ctx.transcript.add("conference", f"joined {name} ({others} other participant(s))",
                           conference_sid=conference["sid"])
        events = set((noun.get("statusCallbackEvent") or "").replace(",", " ").split())
        url = noun.get("statusCallback")
        sequence = 0

        def notify(event: str) -> None:
            nonlocal sequence
            if not url or event.split("-")[-1] not in events:
                return
            params = {
                "AccountSid": ctx.account_sid, "ConferenceSid": conference["sid"],
                "FriendlyName": name, "StatusCallbackEvent": event,
                "SequenceNumber": str(sequence), "Timestamp": rfc2822(), "CallSid": ctx.call_sid,
                "Muted": str(participant_fields["muted"]).lower(), "Hold": "false",
                "Coaching": "false",
                "EndConferenceOnExit": str(participant_fields["end_conference_on_exit"]).lower(),
                "StartConferenceOnEnter":
                    str(participant_fields["start_conference_on_enter"]).lower(),
            }
            sequence += 1
            self.callback("conference-status", self.resolve(url, doc_url),
                          noun.get("statusCallbackMethod", "POST"), params)

        if others == 0:
            notify("conference-start")
        notify("participant-join")
        wanted = ctx.script.conference_participants
        if wanted > 1 and ctx.meetings.wait_for(conference["sid"], wanted,
                                                ctx.script.conference_wait):
            ctx.transcript.add("conference", f"{wanted} participants are in {name}")
        self.advance(ctx.script.conference_seconds)
        with ctx.state.lock:  # the last one out ends the conference
            ctx.state.remove_participant(conference["sid"], ctx.call_sid)
            last = not ctx.state.list_participants(conference["sid"])
        notify("participant-leave")
        if last:
            notify("conference-end")
        ctx.transcript.add("conference", f"left {name} after {ctx.script.conference_seconds} s")
        if not dial.get("action"):
            return None
        params = {"DialCallStatus": "completed", "DialBridged": "true",
                  "DialCallDuration": str(ctx.script.conference_seconds)}
        return Fetch(self.resolve(dial.get("action"), doc_url), dial.get("method", "POST"),
                     params, purpose="dial")

    def verb_sms(self, verb: etree._Element, doc_url: str) -> Fetch | None:
        return self.verb_message(verb, doc_url)

    def verb_message(self, verb: etree._Element, doc_url: str) -> Fetch | None:
        ctx = self.ctx
        to = verb.get("to") or ctx.from_
        from_ = verb.get("from") or ctx.to
        body, media = message_content(verb)
        problem = message_problem(body, media)
        if problem:
            ctx.transcript.add("error", f"<{verb.tag}> not sent: {problem}", code=INVALID_BODY)
            ctx.transcript.error_codes.append(INVALID_BODY)
            return None
        message = create_outbound_message(
            ctx.state, ctx.account_sid, to=to, from_=from_, body=body, media=media,
            direction="outbound-call",
            status_callback=self.resolve(verb.get("statusCallback"), doc_url)
            if verb.get("statusCallback") else None,
        )
        ctx.transcript.add("message", f"to {to}: {body}", message=message)
        if ctx.deliver_message is not None:
            ctx.deliver_message(message)
        if not verb.get("action"):
            return None
        params = {"SmsSid": message["sid"], "SmsStatus": "sending", "MessageSid": message["sid"]}
        return Fetch(self.resolve(verb.get("action"), doc_url), verb.get("method", "POST"),
                     params, purpose="sms")

    # -- callbacks ---------------------------------------------------------------------------

    def callback(self, purpose: str, url: str, method: str, params: dict[str, str]) -> None:
        """POST (or GET) a callback whose answer is ignored: status, recording status..."""
        ctx = self.ctx
        response = ctx.callbacks.fetch(url, params, auth_token=ctx.auth_token, method=method)
        ctx.transcript.add_request(purpose, response)


def absolute_media_url(recording: dict[str, Any], api_base_url: str) -> str:
    """A recording's media URL; absolute against ``api_base_url`` when the state's is not."""
    url = recording.get("media_url") or recording["uri"].removesuffix(".json")
    if url.startswith("/") and api_base_url:
        url = api_base_url.rstrip("/") + url
    return url


def _cut_digits(pressed: str, finish_on_key: str, num_digits: int) -> tuple[str, str]:
    """``(Digits, FinishedOnKey)`` for keys ``pressed``: stop at the finishOnKey or numDigits."""
    digits = ""
    for key in pressed:
        if finish_on_key and key == finish_on_key:
            return digits, key
        if key in "0123456789*#":
            digits += key
        if num_digits and len(digits) >= num_digits:
            return digits, ""
    return digits, ""


def message_content(verb: etree._Element) -> tuple[str, list[str]]:
    """The body and media URLs of a ``<Message>`` (text or ``<Body>``/``<Media>`` nouns)."""
    bodies = [" ".join("".join(c.itertext()).split()) for c in verb if c.tag == "Body"]
    media = [(c.text or "").strip() for c in verb if c.tag == "Media"]
    body = "\n".join(bodies) if bodies else (verb.text or "").strip()
    return body, [m for m in media if m]


def message_problem(body: str, media: list[str]) -> str | None:
    """Why Twilio would not send a ``<Message>`` (warning 14103), or None."""
    if not body and not media:
        return "error 14103, the message has no body and no media"
    if len(body) > MAX_MESSAGE_CHARS:
        return f"error 14103, the body is longer than {MAX_MESSAGE_CHARS} characters"
    return None


def create_outbound_message(state: EmulatorState, account_sid: str, *, to: str, from_: str,
                            body: str, media: list[str], direction: str,
                            status_callback: str | None) -> dict[str, Any]:
    return state.create_message(
        account_sid, to=to, from_=from_, body=body, media_url=media, direction=direction,
        status="queued", status_callback=status_callback,
    )
