"""REST views: calls, conferences and participants, recordings, transcriptions, notifications."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import Range
from werkzeug.exceptions import RequestedRangeNotSatisfiable

from switchboard.emulator import media
from switchboard.emulator.params import (
    SEND_DIGITS_LIMIT,
    TWIML_LIMIT,
    APIError,
    Params,
    bad_request,
    not_found,
    shown,
)
from switchboard.emulator.resources import public
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
    set_fields,
    show,
    state,
)
from switchboard.emulator.state import TERMINAL_CALL_STATUSES

bp = Blueprint("voice", __name__)
bp.before_request(authenticate)
media_bp = Blueprint("media", __name__)

ACCOUNT = "/Accounts/<account_sid>"
CALL_STATUSES = ("queued", "ringing", "in-progress", "completed", "busy", "failed", "no-answer",
                 "canceled")
CALL_EVENTS = ("initiated", "ringing", "answered", "completed")
#: What SendDigits may hold: the keys (0-9, A-D, # and *), w (half a second) and W (a second).
SEND_DIGITS_KEYS = frozenset("0123456789ABCD#*wW")


# -- calls ------------------------------------------------------------------------------------


def _status_callback_events(p: Params) -> list[str]:
    events: list[str] = []
    for value in p.getlist("StatusCallbackEvent"):
        for event in value.replace(",", " ").split():
            if event not in CALL_EVENTS:
                raise bad_request(21626, f"StatusCallbackEvent {shown(event)} is not one of "
                                  f"{', '.join(CALL_EVENTS)}.")
            events.append(event)
    return events or ["completed"]


def _machine_detection(p: Params) -> str | None:
    detection = p.enum("MachineDetection", ("Enable", "DetectMessageEnd"))
    if detection is None and p.enum("IfMachine", ("Continue", "Hangup")) is not None:
        detection = "Enable"  # the legacy IfMachine, as Twilio maps it
    return detection


def _instructions(p: Params, account_sid: str, *, required: bool) -> dict[str, Any]:
    """The call's ``Url`` / ``Twiml`` / ``ApplicationSid`` (creating: ``required``). Updating
    takes no ``ApplicationSid``: Twilio ignores it there, so the call keeps its instructions."""
    url = p.url("Url", 21205) or None
    twiml = p.get("Twiml") or None
    application_sid = (p.sid("ApplicationSid", "AP", code=21218) or None) if required else None
    given = [name for name, value in (("Url", url), ("ApplicationSid", application_sid),
                                      ("Twiml", twiml)) if value]
    if required and not given:
        raise bad_request(21205, "Url is required: give one of Url, ApplicationSid or Twiml.")
    if len(given) > 1:
        raise bad_request(21205, f"Give only one of Url, ApplicationSid or Twiml, not "
                          f"{' and '.join(given)}.")
    if twiml is not None and len(twiml) > TWIML_LIMIT:
        raise bad_request(21205, f"Twiml is {len(twiml)} characters long: the limit is "
                          f"{TWIML_LIMIT}.")
    if application_sid:
        application = state().get("applications", application_sid)
        if application is None or application["account_sid"] != account_sid:
            raise bad_request(21218, f"ApplicationSid {shown(application_sid)} is not an "
                              "application of this account.")
    fields: dict[str, Any] = {}
    if given:
        fields.update(url=url, twiml=twiml, application_sid=application_sid)
    method = p.method("Method")
    if method:
        fields["method"] = method
    return fields


@bp.post(f"{ACCOUNT}/Calls.json")
def create_call(account_sid: str) -> ResponseReturnValue:
    require_active(account_sid)
    p = params()
    to = p.phone_number("To", 21211, prefixes=("client:", "sip:"))
    if to is None:
        raise bad_request(21201, "No 'To' number is specified.")
    from_ = p.phone_number("From", 21212, prefixes=("client:",))
    if from_ is None:
        raise bad_request(21213, "No 'From' number is specified.")
    if (state().strict_senders and not from_.startswith("client:")
            and not state().sender_allowed(account_sid, from_, caller_ids=True)):
        raise bad_request(21210, f"The source phone number provided, {from_}, is not yet "
                          "verified for your account. 'From' must be one of your numbers or "
                          "verified caller IDs.")
    fields = _instructions(p, account_sid, required=True)
    fields.update(set_fields(p, [
        ("FallbackUrl", "fallback_url", "url"),
        ("FallbackMethod", "fallback_method", "method"),
        ("StatusCallback", "status_callback", "url"),
        ("StatusCallbackMethod", "status_callback_method", "method"),
        ("RecordingStatusCallback", "recording_status_callback", "url"),
        ("RecordingStatusCallbackMethod", "recording_status_callback_method", "method"),
        ("CallerId", "caller_id", "str"),
        ("CallReason", "call_reason", "str"),
    ]))
    send_digits = p.text("SendDigits", limit=SEND_DIGITS_LIMIT, code=21206)
    if send_digits and not SEND_DIGITS_KEYS.issuperset(send_digits):
        raise bad_request(21206, f"SendDigits {shown(send_digits)} must be keys (0-9, A-D, '#', "
                          "'*'), 'w' or 'W'.")
    timeout = p.integer("Timeout", low=1, high=600)
    time_limit = p.integer("TimeLimit", low=1, high=86400)
    call = state().create_call(
        account_sid,
        to=to,
        from_=from_,
        status="queued",
        direction="outbound-api",
        status_callback_event=_status_callback_events(p),
        send_digits=send_digits or None,
        timeout=timeout if timeout is not None else 60,
        time_limit=time_limit,
        machine_detection=_machine_detection(p),
        record=bool(p.boolean("Record")),
        **fields,
    )
    call_phone("place_outbound_call", call)
    return show("calls", call, 201)


@bp.get(f"{ACCOUNT}/Calls.json")
def list_calls(account_sid: str) -> ResponseReturnValue:
    p = params()
    where = all_of(
        matching([
            ("to", p.get("To")),
            ("from", p.get("From")),
            ("parent_call_sid", p.get("ParentCallSid")),
            ("status", p.enum("Status", CALL_STATUSES)),
        ]),
        dated("start_time", p.date_filter("StartTime")),
        dated("end_time", p.date_filter("EndTime")),
    )
    return page(state().list("calls", account_sid=account_sid, where=where), "calls", "calls")


@bp.get(f"{ACCOUNT}/Calls/<sid>.json")
def get_call(account_sid: str, sid: str) -> ResponseReturnValue:
    return show("calls", owned("calls", sid, account_sid))


@bp.post(f"{ACCOUNT}/Calls/<sid>.json")
def update_call(account_sid: str, sid: str) -> ResponseReturnValue:
    """Redirect a live call (``Url``/``Twiml``) or end it (``Status`` canceled|completed).

    ``completed`` ends an answered call; a call not yet answered becomes ``canceled``;
    ``canceled`` leaves an answered call alone, as Twilio does.
    """
    p = params()
    status = p.enum("Status", ("canceled", "completed"))
    fields = _instructions(p, account_sid, required=False)
    fields.update(set_fields(p, [
        ("FallbackUrl", "fallback_url", "url"),
        ("FallbackMethod", "fallback_method", "method"),
        ("StatusCallback", "status_callback", "url"),
        ("StatusCallbackMethod", "status_callback_method", "method"),
    ]))
    with state().lock:  # the call's status must not change between reading and writing it
        call = owned("calls", sid, account_sid)
        finished = call["status"] in TERMINAL_CALL_STATUSES
        if fields.get("url") or fields.get("twiml"):
            if finished:
                raise bad_request(21220, "Call is not in-progress. Cannot redirect.")
            fields["redirect"] = {
                "url": fields.get("url"),
                "method": fields.get("method", "POST"),
                "twiml": fields.get("twiml"),
            }
        if status and not finished:
            unanswered = call["status"] in ("queued", "ringing")
            if status == "completed":
                fields["status"] = "canceled" if unanswered else "completed"
            elif unanswered:
                fields["status"] = "canceled"
        updated = state().update_call(sid, **fields)
    call_phone("call_updated", updated)
    return show("calls", updated)


@bp.delete(f"{ACCOUNT}/Calls/<sid>.json")
def delete_call(account_sid: str, sid: str) -> ResponseReturnValue:
    """Only a call that has ended can be deleted (Twilio's 20009): a live call's resource is
    still being written, by Twilio and here by the caller side."""
    with state().lock:
        call = owned("calls", sid, account_sid)
        if call["status"] not in TERMINAL_CALL_STATUSES:
            raise bad_request(20009, f"Cannot delete call {sid} before it is complete: it is "
                              f"{call['status']}. End it first (Status=completed).")
        state().delete("calls", sid)
    return deleted()


# -- conferences and participants --------------------------------------------------------------


@bp.get(f"{ACCOUNT}/Conferences.json")
def list_conferences(account_sid: str) -> ResponseReturnValue:
    p = params()
    where = all_of(
        matching([
            ("friendly_name", p.get("FriendlyName")),
            ("status", p.enum("Status", ("init", "in-progress", "completed"))),
        ]),
        dated("date_created", p.date_filter("DateCreated")),
        dated("date_updated", p.date_filter("DateUpdated")),
    )
    conferences = state().list("conferences", account_sid=account_sid, where=where)
    return page(conferences, "conferences", "conferences")


@bp.get(f"{ACCOUNT}/Conferences/<sid>.json")
def get_conference(account_sid: str, sid: str) -> ResponseReturnValue:
    return show("conferences", owned("conferences", sid, account_sid))


@bp.post(f"{ACCOUNT}/Conferences/<sid>.json")
def update_conference(account_sid: str, sid: str) -> ResponseReturnValue:
    conference = owned("conferences", sid, account_sid)
    p = params()
    status = p.enum("Status", ("completed",))
    p.url("AnnounceUrl")
    p.method("AnnounceMethod")
    if status and conference["status"] != "completed":
        with state().lock:
            for participant in state().list_participants(sid):
                state().remove_participant(sid, participant["call_sid"],
                                           reason="conference-ended-via-api")
            if state().get("conferences", sid)["status"] != "completed":
                state().update("conferences", sid, status="completed",
                               reason_conference_ended="conference-ended-via-api")
    return show("conferences", owned("conferences", sid, account_sid))


def _conference(account_sid: str, conference_sid: str) -> dict[str, Any]:
    return owned("conferences", conference_sid, account_sid)


@bp.get(f"{ACCOUNT}/Conferences/<conference_sid>/Participants.json")
def list_participants(account_sid: str, conference_sid: str) -> ResponseReturnValue:
    _conference(account_sid, conference_sid)
    p = params()
    keep = matching([("muted", p.boolean("Muted")), ("hold", p.boolean("Hold")),
                     ("coaching", p.boolean("Coaching"))])
    participants = [x for x in state().list_participants(conference_sid) if keep(x)]
    return page(participants, "participants", "participants")


def _participant(account_sid: str, conference_sid: str, call_sid: str) -> dict[str, Any]:
    _conference(account_sid, conference_sid)
    participant = state().get_participant(conference_sid, call_sid)
    if participant is None:
        raise not_found(request.path)
    return participant


@bp.get(f"{ACCOUNT}/Conferences/<conference_sid>/Participants/<call_sid>.json")
def get_participant(account_sid: str, conference_sid: str, call_sid: str) -> ResponseReturnValue:
    return show("participants", _participant(account_sid, conference_sid, call_sid))


@bp.post(f"{ACCOUNT}/Conferences/<conference_sid>/Participants/<call_sid>.json")
def update_participant(account_sid: str, conference_sid: str, call_sid: str
                       ) -> ResponseReturnValue:
    p = params()
    fields = set_fields(p, [
        ("Muted", "muted", "bool"),
        ("Hold", "hold", "bool"),
        ("HoldUrl", "hold_url", "url"),
        ("HoldMethod", "hold_method", "method"),
        ("AnnounceUrl", "announce_url", "url"),
        ("AnnounceMethod", "announce_method", "method"),
        ("WaitUrl", "wait_url", "url"),
        ("WaitMethod", "wait_method", "method"),
        ("BeepOnExit", "beep_on_exit", "bool"),
        ("EndConferenceOnExit", "end_conference_on_exit", "bool"),
        ("Coaching", "coaching", "bool"),
        ("CallSidToCoach", "call_sid_to_coach", "sid:CA"),
    ])
    with state().lock:  # the participant must not leave between the check and the update
        _participant(account_sid, conference_sid, call_sid)
        participant = state().update_participant(conference_sid, call_sid, **fields)
    return show("participants", participant)


@bp.delete(f"{ACCOUNT}/Conferences/<conference_sid>/Participants/<call_sid>.json")
def delete_participant(account_sid: str, conference_sid: str, call_sid: str
                       ) -> ResponseReturnValue:
    _participant(account_sid, conference_sid, call_sid)
    state().remove_participant(conference_sid, call_sid, reason="last-participant-kicked")
    return deleted()


# -- recordings ----------------------------------------------------------------------------------


def _nested_recording(recording: dict[str, Any], parent: str) -> dict[str, Any]:
    """A recording as ``Calls/{CallSid}/Recordings`` or ``Conferences/{ConferenceSid}/
    Recordings`` shows it (Twilio's call_recording and conference_recording shapes)."""
    if parent == "call":
        shown = public("call_recordings", recording)
        segment = f"/Calls/{recording['call_sid']}/Recordings/"
    else:
        shown = public("conference_recordings", recording)
        segment = f"/Conferences/{recording['conference_sid']}/Recordings/"
    shown["uri"] = recording["uri"].replace("/Recordings/", segment)
    return shown


def _recordings(account_sid: str, parent: str | None = None, **match: str | None
                ) -> ResponseReturnValue:
    p = params()
    where = all_of(
        matching([
            ("call_sid", match.get("call_sid", p.get("CallSid"))),
            ("conference_sid", match.get("conference_sid", p.get("ConferenceSid"))),
        ]),
        dated("date_created", p.date_filter("DateCreated")),
    )
    recordings = state().list("recordings", account_sid=account_sid, where=where)
    if parent is None:
        return page(recordings, "recordings", "recordings")
    return page(recordings, "recordings", lambda r: _nested_recording(r, parent))


def _recording_of(account_sid: str, sid: str, field: str, parent_sid: str) -> dict[str, Any]:
    recording = owned("recordings", sid, account_sid)
    if recording.get(field) != parent_sid:
        raise not_found(request.path)
    return recording


@bp.get(f"{ACCOUNT}/Recordings.json")
def list_recordings(account_sid: str) -> ResponseReturnValue:
    return _recordings(account_sid)


@bp.get(f"{ACCOUNT}/Calls/<call_sid>/Recordings.json")
def list_call_recordings(account_sid: str, call_sid: str) -> ResponseReturnValue:
    owned("calls", call_sid, account_sid)
    return _recordings(account_sid, "call", call_sid=call_sid)


@bp.get(f"{ACCOUNT}/Calls/<call_sid>/Recordings/<sid>.json")
def get_call_recording(account_sid: str, call_sid: str, sid: str) -> ResponseReturnValue:
    return _nested_recording(_recording_of(account_sid, sid, "call_sid", call_sid), "call")


@bp.delete(f"{ACCOUNT}/Calls/<call_sid>/Recordings/<sid>.json")
def delete_call_recording(account_sid: str, call_sid: str, sid: str) -> ResponseReturnValue:
    _recording_of(account_sid, sid, "call_sid", call_sid)
    return delete_recording(account_sid, sid)


@bp.get(f"{ACCOUNT}/Conferences/<conference_sid>/Recordings.json")
def list_conference_recordings(account_sid: str, conference_sid: str) -> ResponseReturnValue:
    owned("conferences", conference_sid, account_sid)
    return _recordings(account_sid, "conference", conference_sid=conference_sid)


@bp.get(f"{ACCOUNT}/Conferences/<conference_sid>/Recordings/<sid>.json")
def get_conference_recording(account_sid: str, conference_sid: str, sid: str
                             ) -> ResponseReturnValue:
    recording = _recording_of(account_sid, sid, "conference_sid", conference_sid)
    return _nested_recording(recording, "conference")


@bp.delete(f"{ACCOUNT}/Conferences/<conference_sid>/Recordings/<sid>.json")
def delete_conference_recording(account_sid: str, conference_sid: str, sid: str
                                ) -> ResponseReturnValue:
    _recording_of(account_sid, sid, "conference_sid", conference_sid)
    return delete_recording(account_sid, sid)


@bp.get(f"{ACCOUNT}/Recordings/<sid>.json")
def get_recording(account_sid: str, sid: str) -> ResponseReturnValue:
    return show("recordings", owned("recordings", sid, account_sid))


@bp.delete(f"{ACCOUNT}/Recordings/<sid>.json")
def delete_recording(account_sid: str, sid: str) -> ResponseReturnValue:
    owned("recordings", sid, account_sid)
    state().delete("recordings", sid)
    for transcription in state().list("transcriptions", account_sid=account_sid,
                                      where=matching([("recording_sid", sid)])):
        state().delete("transcriptions", transcription["sid"])
    return deleted()


@media_bp.get(f"{ACCOUNT}/Recordings/<sid>.<any(mp3, wav):ext>")
@media_bp.get(f"{ACCOUNT}/Recordings/<sid:sid>", defaults={"ext": "wav"})
def recording_media(account_sid: str, sid: str, ext: str) -> ResponseReturnValue:
    """The recording's audio, streamed. Like Twilio's default, media needs no credentials.

    One range of bytes (``Range: bytes=0-1023``, ``bytes=1024-``, ``bytes=-1024``) is answered
    with 206 and that part, or 416 with ``Content-Range: bytes */SIZE`` when it starts past
    the end; a Range header that does not parse, or asks for several ranges, gets the whole
    file with 200, as RFC 9110 allows.
    """
    recording = owned("recordings", sid, account_sid)
    seconds = int(recording.get("duration") or 0)
    if ext == "mp3":
        stream, size, mimetype = media.mp3_stream(seconds), media.mp3_size(seconds), "audio/mpeg"
    else:
        stream, size, mimetype = media.wav_stream(seconds), media.wav_size(seconds), "audio/x-wav"
    response = Response(stream, mimetype=mimetype, direct_passthrough=True)
    response.content_length = size
    response.accept_ranges = "bytes"
    if not _one_byte_range(request.range, size):
        return response
    try:
        return response.make_conditional(request, accept_ranges=True, complete_length=size)
    except RequestedRangeNotSatisfiable:
        raise APIError(416, 20001, f"The range {shown(request.headers['Range'])} is not "
                       f"within the recording's {size} bytes.",
                       {"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"}) from None


def _one_byte_range(wanted: Range | None, size: int) -> bool:
    """Whether a request's Range is to be answered with part of a file of ``size`` bytes: one
    range of bytes. A suffix longer than the file gets the whole file, with 200."""
    if wanted is None or wanted.units != "bytes" or len(wanted.ranges) != 1:
        return False
    start, stop = wanted.ranges[0]
    return not (stop is None and start < -size)


# -- transcriptions --------------------------------------------------------------------------------


@bp.get(f"{ACCOUNT}/Transcriptions.json")
def list_transcriptions(account_sid: str) -> ResponseReturnValue:
    transcriptions = state().list("transcriptions", account_sid=account_sid)
    return page(transcriptions, "transcriptions", "transcriptions")


@bp.get(f"{ACCOUNT}/Recordings/<recording_sid>/Transcriptions.json")
def list_recording_transcriptions(account_sid: str, recording_sid: str) -> ResponseReturnValue:
    owned("recordings", recording_sid, account_sid)
    transcriptions = state().list("transcriptions", account_sid=account_sid,
                                  where=matching([("recording_sid", recording_sid)]))
    return page(transcriptions, "transcriptions", "transcriptions")


def _transcription(account_sid: str, sid: str, recording_sid: str | None) -> dict[str, Any]:
    transcription = owned("transcriptions", sid, account_sid)
    if recording_sid is not None and transcription["recording_sid"] != recording_sid:
        raise not_found(request.path)
    return transcription


@bp.get(f"{ACCOUNT}/Transcriptions/<sid>.<any(json, txt):ext>")
@bp.get(f"{ACCOUNT}/Recordings/<recording_sid>/Transcriptions/<sid>.<any(json, txt):ext>")
def get_transcription(account_sid: str, sid: str, ext: str, recording_sid: str | None = None
                      ) -> ResponseReturnValue:
    transcription = _transcription(account_sid, sid, recording_sid)
    if ext == "txt":
        return Response(transcription.get("transcription_text") or "", mimetype="text/plain")
    return show("transcriptions", transcription)


@bp.delete(f"{ACCOUNT}/Transcriptions/<sid>.json")
@bp.delete(f"{ACCOUNT}/Recordings/<recording_sid>/Transcriptions/<sid>.json")
def delete_transcription(account_sid: str, sid: str, recording_sid: str | None = None
                         ) -> ResponseReturnValue:
    _transcription(account_sid, sid, recording_sid)
    state().delete("transcriptions", sid)
    return deleted()


# -- notifications -----------------------------------------------------------------------------


def _notifications(account_sid: str, call_sid: str | None) -> ResponseReturnValue:
    p = params()
    where = all_of(
        matching([("log", p.enum("Log", ("0", "1"))), ("call_sid", call_sid)]),
        dated("message_date", p.date_filter("MessageDate")),
    )
    notifications = state().list("notifications", account_sid=account_sid, where=where)
    return page(notifications, "notifications", "notifications")


@bp.get(f"{ACCOUNT}/Notifications.json")
def list_notifications(account_sid: str) -> ResponseReturnValue:
    return _notifications(account_sid, None)


@bp.get(f"{ACCOUNT}/Calls/<call_sid>/Notifications.json")
def list_call_notifications(account_sid: str, call_sid: str) -> ResponseReturnValue:
    owned("calls", call_sid, account_sid)
    return _notifications(account_sid, call_sid)


@bp.get(f"{ACCOUNT}/Notifications/<sid>.json")
@bp.get(f"{ACCOUNT}/Calls/<call_sid>/Notifications/<sid>.json")
def get_notification(account_sid: str, sid: str, call_sid: str | None = None
                     ) -> ResponseReturnValue:
    notification = owned("notifications", sid, account_sid)
    if call_sid is not None and notification["call_sid"] != call_sid:
        raise not_found(request.path)
    return public("notifications", notification, instance=True)


@bp.delete(f"{ACCOUNT}/Notifications/<sid>.json")
@bp.delete(f"{ACCOUNT}/Calls/<call_sid>/Notifications/<sid>.json")
def delete_notification(account_sid: str, sid: str, call_sid: str | None = None
                        ) -> ResponseReturnValue:
    """Today's API has no DELETE for notifications: answered 405, as Twilio answers a method a
    resource does not allow."""
    raise APIError(405, 20004, "Method not allowed: notifications can no longer be deleted "
                   "through the API (today's API 2010-04-01 only reads them).", {"Allow": "GET"})
