"""The one exception the store raises when the database cannot serve a request."""

from __future__ import annotations


class StoreUnavailable(RuntimeError):
    """The database could not be reached, opened or written.

    The message is one line naming the database (password hidden) and the driver's reason.
    ``reason`` is that line without the database named (what ``/healthz`` answers); the whole
    message when there is nothing to take out. The original exception is chained as
    ``__cause__``.
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = message if reason is None else reason
