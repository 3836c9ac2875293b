"""Call widgets: Say/Play, Gather Input On Call, Record Voicemail, Connect Call To, Call
Recording, Enqueue Call and TwiML Redirect, each as the TwiML Twilio runs for it.

A widget that waits on Twilio gives its verb an ``action`` back to the flow
(``/flows/NAME/step/WIDGET/SOURCE``), and where Twilio carries on without calling the action
(no input at a Gather, silence at a Record) a ``<Redirect>`` to the same widget's other
event, so that every way out of the verb comes back to the execution.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from switchboard.callbacks.studio.executions import CALL_OVER
from switchboard.callbacks.studio.schema import LONGEST_REDIRECT
from switchboard.callbacks.studio.templates import render_markup
from switchboard.callbacks.studio.widgets.base import (
    LARGEST_INTEGER,
    VOICE,
    Immediate,
    Transition,
    Visit,
    Wait,
    WidgetError,
    log,
    picked,
)
from switchboard.callbacks.twiml import Say, TwiML, TwiMLError
from switchboard.callbacks.twiml_vocabulary import (
    ELEMENTS,
    XML_NAMESPACE,
    ElementSpec,
    method_name,
)

#: The times a Say/Play or a Gather's prompt may be heard: Studio's Loops (1 to 99). TwiML's
#: ``loop="0"`` (forever) is not one of them.
LOOPS = range(1, 100)

#: Reads the text of a Say as an XML fragment: no entities, no network, no comments.
_SSML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True,
                               remove_pis=True, huge_tree=False)
_XML_PREFIX = f"{{{XML_NAMESPACE}}}"


def _speech(visit: Visit) -> dict[str, Any]:
    """``voice`` and ``language`` of a Say, when the widget gives them."""
    found = {name: visit.text(name) for name in ("voice", "language")}
    return {name: value for name, value in found.items() if value}


def _loop(visit: Visit) -> int:
    """``loop``, from 1 to 99 (default 1)."""
    loop = visit.integer("loop", 1) or 0
    if loop not in LOOPS:
        raise WidgetError(f"loop is {loop}; Studio plays a message 1 to 99 times")
    return loop


def ssml_say(text: str, **attributes: Any) -> Say | None:
    """A ``<Say>`` of ``text`` (with ``attributes``) holding its SSML as elements, when
    ``text`` is a well-formed XML fragment holding elements, each one that ``<Say>`` takes
    where it stands, with attributes and values it takes; None for any other text (it is said
    as it is, markup and all). ``text`` is markup: text from a caller or from outside must come
    in escaped (:func:`~switchboard.callbacks.studio.templates.render_markup`)."""
    if "<" not in text:
        return None
    try:
        root = etree.fromstring(f"<Say>{text}</Say>", _SSML_PARSER)
    except (etree.LxmlError, ValueError):
        return None
    if len(root) == 0:
        return None
    try:
        say = Say(root.text or None, **attributes)
        _add_ssml(say, ELEMENTS["Say"], root)
    except (TwiMLError, ValueError, TypeError, AttributeError):
        return None
    return say


def _add_ssml(node: TwiML, spec: ElementSpec, element: Any) -> None:
    """Add the children of ``element`` (SSML parsed) to ``node`` (a ``spec`` element), and
    the text after each; :class:`TwiMLError` (or ValueError) for anything ``spec`` does not
    take there."""
    for child in element:
        child_spec = spec.children.get(child.tag) if isinstance(child.tag, str) else None
        if child_spec is None:
            raise ValueError(f"<{child.tag}> is not SSML that <{spec.tag}> takes")
        attributes = {
            ("xml:" + name.removeprefix(_XML_PREFIX) if name.startswith(_XML_PREFIX) else name):
            value for name, value in child.attrib.items()
        }
        add = getattr(node, method_name(child.tag))
        if child_spec.text == "none":
            if (child.text or "").strip():
                raise ValueError(f"<{child.tag}> takes no text")
            parent = add(**attributes)
        else:
            parent = add(child.text or None, **attributes)
        with parent as added:
            _add_ssml(added, child_spec, child)
        if child.tail:
            node.add_text(child.tail)  # type: ignore[attr-defined]


def _ssml_prompt(visit: Visit, template: str, *, loop: int) -> Say | None:
    """The ``<Say>`` of the ``say`` ``template`` with its SSML as elements (:func:`ssml_say`),
    when the template itself is SSML; what its Liquid outputs is text inside the elements.
    None for a text without SSML."""
    markup = render_markup(template, visit.context) if "{" in template else template
    return ssml_say(markup.strip(), loop=loop, **_speech(visit))


def _prompt(node: Any, visit: Visit, *, loop: int) -> bool:
    """Add the widget's ``say`` or ``play`` to ``node``; whether there was one. SSML written
    in the ``say`` template becomes elements of the ``<Say>``; what Liquid outputs there (a
    caller's words, a message, an HTTP answer) is said as text, never as markup."""
    template = visit.properties.get("say")
    if template.__class__ is str and "<" in template:
        with_ssml = _ssml_prompt(visit, template, loop=loop)
        if with_ssml is not None:
            node.append(with_ssml)
            return True
    say, play = visit.text("say"), visit.text("play")
    if say:
        node.say(say, loop=loop, **_speech(visit))
    elif play:
        node.play(play, loop=loop)
    return bool(say or play)


class SayPlay(Immediate):
    """``<Say>`` (voice, language; SSML in the text as elements), ``<Play>`` or DTMF
    ``digits``, ``loop`` times (1 to 99); the call hears it and the flow goes on
    (``audioComplete``), with the ``voice`` and ``language`` it was given as variables."""

    def run(self, visit: Visit) -> Transition:
        visit.need(VOICE)
        loop = _loop(visit)
        response = visit.output.voice
        digits = visit.text("digits")
        if not _prompt(response, visit, loop=loop) and digits:
            response.play(digits=digits)
        return Transition("audioComplete", _speech(visit))


def request_fields(params: Mapping[str, str]) -> dict[str, str]:
    """Every field of the request Twilio made for a verb (its action, or the ``<Redirect>``
    after it): the call's own (``CallSid``, ``From``, ``CallStatus``...) and the verb's
    (``Digits``, ``RecordingUrl``, ``QueueResult``...), which Studio gives the widget as its
    variables."""
    return {name: value for name, value in params.items() if value is not None}


def gather_input(visit: Visit) -> str:
    """What a Gather listens for: the widget's ``input`` when it gives one; else, as in
    Studio, keys when ``keypress`` leads somewhere and speech when ``speech`` does (keys when
    neither does)."""
    given = visit.text("input")
    if given:
        return given
    listens = [kind for event, kind in (("keypress", "dtmf"), ("speech", "speech"))
               if visit.flow.next_state(visit.name, event)]
    return " ".join(listens) or "dtmf"


#: Seconds of silence a Gather waits for: Studio's default, and ``<Gather>``'s.
GATHER_TIMEOUT = 5


def gather_timeout(visit: Visit) -> int:
    """The Gather's ``timeout`` (default 5 seconds). ``<Gather>`` takes a positive whole
    number; Twilio answers any other (``0``) with a warning (13313) and gathers all the same,
    with its default: so does Switchboard, the warning logged."""
    seconds = visit.integer("timeout", GATHER_TIMEOUT, minimum=-LARGEST_INTEGER) or 0
    if seconds >= 1:
        return seconds
    log.warning("flow %s, widget %s: timeout %d is not a number of seconds <Gather> takes "
                "(1 or more); gathering with its default, %d", visit.flow.name, visit.name,
                seconds, GATHER_TIMEOUT)
    return GATHER_TIMEOUT


class GatherInputOnCall:
    """``<Gather>`` around the prompt (before it when ``stop_gather`` is false: the prompt
    then plays to its end), listening for keys and for speech as the widget's transitions ask
    (:func:`gather_input`); ``speech_timeout`` ``auto`` unless the widget gives one, as in
    Studio. ``keypress`` with ``Digits``, ``speech`` with ``SpeechResult`` and
    ``Confidence``, ``timeout`` when nothing came; the request's fields as variables."""

    def run(self, visit: Visit) -> Wait:
        visit.need(VOICE)
        props = visit.properties
        attributes: dict[str, Any] = {
            "input": gather_input(visit),
            "action": visit.links.step(visit.name, "gather"),
            "method": "POST",
            "timeout": gather_timeout(visit),
        }
        digits = visit.integer("number_of_digits")
        if digits:
            attributes["num_digits"] = digits
        if "finish_on_key" in props:
            attributes["finish_on_key"] = visit.text("finish_on_key")
        if "speech" in attributes["input"]:
            attributes["speech_timeout"] = visit.text("speech_timeout", "auto")
            for key, attribute in (("hints", "hints"), ("gather_language", "language"),
                                   ("speech_model", "speech_model")):
                if visit.text(key):
                    attributes[attribute] = visit.text(key)
            if "profanity_filter" in props:
                attributes["profanity_filter"] = visit.flag("profanity_filter", True)
        loop = _loop(visit)
        response = visit.output.voice
        if visit.flag("stop_gather", True):
            with response.gather(**attributes) as gather:
                _prompt(gather, visit, loop=loop)
        else:
            _prompt(response, visit, loop=loop)
            response.gather(**attributes)
        response.redirect(visit.links.step(visit.name, "timeout"), method="POST")
        return Wait("gather")

    def resume(self, visit: Visit, source: str, params: Mapping[str, str]) -> Transition:
        variables = request_fields(params)
        if source == "timeout":
            return Transition("timeout", variables)
        if source != "gather":
            raise WidgetError(f"a Gather does not come back as {source!r}")
        if params.get("Digits"):
            return Transition("keypress", variables)
        if params.get("SpeechResult"):
            return Transition("speech", variables)
        return Transition("timeout", variables)


class RecordVoicemail:
    """``<Record>`` (max_length, timeout, finish_on_key, play_beep, trim, transcribe and the
    callbacks). ``recordingComplete`` with the request's fields (``RecordingUrl`` and
    friends, ``RecordingSid`` also as ``Sid``), ``hangup`` when the caller hung up to end it,
    ``noAudio`` when nothing was recorded.

    The recording status callback is the flow's ``recording_status_callback_url`` when it
    gives one; otherwise this server's (``/flows/NAME/recording-status/WIDGET``,
    :meth:`~switchboard.callbacks.studio.widgets.base.Links.recording_status`), which stores the
    recording and announces the voicemail as the bundled IVR's are."""

    def run(self, visit: Visit) -> Wait:
        visit.need(VOICE)
        attributes: dict[str, Any] = {
            "action": visit.links.step(visit.name, "record"),
            "method": "POST",
            "max_length": visit.integer("max_length", 3600, minimum=1),
            "timeout": visit.integer("timeout", 5),
            "play_beep": visit.flag("play_beep", True),
        }
        if "finish_on_key" in visit.properties:
            attributes["finish_on_key"] = visit.text("finish_on_key")
        if visit.text("trim"):
            attributes["trim"] = visit.text("trim")
        if visit.flag("transcribe"):
            attributes["transcribe"] = True
        if visit.text("transcription_callback_url"):
            attributes["transcribe_callback"] = visit.text("transcription_callback_url")
        own = visit.text("recording_status_callback_url")
        if own:
            attributes["recording_status_callback"] = own
        else:
            ours = visit.links.recording_status(visit.name)
            if ours:
                attributes["recording_status_callback"] = ours
                attributes["recording_status_callback_method"] = "POST"
        response = visit.output.voice
        response.record(**attributes)
        response.redirect(visit.links.step(visit.name, "noAudio"), method="POST")
        return Wait("record")

    def resume(self, visit: Visit, source: str, params: Mapping[str, str]) -> Transition:
        variables = request_fields(params)
        if source == "noAudio":
            return Transition("noAudio", variables)
        if source != "record":
            raise WidgetError(f"a Record does not come back as {source!r}")
        if params.get("RecordingSid"):
            variables.setdefault("Sid", params["RecordingSid"])
        if params.get("Digits") == "hangup" or params.get("CallStatus") in CALL_OVER:
            return Transition("hangup", variables)
        try:
            duration = int(params.get("RecordingDuration") or 0)
        except ValueError:
            duration = 0
        if not params.get("RecordingUrl") or duration <= 0:
            return Transition("noAudio", variables)
        return Transition("recordingComplete", variables)


DIAL_FIELDS = ("DialCallStatus", "DialCallSid", "DialCallDuration", "DialBridged",
               "RecordingUrl", "RecordingSid", "RecordingDuration", "QueueSid", "CallStatus")


class ConnectCallTo:
    """``<Dial>`` to one number, several (comma-separated ``to``; the first to answer takes
    the call), a client, a SIP endpoint, a conference, a queue or a Programmable Wireless SIM
    (``noun`` ``sim``, its SID in ``to``); ``caller_id`` (left blank: Studio's default,
    ``{{contact.channel.address}}``), ``timeout``, ``time_limit``, ``record``.
    ``callCompleted`` after the conversation (or when nobody answered), ``hangup``
    when the caller hung up; ``DialCallStatus`` and friends as variables."""

    def run(self, visit: Visit) -> Wait:
        visit.need(VOICE)
        noun = visit.text("noun", "number").lower()
        to = visit.text("to")
        attributes: dict[str, Any] = {
            "action": visit.links.step(visit.name, "dial"),
            "method": "POST",
            "timeout": visit.integer("timeout", 30, minimum=1),
        }
        caller_id = visit.text("caller_id", visit.contact)
        if caller_id:
            attributes["caller_id"] = caller_id
        time_limit = visit.integer("time_limit", minimum=1)
        if time_limit is not None:
            attributes["time_limit"] = time_limit
        if visit.flag("record"):
            attributes["record"] = "record-from-answer"
        with visit.output.voice.dial(**attributes) as dial:
            if noun in ("number", "number-multi", "multi-number", "numbers"):
                numbers = [item.strip() for item in to.split(",") if item.strip()]
                if not numbers:
                    raise WidgetError("no number to connect the call to (to is blank)")
                for number in numbers:
                    dial.number(number)
            elif noun == "sip":
                endpoint = visit.text("sip_endpoint") or to
                if not endpoint:
                    raise WidgetError("no SIP endpoint to connect the call to")
                credentials = {key: visit.text(f"sip_{key}") for key in ("username", "password")
                               if visit.text(f"sip_{key}")}
                dial.sip(endpoint, **credentials)
            elif noun in ("client", "conference", "queue", "sim"):
                if not to:
                    raise WidgetError(f"no {noun} to connect the call to (to is blank)")
                getattr(dial, noun)(to)
            else:
                raise WidgetError(f"noun {noun!r} is not one Connect Call To knows")
        return Wait("dial")

    def resume(self, visit: Visit, source: str, params: Mapping[str, str]) -> Transition:
        if source != "dial":
            raise WidgetError(f"a Dial does not come back as {source!r}")
        variables = picked(params, DIAL_FIELDS)
        if params.get("CallStatus") in CALL_OVER:
            return Transition("hangup", variables)
        return Transition("callCompleted", variables)


def recording_name(visit: Visit) -> str:
    """The ``name`` of the recording Call Recording starts: one per execution (its SID), so
    that a later Call Recording of the flow switched off stops the one an earlier one
    started."""
    return f"studio-{visit.execution_sid}"


class RecordCall(Immediate):
    """Start (``record_call`` true) or stop (false, Studio's default) recording the call:
    ``<Start><Recording name>`` or ``<Stop><Recording name>``, named by
    :func:`recording_name`; ``success``. Silence is kept unless ``trim`` says otherwise
    (Studio's default, ``do-not-trim``, is not ``<Recording>``'s)."""

    def run(self, visit: Visit) -> Transition:
        visit.need(VOICE)
        response = visit.output.voice
        name = recording_name(visit)
        if not visit.flag("record_call"):
            with response.stop() as stop:
                stop.recording(name=name)
            return Transition("success")
        attributes: dict[str, Any] = {"name": name, "trim": visit.text("trim", "do-not-trim")}
        for key, attribute in (
            ("recording_status_callback", "recording_status_callback"),
            ("recording_status_callback_method", "recording_status_callback_method"),
            ("recording_status_callback_events", "recording_status_callback_event"),
            ("recording_channels", "channels"),
        ):
            if visit.text(key):
                attributes[attribute] = visit.text(key)
        with response.start() as start:
            start.recording(**attributes)
        return Transition("success")


class EnqueueCall:
    """``<Enqueue>`` into ``queue_name`` (or a TaskRouter ``workflow_sid`` with the task's
    attributes, priority and timeout), with ``wait_url`` (requested with GET unless
    ``wait_url_method`` says otherwise, as in Studio). ``failedToEnqueue`` when the queue was
    full (``QueueResult`` ``queue-full``), ``callFailure`` when Twilio failed to enqueue it
    (``system-error``), ``callComplete`` for any other way out of the queue; the request's
    fields as variables."""

    def run(self, visit: Visit) -> Wait:
        visit.need(VOICE)
        attributes: dict[str, Any] = {
            "action": visit.links.step(visit.name, "enqueue"), "method": "POST",
        }
        if visit.text("wait_url"):
            attributes["wait_url"] = visit.text("wait_url")
            attributes["wait_url_method"] = visit.text("wait_url_method", "GET").upper()
        workflow = visit.text("workflow_sid")
        response = visit.output.voice
        if workflow:
            task = {key: value for key, value in (
                ("priority", visit.integer("priority")), ("timeout", visit.integer("timeout")),
            ) if value is not None}
            with response.enqueue(workflow_sid=workflow, **attributes) as enqueue:
                enqueue.task(visit.text("task_attributes", "{}"), **task)
        else:
            name = visit.text("queue_name")
            if not name:
                raise WidgetError("no queue to put the call in (queue_name is blank)")
            response.enqueue(name, **attributes)
        return Wait("enqueue")

    def resume(self, visit: Visit, source: str, params: Mapping[str, str]) -> Transition:
        if source != "enqueue":
            raise WidgetError(f"an Enqueue does not come back as {source!r}")
        variables = request_fields(params)
        result = params.get("QueueResult") or ""
        if result == "queue-full":
            return Transition("failedToEnqueue", variables)
        if result == "system-error":
            return Transition("callFailure", variables)
        return Transition("callComplete", variables)


#: The fields Twilio's voice requests carry (its standard request parameters, and an incoming
#: call's own, such as ``StirVerstat``): not repeated in a TwiML Redirect's variables, which
#: are what the other TwiML sent back.
CALL_FIELDS = frozenset({
    "AccountSid", "ApiVersion", "CallSid", "CallStatus", "Called", "Caller", "Direction",
    "From", "To", "FlowEvent", "ForwardedFrom", "CallerName", "ParentCallSid", "CallToken",
    "StirVerstat", "StirPassportToken", "FromCity", "FromState", "FromZip", "FromCountry",
    "ToCity", "ToState", "ToZip", "ToCountry", "CalledCity", "CalledState", "CalledZip",
    "CalledCountry", "CallerCity", "CallerState", "CallerZip", "CallerCountry",
})
#: The fields every message request carries (and a message's ``MediaUrlN`` and
#: ``MediaContentTypeN``): not repeated in a TwiML Redirect's variables.
MESSAGE_FIELDS = frozenset({
    "AccountSid", "ApiVersion", "MessageSid", "SmsSid", "SmsMessageSid", "SmsStatus",
    "MessagingServiceSid", "From", "To", "Body", "NumMedia", "NumSegments", "FromCity",
    "FromState", "FromZip", "FromCountry", "ToCity", "ToState", "ToZip", "ToCountry",
    "ProfileName", "WaId", "FlowEvent",
})
_MEDIA_FIELDS = ("MediaUrl", "MediaContentType")


def _message_field(name: str) -> bool:
    """Whether ``name`` is a field of the message itself rather than one the TwiML sent."""
    if name in MESSAGE_FIELDS:
        return True
    return any(name.startswith(prefix) and name[len(prefix):].isdigit()
               for prefix in _MEDIA_FIELDS)


#: The event of a TwiML Redirect that does not wait for the call to come back (``timeout``
#: 0): it leads nowhere, and the execution ends there.
REDIRECTED = "redirected"


class AddTwimlRedirect:
    """Hand the call or the conversation to other TwiML (``url``, ``method``): a
    ``<Redirect>`` in the answer (Voice TwiML, or Messaging TwiML after the replies already
    in it). That TwiML comes back with a ``<Redirect>`` to the flow's URL with
    ``?FlowEvent=return`` (or to this widget's ``/step/WIDGET/return``): ``return``, with
    the fields it sent as variables (not those every call or message request carries);
    ``timeout`` when it did not come back within ``timeout`` seconds; ``fail`` when the URL
    is blank or cannot be used (:func:`unusable_url`), or when a conversation's run answers
    no incoming message (a timer, a status callback, the REST API), so that no TwiML can
    redirect it. ``timeout`` 0: no coming back; the execution ends at the ``<Redirect>``."""

    def run(self, visit: Visit) -> Wait | Transition:
        url = visit.text("url")
        problem = unusable_url(url)
        if problem:
            return Transition("fail", {"error": problem})
        method = visit.text("method", "POST").upper()
        if method not in ("GET", "POST"):
            return Transition("fail", {"error": f"method {method} is not GET or POST"})
        timeout = visit.integer("timeout", LONGEST_REDIRECT, maximum=LONGEST_REDIRECT)
        if visit.channel == VOICE:
            visit.output.voice.redirect(url, method=method)
        else:
            problem = _no_redirect(visit)
            if problem:
                log.warning("flow %s, widget %s: %s; taking 'fail'", visit.flow.name,
                            visit.name, problem)
                return Transition("fail", {"error": problem})
            visit.output.redirect = (url, method)
        if timeout == 0:
            return Transition(REDIRECTED, to=None, direct=True)
        return Wait("return", timeout=float(timeout))

    def resume(self, visit: Visit, source: str, params: Mapping[str, str]) -> Transition:
        if visit.channel == VOICE:
            variables = {name: value for name, value in params.items()
                         if name not in CALL_FIELDS}
        else:
            variables = {name: value for name, value in params.items()
                         if not _message_field(name)}
        if source == "timeout":
            return Transition("timeout", variables)
        if source != "return":
            raise WidgetError(f"a TwiML Redirect does not come back as {source!r}")
        return Transition("return", variables)


def unusable_url(url: str) -> str | None:
    """Why a TwiML Redirect cannot send Twilio to ``url``, or None when it can: blank, not
    a URL, or an absolute URL that is not HTTP or HTTPS with a host. A relative URL (a path
    of this server) is Twilio's to resolve, against the URL of the request it answers."""
    if not url:
        return "the url is blank"
    try:
        parts = urlsplit(url)
    except ValueError as error:
        return f"the url cannot be parsed: {error}"
    if parts.scheme and (parts.scheme.lower() not in ("http", "https") or not parts.hostname):
        return "the url is not an http or https URL with a host"
    return None


def _no_redirect(visit: Visit) -> str | None:
    """Why a conversation's answer cannot redirect to other TwiML now, or None when it can."""
    output = visit.output
    if output.redirect is not None:
        return f"the answer already redirects to {output.redirect[0]}"
    if not output.takes_replies:
        return ("no incoming message to answer: a conversation is redirected to other TwiML "
                "only in the answer to a message's webhook, not after a timer, a status "
                "callback or a start through the REST API")
    return None
