"""The bundled phone tree, written with the public handler API only.

``/voice`` welcomes the caller and reads the menu: 1 opening hours and address, 2 voicemail,
3 talk to a person. An invalid key or silence repeats the menu, up to ``max_attempts`` times,
then a polite goodbye (Twilio's retry of a request, with the same
``I-Twilio-Idempotency-Token``, counts once: the session keeps the token it counted).
Voicemail records with a recording status callback (``/voice/recording-status``, which
stores the recording); a recording of zero seconds
is no message: the caller is not thanked for it and nobody is told of it. "Talk to a person"
dials the forward number; when the call did not reach the person (busy, no answer, failed,
canceled), ``/voice/dial-result`` offers voicemail instead. A forward number that is the
number called is not dialled (the call would come back to this menu): voicemail instead.
"""

from __future__ import annotations

import logging

from switchboard.callbacks.handlers import TwilioBlueprint, external_url
from switchboard.callbacks.notices import notify_voicemail
from switchboard.callbacks.twilio_request import CallRequest, StatusCallback
from switchboard.callbacks.twiml import VoiceResponse

log = logging.getLogger("switchboard.callbacks")

bp = TwilioBlueprint("ivr", __name__)

MENU = (
    "For our opening hours and address, press 1. To leave a voicemail, press 2. "
    "To talk to a person, press 3."
)
#: Seconds the menu waits for a key before it counts as no input.
MENU_TIMEOUT = 6
#: The ``DialCallStatus`` of a call that reached the person. Any other (busy, no-answer,
#: failed, canceled, or none at all) means the caller spoke to nobody: voicemail is offered.
DIAL_CONNECTED = frozenset({"completed", "answered"})


def _say(response: VoiceResponse, call: CallRequest, text: str) -> None:
    settings = call.settings
    response.say(text, voice=settings.voice, language=settings.language)


def _menu(call: CallRequest, *, before: str | None = None) -> VoiceResponse:
    """The menu inside a Gather; silence falls through to a Redirect back to the menu."""
    response = VoiceResponse()
    if before:
        _say(response, call, before)
    settings = call.settings
    menu_url = external_url(".menu")
    with response.gather(
        input="dtmf", num_digits=1, timeout=MENU_TIMEOUT, action=menu_url, method="POST"
    ) as gather:
        gather.say(MENU, voice=settings.voice, language=settings.language)
    response.redirect(menu_url, method="POST")
    return response


def _voicemail(call: CallRequest, *, before: str | None = None) -> VoiceResponse:
    response = VoiceResponse()
    if before:
        _say(response, call, before)
    _say(response, call, "Please leave a message after the tone. Press the pound key when you "
                         "are finished.")
    response.record(
        action=external_url(".voicemail_saved"),
        method="POST",
        max_length=call.settings.voicemail_max_length,
        finish_on_key="#",
        play_beep=True,
        recording_status_callback=external_url(".recording_status"),
        recording_status_callback_method="POST",
    )
    _say(response, call, "We did not receive a message. Goodbye.")
    response.hangup()
    return response


def _goodbye(call: CallRequest, text: str) -> VoiceResponse:
    response = VoiceResponse()
    _say(response, call, text)
    response.hangup()
    return response


@bp.voice("/voice")
def welcome(call: CallRequest) -> VoiceResponse:
    """A new call: the greeting, then the menu."""
    return _menu(call, before=f"Thank you for calling {call.settings.business_name}.")


@bp.voice("/voice/menu")
def menu(call: CallRequest) -> VoiceResponse:
    """The menu's answer (``Digits``), or no input at all when the Gather timed out."""
    settings = call.settings
    choice = (call.digits or "").strip()
    if choice == "1":
        call.session["attempts"] = 0
        info = (
            f"{settings.business_name} is open {settings.business_hours}. "
            f"Our address is {settings.business_address}."
        )
        return _menu(call, before=info)
    if choice == "2":
        return _voicemail(call)
    if choice == "3":
        return _connect(call)
    attempts = int(call.session.get("attempts", 0))
    token = call.retry_key
    if not token or call.session.get("counted") != token:  # not Twilio's retry of the last
        attempts += 1
        call.session["attempts"] = attempts
        if token:
            call.session["counted"] = token
    if attempts >= settings.max_attempts:
        return _goodbye(call, f"Sorry we could not help you. Thank you for calling "
                              f"{settings.business_name}. Goodbye.")
    sorry = "Sorry, that is not one of the options." if choice else "Sorry, I did not get that."
    return _menu(call, before=sorry)


def _connect(call: CallRequest) -> VoiceResponse:
    settings = call.settings
    if not settings.forward_number:
        return _voicemail(call, before="Sorry, nobody is available to take your call.")
    if settings.forward_number == call.to:
        log.warning(
            "SWITCHBOARD_FORWARD_NUMBER %s is the number that was called: not dialling it "
            "(the call would come back to this menu); offering voicemail", call.to,
        )
        return _voicemail(call, before="Sorry, nobody is available to take your call.")
    response = VoiceResponse()
    _say(response, call, "Please hold while we connect you.")
    response.dial(
        settings.forward_number,
        timeout=settings.dial_timeout,
        action=external_url(".dial_result"),
        method="POST",
    )
    return response


@bp.voice("/voice/voicemail")
def voicemail(call: CallRequest) -> VoiceResponse:
    """Record a voicemail (also reachable by ``<Redirect>`` from your own flows)."""
    return _voicemail(call)


@bp.voice("/voice/voicemail/saved")
def voicemail_saved(call: CallRequest) -> VoiceResponse:
    """The Record action: the recording is done (its media may still be processing). One of
    zero seconds holds no message: Twilio does not keep a silent recording."""
    if call.recording_duration == 0:
        return _goodbye(call, "We did not receive a message. Goodbye.")
    return _goodbye(call, "Thank you, your message has been recorded. Goodbye.")


@bp.recording_status("/voice/recording-status")
def recording_status(status: StatusCallback) -> None:
    """Stored by the route itself: the SID, URL, duration and status of the recording. A
    completed one is announced by text and email, once, after the answer
    (:mod:`switchboard.callbacks.notices`); one of zero seconds is no message and is not."""
    if status.recording_duration != 0:
        notify_voicemail(status)


@bp.voice("/voice/dial-result")
def dial_result(call: CallRequest) -> VoiceResponse:
    """The Dial action: after the conversation, or voicemail when nobody took the call."""
    if call.dial_call_status not in DIAL_CONNECTED:
        return _voicemail(call, before="Sorry, nobody could take your call.")
    return _goodbye(call, f"Thank you for calling {call.settings.business_name}. Goodbye.")
