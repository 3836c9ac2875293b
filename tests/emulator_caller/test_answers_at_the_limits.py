"""The caller side at Twilio's limits and with answers few servers give: a trickled answer or
header bounded by the total time, 64 kB of TwiML, huge numbers, empty or overlong messages,
``loop="0"``, plain text with control characters, a suspended account, recording events."""

from __future__ import annotations

import io
import socket
import threading
import time

import flask

from switchboard.emulator.script import CallScript
from switchboard.emulator.webhooks import HTTP_TOTAL_TIMEOUT, WebhookClient
from tests.emulator_caller.conftest import CALLER, NUMBER, twiml

PARAMS = {"CallSid": "CA1234567890ABCDE", "From": "+12349013030", "To": "+18005551212"}


def test_a_trickled_answer_cannot_outlast_the_total_time(hooks) -> None:
    def trickle(_request: flask.Request) -> flask.Response:
        def chunks():
            yield "<Response>"
            for _ in range(20):
                time.sleep(0.25)
                yield "<Pause/>"
            yield "</Response>"

        return flask.Response(chunks(), content_type="text/xml")

    hooks.on("/voice", trickle)
    started = time.monotonic()
    result = WebhookClient().fetch(hooks.url("/voice#tt=1000"), PARAMS, auth_token="t")
    assert time.monotonic() - started < 3
    assert result.error_code == HTTP_TOTAL_TIMEOUT


def test_trickled_headers_cannot_outlast_the_total_time() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            for _ in range(20):
                if stop.wait(0.25):
                    return
                conn.sendall(b"x")

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/voice#tt=1000&rc=0"
    started = time.monotonic()
    try:
        result = WebhookClient().fetch(url, PARAMS, auth_token="t")
        assert time.monotonic() - started < 3
        assert result.error_code == HTTP_TOTAL_TIMEOUT
    finally:
        stop.set()
        server.join(5)
        listener.close()


def test_an_answer_over_64_kb_is_11750(hooks, phone, number) -> None:
    hooks.on("/voice", twiml("<Say>" + "blah " * 20000 + "</Say>"))
    transcript = phone.inbound_call(NUMBER, CALLER)
    assert transcript.error_codes == [11750]
    assert transcript.said == []
    assert transcript.heard == ["An application error has occurred."]
    [voice] = transcript.requests_for("voice")
    assert len(voice.response.body) <= 64 * 1024


def test_an_audio_answer_is_played_however_long(hooks, phone, number) -> None:
    hooks.on("/voice", (b"\xff" * 200_000, 200, {"Content-Type": "audio/mpeg"}))
    transcript = phone.inbound_call(NUMBER, CALLER)
    assert transcript.error_codes == []
    assert transcript.heard == [hooks.url("/voice")]


def test_a_get_redirect_is_followed_as_given(hooks, state) -> None:
    hooks.on("/old", lambda r: flask.redirect("/new?" + r.query_string.decode(), 308))
    hooks.on("/new", twiml())
    token = state.auth_token_for(state.main_account_sid)
    result = WebhookClient().fetch(hooks.url("/old?x=1"), PARAMS, auth_token=token,
                                   method="GET")
    assert result.ok
    [new] = hooks.requests_to("/new")
    assert new.url.count("CallSid=") == 1
    assert new.signature_valid


def test_huge_numbers_in_attributes_do_not_crash_the_call(hooks, phone, number) -> None:
    hooks.on("/voice", twiml("<Pause length='99999999999999999999'/><Say>never heard</Say>"))
    transcript = phone.inbound_call(NUMBER, CALLER)
    assert transcript.status == "completed"
    assert "never heard" not in transcript.said
    [status] = hooks.requests_to("/status")
    assert status.params["CallDuration"] == "14400"


def test_a_huge_gather_timeout_does_not_crash_the_call(hooks, phone, number) -> None:
    hooks.on("/voice", twiml("<Gather timeout='99999999999999999999'/>"))
    transcript = phone.inbound_call(NUMBER, CALLER, script=CallScript(""))
    assert transcript.status == "completed"
    assert [r.params["CallStatus"] for r in hooks.requests_to("/status")] == ["completed"]


def test_an_empty_message_reply_is_not_sent(hooks, phone, number, state) -> None:
    hooks.on("/sms", twiml("<Message/>", "<Message>" + "x" * 1601 + "</Message>",
                           "<Message>sent</Message>"))
    transcript = phone.inbound_sms(NUMBER, CALLER, "hi")
    assert [m["body"] for m in transcript.messages] == ["sent"]
    assert transcript.error_codes == [14103, 14103]
    outbound = [m for m in state.list("messages") if m["direction"] == "outbound-reply"]
    assert [m["body"] for m in outbound] == ["sent"]


def test_an_overlong_sms_in_a_call_is_not_sent(hooks, phone, number) -> None:
    hooks.on("/voice", twiml("<Sms>" + "x" * 1601 + "</Sms>", "<Say>Bye</Say>"))
    transcript = phone.inbound_call(NUMBER, CALLER)
    assert transcript.messages == []
    assert transcript.error_codes == [14103]
    assert transcript.said == ["Bye"]


def test_recording_status_events_are_the_ones_asked_for(hooks, phone, number) -> None:
    hooks.on("/voice", twiml("<Record action='/done' recordingStatusCallback='/absent' "
                             "recordingStatusCallbackEvent='absent'/>"
                             "<Record action='/done' recordingStatusCallback='/both' "
                             "recordingStatusCallbackEvent='in-progress,completed'/>"))
    hooks.on("/done", twiml("<Redirect>/voice2</Redirect>"))
    hooks.on("/voice2", twiml("<Record action='/end' recordingStatusCallback='/both' "
                              "recordingStatusCallbackEvent='in-progress,completed'/>"))
    hooks.on("/end", twiml("<Hangup/>"))
    phone.inbound_call(NUMBER, CALLER)
    assert hooks.requests_to("/absent") == []
    statuses = [r.params["RecordingStatus"] for r in hooks.requests_to("/both")]
    assert statuses == ["in-progress", "completed"]


def test_a_plain_text_answer_with_control_characters_is_spoken(hooks, phone, number) -> None:
    hooks.on("/voice", ("Hello\x00 there\x01", 200, {"Content-Type": "text/plain"}))
    transcript = phone.inbound_call(NUMBER, CALLER)
    assert transcript.status == "completed"
    assert transcript.said == ["Hello there"]


def test_a_call_to_a_suspended_account_is_not_answered(hooks, phone, state) -> None:
    sub = state.create_account("Sub", owner_account_sid=state.main_account_sid)
    state.buy_number(sub["sid"], NUMBER, voice_url=hooks.url("/voice"))
    state.update("accounts", sub["sid"], status="suspended")
    hooks.on("/voice", twiml("<Say>Hello</Say>"))
    transcript = phone.inbound_call(NUMBER, CALLER)
    assert hooks.requests_to("/voice") == []
    assert transcript.said == []
    assert transcript.error_codes == [10003]


def test_loop_zero_repeats_a_say_a_thousand_times(hooks, phone, number) -> None:
    hooks.on("/voice", twiml("<Gather action='/menu'><Say loop='0'>Press 1</Say></Gather>",
                             "<Play loop='0'>http://example.com/hold.mp3</Play>"))
    hooks.on("/menu", twiml("<Say loop='0'>Goodbye</Say>"))
    transcript = phone.inbound_call(NUMBER, CALLER, script=CallScript("1"))
    assert transcript.said == ["Press 1", "Goodbye (x1000)"]
    silent = phone.inbound_call(NUMBER, CALLER, script=CallScript(""))
    assert silent.heard == ["Press 1", "http://example.com/hold.mp3 (x1000)"]


def test_a_large_error_page_is_still_an_http_error(hooks, state) -> None:
    hooks.on("/voice", ("x" * 100_000, 500, {"Content-Type": "text/html"}))
    result = WebhookClient().fetch(hooks.url("/voice"), PARAMS, auth_token="t")
    assert result.error_code == 11217
    assert result.status_code == 500


def test_a_typed_long_pause_is_keys_not_speech() -> None:
    script = CallScript(interactive=True, stdin=io.StringIO("1W2#\n"), stdout=io.StringIO())
    given = script.gather(dtmf=True, speech=True)
    assert given.digits == "1W2#"
    assert given.speech == ""


def test_a_recorded_dial_in_a_calls_twiml_sends_its_recording_status(hooks, phone,
                                                                       state) -> None:
    document = twiml(f"<Dial record='record-from-answer' recordingStatusCallback="
                     f"'{hooks.url('/rs')}'><Number>+15550001111</Number></Dial>")
    call = state.create_call(state.main_account_sid, to="+15557654321", from_=NUMBER,
                             direction="outbound-api", status="queued", twiml=document)
    transcript = phone.run_outbound_call(call)
    assert transcript.status == "completed"
    [status] = hooks.requests_to("/rs")
    assert status.params["RecordingStatus"] == "completed"
    assert status.params["RecordingSource"] == "DialVerb"
