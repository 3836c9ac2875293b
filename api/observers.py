"""Watching the REST client from outside: what it did, told to whoever subscribed.

The client imports no metrics library; a metrics exporter (``switchboard.callbacks.metrics``)
or a tracer subscribes a callable instead::

    from switchboard.api import observers

    def watch(event: observers.Event) -> None:
        if isinstance(event, observers.RequestDone):
            print(event.method, event.status or event.error, f"{event.seconds:.3f} s")

    observers.subscribe(watch)

Two events, for every :class:`~switchboard.api.client.TwilioClient` of the process:

- :class:`RequestDone` once per :meth:`~switchboard.api.client.TwilioClient.request` that went
  out (retries included), with the last answer's status or the error it raised;
- :class:`RetryScheduled` each time the retry policy (:class:`~switchboard.api.retry.TwilioRetry`)
  sends a request again.

An observer runs in the thread that made the request, so it must be quick; one that raises
is logged and the request goes on unharmed. Events carry no URL, body or header: nothing that
could hold a SID of a customer's resource or a secret.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Event", "RequestDone", "RetryScheduled", "notify", "subscribe", "unsubscribe"]

log = logging.getLogger("switchboard.api")


@dataclass(frozen=True, slots=True)
class RequestDone:
    """A request finished. ``status``: the HTTP status of the answer (None when none came);
    ``error``: the name of the :class:`~switchboard.api.errors.TwilioError` class it raised
    (``TwilioHTTPError``, ``TwilioTimeout``, ``TwilioConnectionError``...), None on success;
    ``seconds``: from sending to the end, retries and their waits included."""

    method: str
    status: int | None
    error: str | None
    seconds: float


@dataclass(frozen=True, slots=True)
class RetryScheduled:
    """The retry policy sends a request again. ``reason``: the status that is retried
    (``"429"``, ``"503"``...) or what failed without an answer (``"connect"``, ``"read"``,
    or an exception's class name)."""

    method: str
    reason: str


Event = RequestDone | RetryScheduled
Observer = Callable[[Event], None]

_observers: tuple[Observer, ...] = ()


def subscribe(observer: Observer) -> None:
    """Call ``observer(event)`` for every event from now on (once, however often subscribed)."""
    global _observers
    if observer not in _observers:
        _observers = (*_observers, observer)


def unsubscribe(observer: Observer) -> None:
    """Stop calling ``observer``; nothing happens if it was not subscribed."""
    global _observers
    _observers = tuple(o for o in _observers if o != observer)


def active() -> bool:
    """Whether anyone is watching (so that a request with no observer builds no event)."""
    return bool(_observers)


def notify(event: Event) -> None:
    """Tell every observer of ``event``; one that raises is logged, never the caller's problem."""
    for observer in _observers:
        try:
            observer(event)
        except Exception:
            log.exception("an observer of the REST client failed on %s", type(event).__name__)
