"""The caller side where it must do as Twilio does: URLs on the wire as configured and signed,
12200 as a warning that lets the call go on, SipResponseCode on completion, no text to an
inactive account; and one watchdog thread for every webhook request."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from switchboard.emulator.script import CallScript
from switchboard.emulator.stack import SwitchboardStack
from switchboard.emulator.webhooks import WebhookClient
from tests.emulator_caller.conftest import CALLER, NUMBER, twiml

PARAMS = {"CallSid": "CA1234567890ABCDE", "From": "+12349013030", "To": "+18005551212"}
#: Characters requests and urllib3 percent-encode in a URL, and Twilio sends as configured.
ODD_QUERY = "?campaign=spring|2026&tags={a,b}&caret=^&tick=`&q=%22x%22"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[SwitchboardStack]:
    with SwitchboardStack(instance_path=tmp_path) as running:
        yield running


def test_a_webhook_request_starts_no_thread_of_its_own(hooks, monkeypatch) -> None:
    """One watchdog thread serves every request: two threads per request (one bounding the
    request, one the read of its answer) make the 200-caller IVR load test a fifth slower."""
    hooks.on("/voice", twiml("<Say>Hello</Say>"))
    client = WebhookClient()
    assert client.fetch(hooks.url("/voice"), PARAMS, auth_token="t").ok  # the watchdog starts
    me = threading.current_thread()
    started: list[str] = []
    start = threading.Thread.start

    def counted(thread: threading.Thread) -> None:
        if threading.current_thread() is me:
            started.append(thread.name)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", counted)
    for _ in range(5):
        assert client.fetch(hooks.url("/voice"), PARAMS, auth_token="t").ok
    assert started == []


def test_the_url_goes_on_the_wire_as_configured_and_signed() -> None:
    """requests would send ``|`` as ``%7C`` (and ``{`` ``}`` ``^`` ...) while the signature
    covers the raw text, so a server checking the URL it received would refuse it. Twilio
    requests the URL as configured and signs that."""
    listener = socket.create_server(("127.0.0.1", 0))
    lines: list[bytes] = []

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            lines.append(conn.recv(65536).split(b"\r\n", 1)[0])
            conn.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/voice/a|b" + ODD_QUERY
    try:
        result = WebhookClient().fetch(url, PARAMS, auth_token="t")
    finally:
        server.join(5)
        listener.close()
    assert result.status_code == 204
    target = ("/voice/a|b" + ODD_QUERY).encode()
    assert lines == [b"POST " + target + b" HTTP/1.1"]
    assert result.exchanges[0].url == url


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_the_server_accepts_a_url_with_characters_requests_would_escape(
    stack: SwitchboardStack, method: str
) -> None:
    state = stack.emulator.state
    state.buy_number(state.main_account_sid, NUMBER, voice_url=stack.url + "/voice" + ODD_QUERY,
                     voice_method=method, status_callback=stack.url + "/voice/status" + ODD_QUERY)
    transcript = stack.emulator.phone.inbound_call(NUMBER, CALLER, script=CallScript("1"))
    assert stack.wait_idle(10)
    [voice] = transcript.requests_for("voice")
    assert voice.response.status_code == 200, voice.response.error_message
    assert transcript.said[0].startswith("Thank you for calling")
    assert transcript.error_codes == []
    assert [c["status"] for c in stack.store.status_callbacks(transcript.sid)] == ["completed"]


# -- 12200 is a warning: Twilio logs it and runs the document ----------------------------------


@pytest.mark.parametrize("verbs", [
    ("<Say voice='alice' colour='blue'>Hello</Say>", "<Say>Still here</Say>"),  # attribute
    ("<Say>Hello</Say>", "<Gather><Say>Still here</Say><Dance/></Gather>"),  # nested element
])
def test_a_schema_warning_is_logged_and_the_call_goes_on(hooks, phone, state, verbs) -> None:
    state.buy_number(state.main_account_sid, NUMBER, voice_url=hooks.url("/voice"),
                     voice_fallback_url=hooks.url("/fallback"), status_callback=hooks.url("/s"))
    hooks.on("/voice", twiml(*verbs))
    transcript = phone.inbound_call(NUMBER, CALLER, script=CallScript(""))
    assert transcript.said == ["Hello", "Still here"]
    assert "An application error has occurred." not in transcript.heard
    assert hooks.requests_to("/fallback") == []
    assert transcript.status == "completed"
    assert transcript.error_codes == [12200]
    assert [w.detail["code"] for w in transcript.events_of("warning")] == [12200]
    [note] = state.list("notifications")
    assert (note["error_code"], note["log"], note["call_sid"]) == ("12200", "1", transcript.sid)
    assert hooks.requests_to("/s")[0].params["CallStatus"] == "completed"


def test_a_schema_warning_in_a_calls_twiml_parameter_is_only_logged(phone, state) -> None:
    call = state.create_call(state.main_account_sid, to="+15557654321", from_=NUMBER,
                             twiml="<Response><Say colour='blue'>Inline</Say></Response>")
    transcript = phone.run_outbound_call(call)
    assert transcript.said == ["Inline"]
    assert transcript.error_codes == [12200]
    assert state.list("notifications")[0]["log"] == "1"


def test_an_unknown_verb_or_a_parse_failure_still_ends_the_call(hooks, phone, number, state
                                                                ) -> None:
    for document, code in ((twiml("<Say>Hi</Say><Dance/>"), 12200),
                           ("<Response><Say>unclosed", 12100)):
        hooks.on("/voice", (document, 200, {"Content-Type": "text/xml"}))
        transcript = phone.inbound_call(NUMBER, CALLER)
        assert transcript.said == []
        assert transcript.heard == ["An application error has occurred."]
        assert transcript.error_codes == [code]
        assert state.list("notifications")[0]["log"] == "0"


def test_a_reply_with_a_schema_warning_is_still_sent(hooks, phone, number, state) -> None:
    hooks.on("/sms", twiml("<Message colour='blue'>Thanks</Message>"))
    transcript = phone.inbound_sms(NUMBER, CALLER, "Hi")
    assert [m["body"] for m in transcript.messages] == ["Thanks"]
    assert transcript.error_codes == [12200]
    [note] = state.list("notifications")
    assert (note["error_code"], note["log"]) == ("12200", "1")


# -- SipResponseCode on completion -----------------------------------------------------------


def test_an_answered_call_completes_with_sip_200(hooks, phone, state) -> None:
    state.buy_number(state.main_account_sid, NUMBER, voice_url=hooks.url("/voice"),
                     status_callback=hooks.url("/s"))
    hooks.on("/voice", twiml("<Say>Hello</Say>"))
    phone.inbound_call(NUMBER, CALLER)
    [completed] = hooks.requests_to("/s")
    assert completed.params["SipResponseCode"] == "200"
    assert completed.signature_valid


@pytest.mark.parametrize(("outcome", "code"), [
    ("busy", "486"), ("no-answer", "487"), ("failed", "404"),
])
def test_an_unanswered_call_completes_with_its_sip_code(hooks, phone, state, outcome, code
                                                        ) -> None:
    phone.call_outcomes["+15557654321"] = outcome
    call = state.create_call(state.main_account_sid, to="+15557654321", from_=NUMBER,
                             url=hooks.url("/outbound"), status_callback=hooks.url("/cs"),
                             status_callback_event="initiated ringing answered completed")
    phone.place_outbound_call(call)
    assert phone.wait_idle(10)
    callbacks = hooks.requests_to("/cs")
    assert callbacks[-1].params["CallStatus"] == outcome
    assert callbacks[-1].params["SipResponseCode"] == code
    assert all("SipResponseCode" not in c.params for c in callbacks[:-1])


def test_a_dialled_leg_completes_with_its_sip_code(hooks, phone, number) -> None:
    hooks.on("/voice", twiml("<Dial><Number statusCallback='/leg'>+15550001111</Number></Dial>"))
    for outcome, code in (("busy", "486"), ("answered:5", "200")):
        phone.inbound_call(NUMBER, CALLER, script=CallScript(dial_outcome=outcome))
        assert hooks.requests_to("/leg")[-1].params["SipResponseCode"] == code


# -- a text to an account that is not active -------------------------------------------------


@pytest.mark.parametrize("status", ["suspended", "closed"])
def test_a_text_to_an_inactive_account_is_not_delivered(hooks, phone, state, status) -> None:
    sub = state.create_account("Sub", owner_account_sid=state.main_account_sid)
    state.buy_number(sub["sid"], NUMBER, sms_url=hooks.url("/sms"))
    state.update("accounts", sub["sid"], status=status)
    hooks.on("/sms", twiml("<Message>Thanks</Message>"))
    transcript = phone.inbound_sms(NUMBER, CALLER, "Hi")
    assert hooks.requests_to("/sms") == []
    assert transcript.messages == []
    assert transcript.error_codes == [10001]
    assert state.list("messages") == []


# -- an attribute value Twilio does not take is a 12200 warning --------------------------------


@pytest.mark.parametrize(("verb", "attribute"), [
    ("<Gather timeout='abc' numDigits='1'><Say>Hello</Say></Gather>", "timeout"),
    ("<Say loop='abc'>Hello</Say>", "loop"),
    ("<Gather method='FETCH' numDigits='1'><Say>Hello</Say></Gather>", "method"),
])
def test_an_invalid_attribute_value_is_a_warning_and_the_call_goes_on(
    hooks, phone, number, state, verb, attribute
) -> None:
    """Such a value is not taken silently: Twilio's schema check logs 12200 and the verb runs
    with its default."""
    hooks.on("/voice", twiml(verb, "<Say>After</Say>"))
    transcript = phone.inbound_call(NUMBER, CALLER, script=CallScript(""))
    assert transcript.said[0] == "Hello"
    assert transcript.said[-1] == "After"
    assert transcript.status == "completed"
    assert transcript.error_codes == [12200]
    [note] = state.list("notifications")
    assert (note["error_code"], note["log"]) == ("12200", "1")
    assert attribute in note["message_text"]


def test_an_invalid_value_in_a_reply_is_a_warning_and_the_reply_is_sent(hooks, phone, number,
                                                                         state) -> None:
    hooks.on("/sms", twiml("<Message method='FETCH'>Thanks</Message>"))
    transcript = phone.inbound_sms(NUMBER, CALLER, "Hi")
    assert [m["body"] for m in transcript.messages] == ["Thanks"]
    assert transcript.error_codes == [12200]
    assert state.list("notifications")[0]["log"] == "1"


def test_valid_values_raise_no_warning(hooks, phone, number, state) -> None:
    hooks.on("/voice", twiml("<Gather timeout='3' numDigits='1' method='GET' action='/g'>"
                             "<Say loop='2' voice='alice'>Hello</Say></Gather>"))
    transcript = phone.inbound_call(NUMBER, CALLER, script=CallScript(""))
    assert transcript.error_codes == []
    assert state.list("notifications") == []
