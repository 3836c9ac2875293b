"""Run a handler with a deadline, so that Twilio always gets an answer in time.

Twilio waits 15 seconds at most for a webhook. Python cannot stop a thread, so a handler runs in
a small pool of worker threads while the request thread waits on it for
``settings.handler_timeout`` seconds. When the deadline passes the request thread answers with
the error policy's safe TwiML at once; the late handler finishes (or hangs) on its own and its
result is thrown away, and its session is not saved.

The pool is bounded: at most ``max_workers`` handlers run at the same time. When every worker
is taken (handlers hung on a dead backend, say), a new request does not queue behind them: it
fails fast with :class:`HandlerTimeout` and gets the safe answer straight away.
"""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

T = TypeVar("T")

__all__ = ["Deadline", "HandlerTimeout"]


class HandlerTimeout(TimeoutError):
    """The handler did not finish before the deadline (or no worker thread was free)."""


class Deadline:
    """Runs callables in worker threads and waits for each at most ``timeout`` seconds.

    ``timeout <= 0`` runs the callable in the calling thread with no deadline (for debugging).
    The pool is created lazily, in the process that uses it, so the object survives a fork.
    """

    def __init__(self, timeout: float, max_workers: int = 32) -> None:
        self.timeout = timeout
        self.max_workers = max_workers
        self._slots = threading.BoundedSemaphore(max_workers)
        self._executor: ThreadPoolExecutor | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def _pool(self) -> ThreadPoolExecutor:
        pid = os.getpid()
        if self._executor is None or self._pid != pid:
            with self._lock:
                if self._executor is None or self._pid != pid:
                    self._slots = threading.BoundedSemaphore(self.max_workers)
                    self._executor = ThreadPoolExecutor(
                        self.max_workers, thread_name_prefix="switchboard-handler"
                    )
                    self._pid = pid
        return self._executor

    def run(self, func: Callable[[], T]) -> T:
        """Call ``func()`` in a worker thread and return its result.

        The call runs in a copy of the caller's context variables, which is where Flask keeps
        its contexts: ``request``, ``current_app``, ``g`` and ``url_for`` work as in the view.
        """
        if self.timeout <= 0:
            return func()
        pool = self._pool()
        slots = self._slots
        if not slots.acquire(blocking=False):
            raise HandlerTimeout(f"all {self.max_workers} handler threads are busy")
        context = contextvars.copy_context()

        def task() -> T:
            try:
                return context.run(func)
            finally:
                slots.release()

        try:
            future = pool.submit(task)
        except BaseException:
            slots.release()
            raise
        try:
            return future.result(self.timeout)
        except FutureTimeout:
            if future.cancel():
                slots.release()
            raise HandlerTimeout(f"the handler took longer than {self.timeout:g} s") from None

    def shutdown(self) -> None:
        """Stop the pool without waiting for handlers that are still running."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
