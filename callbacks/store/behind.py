"""Rows written just after the answer: the rows a webhook leaves behind ("webhook rows").

A voice or SMS webhook records its call or message (``Store.record_call``,
``Store.record_message``), a flow's step its steps, and others hand rows over with
``Store.defer``; nothing in the answer depends on those rows. Written before the
answer, a row that fails is only logged and lost, and each row is a commit of its own: on
SQLite from several gunicorn workers that is file locks, a log write and the other worker's
pages read again, several times the CPU of the upsert.

:class:`WriteBehind` keeps such rows in memory for at most ``delay`` seconds and writes all
that gathered in that time in one transaction, from a thread of the process, after the
answer has gone. Rows are written in the order they came; a row's content (its time
included) is fixed when it is handed over. What changes for the rows it holds:

- The database down: the rows wait and are written when it is back, in order, where a write
  before the answer would lose them at once.
- At most ``hold`` rows wait, whatever the reason (the database down, or so slow that rows
  come faster than they go in, a write stuck on a lock): beyond that the oldest are dropped,
  with an error in the log saying how many (one line every few seconds at most).
- The process killed (SIGKILL, a crash): the rows of the last ``delay`` seconds are lost. A
  process that ends normally (gunicorn's graceful stop, a worker recycled after
  ``max_requests``, ``Store.close``) writes them first.
- Readers in the same process see every row handed over (the store flushes before it reads
  those tables; a console page asks the thread to write them now and waits a moment,
  :meth:`WriteBehind.wait_written`); another process sees a row ``delay`` seconds later at
  most, in normal operation.

A row the database refuses (it is up, but not for that row) is logged and dropped alone,
without holding back the rest of its batch. A failure of the database itself (a full disk, an
I/O error, a lock: :func:`~callbacks.store.engine.is_outage`) is an outage even when the
``ready`` check passes. :attr:`WriteBehind.failure` is the outage that keeps rows waiting,
which ``/healthz`` reports.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from switchboard.callbacks.store.engine import is_outage
from switchboard.callbacks.store.errors import StoreUnavailable

log = logging.getLogger("switchboard.callbacks.store")

#: A row as handed over: (table name, its SID for the log, what the store makes the row from).
Row = tuple[str, str, Any]

#: Seconds between two lines saying how many rows were dropped.
DROPPED_EVERY = 5.0


class WriteBehind:
    """A queue of rows with a thread that writes them in batches (see the module docstring).

    ``write(rows)`` writes a batch in one transaction (raising :class:`StoreUnavailable`);
    ``ready()`` raises it unless the database answers with its tables in place (the store's
    ``create_all``), to tell an outage from a bad row.
    """

    def __init__(
        self,
        write: Callable[[Sequence[Row]], None],
        ready: Callable[[], None],
        *,
        delay: float,
        hold: int = 20_000,
        batch: int = 500,
        retry: float = 0.5,
    ) -> None:
        self._write = write
        self._ready = ready
        self.delay = delay
        self.hold = hold
        self.batch = batch
        self.retry = retry
        self._reset()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _reset_in_child(ref))

    def _reset(self) -> None:
        """Fresh state: at start and in a forked child (the parent writes its own rows)."""
        self._pending: list[Row] = []
        self._cond = threading.Condition(threading.Lock())
        self._writing = threading.Lock()  # held while a batch is written, to keep rows in order
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self._failure: StoreUnavailable | None = None
        self._unthreaded = False  # said once that no thread could be started
        # Rows handed over, and rows done with (written, or dropped) since the start: the
        # rows done are always the oldest, so ``flush`` knows when its own rows are.
        self._handed = 0
        self._settled = 0
        self._hurry = 0  # the thread gathers no more while fewer rows than this are settled
        self._dropped = 0  # not said yet
        self._dropped_total = 0  # never written, since the start (dropped, or lost at close)
        self._say_dropped_at = 0.0

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def dropped(self) -> int:
        """The rows handed over in this process that were never written and never will be:
        dropped beyond ``hold``, or still waiting when :meth:`close` could not write them
        (rows the database refused are not counted: each is logged with its SID)."""
        return self._dropped_total

    @property
    def failure(self) -> StoreUnavailable | None:
        """The outage that failed the last write, while rows wait for the database (None once
        a write went in, or when no row waits any more)."""
        failure = self._failure
        return failure if failure is not None and self._pending else None

    def submit(self, table: str, sid: str, data: Any) -> None:
        """Hand a row over; it is written within ``delay`` seconds while the database is up.

        With ``hold`` rows waiting already, the oldest is dropped to make room."""
        with self._cond:
            pending = self._pending
            pending.append((table, sid, data))
            self._handed += 1
            if len(pending) > self.hold:
                self._drop_oldest()
            threaded = self._thread is not None or self._start()
            if threaded and (len(pending) == 1 or len(pending) >= self.batch):
                self._cond.notify()
            dropped = self._dropped
        if dropped:
            self._say_dropped()
        if not threaded:  # no thread to spare: written now, in this one (or with the next)
            with contextlib.suppress(StoreUnavailable):
                self.flush()

    def flush(self, timeout: float | None = None) -> None:
        """Write every row handed over so far, in this thread, or wait for the batch the
        thread is writing; raises :class:`StoreUnavailable` (the rows stay queued) when the
        database is down, or when the thread's batch is still being written after
        ``timeout`` seconds (a request's budget: the thread may be waiting for a lock). Rows
        handed over meanwhile by other threads are left to the thread, so that a flush under
        load ends."""
        target = self._handed
        while self._settled < target and self._write_some(timeout):
            pass

    def wait_written(self, timeout: float) -> bool:
        """Have the thread write every row handed over so far at once (without gathering for
        ``delay``) and wait for it up to ``timeout`` seconds: True once they are written (or
        dropped), False when they are not yet (the database is down, slow or locked: they
        stay queued). Nothing is written in this thread, so that a reader that must not wait
        long (a console page) never waits for the database's locks itself."""
        end = time.monotonic() + timeout
        with self._cond:
            target = self._handed
            if self._settled >= target:
                return True
            if self._thread is None and not self._start():
                return False
            self._hurry = max(self._hurry, target)
            self._cond.notify_all()
            while self._settled < target:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def close(self) -> None:
        """Write what is queued (logging what cannot be) and stop the thread."""
        self._closed.set()
        with self._cond:
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=max(1.0, self.delay * 10))
        try:
            while self._write_some():  # every row, those handed over meanwhile too
                pass
        except StoreUnavailable as error:
            with self._cond:
                lost, self._pending = len(self._pending), []
                self._settled += lost
                self._dropped_total += lost
                total = self._dropped_total
                self._failure = None
                self._cond.notify_all()
            log.error("%d webhook rows lost (%d in all since the start): %s",
                      lost, total, error)
        self._say_dropped(now=True)
        with self._cond:
            self._thread = None
            self._closed = threading.Event()

    # -- the thread ------------------------------------------------------------------------------

    def _start(self) -> bool:
        thread = threading.Thread(target=self._run, name="switchboard-write-behind", daemon=True)
        try:
            thread.start()
        except RuntimeError as error:  # the interpreter is ending, or out of threads
            if not self._unthreaded:
                log.warning("no write-behind thread (%s): rows are written as they come", error)
            self._unthreaded = True
            return False
        self._thread = thread
        return True

    def _run(self) -> None:
        closed, cond = self._closed, self._cond
        while True:
            with cond:
                while not self._pending and not closed.is_set():
                    cond.wait()
                # Gather rows for ``delay`` seconds from the first, unless a batch fills first
                # or a reader waits for them (wait_written).
                deadline = time.monotonic() + self.delay
                while (len(self._pending) < self.batch and not closed.is_set()
                       and self._settled >= self._hurry):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    cond.wait(remaining)
                if closed.is_set():
                    return  # close() writes what is left
            try:
                self._write_some()
            except StoreUnavailable:
                closed.wait(self.retry)
            except Exception:  # never let the thread die with rows queued
                log.exception("writing webhook rows failed")
                closed.wait(self.retry)

    def _write_some(self, timeout: float | None = None) -> bool:
        """Write the oldest rows (up to ``batch``) in one transaction; whatever is not written
        (an outage, or any exception, a handler's deadline included) goes back in front.
        False when there was nothing to write: no row waits, and none is being written.
        ``timeout``: seconds to wait at most for a batch another thread is writing."""
        # Held by a batch in flight: once ours, that one is committed (or back in the queue).
        if not self._writing.acquire(timeout=-1 if timeout is None else timeout):
            raise StoreUnavailable(
                f"webhook rows still being written after {timeout:g} s (the database "
                "is slow or locked)"
            )
        try:
            with self._cond:
                rows = self._pending[: self.batch]
                del self._pending[: len(rows)]
            if not rows:
                return False
            taken = len(rows)
            try:
                try:
                    self._write(rows)
                    rows.clear()
                except StoreUnavailable as error:
                    if not self._database_up(error):
                        raise
                    self._one_by_one(rows)  # one bad row: the others still go in
            except StoreUnavailable as error:
                self._down(error, len(self._pending) + len(rows))
                raise
            finally:
                self._requeue(rows, taken - len(rows))  # rows: those not written
            self._up()
            return True
        finally:
            self._writing.release()
            if self._dropped:  # said at once when the queue is empty again
                self._say_dropped(now=not self._pending)

    def _down(self, error: StoreUnavailable, waiting: int) -> None:
        if self._failure is None:
            log.warning("%d webhook rows wait for the database: %s", waiting, error)
        self._failure = error

    def _up(self) -> None:
        if self._failure is not None:
            self._failure = None
            log.warning("the database is back: webhook rows are written again")
            self._say_dropped(now=True)

    def _database_up(self, error: StoreUnavailable) -> bool:
        """False when ``error`` is the database's (a full disk, say, which the check's write of
        nothing passes) or the database fails its check: the rows wait rather than being
        dropped as refused."""
        if is_outage(error.__cause__):
            return False
        try:
            self._ready()
        except StoreUnavailable:
            return False
        return True

    def _one_by_one(self, rows: list[Row]) -> None:
        """Write ``rows`` one at a time, dropping (and logging) those the database refuses while
        it is up; ``rows`` is left holding those not written when it goes down."""
        while rows:
            try:
                self._write(rows[:1])
            except StoreUnavailable as error:
                if not self._database_up(error):
                    raise
                log.warning("%s row %s not recorded: %s", rows[0][0], rows[0][1], error)
            del rows[0]

    def _requeue(self, rows: list[Row], settled: int) -> None:
        """Put ``rows`` back in front; ``settled`` rows of the batch were done with."""
        with self._cond:
            self._settled += settled
            if rows:
                self._pending[:0] = rows
                if len(self._pending) > self.hold:
                    self._drop_oldest()
            if settled and self._hurry:
                self._cond.notify_all()  # a reader may be waiting for these (wait_written)

    def _drop_oldest(self) -> None:
        """Drop the rows beyond ``hold``, oldest first (with ``_cond`` held)."""
        extra = len(self._pending) - self.hold
        del self._pending[:extra]
        self._settled += extra
        self._dropped += extra
        self._dropped_total += extra
        if self._hurry:
            self._cond.notify_all()

    def _say_dropped(self, *, now: bool = False) -> None:
        """Log how many rows were dropped since the last line, at most every few seconds."""
        moment = time.monotonic()
        with self._cond:
            dropped = self._dropped
            if not dropped or (moment < self._say_dropped_at and not now):
                return
            self._dropped = 0
            self._say_dropped_at = moment + DROPPED_EVERY
            total = self._dropped_total
        log.error("%d webhook rows dropped, never to be written (%d in all since the "
                  "start): more than %d waited to be written", dropped, total, self.hold)


def _reset_in_child(ref: weakref.ref[WriteBehind]) -> None:
    behind = ref()
    if behind is not None:
        behind._reset()
