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
  come faster than they go in, a write stuck on a lock). Beyond that rows are dropped, the
  expendable ones first (``submit(..., expendable=True)``: what each webhook was answered),
  oldest first; the others (calls, messages, a flow's steps), oldest first, only once no
  expendable row is left. An error in the log says how many, by table (one line every few
  seconds at most).
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
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from switchboard.callbacks.store.engine import is_outage
from switchboard.callbacks.store.errors import StoreUnavailable

log = logging.getLogger("switchboard.callbacks.store")

#: A row as handed over: (table name, its SID for the log, what the store makes the row from).
Row = tuple[str, str, Any]

#: A row waiting: (its number in the order rows were handed over, whether it is expendable, it).
_Entry = tuple[int, bool, Row]

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
        # Two queues, each in the order its rows came, merged by number when a batch is taken:
        # the expendable rows, dropped first when more than ``hold`` wait, and the others.
        self._kept: deque[_Entry] = deque()
        self._spare: deque[_Entry] = deque()
        self._flying: int | None = None  # the number of the first row of the batch in flight
        self._cond = threading.Condition(threading.Lock())
        self._writing = threading.Lock()  # held while a batch is written, to keep rows in order
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self._failure: StoreUnavailable | None = None
        self._unthreaded = False  # said once that no thread could be started
        self._handed = 0  # rows handed over since the start: the next row's number
        self._hurry = 0  # the thread gathers no more while fewer rows than this are settled
        self._dropped: dict[str, int] = {}  # by table, not said yet
        self._dropped_total: dict[str, int] = {}  # by table, never written, since the start
        self._say_dropped_at = 0.0

    def __len__(self) -> int:
        return len(self._kept) + len(self._spare)

    @property
    def dropped(self) -> int:
        """The rows handed over in this process that were never written and never will be:
        dropped beyond ``hold``, or still waiting when :meth:`close` could not write them
        (rows the database refused are not counted: each is logged with its SID)."""
        with self._cond:
            return sum(self._dropped_total.values())

    @property
    def dropped_by_table(self) -> dict[str, int]:
        """:attr:`dropped`, by table name (only the tables that lost rows)."""
        with self._cond:
            return dict(self._dropped_total)

    @property
    def failure(self) -> StoreUnavailable | None:
        """The outage that failed the last write, while rows wait for the database (None once
        a write went in, or when no row waits any more)."""
        failure = self._failure
        return failure if failure is not None and (self._kept or self._spare) else None

    def submit(self, table: str, sid: str, data: Any, *, expendable: bool = False) -> None:
        """Hand a row over; it is written within ``delay`` seconds while the database is up.

        With ``hold`` rows waiting already, one is dropped to make room: the oldest
        ``expendable`` row waiting (this one, when it is the only one), else the oldest row."""
        with self._cond:
            entry = (self._handed, expendable, (table, sid, data))
            (self._spare if expendable else self._kept).append(entry)
            self._handed += 1
            waiting = len(self._kept) + len(self._spare)
            if waiting > self.hold:
                self._make_room()
            threaded = self._thread is not None or self._start()
            if threaded and (waiting == 1 or waiting >= self.batch):
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
        while self._settled_under_lock() < target and self._write_some(timeout):
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
            if self._settled() >= target:
                return True
            if self._thread is None and not self._start():
                return False
            self._hurry = max(self._hurry, target)
            self._cond.notify_all()
            while self._settled() < target:
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
                lost: dict[str, int] = {}
                for lane in (self._kept, self._spare):
                    for _, _, (table, _, _) in lane:
                        lost[table] = lost.get(table, 0) + 1
                    lane.clear()
                for table, count in lost.items():
                    self._dropped_total[table] = self._dropped_total.get(table, 0) + count
                total = sum(self._dropped_total.values())
                self._failure = None
                self._cond.notify_all()
            log.error("%d webhook rows lost (%s; %d in all since the start): %s",
                      sum(lost.values()), _by_table(lost), total, error)
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
                while not (self._kept or self._spare) and not closed.is_set():
                    cond.wait()
                # Gather rows for ``delay`` seconds from the first, unless a batch fills first
                # or a reader waits for them (wait_written).
                deadline = time.monotonic() + self.delay
                while (len(self) < self.batch and not closed.is_set()
                       and self._settled() >= self._hurry):
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
                taken = self._take(self.batch)
            if not taken:
                return False
            rows = [row for _, _, row in taken]
            try:
                try:
                    self._write(rows)
                    rows.clear()
                except StoreUnavailable as error:
                    if not self._database_up(error):
                        raise
                    self._one_by_one(rows)  # one bad row: the others still go in
            except StoreUnavailable as error:
                self._down(error, len(self) + len(rows))
                raise
            finally:
                self._requeue(taken[len(taken) - len(rows):])  # rows: those not written
            self._up()
            return True
        finally:
            self._writing.release()
            if self._dropped:  # said at once when the queue is empty again
                self._say_dropped(now=not len(self))

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

    # -- the two queues ---------------------------------------------------------------------------

    def _settled(self) -> int:
        """How many rows, from the first handed over on, are done with (written, or dropped):
        the number of the oldest row still waiting or being written (with ``_cond`` held).
        Rows done with out of order (an expendable row dropped before older ones) count once
        those before them are, so that ``flush`` knows when its own rows are."""
        if self._flying is not None:  # a batch in flight holds the oldest rows
            return self._flying
        settled = self._handed
        if self._kept:
            settled = self._kept[0][0]
        if self._spare and self._spare[0][0] < settled:
            settled = self._spare[0][0]
        return settled

    def _settled_under_lock(self) -> int:
        with self._cond:
            return self._settled()

    def _take(self, count: int) -> list[_Entry]:
        """Take the oldest ``count`` rows of both queues, in the order they came, as the batch
        in flight (with ``_cond`` held)."""
        kept, spare = self._kept, self._spare
        taken: list[_Entry] = []
        while len(taken) < count:
            if kept and (not spare or kept[0][0] < spare[0][0]):
                taken.append(kept.popleft())
            elif spare:
                taken.append(spare.popleft())
            else:
                break
        if taken:
            self._flying = taken[0][0]
        return taken

    def _requeue(self, entries: list[_Entry]) -> None:
        """End the batch in flight: put ``entries`` (those not written) back in front."""
        with self._cond:
            self._flying = None
            for entry in reversed(entries):
                (self._spare if entry[1] else self._kept).appendleft(entry)
            if len(self._kept) + len(self._spare) > self.hold:
                self._make_room()
            if self._hurry:
                self._cond.notify_all()  # a reader may be waiting for these (wait_written)

    def _make_room(self) -> None:
        """Drop the rows beyond ``hold``: the oldest expendable rows, then the oldest others
        (with ``_cond`` held)."""
        extra = len(self._kept) + len(self._spare) - self.hold
        dropped, total = self._dropped, self._dropped_total
        for _ in range(extra):
            _, _, (table, _, _) = (self._spare or self._kept).popleft()
            dropped[table] = dropped.get(table, 0) + 1
            total[table] = total.get(table, 0) + 1
        if self._hurry:
            self._cond.notify_all()

    def _say_dropped(self, *, now: bool = False) -> None:
        """Log how many rows were dropped since the last line, by table, at most every few
        seconds."""
        moment = time.monotonic()
        with self._cond:
            dropped = self._dropped
            if not dropped or (moment < self._say_dropped_at and not now):
                return
            self._dropped = {}
            self._say_dropped_at = moment + DROPPED_EVERY
            total = dict(self._dropped_total)
        counts = {table: f"{dropped.get(table, 0)} ({count} in all)"
                  for table, count in total.items()}
        log.error("%d webhook rows dropped, never to be written (%d in all since the "
                  "start): more than %d waited to be written; by table: %s",
                  sum(dropped.values()), sum(total.values()), self.hold, _by_table(counts))


def _by_table(counts: Mapping[str, object]) -> str:
    """``calls 3, webhook_exchanges 40``: ``counts`` by table name, in name order."""
    return ", ".join(f"{table} {counts[table]}" for table in sorted(counts))


def _reset_in_child(ref: weakref.ref[WriteBehind]) -> None:
    behind = ref()
    if behind is not None:
        behind._reset()
