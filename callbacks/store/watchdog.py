"""Cutting a PostgreSQL connection whose operation outlives its budget.

A server that accepts a connection and then never answers (a hung host, a black-holing
firewall, a proxy whose backend is gone) leaves the client waiting for a reply for as long as
TCP keeps the connection open: the kernel acknowledges what is sent, so no TCP timeout fires,
and PostgreSQL's ``statement_timeout`` is the server's, which is not there to apply it. The
store therefore watches each PostgreSQL operation from a thread of the process: when one is
still running at its end (:mod:`~switchboard.callbacks.store.budget`), the thread shuts the
connection's socket down, the driver's wait returns with "server closed the connection", and
the connection is thrown away like any broken one. A wait in a shielded section
(:func:`~switchboard.callbacks.deadline.shielded`) thus ends by itself in time.

One thread per process, started on first use, asleep until the earliest watched end.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import socket
import threading
import time
import weakref
from typing import Any

log = logging.getLogger("switchboard.callbacks.store")


class Watchdog:
    def __init__(self) -> None:
        self._reset()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _reset_in_child(ref))

    def _reset(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._watched: dict[int, tuple[float, int]] = {}  # key -> (end, socket's fd)
        self._keys = itertools.count()
        self._next: float | None = None  # the end the thread sleeps until (None: no end)
        self._thread: threading.Thread | None = None
        self.cut = 0  # connections cut since the start, for tests and logs

    def watch(self, dbapi_connection: Any, end: float) -> int | None:
        """Watch ``dbapi_connection`` (psycopg's) until :meth:`release`; its socket is shut
        down at ``end`` (``time.monotonic()``). Returns the key to release, None when the
        connection has no socket to watch (closed already)."""
        try:
            fd = dbapi_connection.fileno()
        except Exception:
            return None
        with self._cond:
            key = next(self._keys)
            self._watched[key] = (end, fd)
            if self._thread is None and not self._start():
                del self._watched[key]
                return None
            if self._next is None or end < self._next:
                self._cond.notify()
        return key

    def release(self, key: int | None) -> None:
        if key is not None:
            with self._cond:
                self._watched.pop(key, None)

    @contextlib.contextmanager
    def watching(self, dbapi_connection: Any, end: float) -> Any:
        key = self.watch(dbapi_connection, end)
        try:
            yield
        finally:
            self.release(key)

    def _start(self) -> bool:
        thread = threading.Thread(target=self._run, name="switchboard-watchdog", daemon=True)
        try:
            thread.start()
        except RuntimeError as error:  # the interpreter is ending, or out of threads
            log.warning("no watchdog thread (%s): a hung database may hold a request", error)
            return False
        self._thread = thread
        return True

    def _run(self) -> None:
        cond = self._cond
        with cond:
            while True:
                now = time.monotonic()
                for key, (end, fd) in list(self._watched.items()):
                    if end <= now:
                        del self._watched[key]
                        self._cut(fd)
                self._next = min((end for end, _fd in self._watched.values()), default=None)
                cond.wait(None if self._next is None else self._next - now)

    def _cut(self, fd: int) -> None:
        """Shut the socket down (a duplicate of its descriptor, so that the driver's own stays
        open and is closed by the driver): any wait on it returns at once."""
        try:
            sock = socket.socket(fileno=os.dup(fd))
        except OSError:
            return
        with sock, contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        self.cut += 1
        log.warning("a database connection did not answer in time: cut")


def _reset_in_child(ref: weakref.ref[Watchdog]) -> None:
    """A forked child has no watchdog thread, and watches nothing of its parent's."""
    watchdog = ref()
    if watchdog is not None:
        watchdog._reset()


WATCHDOG = Watchdog()
"""The process's watchdog."""
