"""Assertions the end-to-end tests share: what the store got against what the emulator sent."""

from __future__ import annotations

from typing import Any

from switchboard.emulator.transcript import Transcript

CALLBACK_PURPOSES = ("status", "recording-status", "message-status")


def sent_callbacks(transcript: Transcript, purposes: tuple[str, ...] = CALLBACK_PURPOSES
                   ) -> list[Any]:
    """The status callbacks the emulator sent for this call or message, in order."""
    return [r for r in transcript.requests if r.purpose in purposes]


def assert_callbacks_stored_once(store: Any, transcript: Transcript,
                                 purposes: tuple[str, ...] = CALLBACK_PURPOSES
                                 ) -> list[dict[str, Any]]:
    """Every status callback the emulator sent was answered 2xx and stored exactly once (by
    its ``I-Twilio-Idempotency-Token``); returns the stored rows (call or message first, then
    recordings)."""
    sent = sent_callbacks(transcript, purposes)
    assert sent, f"no status callback was sent:\n{transcript.render()}"
    tokens: dict[str, str] = {}
    for request in sent:
        assert request.response.status_code in (200, 204), request.response.error_message
        [attempt] = request.exchanges  # answered at once: never retried
        tokens[attempt.request_headers["I-Twilio-Idempotency-Token"]] = request.purpose
    sids = [transcript.sid]
    sids += [r.params["RecordingSid"] for r in sent if r.purpose == "recording-status"]
    stored = [row for sid in sids for row in store.status_callbacks(sid)]
    stored_tokens = [row["idempotency_token"] for row in stored]
    assert sorted(stored_tokens) == sorted(tokens), (stored, tokens)
    for row, request in zip(stored, sent_in_store_order(sent, stored), strict=True):
        assert row["params"] == request.params
    return stored


def sent_in_store_order(sent: list[Any], stored: list[dict[str, Any]]) -> list[Any]:
    by_token = {r.exchanges[0].request_headers["I-Twilio-Idempotency-Token"]: r for r in sent}
    return [by_token[row["idempotency_token"]] for row in stored]


def statuses(rows: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
    """``(status, SequenceNumber)`` of stored callbacks, by sequence number."""
    pairs = [(row["status"], row["sequence_number"]) for row in rows]
    return sorted(pairs, key=lambda p: (p[1] is None, p[1] or 0))
