"""SMS, MMS and channel messages: ``/Messages`` (which replaced the retired ``/SMS/Messages``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from switchboard.api import validation
from switchboard.api.errors import ValidationError
from switchboard.api.resources.base import (
    Field,
    ItemResource,
    boolean,
    changes,
    choice,
    date_filter,
    date_time,
    form,
    integer,
    many,
    sid,
    text,
    url,
)

MAX_BODY = 1600
CHANNELS = ("whatsapp:", "messenger:", "rcs:")


def address(name: str, value: Any) -> str:
    """An E.164 number, or a channel address such as ``whatsapp:+14155550100``."""
    value = text(name, value)
    for prefix in CHANNELS:
        if value.startswith(prefix):
            rest = value.removeprefix(prefix)
            if prefix == "whatsapp:":
                validation.e164(name, rest)
            elif not rest.strip():
                raise ValidationError(name, f"{value!r} names no {prefix[:-1]} address after it")
            return value
    validation.e164(name, value)
    return value


def body(name: str, value: Any) -> str:
    value = text(name, value)
    if len(value) > MAX_BODY:
        raise ValidationError(name, f"is {len(value)} characters; Twilio takes at most {MAX_BODY}")
    return value


_CREATE_FIELDS = {
    "to": Field("To", address),
    "from_": Field("From", address),
    "messaging_service_sid": Field("MessagingServiceSid", sid("MG")),
    "body": Field("Body", body),
    "media_url": Field("MediaUrl", many(url)),
    "content_sid": Field("ContentSid", sid("HX")),
    "content_variables": Field("ContentVariables"),
    "status_callback": Field("StatusCallback", url),
    "application_sid": Field("ApplicationSid", sid("AP")),
    "max_price": Field("MaxPrice"),
    "provide_feedback": Field("ProvideFeedback", boolean),
    "validity_period": Field("ValidityPeriod", integer(1, 36000)),
    "send_as_mms": Field("SendAsMms", boolean),
    "shorten_urls": Field("ShortenUrls", boolean),
    "smart_encoded": Field("SmartEncoded", boolean),
}
_LIST_FIELDS = {
    "to": Field("To", address),
    "from_": Field("From", address),
    **date_filter("DateSent", date_time),
}
_UPDATE_FIELDS = {
    "body": Field("Body", body),
    "status": Field("Status", choice("canceled")),
}


class Messages(ItemResource):
    """Send and read messages; the connector's ``*-sms-message`` operations land here."""

    collection = "/Messages"
    sid_prefixes = ("SM", "MM")

    def list(
        self,
        *,
        to: str | None = None,
        from_: str | None = None,
        date_sent: Any = None,
        date_sent_before: Any = None,
        date_sent_after: Any = None,
        account_sid: str | None = None,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Messages, most recently sent first; ``date_sent_before`` / ``_after`` are Twilio's
        ``DateSent<`` / ``DateSent>``."""
        params = form(
            _LIST_FIELDS,
            {
                "to": to,
                "from_": from_,
                "date_sent": date_sent,
                "date_sent_before": date_sent_before,
                "date_sent_after": date_sent_after,
            },
        )
        path = self._path("/Messages.json", account_sid)
        return self._list(path, "messages", params, limit, page_size)

    def create(
        self,
        to: str,
        *,
        from_: str | None = None,
        messaging_service_sid: str | None = None,
        body: str | None = None,
        media_url: str | Sequence[str] | None = None,
        status_callback: str | None = None,
        application_sid: str | None = None,
        account_sid: str | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Send ``body`` and/or ``media_url`` (one URL or several, up to 10) to ``to``,
        from the number ``from_`` or through the Messaging Service ``messaging_service_sid``.

        Also takes ``content_sid``, ``content_variables``, ``max_price``,
        ``provide_feedback``, ``validity_period``, ``send_as_mms``, ``shorten_urls``,
        ``smart_encoded``.
        """
        if from_ is None and messaging_service_sid is None:
            raise ValidationError("from_", "give from_ or messaging_service_sid")
        if body is None and media_url is None and options.get("content_sid") is None:
            raise ValidationError("body", "give body, media_url or content_sid")
        data = form(
            _CREATE_FIELDS,
            {
                "to": to,
                "from_": from_,
                "messaging_service_sid": messaging_service_sid,
                "body": body,
                "media_url": media_url,
                "status_callback": status_callback,
                "application_sid": application_sid,
                **options,
            },
            required=("to",),
        )
        media = data.get("MediaUrl", ())
        if len(media) > validation.MAX_MEDIA_URLS:
            raise ValidationError("media_url", f"{len(media)} given; Twilio takes at most "
                                               f"{validation.MAX_MEDIA_URLS} for a message")
        validation.message_content("body", body, media="MediaUrl" in data or "ContentSid" in data)
        return self._post(self._path("/Messages.json", account_sid), data)

    def update(
        self,
        sid: str,
        *,
        body: str | None = None,
        status: str | None = None,
        account_sid: str | None = None,
    ) -> dict[str, Any]:
        """Redact a message's body (``body=""``) or cancel a scheduled one."""
        path = self._one(sid, account_sid)
        return self._post(path, changes(_UPDATE_FIELDS, {"body": body, "status": status}))

    def delete(self, sid: str, *, account_sid: str | None = None) -> None:
        self._delete(self._one(sid, account_sid))
