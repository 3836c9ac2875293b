"""Housekeeping that a webhook starts but never waits for: a purge of old rows, say."""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from typing import Any

log = logging.getLogger("switchboard.callbacks")


class NowAndThen:
    """Calling it runs :meth:`work` on a store in a thread of its own, at most every
    ``every`` seconds and one round at a time in a process, never in the caller's thread (a
    webhook answers without waiting for it). :meth:`arguments` is read in the caller's thread
    (its app context) and handed to :meth:`work`; a failure is logged as ``old WHAT not
    purged: ...`` and the next round tries again. A forked child starts afresh: a round
    running in the parent at the fork holds no lock there, and the child's first call runs
    one."""

    #: What the rounds deal with, for the thread's name and the log.
    what = "rows"
    thread_name = "switchboard-purge"

    def __init__(self, every: float) -> None:
        self.every = every
        self._last: float | None = None
        self._lock = threading.Lock()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _reset_in_child(ref))

    def __call__(self, store: Any) -> None:
        now = time.monotonic()
        if self._last is not None and now - self._last < self.every:
            return
        if not self._lock.acquire(blocking=False):
            return  # a round is running
        self._last = now
        thread = threading.Thread(target=self._round, args=(store, *self.arguments()),
                                  name=self.thread_name, daemon=True)
        try:
            thread.start()
        except RuntimeError as error:  # the interpreter is ending, or out of threads
            self._lock.release()
            log.warning("old %s not purged: no thread (%s)", self.what, error)

    def arguments(self) -> tuple[Any, ...]:
        return ()

    def work(self, store: Any, *arguments: Any) -> None:
        raise NotImplementedError

    def _round(self, store: Any, *arguments: Any) -> None:
        try:
            self.work(store, *arguments)
        except Exception as error:
            log.warning("old %s not purged: %s", self.what, error)
        finally:
            self._lock.release()


def _reset_in_child(ref: weakref.ref[NowAndThen]) -> None:
    """In a forked child: the parent's round (its thread is not there) holds no lock."""
    rounds = ref()
    if rounds is not None:
        rounds._last = None
        rounds._lock = threading.Lock()
