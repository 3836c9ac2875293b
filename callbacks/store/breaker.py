"""The store's circuit breaker: a database that failed is not waited for again at once.

When a store operation fails because of the database (it cannot be reached, opened or
written: :func:`~switchboard.callbacks.store.engine.is_outage`, or a wait ran out of time),
the breaker opens. While it is open, an operation run for a webhook (under a handler's
deadline) fails at once with :class:`StoreUnavailable`, so that the caller gets the safe
answer in milliseconds instead of each request waiting out the same dead database. Meanwhile
a thread of the breaker's own checks the database every ``interval`` seconds (5 by default):
its tables created if need be, and a write, waiting as long as the store's own limits allow,
off the request path. Its success closes the breaker; so does any other operation that
succeeds off the request path (the write-behind, a health check). No request pays for finding
out that the database is back.

Two circuits: a failure to reach the database at all (no connection, a connection cut, a file
that cannot be opened) or of a read stops every operation; a write that fails on a database
that still answers (a lock held too long, a read-only or full database) stops only writes, so
that reads (a caller's session) still go through.

A failure is news only if its operation started after the breaker last closed: an operation
that was already waiting on the dead database (a connection being opened when the host froze)
can fail seconds after the database came back and the breaker closed, and must not open it
again.

One breaker per store and process: each gunicorn worker finds out for itself, once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable

from switchboard.callbacks.store.errors import StoreUnavailable

log = logging.getLogger("switchboard.callbacks.store")

INTERVAL = 5.0
"""Seconds between two probes of a database that failed (``Store(retry_after=...)``)."""


class Breaker:
    """``check(write)`` before a webhook's operation; ``failed`` and ``succeeded`` after any.

    ``probe()`` checks the database, raising :class:`StoreUnavailable` when it is still out
    (it runs in a thread of the breaker's own, outside any deadline)."""

    def __init__(self, probe: Callable[[], None], interval: float = INTERVAL) -> None:
        self.interval = interval
        self._probe = probe
        self._reset()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _reset_in_child(ref))

    def _reset(self) -> None:
        self._all: StoreUnavailable | None = None  # why every operation is stopped
        self._writes: StoreUnavailable | None = None  # why writes are
        #: Whether it is open at all: the one attribute an operation reads while it is closed.
        self.tripped = False
        self._since = 0.0  # time.monotonic() of the failure that opened it
        self._next_probe = 0.0  # time.monotonic() of the next probe
        self._closed_at = float("-inf")  # time.monotonic() at which it last closed
        self._lock = threading.Lock()
        self._closed = threading.Event()  # set when the breaker closes: the prober stops
        self._prober: threading.Thread | None = None
        self._generation = 0  # moved on by close(): a prober of an earlier one stops
        self.probes = 0  # probes run since the start, for tests and logs

    @property
    def open(self) -> StoreUnavailable | None:
        """The failure that keeps writes (at least) stopped, None when closed."""
        return self._all or self._writes

    def check(self, write: bool) -> None:
        """Raise at once while the breaker is open for this kind of operation."""
        failure = self._all or (self._writes if write else None)
        if failure is None:
            return
        if self._prober is None:  # opened off the request path, or a forked child's
            self._start_prober()
        wait = max(0.0, self._next_probe - time.monotonic())
        again = f"tried again in {wait:.1f} s" if wait else "being tried again"
        raise StoreUnavailable(
            f"{failure} ({again})", reason=f"{failure.reason} ({again})"
        ) from failure.__cause__

    def failed(self, error: StoreUnavailable, *, everything: bool, request: bool,
               started: float | None = None) -> None:
        """An operation failed for the database: stop every operation (``everything``) or
        writes only, for ``interval`` seconds. Off the request path (``request`` false: at
        start-up, in the write-behind, in a script) the probing starts only when a webhook
        first meets the open breaker: a script that meets a dead database runs no thread.

        ``started`` (``time.monotonic()``) is when the failed operation began: one that began
        before the breaker last closed tells nothing new and is ignored."""
        with self._lock:
            if started is not None and started < self._closed_at:
                return
            was_open = self.open is not None
            if everything:
                self._all = error
            self._writes = error
            self.tripped = True
            now = time.monotonic()
            if not was_open:
                self._since = now
                self._closed.clear()
            self._next_probe = max(self._next_probe, now + self.interval)
        if not was_open and request:
            self._start_prober()

    def succeeded(self, write: bool) -> None:
        """An operation went through: a write closes the breaker; a read, its circuit of
        every operation."""
        if self._all is None and (self._writes is None or not write):
            return
        with self._lock:
            was = self.open
            self._all = None
            if write:
                self._writes = None
            self.tripped = self._writes is not None
            closed = was is not None and self.open is None
            since = self._since
            if was is not None:
                self._closed_at = time.monotonic()
            if closed:
                self._closed.set()
                closed = self._prober is not None  # said it stopped trying: say it is back
        if closed:
            log.warning("the database answers again after %.1f s: the store uses it again",
                        time.monotonic() - since)

    def close(self) -> None:
        """Forget the failure and stop the probing thread (``Store.close``): the next operation
        tries the database again."""
        with self._lock:
            self._all = self._writes = None
            self.tripped = False
            self._closed_at = time.monotonic()
            self._generation += 1
            self._closed.set()

    def _start_prober(self) -> None:
        with self._lock:
            failure = self.open
            if self._prober is not None or failure is None:
                return
            thread = threading.Thread(target=self._probe_until_closed,
                                      name="switchboard-store-probe", daemon=True)
            try:
                thread.start()
            except RuntimeError:  # the interpreter is ending, or out of threads
                return
            self._prober = thread
        log.warning("%s: webhooks no longer wait for it; checked every %g s until it answers",
                    failure, self.interval)

    def _probe_until_closed(self) -> None:
        """Every ``interval`` seconds, check the database, until the breaker is closed."""
        generation = self._generation
        while True:
            with self._lock:
                if self.open is None or self._generation != generation:
                    if self._prober is threading.current_thread():
                        self._prober = None
                    return
                closed = self._closed
            if closed.wait(max(0.0, self._next_probe - time.monotonic())):
                continue
            self.probes += 1
            try:
                self._probe()
            except StoreUnavailable:
                pass  # failed() was told by the store
            except Exception:
                log.exception("the database probe failed")
            with self._lock:
                self._next_probe = max(self._next_probe, time.monotonic() + self.interval)


def _reset_in_child(ref: weakref.ref[Breaker]) -> None:
    """A forked child keeps what its parent learnt, without the parent's probe thread."""
    breaker = ref()
    if breaker is not None:
        failure_all, failure_writes = breaker._all, breaker._writes
        since, next_probe, closed_at = breaker._since, breaker._next_probe, breaker._closed_at
        breaker._reset()
        breaker._all, breaker._writes = failure_all, failure_writes
        breaker.tripped = failure_writes is not None
        breaker._since, breaker._next_probe, breaker._closed_at = since, next_probe, closed_at
