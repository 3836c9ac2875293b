"""Inbound and outbound calls: the parameters of each request and the semantics of each verb."""

from __future__ import annotations

import threading

import flask

from switchboard.emulator.script import CallScript, RecordingTake
from tests.emulator_caller.conftest import CALLER, NUMBER, twiml

VOICE_FIELDS = {"CallSid", "AccountSid", "From", "To", "CallStatus", "ApiVersion", "Direction"}


def test_inbound_call_parameters_and_signature(hooks, phone, number, state) -> None:
    hooks.on("/voice", twiml("<Say>Hello</Say>"))
    transcript = phone.inbound_call(NUMBER, CALLER)
    [voice] = hooks.requests_to("/voice")
    assert voice.signature_valid
    assert voice.params.keys() >= VOICE_FIELDS
    assert voice.params["Direction"] == "inbound"
    assert voice.params["CallStatus"] == "ringing"
    assert voice.params["From"] == CALLER
    assert voice.params["To"] == NUMBER
    assert voice.params["AccountSid"] == state.main_account_sid
    assert voice.params["ApiVersion"] == "2010-04-01"
    assert voice.params["CallSid"] == transcript.sid
    assert transcript.said == ["Hello"]
    call = state.get("calls", transcript.sid)
    assert call["status"] == "completed"
    assert call["direction"] == "inbound"
    assert call["start_time"]
    assert call["end_time"]
    assert int(call["duration"]) >= 1


def test_completed_status_callback_for_an_inbound_call(hooks, phone, number) -> None:
    hooks.on("/voice", twiml("<Say>Hello there</Say><Pause length='3'/>"))
    transcript = phone.inbound_call(NUMBER, CALLER)
    [status] = hooks.requests_to("/status")
    assert status.signature_valid
    assert status.params["CallStatus"] == "completed"
    assert status.params["SequenceNumber"] == "0"
    assert status.params["CallbackSource"] == "call-progress-events"
    assert status.params["CallDuration"] == "4"
    assert status.params["Duration"] == "1"
    assert status.params["Timestamp"].endswith("+0000")
    assert status.params["CallSid"] == transcript.sid


def test_gather_posts_digits_without_the_finish_key(hooks, phone, number) -> None:
    hooks.on("/voice", twiml("<Gather action='/menu'><Say>Enter your PIN</Say></Gather>"))
    hooks.on("/menu", twiml("<Say>Thanks</Say>"))
    transcript = phone.inbound_call(NUMBER, CALLER, script=CallScript("1234#"))
    [menu] = hooks.requests_to("/menu")
    assert menu.params["Digits"] == "1234"
    assert menu.params["CallStatus"] == "in-progress"
    assert menu.signature_valid
    assert transcript.said == ["Enter your PIN", "Thanks"]


def test_gather_num_digits_and_default_action_is_the_document(hooks, phone, number) -> None:
    def voice(request: flask.Request) -> str:
        if "Digits" in request.form:
            return twiml(f"<Say>You pressed {request.form['Digits']}</Say>")
        return twiml("<Gather numDigits='1'><Say>Press a key</Say></Gather>")

    hooks.on("/voice", voice)
    transcript = phone.inbound_call(NUMBER, CALLER, script=CallScript("27"))
    requests = hooks.requests_to("/voice")
    assert len(requests) == 2
    assert requests[1].method == "POST"
    assert requests[1].params["Digits"] == "2"
    assert transcript.said[-1] == "You pressed 2"


def test_gather_without_input_falls_through(hooks, phone, number) -> None:
    hooks.on("/voice", twiml("<Gather action='/menu'><Say>Press 1</Say></Gather>",
                             "<Say>We did not get your answer</Say>"))
    transcript = phone.inbound_call(NUMBER, CALLER, script=CallScript(""))
    assert hooks.requests_to("/menu") == []
    assert transcript.said == ["Press 1", "We did not get your answer"]


def test_gather_action_on_empty_result(hooks, phone, number) -> None:
    hooks.on("/voice", twiml("<Gather action='/menu' actionOnEmptyResult='true'/>"))
    phone.inbound_call(NUMBER, CALLER)
    [menu] = hooks.requests_to("/menu")
    assert menu.params["Digits"] == ""


def test_gather_speech(hooks, phone, number) -> None:
    hooks.on("/voice", twiml("<Gather input='speech' action='/heard'><Say>Talk</Say></Gather>"))
    phone.inbound_call(NUMBER, CALLER, script=CallScript(speech=["opening hours"]))
    [heard] = hooks.requests_to("/heard")
    assert heard.params["SpeechResult"] == "opening hours"
    assert 0 < float(heard.params["Confidence"]) <= 1
    assert "Digits" not in heard.params


def test_record_creates_a_recording_and_posts_action_and_status(hooks, phone, number,
                                                                 state) -> None:
    hooks.on("/voice", twiml("<Record action='/recorded' maxLength='60' "
                             "recordingStatusCallback='/recording-status'/>"))
    hooks.on("/recorded", twiml("<Say>Goodbye</Say>"))
    script = CallScript(recordings=[RecordingTake(duration=12, digits="#")])
    transcript = phone.inbound_call(NUMBER, CALLER, script=script)
    [action] = hooks.requests_to("/recorded")
    recording = state.get("recordings", action.params["RecordingSid"])
    assert recording["call_sid"] == transcript.sid
    assert recording["duration"] == "12"
    assert action.params["RecordingDuration"] == "12"
    assert action.params["Digits"] == "#"
    assert action.params["RecordingUrl"].startswith("http://127.0.0.1:9/2010-04-01/Accounts/")
    assert action.params["RecordingUrl"].endswith(action.params["RecordingSid"])
    [status] = hooks.requests_to("/recording-status")
    assert status.signature_valid
    assert status.params["RecordingStatus"] == "completed"
    assert status.params["RecordingSid"] == action.params["RecordingSid"]
    assert status.params["RecordingDuration"] == "12"
    assert status.params["RecordingChannels"] == "1"
    assert status.params["RecordingSource"] == "RecordVerb"
    assert status.params["CallSid"] == transcript.sid
    assert transcript.said == ["Goodbye"]


def test_record_ended_by_hangup_requests_the_action_and_ends(hooks, phone, number) -> None:
    hooks.on("/voice", twiml("<Record action='/recorded'/><Say>never</Say>"))
    hooks.on("/recorded", twiml("<Say>not heard</Say>"))
    script = CallScript(recording=RecordingTake(duration=8, digits="hangup"))
    transcript = phone.inbound_call(NUMBER, CALLER, script=script)
    [action] = hooks.requests_to("/recorded")
    assert action.params["Digits"] == "hangup"
    assert action.params["CallStatus"] == "completed"
    assert transcript.said == []
    assert transcript.status == "completed"


def test_dial_outcomes_per_number(hooks, phone, number, state) -> None:
    hooks.on("/voice", twiml("<Dial action='/dialled' timeout='10'>+15550001111</Dial>"))
    hooks.on("/dialled", twiml("<Hangup/>"))
    for outcome in ("busy", "no-answer", "failed"):
        phone.inbound_call(NUMBER, CALLER, script=CallScript(dial={"+15550001111": outcome}))
        action = hooks.requests_to("/dialled")[-1]
        assert action.params["DialCallStatus"] == outcome
        assert "DialCallDuration" not in action.params
        assert state.get("calls", action.params["DialCallSid"])["status"] == outcome
    phone.inbound_call(NUMBER, CALLER, script=CallScript(dial_outcome="answered:42"))
    action = hooks.requests_to("/dialled")[-1]
    assert action.params["DialCallStatus"] == "completed"
    assert action.params["DialCallDuration"] == "42"
    child = state.get("calls", action.params["DialCallSid"])
    assert child["direction"] == "outbound-dial"
    assert child["parent_call_sid"] == action.params["CallSid"]
    assert child["duration"] == "42"


def test_dial_a_programmable_wireless_sim(hooks, phone, number, state) -> None:
    sim = "DE" + "1" * 32
    hooks.on("/voice", twiml(f"<Dial action='/dialled'><Sim>{sim}</Sim></Dial>"))
    hooks.on("/dialled", twiml("<Hangup/>"))
    transcript = phone.inbound_call(NUMBER, CALLER,
                                    script=CallScript(dial={sim: "answered:12"}))
    [action] = hooks.requests_to("/dialled")
    assert (action.params["DialCallStatus"], action.params["DialCallDuration"]) == (
        "completed", "12")
    assert state.get("calls", action.params["DialCallSid"])["to"] == sim
    assert transcript.events_of("dial")[0].text == f"sim {sim}: answered, talked 12 s"
    assert transcript.error_codes == []


def test_dial_without_action_continues_the_document(hooks, phone, number) -> None:
    hooks.on("/voice", twiml("<Dial><Number>+15550001111</Number></Dial><Say>After</Say>"))
    transcript = phone.inbound_call(NUMBER, CALLER, script=CallScript(dial_outcome="busy"))
    assert transcript.said == ["After"]
    assert transcript.events_of("dial")[0].detail["status"] == "busy"


def test_redirect_hangup_and_relative_urls(hooks, phone, number) -> None:
    hooks.on("/voice", twiml("<Redirect method='GET'>next?step=2</Redirect><Say>x</Say>"))
    hooks.on("/next", twiml("<Say>Step two</Say><Hangup/><Say>never</Say>"))
    transcript = phone.inbound_call(NUMBER, CALLER)
    [step] = hooks.requests_to("/next")
    assert step.method == "GET"
    assert step.params["step"] == "2"
    assert step.signature_valid
    assert transcript.said == ["Step two"]


def test_reject_ends_the_call_unanswered(hooks, phone, number, state) -> None:
    hooks.on("/voice", twiml("<Reject reason='busy'/>"))
    transcript = phone.inbound_call(NUMBER, CALLER)
    assert transcript.status == "busy"
    assert hooks.requests_to("/status")[0].params["CallStatus"] == "busy"
    assert hooks.requests_to("/status")[0].params["CallDuration"] == "0"
    hooks.on("/voice", twiml("<Reject/>"))
    assert phone.inbound_call(NUMBER, CALLER).status == "no-answer"


def test_message_during_a_call(hooks, phone, number, state) -> None:
    hooks.on("/voice", twiml("<Sms statusCallback='/sms-status'>Your code is 42</Sms>"))
    transcript = phone.inbound_call(NUMBER, CALLER)
    assert phone.wait_idle(5)
    [message] = transcript.messages
    stored = state.get("messages", message["sid"])
    assert stored["to"] == CALLER
    assert stored["from"] == NUMBER
    assert stored["body"] == "Your code is 42"
    assert stored["status"] == "delivered"
    statuses = [r.params["MessageStatus"] for r in hooks.requests_to("/sms-status")]
    assert statuses == ["sent", "delivered"]


def test_fallback_on_500_with_error_code_and_url(hooks, phone, state) -> None:
    state.buy_number(state.main_account_sid, NUMBER, voice_url=hooks.url("/voice"),
                     voice_fallback_url=hooks.url("/fallback"))
    hooks.on("/voice", ("oops", 500))
    hooks.on("/fallback", twiml("<Say>Sorry, try later</Say>"))
    transcript = phone.inbound_call(NUMBER, CALLER)
    [fallback] = hooks.requests_to("/fallback")
    assert fallback.params["ErrorCode"] == "11217"
    assert fallback.params["ErrorUrl"] == hooks.url("/voice")
    assert fallback.params["CallSid"] == transcript.sid
    assert fallback.signature_valid
    assert transcript.said == ["Sorry, try later"]
    notes = state.list("notifications")
    assert notes[0]["error_code"] == "11217"


def test_fallback_on_garbage_and_on_timeout(hooks, phone, state) -> None:
    state.buy_number(state.main_account_sid, NUMBER, voice_url=hooks.url("/voice"),
                     voice_fallback_url=hooks.url("/fallback"))
    hooks.on("/fallback", twiml("<Say>Fallback</Say>"))
    hooks.on("/voice", ("<Response><Say>unclosed", 200, {"Content-Type": "text/xml"}))
    phone.inbound_call(NUMBER, CALLER)
    assert hooks.requests_to("/fallback")[-1].params["ErrorCode"] == "12100"
    hooks.on("/voice", ('{"json": true}', 200, {"Content-Type": "application/json"}))
    phone.inbound_call(NUMBER, CALLER)
    assert hooks.requests_to("/fallback")[-1].params["ErrorCode"] == "12300"
    hooks.on("/voice", twiml("<Dance/>"))
    phone.inbound_call(NUMBER, CALLER)
    assert hooks.requests_to("/fallback")[-1].params["ErrorCode"] == "12200"

    release = threading.Event()
    hooks.on("/slow", lambda _r: release.wait(5) and twiml())
    state.update("incoming_phone_numbers", state.find_number(NUMBER)["sid"],
                 voice_url=hooks.url("/slow#rt=200"))
    try:
        transcript = phone.inbound_call(NUMBER, CALLER)
    finally:
        release.set()
    fallback = hooks.requests_to("/fallback")[-1]
    assert fallback.params["ErrorCode"] == "11205"
    assert fallback.params["ErrorUrl"] == hooks.url("/slow")
    assert transcript.said == ["Fallback"]


def test_no_fallback_means_an_application_error(hooks, phone, number) -> None:
    hooks.on("/voice", ("", 200, {"Content-Type": "text/xml"}))
    transcript = phone.inbound_call(NUMBER, CALLER)
    assert transcript.heard == ["An application error has occurred."]
    assert transcript.status == "completed"
    assert transcript.error_codes == [12100]


def test_content_types(hooks, phone, number) -> None:
    hooks.on("/voice", ("Hello in plain text", 200, {"Content-Type": "text/plain"}))
    assert phone.inbound_call(NUMBER, CALLER).said == ["Hello in plain text"]
    hooks.on("/voice", (twiml("<Say>parsed</Say>"), 200, {"Content-Type": "text/plain"}))
    assert phone.inbound_call(NUMBER, CALLER).said == ["parsed"]
    hooks.on("/voice", (b"ID3...", 200, {"Content-Type": "audio/mpeg"}))
    transcript = phone.inbound_call(NUMBER, CALLER)
    assert transcript.events_of("play")[0].text == hooks.url("/voice")
    hooks.on("/voice", (twiml("<Say>html</Say>"), 200, {"Content-Type": "text/html"}))
    assert phone.inbound_call(NUMBER, CALLER).said == ["html"]


def test_cookies_are_sent_back_for_the_rest_of_the_call(hooks, phone, number) -> None:
    def voice(_request: flask.Request) -> flask.Response:
        response = flask.Response(twiml("<Redirect>/second</Redirect>"), content_type="text/xml")
        response.set_cookie("session", "abc")
        return response

    hooks.on("/voice", voice)
    hooks.on("/second", twiml("<Hangup/>"))
    phone.inbound_call(NUMBER, CALLER)
    assert "session=abc" in hooks.requests_to("/second")[0].headers["Cookie"]


def test_voice_application_of_the_number(hooks, phone, state) -> None:
    app = state.create_application(state.main_account_sid, voice_url=hooks.url("/app-voice"),
                                   status_callback=hooks.url("/app-status"))
    state.buy_number(state.main_account_sid, NUMBER, voice_application_sid=app["sid"],
                     voice_url=hooks.url("/voice"))
    hooks.on("/app-voice", twiml("<Say>App</Say>"))
    assert phone.inbound_call(NUMBER, CALLER).said == ["App"]
    assert hooks.requests_to("/voice") == []
    assert len(hooks.requests_to("/app-status")) == 1


def test_subaccount_numbers_are_signed_with_the_subaccount_token(hooks, phone, state) -> None:
    sub = state.create_account("sub", owner_account_sid=state.main_account_sid)
    state.buy_number(sub["sid"], NUMBER, voice_url=hooks.url("/voice"))
    hooks.on("/voice", twiml("<Hangup/>"))
    phone.inbound_call(NUMBER, CALLER)
    [voice] = hooks.requests_to("/voice")
    assert not voice.signature_valid  # the hook server checks with the main account's token
    from switchboard.callbacks.security import RequestValidator

    assert RequestValidator(sub["auth_token"]).validate(
        voice.url, voice.form, voice.headers["X-Twilio-Signature"]
    )


def test_outbound_call_status_callbacks_in_order(hooks, phone, state) -> None:
    hooks.on("/outbound", twiml("<Say>Your appointment is tomorrow</Say>"))
    call = state.create_call(
        state.main_account_sid, to="+15557654321", from_=NUMBER, url=hooks.url("/outbound"),
        status_callback=hooks.url("/call-status"),
        status_callback_event=["initiated", "ringing", "answered", "completed"],
    )
    phone.place_outbound_call(call)
    assert phone.wait_idle(10)
    statuses = hooks.requests_to("/call-status")
    assert [s.params["CallStatus"] for s in statuses] == [
        "initiated", "ringing", "in-progress", "completed"]
    assert [s.params["SequenceNumber"] for s in statuses] == ["0", "1", "2", "3"]
    assert all(s.signature_valid for s in statuses)
    assert "CallDuration" in statuses[-1].params
    assert "CallDuration" not in statuses[0].params
    [voice] = hooks.requests_to("/outbound")
    assert voice.params["Direction"] == "outbound-api"
    assert voice.params["CallStatus"] == "in-progress"
    assert voice.params["From"] == NUMBER
    assert state.get("calls", call["sid"])["status"] == "completed"
    assert phone.transcript(call["sid"]).said == ["Your appointment is tomorrow"]


def test_outbound_call_completed_only_by_default_and_busy(hooks, phone, state) -> None:
    phone.call_outcomes["+15557654321"] = "busy"
    call = state.create_call(state.main_account_sid, to="+15557654321", from_=NUMBER,
                             url=hooks.url("/outbound"), status_callback=hooks.url("/cs"))
    phone.place_outbound_call(call)
    assert phone.wait_idle(10)
    [status] = hooks.requests_to("/cs")
    assert status.params["CallStatus"] == "busy"
    assert status.params["SequenceNumber"] == "0"
    assert hooks.requests_to("/outbound") == []
    assert state.get("calls", call["sid"])["status"] == "busy"


def test_outbound_call_with_twiml_and_application(hooks, phone, state) -> None:
    call = state.create_call(state.main_account_sid, to="+15557654321", from_=NUMBER,
                             twiml="<Response><Say>Inline</Say></Response>")
    assert phone.run_outbound_call(call).said == ["Inline"]
    app = state.create_application(state.main_account_sid, voice_url=hooks.url("/app"))
    hooks.on("/app", twiml("<Say>From the app</Say>"))
    call = state.create_call(state.main_account_sid, to="+15557654321", from_=NUMBER,
                             application_sid=app["sid"])
    assert phone.run_outbound_call(call).said == ["From the app"]


def test_a_call_canceled_while_queued_sends_only_its_final_status_callback(
        hooks, phone, state) -> None:
    call = state.create_call(state.main_account_sid, to="+15557654321", from_=NUMBER,
                             url=hooks.url("/outbound"), status_callback=hooks.url("/cs"),
                             status_callback_event=["initiated", "ringing", "answered",
                                                    "completed"],
                             status="canceled", end_time="Mon, 01 Jan 2024 10:00:00 +0000")
    transcript = phone.run_outbound_call(call)
    [status] = hooks.received
    assert status.path == "/cs"
    assert status.signature_valid
    assert status.params["CallStatus"] == "canceled"
    assert status.params["SequenceNumber"] == "0"
    assert status.params["CallDuration"] == "0"
    assert status.params["SipResponseCode"] == "487"
    assert transcript.status == "canceled"
    ended = state.get("calls", call["sid"])
    assert (ended["status"], ended["duration"], ended["start_time"]) == ("canceled", "0", None)
    assert ended["end_time"] == "Mon, 01 Jan 2024 10:00:00 +0000"


def test_a_call_canceled_while_queued_without_a_status_callback_sends_nothing(
        hooks, phone, state) -> None:
    call = state.create_call(state.main_account_sid, to="+15557654321", from_=NUMBER,
                             url=hooks.url("/outbound"), status="canceled")
    assert phone.run_outbound_call(call).status == "canceled"
    assert hooks.received == []


def test_enqueue_with_wait_music_and_leave(hooks, phone, number) -> None:
    hooks.on("/voice", twiml("<Enqueue waitUrl='/wait' action='/after'>support</Enqueue>"))
    hooks.on("/wait", twiml("<Say>Please hold</Say><Leave/>"))
    hooks.on("/after", twiml("<Say>Leave a message instead</Say>"))
    transcript = phone.inbound_call(NUMBER, CALLER)
    [wait] = hooks.requests_to("/wait")
    assert wait.params["QueuePosition"] == "1"
    assert wait.params["QueueSid"].startswith("QU")
    [after] = hooks.requests_to("/after")
    assert after.params["QueueResult"] == "leave"
    assert transcript.said == ["Please hold", "Leave a message instead"]


def test_enqueue_bridged(hooks, phone, number) -> None:
    hooks.on("/voice", twiml("<Enqueue action='/after'>support</Enqueue>"))
    hooks.on("/after", twiml("<Say>Thanks for calling</Say>"))
    phone.inbound_call(NUMBER, CALLER, script=CallScript(queue_outcome="bridged"))
    assert hooks.requests_to("/after")[0].params["QueueResult"] == "bridged"


def test_conference(hooks, phone, number, state) -> None:
    hooks.on("/voice", twiml("<Dial><Conference statusCallback='/conf' "
                             "statusCallbackEvent='start end join leave'>standup</Conference>"
                             "</Dial>"))
    transcript = phone.inbound_call(NUMBER, CALLER, script=CallScript(conference_seconds=90))
    events = [r.params["StatusCallbackEvent"] for r in hooks.requests_to("/conf")]
    assert events == ["conference-start", "participant-join", "participant-leave",
                      "conference-end"]
    [conference] = state.list("conferences")
    assert conference["friendly_name"] == "standup"
    assert conference["status"] == "completed"
    assert int(state.get("calls", transcript.sid)["duration"]) >= 90


def test_unknown_number_is_not_in_service(phone) -> None:
    transcript = phone.inbound_call("+15550000000", CALLER)
    assert transcript.status == "failed"


def test_a_looping_application_is_cut_off(hooks, phone, number) -> None:
    hooks.on("/voice", twiml("<Gather/><Redirect>/voice</Redirect>"))
    transcript = phone.inbound_call(NUMBER, CALLER)
    assert len(hooks.requests_to("/voice")) == 100
    assert "too long" in transcript.heard[-1]


def test_a_rest_update_redirects_or_ends_the_live_call(hooks, phone, number) -> None:
    def voice(request: flask.Request) -> str:
        redirect = {"url": hooks.url("/new"), "method": "POST"}
        phone.call_updated({"sid": request.form["CallSid"], "redirect": redirect})
        return twiml("<Say>old</Say>")

    hooks.on("/voice", voice)
    hooks.on("/new", twiml("<Say>new</Say>"))
    assert phone.inbound_call(NUMBER, CALLER).said == ["new"]

    def hang_up(request: flask.Request) -> str:
        phone.call_updated({"sid": request.form["CallSid"], "status": "completed"})
        return twiml("<Say>never</Say>")

    hooks.on("/voice", hang_up)
    transcript = phone.inbound_call(NUMBER, CALLER)
    assert transcript.said == []
    assert transcript.status == "completed"


def test_concurrent_calls_keep_their_own_transcripts(hooks, phone, number) -> None:
    from concurrent.futures import ThreadPoolExecutor

    hooks.on("/voice", twiml("<Gather numDigits='2' action='/echo'/>"))
    hooks.on("/echo", lambda r: twiml(f"<Say>{r.form['Digits']} for {r.form['From']}</Say>"))

    def one(i: int):
        return i, phone.inbound_call(NUMBER, f"+1555000{i:04d}", script=CallScript(f"{i:02d}"))

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(24)))
    for i, transcript in results:
        assert transcript.said == [f"{i:02d} for +1555000{i:04d}"]
    assert len({t.sid for _, t in results}) == 24
    assert len(hooks.requests_to("/status")) == 24


def test_caller_name_lookup_and_geography(hooks, phone, state) -> None:
    state.buy_number(state.main_account_sid, NUMBER, voice_url=hooks.url("/voice"),
                     voice_caller_id_lookup=True)
    phone.caller_names[CALLER] = "JANE DOE"
    hooks.on("/voice", twiml("<Hangup/>"))
    phone.inbound_call(NUMBER, CALLER)
    [voice] = hooks.requests_to("/voice")
    assert voice.params["CallerName"] == "JANE DOE"
    assert voice.params["FromCountry"] == "US"
    assert voice.params["CalledCountry"] == "US"
    assert voice.params.keys() >= {"FromCity", "FromState", "FromZip", "ToCity", "ToZip"}


def test_the_auth_token_stays_out_of_reprs(state) -> None:
    from switchboard.emulator.transcript import Transcript
    from switchboard.emulator.twiml_runner import CallContext
    from switchboard.emulator.webhooks import WebhookClient

    ctx = CallContext(state, "CA1", "AC1", "supersecret-token", CALLER, NUMBER, "inbound",
                      CallScript(), Transcript(), WebhookClient(), WebhookClient())
    assert "supersecret-token" not in repr(ctx)


def test_time_limit_of_an_outbound_call(hooks, phone, state) -> None:
    hooks.on("/outbound", twiml("<Pause length='30'/><Say>too late</Say>"))
    call = state.create_call(state.main_account_sid, to="+15557654321", from_=NUMBER,
                             url=hooks.url("/outbound"), time_limit=20)
    transcript = phone.run_outbound_call(call)
    assert transcript.said == []
    assert state.get("calls", call["sid"])["duration"] == "20"


def test_an_agent_dequeues_a_waiting_caller(hooks, phone, number, state) -> None:
    agent_line = "+15551239999"
    state.buy_number(state.main_account_sid, agent_line, voice_url=hooks.url("/agent"))
    hooks.on("/voice", twiml("<Enqueue waitUrl='/hold' action='/queued'>support</Enqueue>"))
    hooks.on("/hold", twiml("<Say>All agents are busy</Say>"))
    hooks.on("/queued", lambda r: twiml(f"<Say>Result {r.form['QueueResult']}</Say>"))
    hooks.on("/agent", twiml("<Dial action='/agent-done'><Queue>support</Queue></Dial>"))
    results: dict[str, object] = {}
    caller = threading.Thread(target=lambda: results.update(caller=phone.inbound_call(
        NUMBER, CALLER, script=CallScript(queue_outcome="wait", queue_wait=10))))
    caller.start()
    for _ in range(500):
        if phone.queues.size("support"):
            break
        caller.join(0.01)
    assert phone.queues.size("support") == 1
    agent = phone.inbound_call(agent_line, "+15550004444",
                               script=CallScript(dial_outcome="answered:75"))
    caller.join(10)
    waiting = results["caller"]
    [done] = hooks.requests_to("/agent-done")
    assert done.params["DialCallStatus"] == "completed"
    assert done.params["DialCallSid"] == waiting.sid
    assert done.params["DialCallDuration"] == "75"
    assert done.params["QueueSid"].startswith("QU")
    [queued] = hooks.requests_to("/queued")
    assert queued.params["QueueResult"] == "bridged"
    assert queued.params["QueueSid"] == done.params["QueueSid"]
    assert waiting.said == ["All agents are busy", "Result bridged"]
    assert agent.events_of("dial")[0].detail["call_sid"] == waiting.sid


def test_nobody_takes_the_waiting_caller(hooks, phone, number) -> None:
    hooks.on("/voice", twiml("<Enqueue action='/queued'>support</Enqueue>"))
    transcript = phone.inbound_call(NUMBER, CALLER,
                                    script=CallScript(queue_outcome="wait", queue_wait=0.05))
    [queued] = hooks.requests_to("/queued")
    assert queued.params["QueueResult"] == "hangup"
    assert queued.params["CallStatus"] == "completed"
    assert transcript.status == "completed"
    assert phone.queues.size("support") == 0


def test_dialling_an_empty_queue(hooks, phone, number) -> None:
    hooks.on("/voice", twiml("<Dial action='/done'><Queue>support</Queue></Dial>"))
    phone.inbound_call(NUMBER, CALLER)
    assert hooks.requests_to("/done")[0].params["DialCallStatus"] == "no-answer"


def test_a_recorded_dial(hooks, phone, number, state) -> None:
    hooks.on("/voice", twiml("<Dial action='/dialled' record='record-from-answer-dual' "
                             "recordingStatusCallback='/rs'>+15550001111</Dial>"))
    hooks.on("/dialled", twiml("<Hangup/>"))
    phone.inbound_call(NUMBER, CALLER, script=CallScript(dial_outcome="answered:40"))
    [action] = hooks.requests_to("/dialled")
    assert action.params["RecordingDuration"] == "40"
    recording = state.get("recordings", action.params["RecordingSid"])
    assert recording["source"] == "DialVerb"
    assert recording["channels"] == 2
    [status] = hooks.requests_to("/rs")
    assert status.params["RecordingSid"] == action.params["RecordingSid"]
    assert status.params["RecordingChannels"] == "2"


def test_a_meeting_of_three(hooks, phone, number, state) -> None:
    from concurrent.futures import ThreadPoolExecutor

    hooks.on("/voice", twiml("<Dial><Conference statusCallback='/conf' "
                             "statusCallbackEvent='start end join leave'>standup</Conference>"
                             "</Dial>"))
    script = {"conference_participants": 3, "conference_wait": 10, "conference_seconds": 300}
    with ThreadPoolExecutor(3) as pool:
        calls = list(pool.map(lambda i: phone.inbound_call(
            NUMBER, f"+1555000000{i}", script=CallScript(**script)), range(3)))
    for transcript in calls:
        assert any("3 participants are in standup" in e.text
                   for e in transcript.events_of("conference"))
    events = [r.params["StatusCallbackEvent"] for r in hooks.requests_to("/conf")]
    assert events.count("conference-start") == 1
    assert events.count("conference-end") == 1
    assert events.count("participant-join") == 3
    [conference] = state.list("conferences")
    assert conference["status"] == "completed"


def test_transcript_as_data(hooks, phone, number) -> None:
    import json

    hooks.on("/voice", twiml("<Say>Hi</Say>"))
    data = phone.inbound_call(NUMBER, CALLER).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["events"][0] == {"kind": "say", "text": "Hi"}
    assert data["requests"][0]["purpose"] == "voice"
    assert data["requests"][0]["params"]["To"] == NUMBER
