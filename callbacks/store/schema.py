"""The tables, one schema for SQLite and PostgreSQL.

Times are stored as UTC without a zone (portable) and read back as aware UTC datetimes.
JSON columns hold text written and read by the store itself (``json.dumps`` / ``json.loads``),
so the same bytes land in both databases.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A datetime stored as naive UTC and returned as an aware UTC datetime."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, the text SQLAlchemy's ``DATETIME`` would store, made in one step (its own
        processor formats every field through a dict: a quarter of a webhook's write)."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        to_naive_utc = self.process_bind_param

        def process(value: datetime | None) -> str | None:
            value = to_naive_utc(value, dialect)
            return None if value is None else value.isoformat(" ", "microseconds")

        return process

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

NO_SEQUENCE = -1
"""``status_callbacks.sequence_number`` when the callback has none (messages, recordings).

A real value rather than NULL, because NULLs never collide in a UNIQUE constraint."""


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    ]


calls = sa.Table(
    "calls",
    metadata,
    sa.Column("sid", sa.String, primary_key=True),
    sa.Column("account_sid", sa.String),
    sa.Column("from", sa.String),
    sa.Column("to", sa.String),
    sa.Column("direction", sa.String),
    sa.Column("status", sa.String),
    sa.Column("status_rank", sa.Integer, nullable=False),
    sa.Column("duration", sa.Integer),
    sa.Column("forwarded_from", sa.String),
    sa.Column("caller_name", sa.String),
    sa.Column("parent_call_sid", sa.String),
    sa.Column("extra", sa.Text),
    *_timestamps(),
    # what the console filters and pages by (newest first, by number, by status)
    sa.Index("ix_calls_created_at", "created_at"),
    sa.Index("ix_calls_status_created_at", "status", "created_at"),
    sa.Index("ix_calls_from_created_at", "from", "created_at"),
    sa.Index("ix_calls_to_created_at", "to", "created_at"),
    sa.Index("ix_calls_parent_call_sid", "parent_call_sid"),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("sid", sa.String, primary_key=True),
    sa.Column("account_sid", sa.String),
    sa.Column("messaging_service_sid", sa.String),
    sa.Column("from", sa.String),
    sa.Column("to", sa.String),
    sa.Column("body", sa.Text),
    sa.Column("direction", sa.String),
    sa.Column("status", sa.String),
    sa.Column("status_rank", sa.Integer, nullable=False),
    sa.Column("error_code", sa.String),
    sa.Column("num_media", sa.Integer),
    sa.Column("num_segments", sa.Integer),
    sa.Column("media", sa.Text),
    sa.Column("extra", sa.Text),
    *_timestamps(),
    sa.Index("ix_messages_created_at", "created_at"),
    sa.Index("ix_messages_from_created_at", "from", "created_at"),
    sa.Index("ix_messages_to_created_at", "to", "created_at"),
)

recordings = sa.Table(
    "recordings",
    metadata,
    sa.Column("sid", sa.String, primary_key=True),
    sa.Column("account_sid", sa.String),
    sa.Column("call_sid", sa.String, index=True),
    sa.Column("url", sa.String),
    sa.Column("duration", sa.Integer),
    sa.Column("channels", sa.Integer),
    sa.Column("source", sa.String),
    sa.Column("status", sa.String),
    sa.Column("status_rank", sa.Integer, nullable=False),
    sa.Column("error_code", sa.String),
    sa.Column("extra", sa.Text),
    *_timestamps(),
    sa.Index("ix_recordings_created_at", "created_at"),
)

status_callbacks = sa.Table(
    "status_callbacks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("resource_sid", sa.String, nullable=False),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("sequence_number", sa.Integer, nullable=False),
    sa.Column("idempotency_token", sa.String),
    sa.Column("params", sa.Text, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("resource_sid", "kind", "status", "sequence_number"),
    # A token names one request and its retries, not a callback across resources: the signature
    # does not cover the header, so a token alone must not make another call's callback a repeat.
    sa.UniqueConstraint("resource_sid", "idempotency_token"),
    sa.Index("ix_status_callbacks_status_received_at", "status", "received_at"),
)
"""One row per distinct callback: a repeat is the same resource, status and sequence number,
or the same resource and ``I-Twilio-Idempotency-Token``."""

voice_sessions = sa.Table(
    "voice_sessions",
    metadata,
    sa.Column("call_sid", sa.String, primary_key=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False, index=True),
)

sms_sessions = sa.Table(
    "sms_sessions",
    metadata,
    sa.Column("from", sa.String, primary_key=True),
    sa.Column("to", sa.String, primary_key=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False, index=True),
)

ALL_SENDERS = "*"
"""``opt_outs.sender`` of an opt-out from every sender (STOPALL)."""

opt_outs = sa.Table(
    "opt_outs",
    metadata,
    sa.Column("number", sa.String, primary_key=True),
    sa.Column("sender", sa.String, primary_key=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # the ``I-Twilio-Idempotency-Token`` of the message that opted out: its retry is told
    sa.Column("token", sa.String),
)

write_probe = sa.Table(
    "write_probe",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("checked_at", UTCDateTime, nullable=False),
)
"""One row that ``Store.check()`` rewrites: a write that needs room in the database's log, as
every real write does (a delete of nothing does not: a full disk passes it)."""

JSON_COLUMNS = frozenset({"extra", "media", "params", "data"})
