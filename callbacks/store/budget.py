"""How long the store may wait: within what is left of the handler's deadline.

A webhook's store work runs in sections the deadline cannot cut
(:func:`~switchboard.callbacks.deadline.shielded`), so each wait in it must end by itself in
time: the writer lock, SQLite's busy handler, a pooled connection, a new PostgreSQL connection,
a statement. Each is given the smaller of its own limit (``Store(busy_timeout=...,
connect_timeout=..., pool_timeout=...)``) and what is left of the handler's deadline less
:data:`RESERVE`, but never less than :data:`FLOOR`. Outside a handler (the write-behind and
purge threads, the breaker's probe, start-up, scripts) only the store's own limits apply, and
:data:`BACKGROUND` bounds a PostgreSQL statement.
"""

from __future__ import annotations

import time

from switchboard.callbacks import deadline

RESERVE = 0.25
"""Seconds of a handler's deadline kept for answering once the store gives up: the store's
waits end this long before the deadline passes."""

FLOOR = 0.05
"""The least a wait is given, even past the budget: a lock or connection free within 50 ms
is taken rather than refused."""

BACKGROUND = 30.0
"""Seconds a PostgreSQL statement may take outside a handler (a batch of the write-behind, a
purge, a check): beyond it the server cancels it, or the connection is cut (see
:class:`~switchboard.callbacks.store.watchdog.Watchdog`)."""


def ends() -> float | None:
    """When (``time.monotonic()``) the store's waits must be over in this thread: the
    handler's deadline less :data:`RESERVE`; None outside a handler."""
    end = deadline.ends()
    return None if end is None else end - RESERVE


def wait(limit: float, end: float | None = None) -> float:
    """Seconds a wait whose own limit is ``limit`` may take now: ``limit`` outside a handler,
    else at most what is left before ``end`` (:func:`ends` by default), at least :data:`FLOOR`."""
    if end is None:
        end = ends()
        if end is None:
            return limit
    return min(limit, max(FLOOR, end - time.monotonic()))


def spent(end: float | None) -> bool:
    """Whether less than :data:`FLOOR` is left before ``end`` (None: never)."""
    return end is not None and end - time.monotonic() < FLOOR


def milliseconds(seconds: float) -> int:
    """``seconds`` rounded down to a step that repeats from one request to the next (whole
    seconds from 2 s, else tenths, at least :data:`FLOOR`), in ms: a timeout set on a
    connection is set again only when the step changes."""
    if seconds >= 2:
        return int(seconds) * 1000
    return max(int(FLOOR * 1000), int(seconds * 10) * 100)
