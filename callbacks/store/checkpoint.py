"""Copying SQLite's write-ahead log back into the database file, off the request path.

SQLite checkpoints by itself every 1,000 pages, inside the COMMIT of whichever write crosses
the line: that request then copies the log and syncs the file (milliseconds) while it holds
the writer lock, so every other writer waits too, and the slowest 1 % of requests are all
checkpoints. The store switches that off (``PRAGMA wal_autocheckpoint = 0``) and counts its
commits instead; every ``every`` of them (or within ``IDLE`` seconds of a commit, when traffic
is light) a daemon thread of the process runs a ``PASSIVE`` checkpoint, which blocks neither
readers nor writers. Once the log holds ``RESTART_FRAMES`` pages, a second one follows holding
the writer lock, to copy the few pages committed meanwhile: without it, under steady writes
the log is never complete when a writer begins, so it never starts over and grows without
bound. That second checkpoint syncs the log and the database file while every writer waits
(4-16 ms under load on the development machine), so it runs only when the log is that large,
not at every round: the log grows to about 16 MB and starts over.
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

    from switchboard.callbacks.store.writelock import WriterLock

log = logging.getLogger("switchboard.callbacks.store")

EVERY = 200
"""Commits between checkpoints (a webhook's commit writes a handful of pages)."""

IDLE = 30.0
"""Seconds after which a process checkpoints what it committed even if that was fewer."""

RESTART_FRAMES = 4096
"""Pages in the log (16 MB of 4 KiB pages) from which a checkpoint makes it start over."""

CHECKPOINT = "PRAGMA wal_checkpoint(PASSIVE)"


class Checkpointer:
    """Counts one store's commits and checkpoints from a thread of the committing process."""

    def __init__(
        self,
        engine: Engine,
        writer_lock: WriterLock,
        every: int = EVERY,
        restart: int = RESTART_FRAMES,
    ) -> None:
        self.every = every
        self.restart = restart
        self._engine = weakref.ref(engine)
        self._writer_lock = writer_lock
        self._commits = 0
        self._job: _Job | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def committed(self) -> None:
        """Count one commit; wake the checkpoint thread every ``every`` commits."""
        job = self._job if self._pid == os.getpid() else self._start()
        if job is None:
            return
        job.commits += 1  # racy across threads: a commit missed now and then is harmless
        if job.commits >= self.every:
            job.wake.set()

    def close(self) -> None:
        """Let this process's thread end (a later commit starts another)."""
        with self._lock:
            job, self._job, self._pid = self._job, None, 0
        if job is not None:
            job.stop = True
            job.wake.set()

    def _start(self) -> _Job | None:
        """The thread is per process: a forked worker starts its own."""
        with self._lock:
            if self._pid != os.getpid() or self._job is None:
                job = _Job(self._engine, self._writer_lock, self.restart)
                thread = threading.Thread(
                    target=job.run, name="switchboard-checkpoint", daemon=True
                )
                try:
                    thread.start()
                except RuntimeError as error:  # no thread to spare: SQLite's log just grows
                    log.warning("no checkpoint thread: %s", error)
                    return None
                self._job, self._pid = job, os.getpid()
            return self._job


class _Job:
    def __init__(
        self, engine: weakref.ref[Engine], writer_lock: WriterLock, restart: int = RESTART_FRAMES
    ) -> None:
        self.engine = engine
        self.writer_lock = writer_lock
        self.restart = restart
        self.wake = threading.Event()
        self.commits = 0
        self.stop = False

    def run(self) -> None:
        while True:
            self.wake.wait(IDLE)
            self.wake.clear()
            if self.stop:
                return
            if not self.commits:
                continue
            self.commits = 0
            engine = self.engine()
            if engine is None:
                return
            try:
                self.checkpoint(engine)
            except Exception as error:  # the next round tries again; the log waits meanwhile
                log.debug("checkpoint skipped: %s", type(error).__name__)
            del engine

    def checkpoint(self, engine: Engine) -> None:
        connection = engine.raw_connection()  # autocommit (see engine.py): no BEGIN
        try:
            sqlite = connection.dbapi_connection
            ((_busy, frames, _copied),) = sqlite.execute(CHECKPOINT).fetchall()
            if frames >= self.restart:
                with self.writer_lock.hold():
                    sqlite.execute(CHECKPOINT).fetchall()
        finally:
            connection.close()
