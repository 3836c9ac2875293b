"""Run a handler with a deadline, so that Twilio always gets an answer in time.

Twilio waits 15 seconds at most for a webhook. Python cannot stop a thread, so a handler runs in
a small pool of worker threads while the request thread waits on it for
``settings.handler_timeout`` seconds. When the deadline passes the request thread answers with
the error policy's safe TwiML at once; the late handler finishes (or hangs) on its own and its
result is thrown away, and its session is not saved.

The pool is bounded: at most ``max_workers`` handlers run at the same time. When every worker
is taken (handlers hung on a dead backend, say), a new request does not queue behind them: it
fails fast with :class:`HandlerTimeout` and gets the safe answer straight away.

The hand-over is kept lean, as it is on every request's path: a job is a slot object with a
pre-acquired lock that the worker releases when done (no ``Future``, no condition variable),
and the job runs in a copy of the caller's context variables, where Flask keeps ``request``,
``current_app`` and ``g`` (no request context is pushed again).
"""

from __future__ import annotations

import contextvars
import os
import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")

__all__ = ["Deadline", "HandlerTimeout", "abandoned"]


class HandlerTimeout(TimeoutError):
    """The handler did not finish before the deadline (or no worker thread was free)."""


class _Job(Generic[T]):
    __slots__ = ("abandoned", "context", "done", "error", "func", "result")

    def __init__(self, func: Callable[[], T]) -> None:
        self.func = func
        self.context = contextvars.copy_context()
        self.done = threading.Lock()
        self.done.acquire()
        self.result: T | None = None
        self.error: BaseException | None = None
        self.abandoned = False

    def __call__(self) -> T:
        _current_job.set(self)
        return self.func()


_current_job: contextvars.ContextVar[_Job[Any] | None] = contextvars.ContextVar(
    "switchboard_deadline_job", default=None
)


def abandoned() -> bool:
    """True inside a job whose caller stopped waiting for it: the deadline passed and the safe
    answer went out. Late work checks it to leave no trace (a session is not saved)."""
    job = _current_job.get()
    return job is not None and job.abandoned


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
    """Runs callables in worker threads and waits for each at most ``timeout`` seconds.

    ``timeout <= 0`` runs the callable in the calling thread with no deadline (for debugging).
    The pool is created lazily, in the process that uses it, so the object survives a fork.
    Worker threads are daemons: a handler hung for good does not keep the process alive.
    """

    def __init__(self, timeout: float, max_workers: int = 32) -> None:
        self.timeout = timeout
        self.max_workers = max_workers
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

    def run(self, func: Callable[[], T]) -> T:
        """Call ``func()`` in a worker thread and return its result (or raise its exception).

        The call runs in a copy of the caller's context variables, which is where Flask keeps
        its contexts: ``request``, ``current_app``, ``g`` and ``url_for`` work as in the view.
        """
        if self.timeout <= 0:
            return func()
        pool = self._pool()
        if not pool.slots.acquire(blocking=False):
            raise HandlerTimeout(f"all {self.max_workers} handler threads are busy")
        job = _Job(func)
        try:
            pool.submit(job)
        except BaseException:
            pool.slots.release()
            raise
        if not job.done.acquire(timeout=self.timeout):
            job.abandoned = True
            raise HandlerTimeout(f"the handler took longer than {self.timeout:g} s")
        if job.error is not None:
            error, job.error = job.error, None
            raise error
        return job.result  # type: ignore[return-value]

    def shutdown(self) -> None:
        """Let the worker threads exit once they are done with their current handler."""
        if self._pool_ is not None:
            self._pool_.shutdown()
            self._pool_ = None
