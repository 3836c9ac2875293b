"""Run a handler with a deadline, so that Twilio always gets an answer in time.

Twilio waits 15 seconds at most for a webhook. A handler gets ``settings.handler_timeout``
seconds; when they pass, the request is answered with the error policy's safe TwiML and the
handler's work is thrown away (its session is not saved). Two mechanisms, chosen per call:

- **In the main thread** (gunicorn's sync workers, the default deployment, and Flask's test
  client), the handler runs right there, under a one-shot ``SIGALRM`` timer
  (``signal.setitimer``). At the deadline the signal handler raises :class:`HandlerTimeout`
  inside the handler, which unwinds it like any exception. Arming and disarming the timer are
  two system calls, where a hand-over to another thread costs a few hundred microseconds of
  CPU on every request. The store's own transactions are shielded (:func:`shielded`): a
  deadline that falls inside one is raised as soon as the transaction is over, so a timeout
  never leaves a lock or a pooled connection half-handled. A handler that catches the timeout
  and goes on is interrupted again every 50 ms until it gives up. A call blocked inside C code
  that does not return to Python (rare: the standard library's sockets, locks and sleeps all
  do) is answered when it returns, and gunicorn's worker timeout stays the last resort.
- **In any other thread** (``flask run``, gunicorn's threaded workers), signals cannot reach
  the handler, so it runs in a small pool of worker threads while the request thread waits on
  it. At the deadline the request thread answers at once; the late handler finishes (or hangs)
  on its own and :func:`abandoned` tells it to leave no trace. The pool is bounded: when every
  worker is taken (handlers hung on a dead backend, say), a new request does not queue behind
  them, it fails fast with :class:`HandlerTimeout`.

``Deadline(timeout, use_alarm=False)`` always uses the threads; ``timeout <= 0`` runs the
handler inline with no deadline (for debugging).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")

__all__ = ["Deadline", "HandlerTimeout", "abandoned", "bounded", "ends", "shielded"]

#: After a timeout the handler caught and ignored, how soon it is interrupted again.
REPEAT_AFTER = 0.05


class HandlerTimeout(TimeoutError):
    """The handler did not finish before the deadline (or no worker thread was free)."""


# --- the main thread: a SIGALRM timer -------------------------------------------------------


class _Alarm:
    """The state of this process's deadline timer, which only the main thread arms."""

    __slots__ = ("armed", "ends", "expired", "pending", "shield", "timeout")

    def __init__(self) -> None:
        self.armed = False  # a deadline is running
        self.expired = False  # it passed (the handler was told)
        self.pending = False  # it passed inside a shielded section, to be raised on leaving it
        self.shield = 0  # depth of shielded sections
        self.timeout = 0.0  # of the running deadline, for the message (made only if it passes)
        self.ends = 0.0  # time.monotonic() at which it passes


_alarm = _Alarm()
_SETITIMER = getattr(signal, "setitimer", None)
_SIGALRM = getattr(signal, "SIGALRM", None)
# The handler as installed: ``signal.getsignal`` converts it to an enum member by trying, and
# for a Python function that means raising and catching a ValueError (5 us, every request).
try:
    from _signal import getsignal as _getsignal
except ImportError:  # pragma: no cover - not CPython
    _getsignal = signal.getsignal


def _on_alarm(signum: int, frame: object) -> None:
    alarm = _alarm
    if not alarm.armed:
        return  # the handler finished as the timer fired
    if alarm.shield:
        alarm.pending = True
        return
    _expire(alarm)


def _expire(alarm: _Alarm) -> None:
    alarm.expired = True
    alarm.pending = False
    _SETITIMER(signal.ITIMER_REAL, REPEAT_AFTER)  # type: ignore[misc]
    raise HandlerTimeout(_message(alarm.timeout))


def _message(timeout: float) -> str:
    return f"the handler took longer than {timeout:g} s"


def _alarm_usable() -> bool:
    """True in the main thread when SIGALRM is ours to use (installs the handler once)."""
    if _SETITIMER is None or threading.current_thread() is not threading.main_thread():
        return False
    current = _getsignal(_SIGALRM)  # type: ignore[arg-type]
    if current is _on_alarm:
        return True
    if current not in (signal.SIG_DFL, None):
        return False  # someone else's timer: leave it alone
    signal.signal(_SIGALRM, _on_alarm)  # type: ignore[arg-type]
    return True


def shielded() -> contextlib.AbstractContextManager[None]:
    """A section that a deadline does not interrupt: one that falls inside it is raised as
    soon as the section ends. The store runs each transaction shielded, and bounds every wait
    in it by :func:`ends`, so that the section ends before the deadline does."""
    return _Shielded()


def ends() -> float | None:
    """When (``time.monotonic()``) the deadline of the handler running in this thread passes;
    None outside a handler (a thread of the store's own, a script, a deadline of 0).

    What the store's waits are bounded by: a wait in a shielded section cannot be cut, so it
    must end by itself before this."""
    job = _current_job.get()
    if job is not None:
        return job.ends
    alarm = _alarm
    if alarm.armed and threading.current_thread() is threading.main_thread():
        return alarm.ends
    return None


class _Shielded:
    __slots__ = ("counted",)

    def __enter__(self) -> None:
        alarm = _alarm
        self.counted = alarm.armed and threading.current_thread() is threading.main_thread()
        if self.counted:
            alarm.shield += 1

    def __exit__(self, *exc_info: object) -> None:
        if not self.counted:
            return
        alarm = _alarm
        alarm.shield -= 1
        if not alarm.shield and alarm.pending and alarm.armed:
            _expire(alarm)


class _Job(Generic[T]):
    __slots__ = ("abandoned", "context", "done", "ends", "error", "func", "result")

    def __init__(self, func: Callable[[], T], ends: float) -> None:
        self.func = func
        self.ends = ends
        self.context = contextvars.copy_context()
        self.done = threading.Lock()
        self.done.acquire()
        self.result: T | None = None
        self.error: BaseException | None = None
        self.abandoned = False

    def __call__(self) -> T:
        _current_job.set(self)
        return self.func()


class _Bound:
    """A section given an end of its own (:func:`bounded`), as a handler's job has one."""

    __slots__ = ("abandoned", "ends")

    def __init__(self, ends: float) -> None:
        self.ends = ends
        self.abandoned = False


_current_job: contextvars.ContextVar[_Job[Any] | _Bound | None] = contextvars.ContextVar(
    "switchboard_deadline_job", default=None
)


@contextlib.contextmanager
def bounded(seconds: float) -> Iterator[None]:
    """A section outside the handler whose waits must end within ``seconds``, as the
    handler's would: :func:`ends` says when, so the store's waits in it end in time (what a
    view does after its handler, before the answer goes out)."""
    token = _current_job.set(_Bound(time.monotonic() + seconds))
    try:
        yield
    finally:
        _current_job.reset(token)


def abandoned() -> bool:
    """True inside a handler whose deadline passed: the safe answer went out, or is about to.
    Late work checks it to leave no trace (a session is not saved)."""
    job = _current_job.get()
    if job is not None:
        return job.abandoned
    alarm = _alarm
    return alarm.armed and alarm.expired and threading.current_thread() is threading.main_thread()


class _Pool:
    """Worker threads fed from one queue, started on demand up to ``max_workers``."""

    def __init__(self, max_workers: int) -> None:
        self.jobs: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self.max_workers = max_workers
        self.slots = threading.BoundedSemaphore(max_workers)
        self.idle = threading.Semaphore(0)
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()

    def submit(self, job: _Job[Any]) -> None:
        if not self.idle.acquire(blocking=False):
            with self.lock:
                if len(self.threads) < self.max_workers:
                    thread = threading.Thread(
                        target=self._work, name=f"switchboard-handler-{len(self.threads)}",
                        daemon=True,
                    )
                    self.threads.append(thread)
                    thread.start()
        self.jobs.put(job)

    def _work(self) -> None:
        jobs, idle, slots = self.jobs, self.idle, self.slots
        while True:
            job = jobs.get()
            if job is None:
                return
            try:
                job.result = job.context.run(job)
            except BaseException as error:
                job.error = error
            finally:
                job.done.release()
                slots.release()
                del job
                idle.release()

    def shutdown(self) -> None:
        for _ in self.threads:
            self.jobs.put(None)


class Deadline:
    """Runs callables with at most ``timeout`` seconds each (see the module's docstring).

    ``timeout <= 0`` runs the callable in the calling thread with no deadline (for debugging).
    ``use_alarm=False`` uses worker threads even in the main thread. The pool is created
    lazily, in the process that uses it, so the object survives a fork. Worker threads are
    daemons: a handler hung for good does not keep the process alive.
    """

    def __init__(self, timeout: float, max_workers: int = 32, *, use_alarm: bool = True) -> None:
        self.timeout = timeout
        self.max_workers = max_workers
        self.use_alarm = use_alarm
        self._pool_: _Pool | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def _pool(self) -> _Pool:
        pid = os.getpid()
        if self._pool_ is None or self._pid != pid:
            with self._lock:
                if self._pool_ is None or self._pid != pid:
                    self._pool_ = _Pool(self.max_workers)
                    self._pid = pid
        return self._pool_

    def run(self, func: Callable[[], T], *, started: float | None = None) -> T:
        """Call ``func()`` and return its result (or raise its exception), or raise
        :class:`HandlerTimeout` once ``timeout`` seconds have passed.

        ``started``: when (``time.monotonic()``) the time allowed began, if before this call
        (a request's body was read first): ``func`` gets what is left of ``timeout``.

        In a worker thread, the call runs in a copy of the caller's context variables, which
        is where Flask keeps its contexts: ``request``, ``current_app``, ``g`` and ``url_for``
        work as in the view.
        """
        if self.timeout <= 0:
            return func()
        left = self.timeout
        if started is not None:
            left -= time.monotonic() - started
            if left <= 0:
                raise HandlerTimeout(_message(self.timeout))
        if self.use_alarm and not _alarm.armed and _alarm_usable():
            return self._run_with_alarm(func, left)
        return self._run_in_thread(func, left)

    def interrupts(self) -> bool:
        """Whether :meth:`run`, called now in this thread, bounds ``func`` with the alarm,
        which cuts a blocking read short too (a request body that trickles in); False where
        it would use a worker thread or no deadline at all."""
        return self.timeout > 0 and self.use_alarm and not _alarm.armed and _alarm_usable()

    def _run_with_alarm(self, func: Callable[[], T], left: float) -> T:
        alarm = _alarm
        alarm.timeout = self.timeout
        alarm.ends = time.monotonic() + left
        alarm.expired = alarm.pending = False
        alarm.armed = True
        try:
            _SETITIMER(signal.ITIMER_REAL, left)  # type: ignore[misc]
            return func()
        finally:
            alarm.armed = False  # first: a signal arriving now is ignored
            _SETITIMER(signal.ITIMER_REAL, 0)  # type: ignore[misc]
            alarm.pending = False

    def _run_in_thread(self, func: Callable[[], T], left: float) -> T:
        pool = self._pool()
        if not pool.slots.acquire(blocking=False):
            raise HandlerTimeout(f"all {self.max_workers} handler threads are busy")
        job = _Job(func, time.monotonic() + left)
        try:
            pool.submit(job)
        except BaseException:
            pool.slots.release()
            raise
        if not job.done.acquire(timeout=left):
            job.abandoned = True
            raise HandlerTimeout(_message(self.timeout))
        if job.error is not None:
            error, job.error = job.error, None
            raise error
        return job.result  # type: ignore[return-value]

    def shutdown(self) -> None:
        """Let the worker threads exit once they are done with their current handler."""
        if self._pool_ is not None:
            self._pool_.shutdown()
            self._pool_ = None
