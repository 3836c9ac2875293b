"""What a simulated caller heard and what was sent, with the HTTP exchanges behind it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from switchboard.emulator.webhooks import Exchange, WebhookResponse

#: Event kinds a caller (or texter) experiences, in the order they happen.
HEARD = frozenset({"say", "play", "error"})


@dataclass
class Event:
    """One thing that happened on the call or conversation.

    ``kind`` is one of: ``say``, ``play``, ``pause``, ``input`` (digits or speech given at a
    Gather), ``no-input``, ``record``, ``dial``, ``enqueue``, ``conference``, ``message`` (an SMS
    sent by the application), ``received`` (an SMS the application got), ``redirect``,
    ``hangup``, ``reject``, ``error``, ``status`` (a status callback sent), ``end``, ``blocked``
    (a reply not sent: the recipient opted out), ``opt-out``, ``opt-in``, ``unsupported``.
    """

    kind: str
    text: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        label = {
            "say": "Say",
            "play": "Play",
            "pause": "Pause",
            "input": "Caller",
            "no-input": "Caller",
            "record": "Record",
            "dial": "Dial",
            "enqueue": "Enqueue",
            "conference": "Conference",
            "message": "Message sent",
            "received": "Message received",
            "redirect": "Redirect",
            "hangup": "Hangup",
            "reject": "Reject",
            "error": "Error",
            "status": "Status",
            "end": "End",
            "request": "Request",
            "blocked": "Message blocked",
            "opt-out": "Opt-out",
            "opt-in": "Opt-in",
            "unsupported": "Skipped",
        }.get(self.kind, self.kind.title())
        return f"{label}: {self.text}" if self.text else label


@dataclass
class Request:
    """One webhook the emulator requested: what it was for, what was sent, what came back."""

    purpose: str  # voice, fallback, action, status, recording-status, sms, message-status, ...
    response: WebhookResponse

    @property
    def url(self) -> str:
        return self.response.url

    @property
    def method(self) -> str:
        return self.response.method

    @property
    def params(self) -> dict[str, str]:
        return dict(self.response.params)

    @property
    def exchanges(self) -> list[Exchange]:
        return self.response.exchanges


class Transcript:
    """Events and webhook requests of one call or SMS, in order. Thread-safe to append to.

    ``on_event`` (if given) is called with each event as it happens: the CLI prints the
    transcript live that way, so an interactive caller hears a prompt before typing.
    """

    def __init__(
        self,
        kind: str = "call",
        *,
        sid: str | None = None,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        self.kind = kind
        self.sid = sid
        self.events: list[Event] = []
        self.requests: list[Request] = []
        self.status: str | None = None
        self.error_codes: list[int] = []
        self.on_event = on_event
        self._lock = threading.Lock()
        self.done = threading.Event()

    def add(self, kind: str, text: str = "", **detail: Any) -> Event:
        event = Event(kind, text, detail)
        with self._lock:
            self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)
        return event

    def add_request(self, purpose: str, response: WebhookResponse) -> Request:
        request = Request(purpose, response)
        with self._lock:
            self.requests.append(request)
            if response.error_code is not None:
                self.error_codes.append(response.error_code)
        if self.on_event is not None:
            self.on_event(Event("request", _request_line(request), {"request": request}))
        return request

    # What tests assert on -------------------------------------------------------------------

    @property
    def said(self) -> list[str]:
        """The texts of every ``<Say>``, in order."""
        return [e.text for e in self.events if e.kind == "say"]

    @property
    def heard(self) -> list[str]:
        """What the caller heard: spoken text, played URLs, error announcements."""
        return [e.text for e in self.events if e.kind in HEARD]

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The message resources the application sent (``<Message>``/``<Sms>`` replies)."""
        return [e.detail.get("message", {}) for e in self.events if e.kind == "message"]

    def requests_for(self, purpose: str) -> list[Request]:
        return [r for r in self.requests if r.purpose == purpose]

    def events_of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]

    @property
    def text(self) -> str:
        """Everything the caller heard, as one string (handy for ``in`` assertions)."""
        return "\n".join(self.heard)

    def to_dict(self) -> dict[str, Any]:
        """The transcript as plain JSON-able data (events, and each request's params)."""
        return {
            "kind": self.kind,
            "sid": self.sid,
            "status": self.status,
            "error_codes": list(self.error_codes),
            "events": [{"kind": e.kind, "text": e.text} for e in self.events],
            "requests": [
                {
                    "purpose": r.purpose,
                    "method": r.method,
                    "url": r.url,
                    "params": r.params,
                    "status_code": r.response.status_code,
                    "error_code": r.response.error_code,
                }
                for r in self.requests
            ],
        }

    def render(self, *, verbose: bool = False) -> str:
        """A readable transcript; ``verbose`` adds every HTTP exchange."""
        lines = [self.title()]
        for event in self.events:
            lines.append("  " + event.render())
        if verbose:
            lines.append("HTTP exchanges:")
            for request in self.requests:
                lines.extend(render_request(request))
        return "\n".join(lines)

    def title(self) -> str:
        status = f" ({self.status})" if self.status else ""
        return f"{self.kind.capitalize()} {self.sid or ''}{status}".replace("  ", " ").strip()

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"<Transcript {self.kind} {self.sid} {len(self.events)} events>"


def _request_line(request: Request) -> str:
    response = request.response
    outcome = (
        str(response.status_code) if response.status_code is not None else "no answer"
    )
    if response.error_code is not None:
        outcome += f", error {response.error_code} {response.error_message}"
    return f"{request.purpose}: {response.method} {response.url} -> {outcome}"


def render_request(request: Request) -> list[str]:
    """Each HTTP attempt of ``request``, with the parameters sent and the answer's body."""
    lines = [f"  [{request.purpose}]"]
    for exchange in request.exchanges:
        lines.append(f"  > {exchange.method} {exchange.url}")
        for name in ("X-Twilio-Signature", "I-Twilio-Idempotency-Token"):
            if name in exchange.request_headers:
                lines.append(f"  > {name}: {exchange.request_headers[name]}")
        for name, value in exchange.params:
            lines.append(f"  >   {name}={value}")
        if exchange.status_code is None:
            lines.append(f"  < (no answer: {exchange.error}, {exchange.elapsed:.2f} s)")
            continue
        ctype = exchange.response_headers.get("Content-Type", "")
        lines.append(f"  < {exchange.status_code} {ctype} ({exchange.elapsed:.2f} s)")
        body = exchange.body.decode("utf-8", errors="replace").strip()
        if body:
            for line in body.splitlines()[:40]:
                lines.append(f"  < {line}")
    return lines


def event_line(event: Event) -> tuple[bool, str]:
    """How ``switchboard simulate`` prints an event: ``(is_a_request, line)``; request lines
    are shown with ``--verbose`` only."""
    if event.kind == "request":
        return True, f"  ... {event.text}"
    return False, "  " + event.render()
