"""A status callback is a repeat when it is about the same resource with the same
``I-Twilio-Idempotency-Token`` (Twilio's retry of one request), or the same resource, status
and sequence number; a token seen with another call, message or recording proves nothing
(the signature does not cover the header). Tables made by an older version, where a token was
unique across the table, are changed by ``create_all``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from switchboard.callbacks.store import Store
from switchboard.callbacks.store.schema import NO_SEQUENCE, status_callbacks
from tests.server.conftest import Twilio, call_params, make_app

CALL_A, CALL_B = "CA" + "a" * 32, "CA" + "b" * 32


def completed(sid: str, sequence: str = "3") -> dict[str, str]:
    return {"CallSid": sid, "CallStatus": "completed", "SequenceNumber": sequence,
            "CallDuration": "5"}


def test_a_token_used_by_another_call_is_not_a_repeat(store: Store) -> None:
    assert store.record_call_status(completed(CALL_A), "token-1") is True
    assert store.record_call_status(completed(CALL_B), "token-1") is True
    assert [c["idempotency_token"] for c in store.status_callbacks(CALL_B)] == ["token-1"]
    assert store.get_call(CALL_B)["status"] == "completed"


def test_a_retry_of_the_same_request_is_a_repeat(store: Store) -> None:
    assert store.record_call_status(completed(CALL_A), "token-1") is True
    assert store.record_call_status(completed(CALL_A), "token-1") is False
    # the same token on the same call, whatever the fields say, is that request again
    ringing = {"CallSid": CALL_A, "CallStatus": "ringing", "SequenceNumber": "1"}
    assert store.record_call_status(ringing, "token-1") is False
    assert len(store.status_callbacks(CALL_A)) == 1


def test_messages_and_recordings_key_tokens_by_their_sid(store: Store) -> None:
    message = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "delivered"}
    other = {"MessageSid": "SM" + "2" * 32, "MessageStatus": "delivered"}
    assert store.record_message_status(message, "token-m") is True
    assert store.record_message_status(other, "token-m") is True
    assert store.record_message_status(message, "token-m") is False
    recording = {"CallSid": CALL_A, "RecordingSid": "RE" + "1" * 32,
                 "RecordingStatus": "completed"}
    assert store.record_recording_status(recording, "token-m") is True
    assert store.record_recording_status(recording, "token-m") is False


def test_a_signed_callback_with_another_calls_token_is_stored(database_url: str) -> None:
    """The reproduction: a new, signed ``completed`` for another call carrying a token used
    earlier was answered 204 and never stored."""
    app = make_app(database_url)
    store = app.extensions["switchboard"].store
    twilio = Twilio(app.test_client())
    headers = {"I-Twilio-Idempotency-Token": "reused-token"}
    try:
        first = call_params(CALL_A, CallStatus="completed", SequenceNumber="3")
        second = call_params(CALL_B, CallStatus="completed", SequenceNumber="3")
        assert twilio.post("/voice/status", first, headers=headers).status_code == 204
        assert twilio.post("/voice/status", second, headers=headers).status_code == 204
        assert twilio.post("/voice/status", second, headers=headers).status_code == 204
        assert len(store.status_callbacks(CALL_A)) == 1
        assert len(store.status_callbacks(CALL_B)) == 1
        assert store.get_call(CALL_B)["status"] == "completed"
    finally:
        store.close()


# -- a table of an older version ----------------------------------------------------------------


def old_status_callbacks(metadata: sa.MetaData) -> sa.Table:
    """``status_callbacks`` as versions before this one made it: a token unique in the table."""
    return sa.Table(
        "status_callbacks", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("resource_sid", sa.String, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("sequence_number", sa.Integer, nullable=False),
        sa.Column("idempotency_token", sa.String),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("resource_sid", "kind", "status", "sequence_number",
                            name="uq_status_callbacks_resource_sid_kind_status_sequence_number"),
        sa.UniqueConstraint("idempotency_token", name="uq_status_callbacks_idempotency_token"),
    )


@pytest.fixture
def old_database(database_url: str) -> str:
    engine = sa.create_engine(database_url)
    table = old_status_callbacks(sa.MetaData())
    with engine.begin() as conn:
        table.create(conn)
        conn.execute(table.insert(), [
            {"resource_sid": CALL_A, "kind": "call", "status": "completed",
             "sequence_number": 3, "idempotency_token": "token-1", "params": "{}",
             "received_at": datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)},
            {"resource_sid": CALL_A, "kind": "call", "status": "ringing",
             "sequence_number": NO_SEQUENCE, "idempotency_token": None, "params": "{}",
             "received_at": datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)},
        ])
    engine.dispose()
    return database_url


def test_create_all_keys_an_old_tables_tokens_by_resource(old_database: str) -> None:
    store = Store(old_database)
    try:
        store.create_all()
        uniques = sa.inspect(store.engine).get_unique_constraints("status_callbacks")
        assert sorted(u["column_names"] for u in uniques) == [
            ["resource_sid", "idempotency_token"],
            ["resource_sid", "kind", "status", "sequence_number"],
        ]
        assert [c["status"] for c in store.status_callbacks(CALL_A)] == ["completed", "ringing"]
        assert store.record_call_status(completed(CALL_A), "token-1") is False
        assert store.record_call_status(completed(CALL_B), "token-1") is True
        store.create_all()  # again (another worker, a restart): nothing left to change
        assert len(store.status_callbacks(CALL_B)) == 1
        # and the tables this process makes later still have the new key
        ddl = str(sa.schema.CreateTable(status_callbacks).compile(dialect=store.engine.dialect))
        assert "UNIQUE (resource_sid, idempotency_token)" in ddl
    finally:
        store.close()
    again = Store(old_database)
    try:
        again.create_all()
        assert len(again.status_callbacks(CALL_A)) == 2
    finally:
        again.close()
