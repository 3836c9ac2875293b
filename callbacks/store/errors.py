"""The one exception the store raises when the database cannot serve a request."""

from __future__ import annotations


class StoreUnavailable(RuntimeError):
    """The database could not be reached, opened or written.

    The message is one line naming the database (password hidden) and the driver's reason.
    The original exception is chained as ``__cause__``.
    """
