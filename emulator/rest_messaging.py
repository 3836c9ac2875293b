"""REST views: messages."""

from __future__ import annotations

import hashlib
import mimetypes
import re
from typing import Any

from flask import Blueprint, request
from flask.typing import ResponseReturnValue

from switchboard.emulator.params import (
    BODY_LIMIT,
    MEDIA_LIMIT,
    bad_request,
    check_url,
    not_found,
    shown,
)
from switchboard.emulator.restkit import (
    all_of,
    authenticate,
    call_phone,
    dated,
    deleted,
    matching,
    owned,
    page,
    params,
    require_active,
    show,
    state,
)

bp = Blueprint("messaging", __name__)
bp.before_request(authenticate)

ACCOUNT = "/Accounts/<account_sid>"
#: Statuses in which the caller side is still moving the message on: not deletable yet.
UNFINISHED_STATUSES = frozenset({"accepted", "queued", "sending", "sent"})
ALPHANUMERIC_SENDER = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")


@bp.post(f"{ACCOUNT}/Messages.json")
def create_message(account_sid: str) -> ResponseReturnValue:
    require_active(account_sid)
    p = params()
    to = p.phone_number("To", 21211, prefixes=("whatsapp:",))
    if to is None:
        raise bad_request(21604, "A 'To' phone number is required.")
    sender = p.get("From")
    from_ = None
    if sender:
        from_ = sender if ALPHANUMERIC_SENDER.fullmatch(sender) else p.phone_number(
            "From", 21212, prefixes=("whatsapp:",))
    service_sid = p.sid("MessagingServiceSid", "MG", code=21701)
    if not from_ and not service_sid:
        raise bad_request(21603, "A 'From' phone number is required.")
    body = p.get("Body") or ""
    media_urls = p.getlist("MediaUrl")
    if len(media_urls) > MEDIA_LIMIT:
        raise bad_request(21623, f"MediaUrl is given {len(media_urls)} times: a message takes "
                          f"at most {MEDIA_LIMIT} media files.")
    for url in media_urls:
        check_url("MediaUrl", url, 21620)
    if not body and not media_urls and not p.get("ContentSid"):
        raise bad_request(21602, "Message body is required.")
    if len(body) > BODY_LIMIT:
        raise bad_request(21617, f"Body is {len(body)} characters long: the limit is "
                          f"{BODY_LIMIT}.")
    status_callback = p.url("StatusCallback", 21609) or None
    application_sid = p.sid("ApplicationSid", "AP", code=21218) or None
    if application_sid:
        application = state().get("applications", application_sid)
        if application is None or application["account_sid"] != account_sid:
            raise bad_request(21218, f"ApplicationSid {shown(application_sid)} is not an "
                              "application of this account.")
    if (from_ and state().strict_senders and not ALPHANUMERIC_SENDER.fullmatch(from_)
            and not state().sender_allowed(account_sid, from_.removeprefix("whatsapp:"),
                                           caller_ids=False)):
        raise bad_request(21606, f"The 'From' phone number provided ({from_}) is not a valid "
                          "message-capable phone number of this account.")
    if from_ and state().is_opted_out(to, from_):
        raise bad_request(21610, f"Attempt to send to unsubscribed recipient: {to} has replied "
                          f"STOP to {from_}.")
    message = state().create_message(
        account_sid,
        to=to,
        from_=from_,
        body=body,
        status="accepted" if service_sid and not from_ else "queued",
        direction="outbound-api",
        messaging_service_sid=service_sid,
        media_url=media_urls,
        status_callback=status_callback,
        application_sid=application_sid,
    )
    call_phone("deliver_outbound_message", message)
    return show("messages", message, 201)


@bp.get(f"{ACCOUNT}/Messages.json")
def list_messages(account_sid: str) -> ResponseReturnValue:
    p = params()
    where = all_of(
        matching([("to", p.get("To")), ("from", p.get("From"))]),
        dated("date_sent", p.date_filter("DateSent")),
    )
    messages = state().list("messages", account_sid=account_sid, where=where)
    return page(messages, "messages", "messages")


@bp.get(f"{ACCOUNT}/Messages/<sid>.json")
def get_message(account_sid: str, sid: str) -> ResponseReturnValue:
    return show("messages", owned("messages", sid, account_sid))


@bp.post(f"{ACCOUNT}/Messages/<sid>.json")
def update_message(account_sid: str, sid: str) -> ResponseReturnValue:
    """Redact a message (``Body`` empty) or cancel a scheduled one (``Status=canceled``)."""
    p = params()
    fields = {}
    if "Body" in p:
        if p.get("Body"):
            raise bad_request(20001, "Body can only be set to an empty string (to redact it).")
        fields["body"] = ""
    cancel = p.enum("Status", ("canceled",))
    with state().lock:  # the message must not change or go between the check and the update
        message = owned("messages", sid, account_sid)
        if cancel:
            if message["status"] != "scheduled":
                raise bad_request(30409, "Status: only a scheduled message can be canceled.")
            fields["status"] = "canceled"
        return show("messages", state().update_message(sid, **fields))


@bp.delete(f"{ACCOUNT}/Messages/<sid>.json")
def delete_message(account_sid: str, sid: str) -> ResponseReturnValue:
    """Only a message whose delivery is final can be deleted (Twilio's 20009)."""
    with state().lock:
        message = owned("messages", sid, account_sid)
        if message["status"] in UNFINISHED_STATUSES:
            raise bad_request(20009, f"Cannot delete message {sid} before its delivery is "
                              f"complete: it is {message['status']}. Try again once it is "
                              "delivered, undelivered or failed.")
        state().delete("messages", sid)
    return deleted()


# -- media of a message --------------------------------------------------------------------------


def _media(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The media of ``message`` as Twilio's Media resources (SIDs derived from the message)."""
    items = []
    deleted = set(message.get("deleted_media") or ())
    base = message["uri"].removesuffix(".json")
    for index, url in enumerate(message.get("media_url") or ()):
        digest = hashlib.sha256(f"{message['sid']}:{index}".encode()).hexdigest()[:32]
        sid = f"ME{digest}"
        if sid in deleted:
            continue
        items.append({
            "account_sid": message["account_sid"],
            "content_type": mimetypes.guess_type(url)[0] or "image/jpeg",
            "date_created": message["date_created"],
            "date_updated": message["date_updated"],
            "parent_sid": message["sid"],
            "sid": sid,
            "uri": f"{base}/Media/{sid}.json",
        })
    return items


def _one_media(account_sid: str, message_sid: str, sid: str) -> tuple[dict[str, Any], dict]:
    message = owned("messages", message_sid, account_sid)
    for item in _media(message):
        if item["sid"] == sid:
            return message, item
    raise not_found(request.path)


@bp.get(f"{ACCOUNT}/Messages/<message_sid>/Media.json")
def list_media(account_sid: str, message_sid: str) -> ResponseReturnValue:
    message = owned("messages", message_sid, account_sid)
    return page(_media(message), "media_list", lambda item: item)


@bp.get(f"{ACCOUNT}/Messages/<message_sid>/Media/<sid>.json")
def get_media(account_sid: str, message_sid: str, sid: str) -> ResponseReturnValue:
    return _one_media(account_sid, message_sid, sid)[1]


@bp.delete(f"{ACCOUNT}/Messages/<message_sid>/Media/<sid>.json")
def delete_media(account_sid: str, message_sid: str, sid: str) -> ResponseReturnValue:
    with state().lock:  # two deletions at once must both be kept
        message, _ = _one_media(account_sid, message_sid, sid)
        state().update("messages", message_sid,
                       deleted_media=[*(message.get("deleted_media") or ()), sid])
    return deleted()
