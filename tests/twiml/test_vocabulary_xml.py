"""The exact XML of every verb and noun, one example each, with Twilio's attribute names."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from switchboard.callbacks.twiml import (
    DECLARATION,
    MessagingResponse,
    TwiML,
    VoiceResponse,
    parse_twiml,
)
from switchboard.callbacks.twiml_vocabulary import ELEMENTS


def voice(build: Callable[[VoiceResponse], object]) -> str:
    response = VoiceResponse()
    build(response)
    return str(response)


def messaging(build: Callable[[MessagingResponse], object]) -> str:
    response = MessagingResponse()
    build(response)
    return str(response)


def _in(parent: Callable[[VoiceResponse], object], *steps: Callable[[TwiML], object]):
    def build(response: VoiceResponse) -> None:
        parent(response)
        node: TwiML = response
        for step in steps:
            node = node.__enter__()  # the element just added
            step(node)

    return build


# (vocabulary keys covered, builder, the expected document without the declaration)
CASES: list[tuple[set[str], Callable[[], str], str]] = [
    (
        {"VoiceResponse"},
        lambda: voice(lambda r: None),
        "<Response/>",
    ),
    (
        {"MessagingResponse"},
        lambda: messaging(lambda r: None),
        "<Response/>",
    ),
    (
        {"Say"},
        lambda: voice(lambda r: r.say("Hello", voice="Polly.Joanna", loop=2, language="en-GB")),
        '<Response><Say voice="Polly.Joanna" loop="2" language="en-GB">Hello</Say></Response>',
    ),
    (
        {"Play"},
        lambda: voice(lambda r: r.play("https://example.com/a.mp3", loop=0).play(digits="ww12")),
        '<Response><Play loop="0">https://example.com/a.mp3</Play><Play digits="ww12"/></Response>',
    ),
    (
        {"Pause"},
        lambda: voice(lambda r: r.pause(length=3)),
        '<Response><Pause length="3"/></Response>',
    ),
    (
        {"Gather"},
        lambda: voice(
            lambda r: r.gather(
                input=["dtmf", "speech"],
                action="/voice/menu",
                method="GET",
                timeout=4,
                speech_timeout="auto",
                max_speech_time=30,
                profanity_filter=False,
                finish_on_key="#",
                num_digits=1,
                partial_result_callback="/partial",
                partial_result_callback_method="POST",
                language="fr-FR",
                hints="sales, support",
                barge_in=True,
                debug=False,
                action_on_empty_result=True,
                speech_model="phone_call",
                enhanced=True,
            )
        ),
        '<Response><Gather input="dtmf speech" action="/voice/menu" method="GET" timeout="4" '
        'speechTimeout="auto" maxSpeechTime="30" profanityFilter="false" finishOnKey="#" '
        'numDigits="1" partialResultCallback="/partial" partialResultCallbackMethod="POST" '
        'language="fr-FR" hints="sales, support" bargeIn="true" debug="false" '
        'actionOnEmptyResult="true" speechModel="phone_call" enhanced="true"/></Response>',
    ),
    (
        {"Record"},
        lambda: voice(
            lambda r: r.record(
                action="/rec",
                method="POST",
                timeout=5,
                finish_on_key="*",
                max_length=120,
                play_beep=True,
                trim="trim-silence",
                recording_status_callback="/rs",
                recording_status_callback_method="GET",
                recording_status_callback_event=["in-progress", "completed", "absent"],
                transcribe=False,
                transcribe_callback="/tr",
            )
        ),
        '<Response><Record action="/rec" method="POST" timeout="5" finishOnKey="*" '
        'maxLength="120" playBeep="true" trim="trim-silence" recordingStatusCallback="/rs" '
        'recordingStatusCallbackMethod="GET" '
        'recordingStatusCallbackEvent="in-progress completed absent" transcribe="false" '
        'transcribeCallback="/tr"/></Response>',
    ),
    (
        {"Dial"},
        lambda: voice(
            lambda r: r.dial(
                "+15551234567",
                action="/dialed",
                method="GET",
                timeout=20,
                hangup_on_star=True,
                time_limit=600,
                caller_id="+15550001111",
                record="record-from-answer-dual",
                trim="do-not-trim",
                recording_status_callback="/rs",
                recording_status_callback_method="POST",
                recording_status_callback_event="completed",
                answer_on_bridge=True,
                ring_tone="uk",
                recording_track="both",
                sequential=True,
                refer_url="/refer",
                refer_method="POST",
                events="call-progress-event",
            )
        ),
        '<Response><Dial action="/dialed" method="GET" timeout="20" hangupOnStar="true" '
        'timeLimit="600" callerId="+15550001111" record="record-from-answer-dual" '
        'trim="do-not-trim" recordingStatusCallback="/rs" recordingStatusCallbackMethod="POST" '
        'recordingStatusCallbackEvent="completed" answerOnBridge="true" ringTone="uk" '
        'recordingTrack="both" sequential="true" referUrl="/refer" referMethod="POST" '
        'events="call-progress-event">+15551234567</Dial></Response>',
    ),
    (
        {"Number"},
        lambda: voice(
            _in(
                lambda r: r.dial(),
                lambda d: d.number(
                    "+15551234567",
                    send_digits="wwww1928",
                    url="/whisper",
                    method="GET",
                    status_callback_event=["initiated", "ringing", "answered", "completed"],
                    status_callback="/status",
                    status_callback_method="POST",
                    byoc="BY0123",
                    machine_detection="Enable",
                    machine_detection_timeout=30,
                    machine_detection_speech_threshold=2400,
                    machine_detection_speech_end_threshold=1200,
                    machine_detection_silence_timeout=5000,
                    amd_status_callback="/amd",
                    amd_status_callback_method="POST",
                ),
            )
        ),
        '<Response><Dial><Number sendDigits="wwww1928" url="/whisper" method="GET" '
        'statusCallbackEvent="initiated ringing answered completed" statusCallback="/status" '
        'statusCallbackMethod="POST" byoc="BY0123" machineDetection="Enable" '
        'machineDetectionTimeout="30" machineDetectionSpeechThreshold="2400" '
        'machineDetectionSpeechEndThreshold="1200" machineDetectionSilenceTimeout="5000" '
        'amdStatusCallback="/amd" amdStatusCallbackMethod="POST">+15551234567</Number>'
        "</Dial></Response>",
    ),
    (
        {"Client", "Identity", "Parameter"},
        lambda: voice(
            _in(
                lambda r: r.dial(),
                lambda d: d.client(url="/c", method="POST", status_callback_event="answered"),
                lambda c: c.identity("alice").parameter(name="FirstName", value="Alice"),
            )
        ),
        '<Response><Dial><Client url="/c" method="POST" statusCallbackEvent="answered">'
        '<Identity>alice</Identity><Parameter name="FirstName" value="Alice"/></Client>'
        "</Dial></Response>",
    ),
    (
        {"Conference"},
        lambda: voice(
            _in(
                lambda r: r.dial(),
                lambda d: d.conference(
                    "Room 1",
                    muted=False,
                    beep="onEnter",
                    start_conference_on_enter=True,
                    end_conference_on_exit=False,
                    wait_url="/hold",
                    wait_method="GET",
                    max_participants=10,
                    record="record-from-start",
                    region="ie1",
                    coach="CA123",
                    trim="trim-silence",
                    status_callback_event=["start", "end", "join", "leave"],
                    status_callback="/conf",
                    status_callback_method="POST",
                    recording_status_callback="/rs",
                    recording_status_callback_method="POST",
                    recording_status_callback_event="completed",
                    event_callback_url="/events",
                    jitter_buffer_size="large",
                    participant_label="agent",
                ),
            )
        ),
        '<Response><Dial><Conference muted="false" beep="onEnter" '
        'startConferenceOnEnter="true" endConferenceOnExit="false" waitUrl="/hold" '
        'waitMethod="GET" maxParticipants="10" record="record-from-start" region="ie1" '
        'coach="CA123" trim="trim-silence" statusCallbackEvent="start end join leave" '
        'statusCallback="/conf" statusCallbackMethod="POST" recordingStatusCallback="/rs" '
        'recordingStatusCallbackMethod="POST" recordingStatusCallbackEvent="completed" '
        'eventCallbackUrl="/events" jitterBufferSize="large" participantLabel="agent">'
        "Room 1</Conference></Dial></Response>",
    ),
    (
        {"Queue"},
        lambda: voice(
            _in(
                lambda r: r.dial(),
                lambda d: d.queue(
                    "support",
                    url="/about-to-connect",
                    method="POST",
                    reservation_sid="WR123",
                    post_work_activity_sid="WA123",
                ),
            )
        ),
        '<Response><Dial><Queue url="/about-to-connect" method="POST" reservationSid="WR123" '
        'postWorkActivitySid="WA123">support</Queue></Dial></Response>',
    ),
    (
        {"Sip"},
        lambda: voice(
            _in(
                lambda r: r.dial(),
                lambda d: d.sip(
                    "sip:alice@example.com",
                    username="alice",
                    password="pw",
                    url="/sip-answered",
                    method="POST",
                    status_callback_event="initiated",
                    status_callback="/s",
                    status_callback_method="GET",
                    machine_detection="DetectMessageEnd",
                    amd_status_callback="/amd",
                ),
            )
        ),
        '<Response><Dial><Sip username="alice" password="pw" url="/sip-answered" method="POST" '
        'statusCallbackEvent="initiated" statusCallback="/s" statusCallbackMethod="GET" '
        'machineDetection="DetectMessageEnd" amdStatusCallback="/amd">'
        "sip:alice@example.com</Sip></Dial></Response>",
    ),
    (
        {"Sim"},
        lambda: voice(_in(lambda r: r.dial(), lambda d: d.sim("DE123"))),
        "<Response><Dial><Sim>DE123</Sim></Dial></Response>",
    ),
    (
        {"Application", "ApplicationSid"},
        lambda: voice(
            _in(
                lambda r: r.dial(),
                lambda d: d.application(
                    url="/app",
                    method="POST",
                    status_callback_event="ringing",
                    status_callback="/s",
                    status_callback_method="POST",
                    customer_id="cust-1",
                    copy_parent_to=True,
                ),
                lambda a: a.application_sid("AP123").parameter(name="k", value="v"),
            )
        ),
        '<Response><Dial><Application url="/app" method="POST" statusCallbackEvent="ringing" '
        'statusCallback="/s" statusCallbackMethod="POST" customerId="cust-1" '
        'copyParentTo="true"><ApplicationSid>AP123</ApplicationSid>'
        '<Parameter name="k" value="v"/></Application></Dial></Response>',
    ),
    (
        {"Redirect"},
        lambda: voice(lambda r: r.redirect("/voice/next", method="GET")),
        '<Response><Redirect method="GET">/voice/next</Redirect></Response>',
    ),
    (
        {"Hangup"},
        lambda: voice(_in(lambda r: r.hangup(), lambda h: h.parameter(name="why", value="done"))),
        '<Response><Hangup><Parameter name="why" value="done"/></Hangup></Response>',
    ),
    (
        {"Reject"},
        lambda: voice(lambda r: r.reject(reason="busy")),
        '<Response><Reject reason="busy"/></Response>',
    ),
    (
        {"Enqueue", "Task"},
        lambda: voice(
            _in(
                lambda r: r.enqueue(
                    action="/left",
                    max_queue_size=50,
                    method="POST",
                    wait_url="/wait",
                    wait_url_method="GET",
                    workflow_sid="WW123",
                ),
                lambda e: e.task({"language": "fr"}, priority=5, timeout=200),
            )
        ),
        '<Response><Enqueue action="/left" maxQueueSize="50" method="POST" waitUrl="/wait" '
        'waitUrlMethod="GET" workflowSid="WW123"><Task priority="5" timeout="200">'
        '{"language":"fr"}</Task></Enqueue></Response>',
    ),
    (
        {"Leave", "Echo"},
        lambda: voice(lambda r: r.leave().echo()),
        "<Response><Leave/><Echo/></Response>",
    ),
    (
        {"Connect", "Stream"},
        lambda: voice(
            _in(
                lambda r: r.connect(action="/after", method="POST"),
                lambda c: c.stream(
                    url="wss://example.com/media",
                    name="s1",
                    connector_name="conn",
                    track="inbound_track",
                    status_callback="/st",
                    status_callback_method="GET",
                ),
                lambda s: s.parameter(name="a", value="1"),
            )
        ),
        '<Response><Connect action="/after" method="POST"><Stream url="wss://example.com/media" '
        'name="s1" connectorName="conn" track="inbound_track" statusCallback="/st" '
        'statusCallbackMethod="GET"><Parameter name="a" value="1"/></Stream></Connect>'
        "</Response>",
    ),
    (
        {"Room"},
        lambda: voice(
            _in(lambda r: r.connect(), lambda c: c.room("DailyStandup", participant_identity="a"))
        ),
        '<Response><Connect><Room participantIdentity="a">DailyStandup</Room></Connect></Response>',
    ),
    (
        {"Conversation"},
        lambda: voice(
            _in(
                lambda r: r.connect(),
                lambda c: c.conversation(
                    service_instance_sid="IS123",
                    inbound_autocreation=True,
                    routing_assignment_timeout=10,
                    inbound_timeout=20,
                    url="/u",
                    method="POST",
                    record=True,
                    trim="trim-silence",
                    recording_status_callback="/r",
                    recording_status_callback_method="POST",
                    recording_status_callback_event="completed",
                    status_callback="/s",
                    status_callback_method="POST",
                    status_callback_event=["call-initiated", "call-ringing"],
                ),
            )
        ),
        '<Response><Connect><Conversation serviceInstanceSid="IS123" inboundAutocreation="true" '
        'routingAssignmentTimeout="10" inboundTimeout="20" url="/u" method="POST" record="true" '
        'trim="trim-silence" recordingStatusCallback="/r" recordingStatusCallbackMethod="POST" '
        'recordingStatusCallbackEvent="completed" statusCallback="/s" '
        'statusCallbackMethod="POST" statusCallbackEvent="call-initiated call-ringing"/>'
        "</Connect></Response>",
    ),
    (
        {"ConversationRelay", "Language"},
        lambda: voice(
            _in(
                lambda r: r.connect(),
                lambda c: c.conversation_relay(
                    url="wss://example.com/relay",
                    welcome_greeting="Hi! Ask me anything.",
                    language="en-US",
                    tts_provider="ElevenLabs",
                    voice="UgBBYS2sOqTuMpoF3BR0",
                    transcription_provider="Deepgram",
                    dtmf_detection=True,
                    interruptible="speech",
                    welcome_greeting_interruptible="none",
                    preemptible=False,
                    hints="Switchboard,IVR",
                    debug="debugging speaker-events",
                ),
                lambda cr: cr.language(
                    code="fr-FR", tts_provider="Google", voice="fr-FR-Neural2-B"
                ).parameter(name="customer", value="42"),
            )
        ),
        '<Response><Connect><ConversationRelay url="wss://example.com/relay" '
        'welcomeGreeting="Hi! Ask me anything." language="en-US" ttsProvider="ElevenLabs" '
        'voice="UgBBYS2sOqTuMpoF3BR0" transcriptionProvider="Deepgram" dtmfDetection="true" '
        'interruptible="speech" welcomeGreetingInterruptible="none" preemptible="false" '
        'hints="Switchboard,IVR" debug="debugging speaker-events">'
        '<Language code="fr-FR" ttsProvider="Google" voice="fr-FR-Neural2-B"/>'
        '<Parameter name="customer" value="42"/></ConversationRelay></Connect></Response>',
    ),
    (
        {"Assistant"},
        lambda: voice(
            _in(
                lambda r: r.connect(),
                lambda c: c.assistant(id="aia_asst_123", voice="en-US-Journey-O"),
            )
        ),
        '<Response><Connect><Assistant id="aia_asst_123" voice="en-US-Journey-O"/></Connect>'
        "</Response>",
    ),
    (
        {"VirtualAgent", "Config"},
        lambda: voice(
            _in(
                lambda r: r.connect(),
                lambda c: c.virtual_agent(
                    connector_name="dialogflow",
                    language="en-US",
                    sentiment_analysis=True,
                    status_callback="/va",
                    status_callback_method="POST",
                ),
                lambda v: v.config(name="language", value="en-US").parameter(
                    name="customer", value="Alice"
                ),
            )
        ),
        '<Response><Connect><VirtualAgent connectorName="dialogflow" language="en-US" '
        'sentimentAnalysis="true" statusCallback="/va" statusCallbackMethod="POST">'
        '<Config name="language" value="en-US"/><Parameter name="customer" value="Alice"/>'
        "</VirtualAgent></Connect></Response>",
    ),
    (
        {"Start", "Siprec", "Transcription", "Recording"},
        lambda: voice(
            _in(
                lambda r: r.start(action="/started", method="POST"),
                lambda s: (
                    s.stream(url="wss://example.com/fork", track="both_tracks")
                    .siprec(name="rec", connector_name="SR1", track="both_tracks")
                    .transcription(
                        name="live",
                        track="inbound_track",
                        status_callback_url="/tr",
                        status_callback_method="POST",
                        partial_results=True,
                        language_code="en-US",
                        transcription_engine="google",
                        profanity_filter=True,
                        speech_model="telephony",
                        hints="Switchboard",
                        enable_automatic_punctuation=True,
                        intelligence_service="GA123",
                        inbound_track_label="caller",
                        outbound_track_label="agent",
                    )
                    .recording(
                        recording_status_callback="/rs",
                        recording_status_callback_method="POST",
                        recording_status_callback_event="completed",
                        trim="trim-silence",
                        track="both",
                        channels="dual",
                    )
                ),
            )
        ),
        '<Response><Start action="/started" method="POST">'
        '<Stream url="wss://example.com/fork" track="both_tracks"/>'
        '<Siprec name="rec" connectorName="SR1" track="both_tracks"/>'
        '<Transcription name="live" track="inbound_track" statusCallbackUrl="/tr" '
        'statusCallbackMethod="POST" partialResults="true" languageCode="en-US" '
        'transcriptionEngine="google" profanityFilter="true" speechModel="telephony" '
        'hints="Switchboard" enableAutomaticPunctuation="true" intelligenceService="GA123" '
        'inboundTrackLabel="caller" outboundTrackLabel="agent"/>'
        '<Recording recordingStatusCallback="/rs" recordingStatusCallbackMethod="POST" '
        'recordingStatusCallbackEvent="completed" trim="trim-silence" track="both" '
        'channels="dual"/></Start></Response>',
    ),
    (
        {"Stop"},
        lambda: voice(
            _in(
                lambda r: r.stop(),
                lambda s: s.stream(name="s1").siprec(name="rec").transcription(name="live"),
            )
        ),
        '<Response><Stop><Stream name="s1"/><Siprec name="rec"/><Transcription name="live"/>'
        "</Stop></Response>",
    ),
    (
        {"Pay", "Prompt"},
        lambda: voice(
            _in(
                lambda r: r.pay(
                    input="dtmf",
                    action="/paid",
                    bank_account_type="consumer-checking",
                    status_callback="/pay-status",
                    status_callback_method="POST",
                    timeout=5,
                    max_attempts=2,
                    security_code=True,
                    postal_code=False,
                    min_postal_code_length=5,
                    payment_connector="Stripe",
                    payment_method="credit-card",
                    token_type="one-time",
                    charge_amount="10.00",
                    currency="usd",
                    description="Order 42",
                    valid_card_types=["visa", "mastercard", "amex"],
                    language="en-US",
                ),
                lambda p: p.prompt(
                    for_="payment-card-number",
                    error_type="invalid-card-number",
                    card_type="visa",
                    attempt=[1, 2],
                    require_matching_inputs=True,
                ),
                lambda prompt: (
                    prompt.say("Please enter your card number.").play("/beep.mp3").pause(length=1)
                ),
            )
        ),
        '<Response><Pay input="dtmf" action="/paid" bankAccountType="consumer-checking" '
        'statusCallback="/pay-status" statusCallbackMethod="POST" timeout="5" maxAttempts="2" '
        'securityCode="true" postalCode="false" minPostalCodeLength="5" '
        'paymentConnector="Stripe" paymentMethod="credit-card" tokenType="one-time" '
        'chargeAmount="10.00" currency="usd" description="Order 42" '
        'validCardTypes="visa mastercard amex" language="en-US">'
        '<Prompt for="payment-card-number" errorType="invalid-card-number" cardType="visa" '
        'attempt="1 2" requireMatchingInputs="true"><Say>Please enter your card number.</Say>'
        '<Play>/beep.mp3</Play><Pause length="1"/></Prompt></Pay></Response>',
    ),
    (
        {"Refer", "ReferSip"},
        lambda: voice(
            _in(lambda r: r.refer(action="/referred", method="POST"), lambda f: f.sip("sip:b@x"))
        ),
        '<Response><Refer action="/referred" method="POST"><Sip>sip:b@x</Sip></Refer></Response>',
    ),
    (
        {"Sms"},
        lambda: voice(
            lambda r: r.sms(
                "On my way",
                to="+1555",
                from_="+1666",
                action="/a",
                method="POST",
                status_callback="/s",
            )
        ),
        '<Response><Sms to="+1555" from="+1666" action="/a" method="POST" statusCallback="/s">'
        "On my way</Sms></Response>",
    ),
    (
        {"break", "emphasis", "lang", "p", "phoneme", "prosody", "s", "say-as", "sub", "w"},
        lambda: voice(
            _in(
                lambda r: r.say("Hello, ", voice="Polly.Amy"),
                lambda say: (
                    say.break_(strength="strong", time="500ms")
                    .emphasis("really", level="strong")
                    .lang("bonjour", xml_lang="fr-FR")
                    .p("A paragraph.")
                    .phoneme("tomato", alphabet="x-sampa", ph="t@meItoU")
                    .prosody("slowly", volume="soft", rate="slow", pitch="-10%")
                    .s("A sentence.")
                    .say_as("12345", interpret_as="digits", format="")
                    .sub("W3C", alias="World Wide Web Consortium")
                    .w("read", role="amazon:VBD")
                    .add_text(" bye.")
                ),
            )
        ),
        '<Response><Say voice="Polly.Amy">Hello, <break strength="strong" time="500ms"/>'
        '<emphasis level="strong">really</emphasis><lang xml:lang="fr-FR">bonjour</lang>'
        '<p>A paragraph.</p><phoneme alphabet="x-sampa" ph="t@meItoU">tomato</phoneme>'
        '<prosody volume="soft" rate="slow" pitch="-10%">slowly</prosody><s>A sentence.</s>'
        '<say-as interpret-as="digits" format="">12345</say-as>'
        '<sub alias="World Wide Web Consortium">W3C</sub><w role="amazon:VBD">read</w> bye.'
        "</Say></Response>",
    ),
    (
        {"Message", "Body", "Media"},
        lambda: messaging(
            lambda r: (
                r.message(
                    "Thanks!",
                    to="+15551234567",
                    from_="+15550001111",
                    action="/a",
                    method="POST",
                    status_callback="/s",
                )
                .message()
                .__enter__()
                .body("See attached")
                .media("https://example.com/a.png")
            )
        ),
        '<Response><Message to="+15551234567" from="+15550001111" action="/a" method="POST" '
        'statusCallback="/s">Thanks!</Message><Message><Body>See attached</Body>'
        "<Media>https://example.com/a.png</Media></Message></Response>",
    ),
]


@pytest.mark.parametrize(("covers", "build", "expected"), CASES, ids=[min(c[0]) for c in CASES])
def test_exact_xml(covers: set[str], build: Callable[[], str], expected: str) -> None:
    document = build()
    assert document == DECLARATION + expected
    parse_twiml(document)  # and it reads back as TwiML


def test_every_element_of_the_vocabulary_has_an_exact_xml_case() -> None:
    covered = set().union(*(covers for covers, _, _ in CASES))
    assert covered | {"Redirect"} >= set(ELEMENTS), set(ELEMENTS) - covered


def test_messaging_redirect() -> None:
    assert str(MessagingResponse().redirect("/sms/next", method="POST")) == (
        DECLARATION + '<Response><Redirect method="POST">/sms/next</Redirect></Response>'
    )
