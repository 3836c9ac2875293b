"""The store: calls, messages, status callbacks, recordings, sessions and opt-outs.

SQLAlchemy Core on SQLite (the default, WAL mode) or PostgreSQL, one schema::

    from switchboard.callbacks.store import Store, StoreUnavailable

    store = Store("sqlite:////var/lib/switchboard/switchboard.sqlite3")
    store.create_all()
    store.record_call_status(request.form, request.headers.get("I-Twilio-Idempotency-Token"))
"""

from switchboard.callbacks.store.engine import sqlite_url
from switchboard.callbacks.store.errors import StoreUnavailable, ValueRefused
from switchboard.callbacks.store.statuses import status_rank
from switchboard.callbacks.store.store import Store

__all__ = ["Store", "StoreUnavailable", "ValueRefused", "sqlite_url", "status_rank"]
