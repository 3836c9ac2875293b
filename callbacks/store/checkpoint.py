"""Copying SQLite's write-ahead log back into the database file, off the request path.

SQLite checkpoints by itself every 1,000 pages, inside the COMMIT of whichever write crosses
the line: that request then copies the log and syncs the file (milliseconds) while it holds
the writer lock, so every other writer waits too, and the slowest 1 % of requests are all
checkpoints. The store switches that off (``PRAGMA wal_autocheckpoint = 0``) and counts its
commits instead; every ``every`` of them a daemon thread of the process runs a ``PASSIVE``
checkpoint, which blocks neither readers nor writers, then a second one holding the writer
lock to copy the few pages committed meanwhile: without it, under steady writes the log is
never complete when a writer begins, so it never starts over and grows without bound.
Whatever a process leaves in the log is checkpointed by the next one, or by SQLite when the
last connection closes.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from callbacks.store.writelock import WriterLock

log = logging.getLogger("callbacks.store")

EVERY = 200
"""Commits between checkpoints (a webhook's commit writes a handful of pages)."""

CHECKPOINT = "PRAGMA wal_checkpoint(PASSIVE)"


class Checkpointer:
    def __init__(self, engine: Engine, writer_lock: WriterLock, every: int = EVERY) -> None:
        self.every = every
        self._engine = weakref.ref(engine)
        self._writer_lock = writer_lock
        self._commits = 0
        self._wake = threading.Event()
        self._pid = 0
        self._lock = threading.Lock()

    def committed(self) -> None:
        """Count one commit; wake the checkpoint thread every ``every`` commits."""
        self._commits += 1  # racy across threads: a commit missed now and then is harmless
        if self._commits >= self.every:
            self._commits = 0
            self._start()
            self._wake.set()

    def _start(self) -> None:
        """The thread is per process: a forked worker starts its own."""
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():
                self._wake = threading.Event()
                thread = threading.Thread(
                    target=_run, args=(self._engine, self._writer_lock, self._wake),
                    name="switchboard-checkpoint", daemon=True,
                )
                try:
                    thread.start()
                except RuntimeError as error:  # no thread to spare: SQLite's log just grows
                    log.warning("no checkpoint thread: %s", error)
                    return
                self._pid = os.getpid()


def _run(
    engine_ref: weakref.ref[Engine], writer_lock: WriterLock, wake: threading.Event
) -> None:
    while True:
        wake.wait()
        wake.clear()
        engine = engine_ref()
        if engine is None:
            return
        try:
            connection = engine.raw_connection()  # autocommit (see engine.py): no BEGIN
            try:
                sqlite = connection.dbapi_connection
                sqlite.execute(CHECKPOINT).fetchall()
                with writer_lock.hold():
                    sqlite.execute(CHECKPOINT).fetchall()
            finally:
                connection.close()
        except Exception as error:  # the next round tries again; SQLite keeps the log meanwhile
            log.debug("checkpoint skipped: %s", type(error).__name__)
        del engine
