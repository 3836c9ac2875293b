"""The main thread's SQLite connection, kept checked out of the pool between transactions.

Checking a connection out of SQLAlchemy's pool and back in (the checkout events, the
replaced-file check, the reset on return) costs about as much CPU as the SQLite write a
webhook makes. gunicorn's sync workers answer every request in their main thread, so the
store keeps one pooled connection checked out for that thread and hands it to each of its
transactions. Other threads (``flask run``, threaded workers) check out and in as usual.

The kept connection is still the pool's: it was made by the engine's ``connect`` event (WAL,
busy timeout, pragmas), it is checked again before each use (its file not replaced or
removed, the process not a fork of the one that made it), and it goes back to the pool, or is
invalidated, on any database error and on :meth:`KeptConnection.close`.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from sqlalchemy.engine import Engine

from switchboard.callbacks.store.engine import replaced

#: Connections a forked child inherited from its parent's main thread: referenced here for
#: the rest of the child's life, so that garbage collection never closes (or rolls back) a
#: connection that still belongs to the parent.
_INHERITED: list[Any] = []


class KeptConnection:
    """One engine's kept connection (see the module's docstring)."""

    def __init__(self, engine: Engine, path: str) -> None:
        self._engine = engine
        self._path = path
        self._fairy: Any = None
        self._pid = 0

    def borrow(self) -> tuple[Any, bool]:
        """A pool connection (a ``_ConnectionFairy``) and whether it is the kept one, which the
        caller must not close; in threads other than the main one, a plain checkout."""
        if threading.current_thread() is not threading.main_thread():
            return self._engine.raw_connection(), False
        fairy = self._fairy
        if fairy is not None:
            if self._pid != os.getpid():
                _INHERITED.append(fairy)
            elif not fairy.is_valid:
                pass  # invalidated after an error, which checked it in
            elif not replaced(fairy.info, self._path):
                return fairy, True
            else:  # this connection still reads the old file
                fairy.invalidate()
            self._fairy = None
        fairy = self._engine.raw_connection()
        self._fairy, self._pid = fairy, os.getpid()
        return fairy, True

    def forget(self) -> None:
        """Stop keeping the connection (after an error); the caller closes it, which returns it
        to the pool, so the next transaction checks one out through the pool's own checks."""
        self._fairy = None

    def close(self) -> None:
        """Return the kept connection to the pool (``Store.close``)."""
        fairy, self._fairy = self._fairy, None
        if fairy is not None and self._pid == os.getpid() and fairy.is_valid:
            fairy.close()
