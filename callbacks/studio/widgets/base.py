"""What a widget is given and what it gives back.

A widget's ``run(visit)`` reads its properties (Liquid already rendered on request), adds to
the answer being built (TwiML for the call, replies for the conversation) and returns:

- :class:`Transition`: the event it took (``keypress``, ``success``...) and its variables,
  which become ``widgets.NAME.*``; the execution goes on along that transition at once;
- :class:`Wait`: it handed the call to Twilio (a Gather, a Record, a Dial...) or asked the
  contact something: the execution waits there until ``resume(visit, source, params)`` is
  called with what came back (a Gather's ``Digits``, a reply), which returns the Transition;
- :class:`Enter`: run another flow as a subflow (the runtime does it).

A widget that cannot do its work raises :class:`WidgetError`; the execution ends with the
error logged (a caller hears the apology), unless the widget has a failure transition of its
own to take (a failed HTTP request goes ``failed``, it does not raise).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from switchboard.callbacks.studio.context import render_value, text
from switchboard.callbacks.studio.parameters import PARAMETERS_DEPTH
from switchboard.callbacks.studio.schema import LARGEST_INTEGER
from switchboard.callbacks.twiml import MessagingResponse, VoiceResponse

if TYPE_CHECKING:
    from switchboard.api import TwilioClient
    from switchboard.callbacks.studio.definition import Flow
    from switchboard.config import Settings

log = logging.getLogger("switchboard.callbacks.studio")

VOICE, MESSAGING = "voice", "messaging"


@dataclass(frozen=True)
class Transition:
    """Leave the widget on ``event``; ``to`` (when ``direct``) names the next widget
    outright, for Split Based On, whose ``match`` transitions each go somewhere else."""

    event: str
    variables: Mapping[str, Any] | None = None
    to: str | None = None
    direct: bool = False


@dataclass(frozen=True)
class Wait:
    """Stay at the widget until ``waiting_for`` comes back; ``timeout`` seconds at most
    (then the widget's ``timeout`` event), for a reply."""

    waiting_for: str
    variables: Mapping[str, Any] | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class Enter:
    """Run ``flow`` as a subflow with ``parameters``; its end is this widget's ``completed``."""

    flow: Flow
    parameters: Mapping[str, Any]


Result = Transition | Wait | Enter


class WidgetError(Exception):
    """The widget cannot run as configured (one line: what is wrong)."""


@dataclass
class Reply:
    """A message for the conversation's answer (``<Message>``)."""

    body: str
    media: list[str] = field(default_factory=list)
    to: str | None = None
    from_: str | None = None
    status_callback: str | None = None


class Output:
    """What one webhook answers: the call's TwiML, or the conversation's replies.

    ``webhook`` False: no answer goes back (a timer or a status callback moved the
    execution), so messages are sent through the REST API instead of replies. ``redirect``:
    the ``(url, method)`` a TwiML Redirect hands the conversation to, after the replies; the
    answer takes no reply after it.
    """

    def __init__(self, channel: str, *, webhook: bool = True) -> None:
        self.channel = channel
        self.webhook = webhook
        self.voice = VoiceResponse()
        self.replies: list[Reply] = []
        self.redirect: tuple[str, str] | None = None
        self.apologise = False

    @property
    def takes_replies(self) -> bool:
        return self.webhook and self.channel == MESSAGING and self.redirect is None

    def messaging(self) -> MessagingResponse:
        response = MessagingResponse()
        for reply in self.replies:
            attributes = {
                name: value for name, value in (
                    ("to", reply.to), ("from_", reply.from_),
                    ("status_callback", reply.status_callback),
                ) if value
            }
            if reply.media:
                with response.message(**attributes) as message:
                    if reply.body:
                        message.body(reply.body)
                    for url in reply.media:
                        message.media(url)
            else:
                response.message(reply.body, **attributes)
        if self.redirect is not None:
            url, method = self.redirect
            response.redirect(url, method=method)
        return response


class Links(Protocol):
    """The URLs Twilio is given to come back to the execution. A widget's name, whatever it
    holds, is one segment of them: :func:`url_segment`."""

    def step(self, widget: str, source: str) -> str:
        """Where a verb's action (or the Redirect after it) goes: ``.../step/WIDGET/SOURCE``."""

    def message_status(self, execution_sid: str, widget: str) -> str | None:
        """The status callback of a message a widget waits on, or None if none can be given."""

    def outgoing_call(self, execution_sid: str, widget: str) -> str | None:
        """The URL of the call a Make Outgoing Call widget places
        (``.../outgoing-call/EXECUTION/WIDGET``), or None if none can be given."""

    def outgoing_call_status(self, execution_sid: str, widget: str) -> str | None:
        """The status callback of that call (``.../outgoing-call/EXECUTION/WIDGET/status``), or
        None if none can be given."""

    def recording_status(self, widget: str) -> str | None:
        """The recording status callback of a Record Voicemail's ``<Record>``
        (``.../recording-status/WIDGET``), or None if none can be given."""


#: What :func:`url_segment` escapes before the segment is percent-encoded: ``%`` and ``/``
#: (a WSGI server decodes ``%2F`` before the URL is routed), and the dots of a dot segment
#: (clients and proxies may resolve ``..`` away, RFC 3986 5.2.4, and take ``%2E`` as ``.``).
_SEGMENT_ESCAPES = re.compile(r"%(25|2F|2E)", re.IGNORECASE)
#: The characters werkzeug leaves as they are in a URL path segment, but ``/``.
_SEGMENT_SAFE = "!$&'()*+,:;=@~"


def url_segment(name: str) -> str:
    """``name`` (a widget's: Studio lets it hold anything) as one segment of a URL path that
    a WSGI server hands back, percent-decoded, as the text :func:`from_url_segment` reads as
    ``name``. A name with no ``%`` or ``/`` and not ``.`` or ``..`` is percent-encoded once
    (``menu_1``, ``two%20words``); ``%`` and ``/`` are escaped first (``%25``, ``%2F``),
    and so are the dots of ``.`` and ``..``, so that no server, proxy or client takes them
    for a separator or a dot segment (``menu%252Fmain``, ``%252E%252E``)."""
    escaped = name.replace("%", "%25").replace("/", "%2F")
    if escaped in (".", ".."):
        escaped = escaped.replace(".", "%2E")
    return quote(escaped, safe=_SEGMENT_SAFE)


def from_url_segment(segment: str) -> str:
    """The widget's name a segment :func:`url_segment` made reads as, once the server
    percent-decoded it: the escapes ``%25``, ``%2F`` and ``%2E`` undone, in one pass (any
    other ``%`` stays, so a name written into a URL by hand, encoded once, reads as
    written)."""
    if "%" not in segment:
        return segment
    return _SEGMENT_ESCAPES.sub(lambda match: chr(int(match.group(1), 16)), segment)


@dataclass
class Visit:
    """One run of one widget: its definition, the execution's context, the answer."""

    name: str
    type: str
    properties: Mapping[str, Any]
    flow: Flow
    context: dict[str, Any]
    output: Output
    settings: Settings
    links: Links
    execution_sid: str
    remaining: Callable[[], float]
    rest_client: Callable[[], TwilioClient | None]
    call_ended: bool = False

    @property
    def channel(self) -> str:
        return self.output.channel

    @property
    def contact(self) -> str:
        return self.context["contact"]["channel"]["address"]

    @property
    def channel_address(self) -> str:
        return self.context["flow"]["channel"]["address"]

    def text(self, key: str, default: str = "") -> str:
        """The property ``key`` rendered as Liquid, stripped (``default`` if missing or blank)."""
        value = self.properties.get(key)
        if value.__class__ is str:
            if "{" not in value:  # no Liquid in it: the text as it is
                value = value.strip()
                return value if value else default
            found = reference(value, self.context)
            if found is not None:
                value = found.strip()
                return value if value else default
        value = text(value, self.context)
        return value if value else default

    def render(self, value: Any) -> Any:
        if isinstance(value, str):
            found = reference(value, self.context)
            if found is not None:
                return found
        return render_value(value, self.context)

    def integer(self, key: str, default: int | None = None, *, minimum: int = 0,
                maximum: int = LARGEST_INTEGER) -> int | None:
        """The property ``key`` as a whole number (rendered first) from ``minimum`` to
        ``maximum``; ``default`` when missing; :class:`WidgetError` when it is not one."""
        raw = self.properties.get(key)
        if raw is None or raw == "":
            return default
        value = raw if isinstance(raw, int) and not isinstance(raw, bool) else self.text(key)
        try:
            number = int(float(value))
        except (TypeError, ValueError, OverflowError):
            raise WidgetError(f"{key} is {value!r}, not a whole number") from None
        if number < minimum:
            raise WidgetError(f"{key} is {number}; it must be {minimum} or more")
        if number > maximum:
            raise WidgetError(f"{key} is {number}; it must be {maximum} or less")
        return number

    def flag(self, key: str, default: bool = False) -> bool:
        """The property ``key`` as true or false (``true``, ``"true"``, ``1``)."""
        raw = self.properties.get(key)
        if raw is None or raw == "":
            return default
        if isinstance(raw, bool):
            return raw
        return str(self.render(raw)).strip().lower() in {"true", "1", "yes", "on"}

    def need(self, channel: str) -> None:
        if self.channel != channel:
            where = "a call" if channel == VOICE else "a conversation (messages)"
            raise WidgetError(f"a {self.type} widget runs only in {where}")


#: A template that only outputs a variable: ``{{ widgets.menu.Digits }}``.
_REFERENCE = re.compile(r"\{\{\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\}\}")
#: Liquid's literals, which a reference's first name cannot be.
_LITERALS = frozenset({"true", "false", "nil", "null", "empty", "blank"})


def reference(template: str, context: Mapping[str, Any]) -> str | None:
    """What Liquid renders for a ``template`` that only outputs a text variable of
    ``context`` (``{{ widgets.menu.Digits }}``), without Liquid; None for any other template
    (a filter, a tag, a missing variable, a value that is not text): Liquid renders those."""
    found = referenced(template, context)
    return found if isinstance(found, str) else None


def referenced(template: str, context: Mapping[str, Any]) -> Any:
    """The value of ``context``, of any type, that a ``template`` only outputting a variable
    names (``{{ widgets.http.parsed }}``); None for any other template or a missing variable."""
    if not template.startswith("{{"):
        return None
    match = _REFERENCE.fullmatch(template)
    if match is None:
        return None
    names = match.group(1).split(".")
    if names[0] in _LITERALS:
        return None
    found: Any = context
    for name in names:
        if not isinstance(found, dict) or name not in found:
            return None
        found = found[name]
    return found


class Widget(Protocol):
    """A widget type."""

    def run(self, visit: Visit) -> Result: ...

    def resume(self, visit: Visit, source: str, params: Mapping[str, str]) -> Transition: ...


class Immediate:
    """A widget that never waits: ``resume`` is never called."""

    def resume(self, visit: Visit, source: str, params: Mapping[str, str]) -> Transition:
        raise WidgetError(f"a {visit.type} widget does not wait for {source!r}")


def picked(params: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    """The fields ``names`` that ``params`` has, for a widget's variables."""
    return {name: params[name] for name in names if params.get(name) is not None}


#: How deep a JSON value a widget takes in (an answer's body, a variable) may nest: as deep as
#: an execution's parameters, which the context holds the same way.
JSON_DEPTH = PARAMETERS_DEPTH


def nests_deeper(value: object, depth: int = JSON_DEPTH) -> bool:
    """Whether the objects and arrays of ``value`` nest more than ``depth`` levels (found
    without recursion: copying, rendering or writing out such a value would recurse too
    deep)."""
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, Mapping | list | tuple):
            if level > depth:
                return True
            children = item.values() if isinstance(item, Mapping) else item
            pending.extend((child, level + 1) for child in children)
    return False
