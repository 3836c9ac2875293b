"""The exceptions the store raises when the database cannot serve a request."""

from __future__ import annotations

__all__ = ["StoreUnavailable", "ValueRefused"]


class StoreUnavailable(RuntimeError):
    """The database could not be reached, opened or written, or refused a value
    (:class:`ValueRefused`).

    The message is one line naming the database (password hidden) and the driver's reason.
    ``reason`` is that line without the database named (what ``/healthz`` answers); the whole
    message when there is nothing to take out. The original exception is chained as
    ``__cause__``.
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = message if reason is None else reason


class ValueRefused(StoreUnavailable):
    """The database refused a value of the statement: too long for its column, out of its
    range, against a constraint (the driver's ``DataError`` or ``IntegrityError``); or the
    statement could not be sent for one: a parameter its type cannot convert (SQLAlchemy's
    ``StatementError``), an integer the driver cannot hold (sqlite3's ``OverflowError`` past
    64 bits). Not an outage: the same statement fails again, others go on, the pool keeps its
    connections. Its reason is the driver's first line, cut at 200 characters: no
    parameters, and no long value in full. Handlers meet it as any failure of the store (the
    safe TwiML, a 503 for a status callback), never as a 500."""
