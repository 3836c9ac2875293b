"""Messages: inbound webhooks with media, REST JSON, message status callbacks."""

from __future__ import annotations

from werkzeug.datastructures import ImmutableMultiDict

from switchboard.callbacks.store import Store

SID = "SM" + "2" * 32


def status(status: str, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": SID,
        "SmsSid": SID,
        "MessageStatus": status,
        "SmsStatus": status,
        "From": "+15005550001",
        "To": "+15005550006",
        **extra,
    }


def test_record_inbound_message_with_media(store: Store) -> None:
    form = ImmutableMultiDict(
        [
            ("MessageSid", SID),
            ("AccountSid", "AC" + "0" * 32),
            ("From", "+15005550006"),
            ("To", "+15005550001"),
            ("Body", "Hello <Say>"),
            ("NumMedia", "2"),
            ("NumSegments", "1"),
            ("SmsStatus", "received"),
            ("MediaUrl0", "https://example.com/0.jpg"),
            ("MediaContentType0", "image/jpeg"),
            ("MediaUrl1", "https://example.com/1.png"),
            ("MediaContentType1", "image/png"),
            ("ProfileName", "Ada"),
        ]
    )
    store.record_message(form)
    message = store.get_message(SID)
    assert message is not None
    assert message["body"] == "Hello <Say>"
    assert message["direction"] == "inbound"
    assert message["status"] == "received"
    assert (message["num_media"], message["num_segments"]) == (2, 1)
    assert message["media"] == [
        {"url": "https://example.com/0.jpg", "content_type": "image/jpeg"},
        {"url": "https://example.com/1.png", "content_type": "image/png"},
    ]
    assert message["extra"] == {"ProfileName": "Ada"}


def test_get_message_unknown_is_none(store: Store) -> None:
    assert store.get_message("SM" + "f" * 32) is None


def test_outbound_message_then_callbacks(store: Store) -> None:
    store.record_outbound_message(
        {
            "sid": SID,
            "from": "+15005550001",
            "to": "+15005550006",
            "body": "Hi",
            "status": "queued",
            "direction": "outbound-api",
            "num_media": "0",
            "error_code": None,
        }
    )
    assert store.record_message_status(status("sent"))
    assert store.record_message_status(status("delivered"))
    message = store.get_message(SID)
    assert (message["status"], message["body"], message["direction"]) == (
        "delivered",
        "Hi",
        "outbound-api",
    )


def test_message_status_without_sequence_number_is_deduplicated(store: Store) -> None:
    assert store.record_message_status(status("sent"), "tok-a")
    assert store.record_message_status(status("sent"), "tok-b") is False
    assert store.record_message_status(status("sent")) is False
    assert store.record_message_status(status("delivered"), "tok-a") is False
    [callback] = store.status_callbacks(SID)
    assert callback["sequence_number"] is None
    assert callback["kind"] == "message"


def test_late_sent_never_overwrites_delivered(store: Store) -> None:
    assert store.record_message_status(status("delivered"))
    assert store.record_message_status(status("sending"))
    assert store.record_message_status(status("sent"))
    assert store.get_message(SID)["status"] == "delivered"
    assert store.record_message_status(status("read"))
    assert store.get_message(SID)["status"] == "read"


def test_failed_keeps_its_error_code(store: Store) -> None:
    store.record_message_status(status("undelivered", ErrorCode="30003"))
    store.record_message_status(status("sent"))
    message = store.get_message(SID)
    assert (message["status"], message["error_code"]) == ("undelivered", "30003")
