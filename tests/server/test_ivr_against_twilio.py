"""The bundled IVR against what Twilio really sends: odd keys, speech, timeouts, every Dial
outcome, Record actions and recording callbacks of every kind, odd settings, and the action
URLs behind a proxy or under a prefix. Every answer is checked as TwiML Twilio would run."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from lxml import etree

from switchboard.callbacks.security import signed_headers
from switchboard.config import ConfigError
from tests.server.conftest import (
    TOKEN,
    Twilio,
    call_params,
    make_app,
    sid,
    spoken,
    twiml,
    verbs,
)

#: Attributes of the bundled flows' verbs that hold a URL Twilio requests.
URL_ATTRIBUTES = ("action", "recordingStatusCallback", "statusCallback")


def urls_in(root: etree._Element) -> list[tuple[str, str, str]]:
    """Each URL the document hands Twilio: (verb, URL, method)."""
    found = []
    for element in root.iter():
        for name in URL_ATTRIBUTES:
            if element.get(name) is not None:
                method = element.get(f"{name}Method" if name != "action" else "method")
                found.append((element.tag, element.get(name), method))
        if element.tag == "Redirect":
            found.append(("Redirect", (element.text or "").strip(), element.get("method")))
    return found


def assert_urls_under(root: etree._Element, base: str) -> None:
    """Every URL is absolute, below ``base``, and requested with POST."""
    for verb, url, method in urls_in(root):
        assert url.startswith(base + "/"), (verb, url, base)
        assert urlsplit(url).scheme in ("http", "https"), (verb, url)
        assert method == "POST", (verb, url, method)


class Caller:
    """One call: the same CallSid, From and To on every request, as Twilio sends them."""

    def __init__(self, twilio: Twilio, **extra: str) -> None:
        self.twilio = twilio
        self.params = call_params(CallStatus="in-progress", **extra)

    def post(self, path: str, **extra: str) -> etree._Element:
        return twiml(self.twilio.post(path, dict(self.params, **extra)))


@pytest.fixture(scope="module")
def forwarding_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    path = tmp_path_factory.mktemp("forwarding-ivr") / "switchboard.sqlite3"
    application = make_app(f"sqlite:///{path}", SWITCHBOARD_FORWARD_NUMBER="+15550001111")
    yield application
    application.extensions["switchboard"].store.close()


@pytest.fixture
def forwarding(forwarding_app: Flask) -> Twilio:
    return Twilio(forwarding_app.test_client())


# -- the menu: keys, speech, silence ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "heard"),
    [
        ({"Digits": "*"}, "not one of the options"),
        ({"Digits": "0"}, "not one of the options"),
        ({"Digits": "12"}, "not one of the options"),  # several keys (a Redirect from elsewhere)
        ({"Digits": "1#"}, "not one of the options"),
        ({"Digits": "#"}, "not one of the options"),
        ({"Digits": ""}, "did not get that"),  # empty: as no input
        ({"Digits": "   "}, "did not get that"),
        ({}, "did not get that"),  # the Gather timed out: the Redirect, without Digits
        ({"SpeechResult": "one", "Confidence": "0.9"}, "did not get that"),  # dtmf menu only
    ],
)
def test_what_is_not_a_choice_repeats_the_menu(
    shared_twilio: Twilio, fields: dict[str, str], heard: str
) -> None:
    root = Caller(shared_twilio).post("/voice/menu", **fields)
    assert verbs(root) == ["Say", "Gather", "Redirect"]
    assert heard in spoken(root.find("Say"))
    assert_urls_under(root, "http://localhost")


def test_a_key_with_spaces_around_it_still_counts(shared_twilio: Twilio) -> None:
    root = Caller(shared_twilio).post("/voice/menu", Digits=" 1 ")
    assert "open Monday to Friday" in spoken(root)


def test_the_menu_gather_is_one_dtmf_key_posted_to_the_menu(shared_twilio: Twilio) -> None:
    gather = Caller(shared_twilio).post("/voice").find("Gather")
    assert (gather.get("input"), gather.get("numDigits"), gather.get("method")) == (
        "dtmf", "1", "POST",
    )
    assert int(gather.get("timeout")) > 0
    # no finishOnKey: '#' alone submits nothing and the Redirect that follows counts it as silence


def test_three_misses_of_any_kind_end_the_call_politely(twilio: Twilio, store: Any) -> None:
    caller = Caller(twilio)
    caller.post("/voice")
    assert "not one of the options" in spoken(caller.post("/voice/menu", Digits="#"))
    assert "did not get that" in spoken(caller.post("/voice/menu"))
    last = caller.post("/voice/menu", SpeechResult="operator")
    assert verbs(last) == ["Say", "Hangup"]
    assert "Sorry we could not help you" in spoken(last)
    assert store.load_voice_session(caller.params["CallSid"]) == {"attempts": 3}


def test_a_caller_who_hung_up_mid_menu(twilio: Twilio, store: Any) -> None:
    """Twilio sends no Gather action after a hang-up, only the completed status callback; a
    late request for the call still gets TwiML, and the call stays completed."""
    caller = Caller(twilio)
    caller.post("/voice")
    done = dict(caller.params, CallStatus="completed", CallDuration="4", SequenceNumber="0")
    assert twilio.post("/voice/status", done).status_code == 204
    late = caller.post("/voice/menu", CallStatus="completed")
    assert verbs(late) == ["Say", "Gather", "Redirect"]
    assert store.get_call(caller.params["CallSid"])["status"] == "completed"


# -- talk to a person: Dial and its outcomes ------------------------------------------------------


def test_3_dials_the_forward_number_with_an_absolute_post_action(forwarding: Twilio) -> None:
    root = Caller(forwarding).post("/voice/menu", Digits="3")
    assert verbs(root) == ["Say", "Dial"]
    dial = root.find("Dial")
    assert dial.text.strip() == "+15550001111"
    assert dial.get("action") == "http://localhost/voice/dial-result"
    assert dial.get("method") == "POST"
    assert 5 <= int(dial.get("timeout")) <= 600


@pytest.mark.parametrize("outcome", ["busy", "no-answer", "failed", "canceled", None])
def test_a_dial_that_reached_nobody_offers_voicemail(
    forwarding: Twilio, outcome: str | None
) -> None:
    """canceled (the dialled leg was cancelled before it was answered) and an action without
    DialCallStatus reached nobody either: the caller must not be thanked for a conversation
    that never happened."""
    fields = {"DialCallStatus": outcome, "DialCallSid": sid("CA")} if outcome else {}
    root = Caller(forwarding).post("/voice/dial-result", **fields)
    assert "nobody could take your call" in spoken(root)
    assert root.find("Record") is not None
    assert_urls_under(root, "http://localhost")


@pytest.mark.parametrize("outcome", ["completed", "answered"])
def test_a_dial_that_was_answered_ends_with_thanks(forwarding: Twilio, outcome: str) -> None:
    root = Caller(forwarding).post(
        "/voice/dial-result", DialCallStatus=outcome, DialCallDuration="42",
        DialCallSid=sid("CA"),
    )
    assert verbs(root) == ["Say", "Hangup"]
    assert "Thank you for calling" in spoken(root)


def test_a_dial_action_for_a_call_the_store_never_saw(forwarding_app: Flask) -> None:
    """The session (and the call's row) may be gone: the action still gets its answer."""
    caller = Caller(Twilio(forwarding_app.test_client()))
    store = forwarding_app.extensions["switchboard"].store
    assert store.load_voice_session(caller.params["CallSid"]) == {}
    root = caller.post("/voice/dial-result", DialCallStatus="busy")
    assert root.find("Record") is not None


def test_a_forward_number_that_is_the_number_called_is_not_dialled(
    forwarding: Twilio, caplog: pytest.LogCaptureFixture
) -> None:
    """Dialling the number that was called rings this IVR again, a call inside the call, as
    often as the caller presses 3."""
    caller = Caller(forwarding, To="+15550001111")
    with caplog.at_level(logging.WARNING, logger="switchboard.callbacks"):
        root = caller.post("/voice/menu", Digits="3")
    assert root.find("Dial") is None
    assert "nobody is available" in spoken(root)
    assert root.find("Record") is not None
    assert "SWITCHBOARD_FORWARD_NUMBER +15550001111 is the number that was called" in caplog.text


def test_an_empty_forward_number_means_voicemail(tmp_path: Any) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'db.sqlite3'}", SWITCHBOARD_FORWARD_NUMBER="  ")
    try:
        root = Caller(Twilio(app.test_client())).post("/voice/menu", Digits="3")
        assert root.find("Dial") is None
        assert "nobody is available" in spoken(root)
        assert root.find("Record") is not None
    finally:
        app.extensions["switchboard"].store.close()


@pytest.mark.parametrize("number", ["4155550100", "+1 415 555 0100", "tel:+14155550100"])
def test_a_forward_number_that_is_not_e164_is_refused_at_start(
    tmp_path: Any, number: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        make_app(f"sqlite:///{tmp_path / 'db.sqlite3'}", SWITCHBOARD_FORWARD_NUMBER=number)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("SWITCHBOARD_FORWARD_NUMBER: ")
    assert "E.164" in message


# -- voicemail: the Record action and the recording status callback -------------------------------


def test_the_record_verb_as_twilio_runs_it(shared_twilio: Twilio) -> None:
    root = Caller(shared_twilio).post("/voice/menu", Digits="2")
    assert verbs(root) == ["Say", "Record", "Say", "Hangup"]  # an empty recording falls through
    record = root.find("Record")
    assert record.get("finishOnKey") == "#"
    assert record.get("recordingStatusCallbackMethod") == "POST"
    assert int(record.get("maxLength")) >= 1
    assert_urls_under(root, "http://localhost")


@pytest.mark.parametrize(
    "fields",
    [
        {"RecordingDuration": "9", "Digits": "#"},
        {"RecordingDuration": "0"},
        {"RecordingDuration": "-1"},
        {},  # no RecordingSid, URL or duration at all
        {"RecordingDuration": "12", "Digits": "hangup", "CallStatus": "completed"},
    ],
)
def test_the_record_action_always_says_goodbye(
    shared_twilio: Twilio, fields: dict[str, str]
) -> None:
    if fields:
        rec = sid("RE")
        fields = {"RecordingSid": rec, "RecordingUrl": f"https://api.twilio.com/{rec}", **fields}
    root = Caller(shared_twilio).post("/voice/voicemail/saved", **fields)
    assert verbs(root) == ["Say", "Hangup"]


def _recording(call_sid: str, recording_sid: str, **fields: str) -> dict[str, str]:
    return {"AccountSid": "AC" + "a" * 32, "CallSid": call_sid, "RecordingSid": recording_sid,
            "RecordingSource": "RecordVerb", "RecordingChannels": "1", **fields}


def test_recording_callbacks_of_every_status(twilio: Twilio, store: Any) -> None:
    call_sid = sid("CA")
    url = "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/"
    completed, absent, failed, no_duration = (sid("RE") for _ in range(4))
    sent = [
        _recording(call_sid, completed, RecordingStatus="completed", RecordingDuration="7",
                   RecordingUrl=url + completed),
        _recording(call_sid, absent, RecordingStatus="absent", RecordingDuration="0"),
        _recording(call_sid, failed, RecordingStatus="failed", ErrorCode="13617"),
        _recording(call_sid, no_duration, RecordingStatus="completed",
                   RecordingUrl=url + no_duration),
    ]
    for params in sent + sent:  # every callback twice: Twilio retries
        assert twilio.post("/voice/recording-status", params).status_code == 204
    stored = {rec: store.get_recording(rec) for rec in (completed, absent, failed, no_duration)}
    assert (stored[completed]["status"], stored[completed]["duration"]) == ("completed", 7)
    assert stored[completed]["url"] == url + completed
    assert (stored[absent]["status"], stored[absent]["duration"]) == ("absent", 0)
    assert stored[failed]["status"] == "failed"
    assert (stored[no_duration]["status"], stored[no_duration]["duration"]) == ("completed", None)
    for rec in stored:
        assert len(store.status_callbacks(rec)) == 1, rec


def test_a_recording_callback_without_its_status_is_refused(twilio: Twilio) -> None:
    params = _recording(sid("CA"), sid("RE"), RecordingDuration="3")
    assert twilio.post("/voice/recording-status", params).status_code == 400
    assert twilio.post("/voice/recording-status", params, signed=False).status_code == 403


def test_a_late_in_progress_does_not_undo_a_completed_recording(twilio: Twilio, store: Any) -> None:
    call_sid, rec = sid("CA"), sid("RE")
    done = _recording(call_sid, rec, RecordingStatus="completed", RecordingDuration="5",
                      RecordingUrl="https://api.twilio.com/r")
    assert twilio.post("/voice/recording-status", done).status_code == 204
    late = _recording(call_sid, rec, RecordingStatus="in-progress")
    assert twilio.post("/voice/recording-status", late).status_code == 204
    assert store.get_recording(rec)["status"] == "completed"


# -- the action URLs behind a proxy, under a prefix, with a public URL ----------------------------


def walk(twilio: Twilio, headers: dict[str, str], base: str, signed_base: str) -> None:
    """Follow the tree by the URLs it hands out, signing each for ``signed_base`` + path, as
    Twilio signs the URL it was given; every URL must be below ``base``."""
    caller = call_params()

    def request(url: str, **extra: str) -> etree._Element:
        params = dict(caller, **extra)
        path = urlsplit(url).path
        signed = signed_headers(TOKEN, url, params)
        response = twilio.client.post(
            path.removeprefix(urlsplit(base).path), base_url=signed_base, data=params,
            headers={**headers, **signed},
        )
        root = twiml(response)
        assert_urls_under(root, base)
        return root

    welcome = request(base + "/voice")
    menu = welcome.find("Gather").get("action")
    assert menu == base + "/voice/menu"
    request(welcome.find("Redirect").text)  # a timeout
    request(menu, Digits="1")
    record = request(menu, Digits="2").find("Record")
    request(record.get("action"), RecordingDuration="3", RecordingSid=sid("RE"))
    dial = request(menu, Digits="3").find("Dial")
    request(dial.get("action"), DialCallStatus="busy")
    request(dial.get("action"), DialCallStatus="completed")


@pytest.fixture
def proxied_app(tmp_path: Any) -> Iterator[Flask]:
    app = make_app(f"sqlite:///{tmp_path / 'db.sqlite3'}", SWITCHBOARD_TRUSTED_PROXIES="1",
                   SWITCHBOARD_FORWARD_NUMBER="+15550001111")
    yield app
    app.extensions["switchboard"].store.close()


def test_behind_a_proxy_with_a_prefix(proxied_app: Flask) -> None:
    """What nginx sends for a site mounted at /sb (the prefix stripped, X-Forwarded-Prefix set)."""
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sb.example.com",
               "X-Forwarded-Port": "443", "X-Forwarded-Prefix": "/sb",
               "X-Forwarded-For": "54.172.60.1"}
    walk(Twilio(proxied_app.test_client()), headers, "https://sb.example.com/sb",
         "http://127.0.0.1:8000")


def test_behind_a_proxy_on_another_port(proxied_app: Flask) -> None:
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sb.example.com",
               "X-Forwarded-Port": "8443"}
    walk(Twilio(proxied_app.test_client()), headers, "https://sb.example.com:8443",
         "http://127.0.0.1:8000")


def test_mounted_under_a_script_name(proxied_app: Flask) -> None:
    """A WSGI server that mounts the app at /ivr (SCRIPT_NAME), no proxy headers."""
    walk(Twilio(proxied_app.test_client()), {}, "http://localhost/ivr", "http://localhost/ivr")


def test_a_public_url_with_a_path_wins_over_the_proxy(tmp_path: Any) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'db.sqlite3'}",
                   SWITCHBOARD_PUBLIC_URL="https://public.example.com/phone",
                   SWITCHBOARD_FORWARD_NUMBER="+15550001111")
    try:
        walk(Twilio(app.test_client()), {"X-Forwarded-Host": "forged.example.com"},
             "https://public.example.com/phone", "http://127.0.0.1:5000")
    finally:
        app.extensions["switchboard"].store.close()


def test_untrusted_forwarded_headers_change_no_url(shared_twilio: Twilio) -> None:
    """SWITCHBOARD_TRUSTED_PROXIES=0: X-Forwarded-* from anyone are ignored."""
    caller = Caller(shared_twilio)
    root = twiml(shared_twilio.post("/voice", caller.params, headers={
        "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example.com",
        "X-Forwarded-Prefix": "/evil", "X-Forwarded-Port": "1"}))
    assert_urls_under(root, "http://localhost")


def test_a_canceled_dial_through_the_emulator(tmp_path: Any) -> None:
    """The Dial action as the local Twilio sends it when the dialled leg is cancelled."""
    from switchboard.emulator.script import CallScript, RecordingTake
    from switchboard.emulator.stack import SwitchboardStack

    number, operator = "+15551230000", "+15557770000"
    config = {"SWITCHBOARD_FORWARD_NUMBER": operator}
    with SwitchboardStack(instance_path=tmp_path, config=config) as stack:
        state = stack.emulator.state
        state.buy_number(state.main_account_sid, number, voice_url=stack.url + "/voice")
        script = CallScript("3", dial={operator: "canceled"},
                            recording=RecordingTake(duration=5, digits="#"))
        transcript = stack.emulator.phone.inbound_call(number, "+15555550100", script=script)
        assert stack.wait_idle(10)
    [dial] = transcript.events_of("dial")
    assert dial.detail["status"] == "canceled"
    assert "nobody could take your call" in transcript.text
    assert transcript.events_of("record")
    assert transcript.said[-1] == "Thank you, your message has been recorded. Goodbye."
