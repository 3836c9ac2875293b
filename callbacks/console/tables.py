"""The console's own tables, on the store's MetaData: ``Store.create_all()`` makes them once this
module is imported (:func:`switchboard.callbacks.console.register_console` imports it and makes
sure of them).

- ``console_heard``: one row per voicemail someone marked heard (no row: unheard).
- ``console_login_failures``: wrong passwords per client address, so that the delay after
  several holds across worker processes and hosts.
- ``console_revoked_sessions``: sessions logged out before their end, by a digest of their
  id, until that end (:mod:`~switchboard.callbacks.console.auth`), so that a copy of a
  logged-out cookie is refused by every worker and host.
"""

from __future__ import annotations

import sqlalchemy as sa

from switchboard.callbacks.store.schema import UTCDateTime, metadata

heard = sa.Table(
    "console_heard",
    metadata,
    sa.Column("recording_sid", sa.String, primary_key=True),
    sa.Column("heard_at", UTCDateTime, nullable=False),
)

login_failures = sa.Table(
    "console_login_failures",
    metadata,
    sa.Column("address", sa.String, primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("last_failed_at", UTCDateTime, nullable=False),
    sa.Column("blocked_until", UTCDateTime, nullable=False),
)

revoked_sessions = sa.Table(
    "console_revoked_sessions",
    metadata,
    sa.Column("session_digest", sa.String(64), primary_key=True),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Index("ix_console_revoked_sessions_expires_at", "expires_at"),
)

TABLES = (heard, login_failures, revoked_sessions)


def insert_ignoring(conn: sa.Connection, table: sa.Table) -> sa.Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the connection's dialect."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).on_conflict_do_nothing()
