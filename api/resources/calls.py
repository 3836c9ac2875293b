"""Phone calls: ``/Calls``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from switchboard.api.errors import ValidationError
from switchboard.api.resources.base import (
    Field,
    ItemResource,
    boolean,
    changes,
    choice,
    date_filter,
    date_time,
    dtmf,
    endpoint,
    form,
    http_method,
    integer,
    many,
    nonempty,
    sid,
    url,
)

CALL_STATUSES = (
    "queued",
    "ringing",
    "in-progress",
    "completed",
    "busy",
    "failed",
    "no-answer",
    "canceled",
)
STATUS_CALLBACK_EVENTS = ("initiated", "ringing", "answered", "completed")
IF_MACHINE = ("continue", "hangup")
"""The connector's legacy ``ifMachine`` values. Twilio retired ``IfMachine``; either value now
asks for answering machine detection (``MachineDetection=Enable``): Twilio then sends
``AnsweredBy`` (``human``, ``machine_start``, ``fax``...) with the request to the call's URL,
and the TwiML it answers decides whether to continue or hang up."""

_CREATE_FIELDS = {
    "to": Field("To", endpoint),
    "from_": Field("From", endpoint),
    "url": Field("Url", url),
    "twiml": Field("Twiml", nonempty),
    "application_sid": Field("ApplicationSid", sid("AP")),
    "method": Field("Method", http_method),
    "fallback_url": Field("FallbackUrl", url),
    "fallback_method": Field("FallbackMethod", http_method),
    "status_callback": Field("StatusCallback", url),
    "status_callback_event": Field("StatusCallbackEvent", many(choice(*STATUS_CALLBACK_EVENTS))),
    "status_callback_method": Field("StatusCallbackMethod", http_method),
    "send_digits": Field("SendDigits", dtmf),
    "timeout": Field("Timeout", integer(1, 999)),
    "machine_detection": Field(
        "MachineDetection", choice("Enable", "DetectMessageEnd", fold=lambda v: v)
    ),
    "machine_detection_timeout": Field("MachineDetectionTimeout", integer(3, 59)),
    "record": Field("Record", boolean),
    "recording_channels": Field("RecordingChannels", choice("mono", "dual")),
    "recording_status_callback": Field("RecordingStatusCallback", url),
    "recording_status_callback_method": Field("RecordingStatusCallbackMethod", http_method),
    "recording_status_callback_event": Field(
        "RecordingStatusCallbackEvent", many(choice("in-progress", "completed", "absent"))
    ),
    "time_limit": Field("TimeLimit", integer(1, 86400)),
    "caller_id": Field("CallerId", nonempty),
    "trim": Field("Trim", choice("trim-silence", "do-not-trim")),
}
_UPDATE_FIELDS = {
    "url": Field("Url", url),
    "twiml": Field("Twiml", nonempty),
    "method": Field("Method", http_method),
    "status": Field("Status", choice("canceled", "completed")),
    "fallback_url": Field("FallbackUrl", url),
    "fallback_method": Field("FallbackMethod", http_method),
    "status_callback": Field("StatusCallback", url),
    "status_callback_method": Field("StatusCallbackMethod", http_method),
    "time_limit": Field("TimeLimit", integer(1, 86400)),
}
_LIST_FIELDS = {
    "to": Field("To", endpoint),
    "from_": Field("From", endpoint),
    "parent_call_sid": Field("ParentCallSid", sid("CA")),
    "status": Field("Status", choice(*CALL_STATUSES)),
    **date_filter("StartTime", date_time),
    **date_filter("EndTime", date_time),
}


class Calls(ItemResource):
    """Place, inspect, redirect and end calls."""

    collection = "/Calls"
    sid_prefixes = ("CA",)

    def list(
        self,
        *,
        to: str | None = None,
        from_: str | None = None,
        status: str | None = None,
        parent_call_sid: str | None = None,
        start_time: Any = None,
        start_time_before: Any = None,
        start_time_after: Any = None,
        end_time: Any = None,
        end_time_before: Any = None,
        end_time_after: Any = None,
        account_sid: str | None = None,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Calls, most recent first. ``start_time_before`` / ``_after`` are Twilio's
        ``StartTime<`` / ``StartTime>`` (on or before / on or after; a date or datetime, sent
        as :func:`~api.resources.base.date_time` says: ``2026-11-01T00:00:00Z``)."""
        params = form(
            _LIST_FIELDS,
            {
                "to": to,
                "from_": from_,
                "status": status,
                "parent_call_sid": parent_call_sid,
                "start_time": start_time,
                "start_time_before": start_time_before,
                "start_time_after": start_time_after,
                "end_time": end_time,
                "end_time_before": end_time_before,
                "end_time_after": end_time_after,
            },
        )
        return self._list(self._path("/Calls.json", account_sid), "calls", params, limit, page_size)

    def create(
        self,
        to: str,
        from_: str,
        *,
        url: str | None = None,
        twiml: str | None = None,
        application_sid: str | None = None,
        method: str | None = None,
        fallback_url: str | None = None,
        fallback_method: str | None = None,
        status_callback: str | None = None,
        status_callback_event: Sequence[str] | None = None,
        status_callback_method: str | None = None,
        send_digits: str | None = None,
        timeout: int | None = None,
        if_machine: str | None = None,
        machine_detection: str | None = None,
        machine_detection_timeout: int | None = None,
        record: bool | None = None,
        recording_channels: str | None = None,
        recording_status_callback: str | None = None,
        recording_status_callback_method: str | None = None,
        recording_status_callback_event: Sequence[str] | None = None,
        time_limit: int | None = None,
        caller_id: str | None = None,
        trim: str | None = None,
        account_sid: str | None = None,
    ) -> dict[str, Any]:
        """Call ``to`` from ``from_``; Twilio runs the TwiML at ``url``, the ``twiml`` given,
        or the application ``application_sid`` (exactly one of the three).

        ``if_machine`` (``"continue"`` or ``"hangup"``, the connector's legacy option) is
        sent as ``MachineDetection=Enable``: see :data:`IF_MACHINE`.
        """
        given = [
            name
            for name, v in (("url", url), ("twiml", twiml), ("application_sid", application_sid))
            if v is not None
        ]
        if len(given) != 1:
            raise ValidationError(
                "url",
                "give exactly one of url, twiml and application_sid"
                + (f" (got {', '.join(given)})" if given else ""),
            )
        if if_machine is not None:
            choice(*IF_MACHINE)("if_machine", if_machine)
            if machine_detection is not None:
                raise ValidationError(
                    "if_machine", "give if_machine or machine_detection, not both"
                )
            machine_detection = "Enable"
        data = form(
            _CREATE_FIELDS,
            {
                "to": to,
                "from_": from_,
                "url": url,
                "twiml": twiml,
                "application_sid": application_sid,
                "method": method,
                "fallback_url": fallback_url,
                "fallback_method": fallback_method,
                "status_callback": status_callback,
                "status_callback_event": status_callback_event,
                "status_callback_method": status_callback_method,
                "send_digits": send_digits,
                "timeout": timeout,
                "machine_detection": machine_detection,
                "machine_detection_timeout": machine_detection_timeout,
                "record": record,
                "recording_channels": recording_channels,
                "recording_status_callback": recording_status_callback,
                "recording_status_callback_method": recording_status_callback_method,
                "recording_status_callback_event": recording_status_callback_event,
                "time_limit": time_limit,
                "caller_id": caller_id,
                "trim": trim,
            },
            required=("to", "from_"),
        )
        return self._post(self._path("/Calls.json", account_sid), data)

    def update(
        self,
        sid: str,
        *,
        url: str | None = None,
        twiml: str | None = None,
        method: str | None = None,
        status: str | None = None,
        fallback_url: str | None = None,
        fallback_method: str | None = None,
        status_callback: str | None = None,
        status_callback_method: str | None = None,
        time_limit: int | None = None,
        account_sid: str | None = None,
    ) -> dict[str, Any]:
        """Redirect a live call to new TwiML (``url`` or ``twiml``), or end it
        (``status="canceled"`` if still queued or ringing, ``"completed"`` in any case)."""
        if url is not None and twiml is not None:
            raise ValidationError("url", "give url or twiml, not both")
        path = self._one(sid, account_sid)
        data = changes(
            _UPDATE_FIELDS,
            {
                "url": url,
                "twiml": twiml,
                "method": method,
                "status": status,
                "fallback_url": fallback_url,
                "fallback_method": fallback_method,
                "status_callback": status_callback,
                "status_callback_method": status_callback_method,
                "time_limit": time_limit,
            },
        )
        return self._post(path, data)

    def delete(self, sid: str, *, account_sid: str | None = None) -> None:
        """Delete the record of a finished call."""
        self._delete(self._one(sid, account_sid))
