"""Twilio's JSON shapes: SIDs, dates, URIs and the fields each resource shows.

The state keeps every resource as one dict: the public fields Twilio's API returns (snake_case,
exactly as in the 2010-04-01 JSON) plus a few internal ones the emulator needs to act on it (a
call's ``url`` and ``status_callback``, a message's ``media_url`` list...). :func:`public`
keeps only what Twilio would show.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

API_VERSION = "2010-04-01"
API_ROOT = f"/{API_VERSION}"

#: Two-letter SID prefix of each kind of resource.
SID_PREFIXES: dict[str, str] = {
    "accounts": "AC",
    "incoming_phone_numbers": "PN",
    "outgoing_caller_ids": "PN",
    "applications": "AP",
    "calls": "CA",
    "conferences": "CF",
    "messages": "SM",
    "recordings": "RE",
    "transcriptions": "TR",
    "notifications": "NO",
    "keys": "SK",
}

#: The path segment of each kind under ``/Accounts/{AccountSid}``.
PATH_SEGMENTS: dict[str, str] = {
    "incoming_phone_numbers": "IncomingPhoneNumbers",
    "outgoing_caller_ids": "OutgoingCallerIds",
    "applications": "Applications",
    "calls": "Calls",
    "conferences": "Conferences",
    "messages": "Messages",
    "recordings": "Recordings",
    "transcriptions": "Transcriptions",
    "notifications": "Notifications",
}

PUBLIC_FIELDS: dict[str, tuple[str, ...]] = {
    "accounts": (
        "auth_token", "date_created", "date_updated", "friendly_name", "owner_account_sid", "sid",
        "status", "subresource_uris", "type", "uri",
    ),
    "incoming_phone_numbers": (
        "account_sid", "address_sid", "address_requirements", "api_version", "beta",
        "capabilities", "date_created", "date_updated", "friendly_name", "identity_sid",
        "phone_number", "origin", "sid", "sms_application_sid", "sms_fallback_method",
        "sms_fallback_url", "sms_method", "sms_url", "status_callback", "status_callback_method",
        "trunk_sid", "uri", "voice_receive_mode", "voice_application_sid",
        "voice_caller_id_lookup", "voice_fallback_method", "voice_fallback_url", "voice_method",
        "voice_url", "emergency_status", "emergency_address_sid", "emergency_address_status",
        "bundle_sid", "status", "type",
    ),
    "outgoing_caller_ids": (
        "sid", "date_created", "date_updated", "friendly_name", "account_sid", "phone_number",
        "uri",
    ),
    "applications": (
        "account_sid", "api_version", "date_created", "date_updated", "friendly_name",
        "message_status_callback", "sid", "sms_fallback_method", "sms_fallback_url", "sms_method",
        "sms_status_callback", "sms_url", "status_callback", "status_callback_method", "uri",
        "voice_caller_id_lookup", "voice_fallback_method", "voice_fallback_url", "voice_method",
        "voice_url", "public_application_connect_enabled",
    ),
    "calls": (
        "sid", "date_created", "date_updated", "parent_call_sid", "account_sid", "to",
        "to_formatted", "from", "from_formatted", "phone_number_sid", "status", "start_time",
        "end_time", "duration", "price", "price_unit", "direction", "answered_by", "api_version",
        "forwarded_from", "group_sid", "caller_name", "queue_time", "trunk_sid", "uri",
        "subresource_uris",
    ),
    "conferences": (
        "account_sid", "date_created", "date_updated", "api_version", "friendly_name", "region",
        "sid", "status", "uri", "subresource_uris", "reason_conference_ended",
        "call_sid_ending_conference",
    ),
    "participants": (
        "account_sid", "call_sid", "label", "call_sid_to_coach", "coaching", "conference_sid",
        "date_created", "date_updated", "end_conference_on_exit", "muted", "hold",
        "start_conference_on_enter", "status", "queue_time", "uri",
    ),
    "messages": (
        "body", "num_segments", "direction", "from", "to", "date_updated", "price",
        "error_message", "uri", "account_sid", "num_media", "status", "messaging_service_sid",
        "sid", "date_sent", "date_created", "error_code", "price_unit", "api_version",
        "subresource_uris",
    ),
    "recordings": (
        "account_sid", "api_version", "call_sid", "conference_sid", "date_created",
        "date_updated", "start_time", "duration", "sid", "price", "price_unit", "status",
        "channels", "source", "error_code", "uri", "encryption_details", "subresource_uris",
        "media_url",
    ),
    "call_recordings": (
        "account_sid", "api_version", "call_sid", "conference_sid", "date_created",
        "date_updated", "start_time", "duration", "sid", "price", "uri", "encryption_details",
        "price_unit", "status", "channels", "source", "error_code", "track",
    ),
    "conference_recordings": (
        "account_sid", "api_version", "call_sid", "conference_sid", "date_created",
        "date_updated", "start_time", "duration", "sid", "price", "price_unit", "status",
        "channels", "source", "error_code", "encryption_details", "uri",
    ),
    "transcriptions": (
        "account_sid", "api_version", "date_created", "date_updated", "duration", "price",
        "price_unit", "recording_sid", "sid", "status", "transcription_text", "type", "uri",
    ),
    "notifications": (
        "account_sid", "api_version", "call_sid", "date_created", "date_updated", "error_code",
        "log", "message_date", "message_text", "more_info", "request_method", "request_url",
        "sid", "uri",
    ),
    "sandbox": (
        "pin", "account_sid", "phone_number", "application_sid", "api_version", "voice_url",
        "voice_method", "sms_url", "sms_method", "status_callback", "status_callback_method",
        "date_created", "date_updated", "uri",
    ),
}

#: The extra fields a single notification shows (``Notifications/{Sid}.json``).
NOTIFICATION_INSTANCE_FIELDS = ("request_variables", "response_body", "response_headers")


def new_sid(prefix: str) -> str:
    """A SID: the two-letter ``prefix`` and 32 lower-case hex digits."""
    return prefix + secrets.token_hex(16)


def new_token() -> str:
    """An auth token: 32 hex digits."""
    return secrets.token_hex(16)


def now() -> datetime:
    return datetime.now(UTC)


def rfc2822(when: datetime | None = None) -> str:
    """``when`` (default: now) as Twilio writes dates: ``Fri, 27 Nov 2026 12:54:47 +0000``."""
    return format_datetime((when or now()).astimezone(UTC))


def parse_rfc2822(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def formatted_number(number: str | None) -> str | None:
    """A North American E.164 number as Twilio formats it: ``(415) 555-0100``."""
    if number and number.startswith("+1") and len(number) == 12 and number[1:].isdigit():
        return f"({number[2:5]}) {number[5:8]}-{number[8:]}"
    return number


def account_uri(account_sid: str, suffix: str = ".json") -> str:
    return f"{API_ROOT}/Accounts/{account_sid}{suffix}"


def resource_uri(kind: str, account_sid: str, sid: str) -> str:
    return account_uri(account_sid, f"/{PATH_SEGMENTS[kind]}/{sid}.json")


def num_segments(body: str) -> int:
    """How many SMS segments ``body`` takes (GSM-7: 160/153, otherwise UCS-2: 70/67)."""
    if not body:
        return 1
    gsm = all(ord(ch) < 128 for ch in body)
    single, multi = (160, 153) if gsm else (70, 67)
    return 1 if len(body) <= single else math.ceil(len(body) / multi)


def refresh_uris(kind: str, resource: dict[str, Any]) -> None:
    """Set ``uri`` (and ``subresource_uris``) from the resource's account and SID."""
    account_sid = resource.get("account_sid")
    if kind == "participants":
        resource["uri"] = account_uri(
            account_sid, f"/Conferences/{resource['conference_sid']}/Participants/"
            f"{resource['call_sid']}.json"
        )
        return
    if kind == "sandbox":
        resource["uri"] = account_uri(account_sid, "/Sandbox.json")
        return
    sid = resource["sid"]
    if kind == "accounts":
        resource["uri"] = account_uri(sid)
        base = account_uri(sid, "")
        resource["subresource_uris"] = {
            "available_phone_numbers": f"{base}/AvailablePhoneNumbers.json",
            "calls": f"{base}/Calls.json",
            "conferences": f"{base}/Conferences.json",
            "incoming_phone_numbers": f"{base}/IncomingPhoneNumbers.json",
            "notifications": f"{base}/Notifications.json",
            "outgoing_caller_ids": f"{base}/OutgoingCallerIds.json",
            "recordings": f"{base}/Recordings.json",
            "transcriptions": f"{base}/Transcriptions.json",
            "applications": f"{base}/Applications.json",
            "messages": f"{base}/Messages.json",
        }
        return
    uri = resource_uri(kind, account_sid, sid)
    resource["uri"] = uri
    stem = uri.removesuffix(".json")
    if kind == "calls":
        resource["subresource_uris"] = {
            "notifications": f"{stem}/Notifications.json",
            "recordings": f"{stem}/Recordings.json",
        }
    elif kind == "conferences":
        resource["subresource_uris"] = {
            "participants": f"{stem}/Participants.json",
            "recordings": f"{stem}/Recordings.json",
        }
    elif kind == "messages":
        resource["subresource_uris"] = {"media": f"{stem}/Media.json"}
    elif kind == "recordings":
        resource["subresource_uris"] = {
            "add_on_results": f"{stem}/AddOnResults.json",
            "transcriptions": f"{stem}/Transcriptions.json",
        }


def public(kind: str, resource: Mapping[str, Any], *, instance: bool = False) -> dict[str, Any]:
    """The fields of ``resource`` that Twilio shows, in Twilio's order."""
    fields = PUBLIC_FIELDS[kind]
    if kind == "notifications" and instance:
        fields = fields + NOTIFICATION_INSTANCE_FIELDS
    return {name: resource.get(name) for name in fields}


def defaults(kind: str) -> dict[str, Any]:
    """The fields a new resource of ``kind`` starts with, before what the request sets."""
    common: dict[str, Any] = {"api_version": API_VERSION}
    if kind == "accounts":
        return {"owner_account_sid": None, "status": "active", "type": "Full"}
    if kind == "incoming_phone_numbers":
        return {
            **common,
            "address_sid": None,
            "address_requirements": "none",
            "beta": False,
            "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
            "identity_sid": None,
            "origin": "twilio",
            "sms_application_sid": None,
            "sms_fallback_method": "POST",
            "sms_fallback_url": None,
            "sms_method": "POST",
            "sms_url": None,
            "status_callback": None,
            "status_callback_method": "POST",
            "trunk_sid": None,
            "voice_receive_mode": "voice",
            "voice_application_sid": None,
            "voice_caller_id_lookup": False,
            "voice_fallback_method": "POST",
            "voice_fallback_url": None,
            "voice_method": "POST",
            "voice_url": None,
            "emergency_status": "Inactive",
            "emergency_address_sid": None,
            "emergency_address_status": "unregistered",
            "bundle_sid": None,
            "status": "in-use",
            "type": "local",
        }
    if kind == "applications":
        return {
            **common,
            "friendly_name": None,
            "message_status_callback": None,
            "sms_fallback_method": "POST",
            "sms_fallback_url": None,
            "sms_method": "POST",
            "sms_status_callback": None,
            "sms_url": None,
            "status_callback": None,
            "status_callback_method": "POST",
            "voice_caller_id_lookup": False,
            "voice_fallback_method": "POST",
            "voice_fallback_url": None,
            "voice_method": "POST",
            "voice_url": None,
            "public_application_connect_enabled": False,
        }
    if kind == "calls":
        return {
            **common,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "status": "queued",
            "start_time": None,
            "end_time": None,
            "duration": None,
            "price": None,
            "price_unit": "USD",
            "direction": "outbound-api",
            "answered_by": None,
            "forwarded_from": None,
            "group_sid": None,
            "caller_name": None,
            "queue_time": "0",
            "trunk_sid": None,
            # internal: what the emulator needs to place the call
            "url": None,
            "method": "POST",
            "fallback_url": None,
            "fallback_method": "POST",
            "status_callback": None,
            "status_callback_method": "POST",
            "status_callback_event": ["completed"],
            "application_sid": None,
            "twiml": None,
            "send_digits": None,
            "timeout": 60,
            "machine_detection": None,
            "record": False,
            "recording_status_callback": None,
            "recording_status_callback_method": "POST",
        }
    if kind == "conferences":
        return {
            **common,
            "region": "us1",
            "status": "init",
            "reason_conference_ended": None,
            "call_sid_ending_conference": None,
        }
    if kind == "participants":
        return {
            "label": None,
            "call_sid_to_coach": None,
            "coaching": False,
            "end_conference_on_exit": False,
            "muted": False,
            "hold": False,
            "start_conference_on_enter": True,
            "status": "connected",
            "queue_time": "0",
        }
    if kind == "messages":
        return {
            **common,
            "body": "",
            "direction": "outbound-api",
            "price": None,
            "error_message": None,
            "num_media": "0",
            "status": "queued",
            "messaging_service_sid": None,
            "date_sent": None,
            "error_code": None,
            "price_unit": "USD",
            # internal
            "media_url": [],
            "status_callback": None,
            "application_sid": None,
        }
    if kind == "recordings":
        return {
            **common,
            "conference_sid": None,
            "duration": "0",
            "price": None,
            "price_unit": "USD",
            "status": "completed",
            "channels": 1,
            "source": "RecordVerb",
            "error_code": None,
            "encryption_details": None,
            "track": "both",
        }
    if kind == "transcriptions":
        return {
            **common,
            "duration": "0",
            "price": None,
            "price_unit": "USD",
            "status": "completed",
            "transcription_text": "",
            "type": "fast",
        }
    if kind == "notifications":
        return {
            **common,
            "call_sid": None,
            "error_code": "11200",
            "log": "0",
            "message_text": "",
            "more_info": None,
            "request_method": "POST",
            "request_url": None,
            "request_variables": "",
            "response_body": "",
            "response_headers": "",
        }
    if kind == "sandbox":
        return {
            **common,
            "application_sid": None,
            "voice_url": None,
            "voice_method": "POST",
            "sms_url": None,
            "sms_method": "POST",
            "status_callback": None,
            "status_callback_method": "POST",
        }
    return dict(common)


__all__ = [
    "API_ROOT",
    "API_VERSION",
    "PUBLIC_FIELDS",
    "SID_PREFIXES",
    "defaults",
    "formatted_number",
    "new_sid",
    "new_token",
    "now",
    "num_segments",
    "parse_rfc2822",
    "public",
    "refresh_uris",
    "resource_uri",
    "rfc2822",
]
