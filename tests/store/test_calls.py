"""Calls: webhooks, REST JSON, and call status callbacks stored once and in order."""

from __future__ import annotations

import pytest

from switchboard.callbacks.store import Store

CALL = "CA" + "1" * 32


def status(status: str, sequence: int | None, **extra: str) -> dict[str, str]:
    params = {
        "CallSid": CALL,
        "AccountSid": "AC" + "0" * 32,
        "From": "+15005550006",
        "To": "+15005550001",
        "Direction": "inbound",
        "CallStatus": status,
        **extra,
    }
    if sequence is not None:
        params["SequenceNumber"] = str(sequence)
    return params


def test_record_call_from_a_voice_webhook(store: Store) -> None:
    store.record_call(
        {
            "CallSid": CALL,
            "AccountSid": "AC" + "0" * 32,
            "From": "+15005550006",
            "To": "+15005550001",
            "CallStatus": "ringing",
            "Direction": "inbound",
            "ForwardedFrom": "+15005550002",
            "CallerName": "Ada",
            "ParentCallSid": "",
            "ApiVersion": "2010-04-01",
            "FromCity": "Zürich",
        }
    )
    call = store.get_call(CALL)
    assert call is not None
    assert call["from"] == "+15005550006"
    assert call["to"] == "+15005550001"
    assert call["status"] == "ringing"
    assert call["direction"] == "inbound"
    assert call["forwarded_from"] == "+15005550002"
    assert call["caller_name"] == "Ada"
    assert call["parent_call_sid"] is None
    assert call["extra"] == {"ApiVersion": "2010-04-01", "FromCity": "Zürich"}
    assert call["created_at"].tzinfo is not None


def test_get_call_unknown_is_none(store: Store) -> None:
    assert store.get_call("CA" + "f" * 32) is None


def test_a_later_webhook_fills_in_and_advances(store: Store) -> None:
    store.record_call({"CallSid": CALL, "CallStatus": "ringing", "From": "+1500"})
    store.record_call({"CallSid": CALL, "CallStatus": "in-progress", "CallerName": "Ada"})
    store.record_call({"CallSid": CALL, "CallStatus": "ringing"})
    call = store.get_call(CALL)
    assert call is not None
    assert (call["status"], call["from"], call["caller_name"]) == ("in-progress", "+1500", "Ada")


def test_record_call_needs_a_sid(store: Store) -> None:
    with pytest.raises(ValueError, match="CallSid"):
        store.record_call({"From": "+1500"})


def test_record_outbound_call_from_rest_json(store: Store) -> None:
    store.record_outbound_call(
        {
            "sid": CALL,
            "account_sid": "AC" + "0" * 32,
            "from": "+15005550006",
            "to": "+15005550001",
            "status": "queued",
            "direction": "outbound-api",
            "duration": None,
            "price": None,
            "subresource_uris": {"notifications": "/x.json"},
        }
    )
    assert store.record_call_status(
        status("completed", 3, CallDuration="42", Direction="outbound-api")
    )
    call = store.get_call(CALL)
    assert call is not None
    assert (call["status"], call["duration"], call["direction"]) == (
        "completed",
        42,
        "outbound-api",
    )
    assert call["extra"]["subresource_uris"] == {"notifications": "/x.json"}
    store.record_outbound_call({"sid": CALL, "status": "queued"})
    assert store.get_call(CALL)["status"] == "completed"


def test_status_callback_creates_the_call_and_is_listed(store: Store) -> None:
    assert store.record_call_status(status("ringing", 1), idempotency_token="tok-1") is True
    call = store.get_call(CALL)
    assert call is not None
    assert call["status"] == "ringing"
    [callback] = store.status_callbacks(CALL)
    assert callback["kind"] == "call"
    assert callback["status"] == "ringing"
    assert callback["sequence_number"] == 1
    assert callback["idempotency_token"] == "tok-1"
    assert callback["params"] == status("ringing", 1)
    assert callback["resource_sid"] == CALL


def test_same_sid_status_and_sequence_is_stored_once(store: Store) -> None:
    assert store.record_call_status(status("ringing", 1), "tok-1")
    assert store.record_call_status(status("ringing", 1), "tok-2") is False
    assert store.record_call_status(status("ringing", 1)) is False
    assert len(store.status_callbacks(CALL)) == 1


def test_same_idempotency_token_is_stored_once(store: Store) -> None:
    assert store.record_call_status(status("ringing", 1), "tok-1")
    assert store.record_call_status(status("completed", 2), "tok-1") is False
    assert [c["status"] for c in store.status_callbacks(CALL)] == ["ringing"]
    assert store.get_call(CALL)["status"] == "ringing"


def test_same_status_with_another_sequence_number_is_a_new_callback(store: Store) -> None:
    assert store.record_call_status(status("in-progress", 2))
    assert store.record_call_status(status("in-progress", 3))
    assert len(store.status_callbacks(CALL)) == 2


def test_late_ringing_never_overwrites_completed(store: Store) -> None:
    assert store.record_call_status(status("completed", 3, CallDuration="7"))
    assert store.record_call_status(status("ringing", 1))
    assert store.record_call_status(status("in-progress", 2))
    call = store.get_call(CALL)
    assert (call["status"], call["duration"]) == ("completed", 7)
    assert [c["status"] for c in store.status_callbacks(CALL)] == [
        "completed",
        "ringing",
        "in-progress",
    ]


def test_first_terminal_status_wins(store: Store) -> None:
    store.record_call_status(status("no-answer", 2))
    store.record_call_status(status("completed", 3))
    assert store.get_call(CALL)["status"] == "no-answer"


def test_unknown_status_is_stored_but_any_known_status_wins(store: Store) -> None:
    assert store.record_call_status(status("teleported", 1))
    assert store.get_call(CALL)["status"] == "teleported"
    store.record_call_status(status("queued", 0))
    assert store.get_call(CALL)["status"] == "queued"
    store.record_call_status(status("teleported", 5))
    assert store.get_call(CALL)["status"] == "queued"


def test_status_callback_needs_a_status(store: Store) -> None:
    with pytest.raises(ValueError, match="status"):
        store.record_call_status({"CallSid": CALL})


def test_status_callbacks_of_an_unknown_sid_is_empty(store: Store) -> None:
    assert store.status_callbacks("CA" + "e" * 32) == []
