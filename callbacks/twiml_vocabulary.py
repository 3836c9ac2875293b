"""The TwiML vocabulary: every element, its attributes (Twilio's own names), the values Twilio
documents for them, and what each element may contain.

One table serves both directions: :mod:`switchboard.callbacks.twiml` builds documents from it and
:func:`switchboard.callbacks.twiml.parse_twiml` checks documents against it. To follow a new Twilio
attribute or noun, add it here; the builder, the parser and the tests pick it up.

Where Twilio documents a closed set or a numeric range for an attribute, the element's
``values`` holds it as a :class:`Values` rule; the builder refuses any other value (Twilio
would answer it with a 12200 warning, or ignore the attribute). Attributes without a rule
(URLs, SIDs, names, provider settings) take any text.

Elements are keyed by a name that is unique even where two tags share a spelling with
different rules: ``<Sip>`` inside ``<Dial>`` (``"Sip"``) takes attributes, ``<Sip>`` inside
``<Refer>`` (``"ReferSip"``) does not.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

from switchboard.config import speech

XML_NAMESPACE: Final = "http://www.w3.org/XML/1998/namespace"

#: How an element treats text content: ``"none"`` (elements only), ``"optional"``, ``"required"``.
TextRule = Literal["none", "optional", "required"]


@dataclass(frozen=True, eq=False)
class ElementSpec:
    """One TwiML element: its tag, attributes, allowed children, text rule and the values
    Twilio documents for its attributes."""

    key: str
    tag: str
    text: TextRule
    #: XML attribute names as lxml reports them (``xml:lang`` in Clark notation).
    attributes: frozenset[str]
    #: keyword argument name (snake_case, or Twilio's own name) -> XML attribute name.
    keywords: MappingProxyType[str, str]
    #: child tag -> child element; filled in once every element is defined.
    children: dict[str, ElementSpec] = field(default_factory=dict)
    #: XML attribute name -> the values Twilio documents for it (attributes with no rule
    #: take any text).
    values: dict[str, Values] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<ElementSpec {self.key} <{self.tag}>>"


#: How many accepted texts, of at most how many characters, each rule remembers.
_REMEMBERED: Final = 64
_REMEMBERED_LENGTH: Final = 80


class Values:
    """The values Twilio documents for an attribute: ``accepts(text)`` says whether ``text``
    is one, ``allowed`` says which they are, for error messages."""

    __slots__ = ("_accepted", "_test", "allowed")

    def __init__(self, allowed: str, test: Callable[[str], bool]) -> None:
        self.allowed = allowed
        self._test = test
        #: Texts accepted before (short ones, a bounded number): a handler gives the same few
        #: values over and over, and a set lookup costs less than a regular expression. Adding
        #: to and clearing a set are atomic, so threads share it safely.
        self._accepted: set[str] = set()

    def accepts(self, text: str) -> bool:
        if text in self._accepted:
            return True
        if not self._test(text):
            return False
        if len(text) <= _REMEMBERED_LENGTH and type(text) is str:
            if len(self._accepted) >= _REMEMBERED:
                self._accepted.clear()
            self._accepted.add(text)
        return True

    def __or__(self, other: Values) -> Values:
        """Either rule: ``_integer(1) | _one_of("auto")``."""
        return Values(
            f"{self.allowed}, or {other.allowed}",
            lambda text: self._test(text) or other._test(text),
        )

    def __repr__(self) -> str:
        return f"<Values {self.allowed}>"


def _one_of(choices: str) -> Values:
    """One of the space-separated ``choices`` (in any ASCII case, as Twilio reads them)."""
    lowered = frozenset(choice.lower() for choice in choices.split())
    return Values(
        ", ".join(choices.split()), lambda text: text.isascii() and text.lower() in lowered
    )


def _some_of(choices: str) -> Values:
    """One or more of the space-separated ``choices``, separated by spaces (not tabs or
    newlines, which an attribute value keeps when written as character references)."""
    lowered = frozenset(choice.lower() for choice in choices.split())
    return Values(
        "one or more of " + ", ".join(choices.split()) + " (separated by spaces)",
        lambda text: text.isascii()
        and bool(text.strip(" "))
        and lowered.issuperset(word for word in text.lower().split(" ") if word),
    )


#: A whole number in decimal digits, with a fraction of zeros allowed: ``5.0`` is what a float
#: 5.0 (or ``Decimal("5.00")``) prints, and the builder sent such values before it checked them.
_WHOLE: Final = re.compile("([0-9]{1,9})(?:\\.0+)?")


def _integer(low: int, high: int | None = None) -> Values:
    """A whole number from ``low`` to ``high`` (or no upper bound), in decimal digits (``5``,
    or ``5.0`` as a float prints it)."""
    allowed = (
        f"a whole number from {low} to {high}" if high is not None
        else f"a whole number of {low} or more"
    )
    top = high if high is not None else 10**9

    def test(text: str) -> bool:
        whole = _WHOLE.fullmatch(text)
        return whole is not None and low <= int(whole[1]) <= top

    return Values(allowed, test)


def _matching(pattern: str, allowed: str) -> Values:
    """ASCII text that ``pattern`` matches whole, in any case (``[a-z]`` in any case cannot
    match look-alikes such as U+017F, the long s, or U+212A, the Kelvin sign)."""
    compiled = re.compile(pattern, re.IGNORECASE | re.ASCII)
    return Values(allowed, lambda text: text.isascii() and compiled.fullmatch(text) is not None)


def keyword_name(attribute: str) -> str:
    """The Python keyword for a TwiML name: ``statusCallbackEvent`` -> ``status_callback_event``.

    ``from`` and ``for`` take a trailing underscore, ``xml:lang`` becomes ``xml_lang`` and
    ``interpret-as`` becomes ``interpret_as``.
    """
    name = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", attribute).lower()
    name = name.replace(":", "_").replace("-", "_")
    return name + "_" if keyword.iskeyword(name) else name


def xml_attribute(attribute: str) -> str:
    """The name lxml uses for an attribute (``xml:lang`` -> ``{...XML namespace}lang``)."""
    if attribute.startswith("xml:"):
        return f"{{{XML_NAMESPACE}}}{attribute[4:]}"
    return attribute


ELEMENTS: dict[str, ElementSpec] = {}
_CHILD_KEYS: dict[str, tuple[str, ...]] = {}


def _define(
    key: str,
    attributes: str = "",
    children: str = "",
    *,
    text: TextRule = "none",
    tag: str | None = None,
) -> None:
    names = attributes.split()
    keywords: dict[str, str] = {}
    for name in names:
        xml_name = xml_attribute(name)
        keywords[keyword_name(name)] = xml_name
        keywords[name] = xml_name
    ELEMENTS[key] = ElementSpec(
        key=key,
        tag=tag or key,
        text=text,
        attributes=frozenset(xml_attribute(name) for name in names),
        keywords=MappingProxyType(keywords),
        values={name: _METHOD for name in names if _is_http_method(name)},
    )
    _CHILD_KEYS[key] = tuple(children.split())


def _is_http_method(attribute: str) -> bool:
    """Whether ``attribute`` is the HTTP method of a URL (``method``, ``statusCallbackMethod``,
    ``waitUrlMethod``, ...; not ``<Pay paymentMethod>``), which is GET or POST."""
    return attribute == "method" or (attribute.endswith("Method") and attribute != "paymentMethod")


def _rules(keys: str, **values: Values) -> None:
    """The values Twilio documents for attributes of the elements ``keys`` (by Twilio's name)."""
    for key in keys.split():
        spec = ELEMENTS[key]
        for name, rule in values.items():
            # for_ -> for, interpret__as -> interpret-as, xml_lang -> xml:lang
            name = xml_attribute(name.replace("__", "-").replace("xml_", "xml:").rstrip("_"))
            if name not in spec.attributes:
                raise AssertionError(f"<{spec.tag}> has no attribute {name!r} to give values")
            spec.values[name] = rule


# --- attribute values shared by several elements ----------------------------------------------
_METHOD: Final = _one_of("GET POST")
_BOOLEAN: Final = _one_of("true false")
_POSITIVE: Final = _integer(1)
#: A BCP-47 tag's shape (``en-US``, ``cmn-Hans-CN``, ``arb``): the rule the
#: ``SWITCHBOARD_LANGUAGE`` setting is checked against too.
_LANGUAGE: Final = Values(speech.LANGUAGE_FORMS, speech.is_language)
#: A language for speech recognition: a tag, or ``multi`` (Deepgram's many-language model,
#: which Twilio passes on; Twilio's reference does not say whether <Gather> and
#: <Transcription> refuse it, so it is let through).
_SPEECH_LANGUAGE: Final = _LANGUAGE | _one_of("multi")
_KEYS: Final = _matching("[0-9#*]+", "one or more of the keys 0-9, # and *")
#: DTMF tones to play: digits, # and *, and w (or W) for a pause.
_TONES: Final = _matching("[0-9#*w]+", "the keys 0-9, # and *, and w for a half-second pause")
_TRIM: Final = _one_of("trim-silence do-not-trim")
_RECORDING_EVENTS: Final = _some_of("in-progress completed absent")
_CALL_EVENTS: Final = _some_of("initiated ringing answered completed")
_TRACK: Final = _one_of("inbound_track outbound_track both_tracks")
_CARD_TYPES: Final = _some_of(
    "visa mastercard amex maestro discover optima jcb diners-club enroute"
)


# --- attribute groups shared by several elements ------------------------------------------
_ACTION = "action method"
_STATUS = "statusCallback statusCallbackMethod"
_STATUS_EVENTS = "statusCallbackEvent statusCallback statusCallbackMethod"
_RECORDING_STATUS = (
    "recordingStatusCallback recordingStatusCallbackMethod recordingStatusCallbackEvent"
)
_MACHINE_DETECTION = (
    "machineDetection machineDetectionTimeout machineDetectionSpeechThreshold "
    "machineDetectionSpeechEndThreshold machineDetectionSilenceTimeout "
    "amdStatusCallback amdStatusCallbackMethod"
)
_AI_SESSION = (
    "language ttsLanguage transcriptionLanguage ttsProvider voice transcriptionProvider "
    "speechModel profanityFilter dtmfDetection welcomeGreeting partialPrompts "
    "welcomeGreetingInterruptible interruptible preemptible hints intelligenceService "
    "reportInputDuringAgentSpeech elevenlabsTextNormalization interruptSensitivity debug"
)
_SSML_INLINE = "break emphasis lang phoneme prosody say-as sub w"
_SSML_ALL = "break emphasis lang p phoneme prosody s say-as sub w"
_MEDIA_STREAMS = "Stream Siprec Transcription Recording"

# --- the two documents ----------------------------------------------------------------------
_define(
    "VoiceResponse",
    children="Connect Dial Echo Enqueue Gather Hangup Leave Pause Pay Play Record Redirect "
    "Refer Reject Say Sms Start Stop",
    tag="Response",
)
_define("MessagingResponse", children="Message Redirect", tag="Response")

# --- voice verbs ------------------------------------------------------------------------------
_define("Say", "voice loop language", _SSML_ALL, text="optional")
_define("Play", "loop digits", text="optional")
_define("Pause", "length")
_define(
    "Gather",
    "input action method timeout speechTimeout maxSpeechTime profanityFilter finishOnKey "
    "numDigits partialResultCallback partialResultCallbackMethod language hints bargeIn debug "
    "actionOnEmptyResult speechModel enhanced",
    "Say Play Pause",
)
_define(
    "Record",
    f"{_ACTION} timeout finishOnKey maxLength playBeep trim {_RECORDING_STATUS} "
    "transcribe transcribeCallback",
)
_define(
    "Dial",
    f"{_ACTION} timeout hangupOnStar timeLimit callerId record trim {_RECORDING_STATUS} "
    "answerOnBridge ringTone recordingTrack sequential referUrl referMethod events",
    "Number Client Conference Queue Sip Sim Application",
    text="optional",
)
_define("Redirect", "method", text="required")
_define("Hangup", children="Parameter")
_define("Reject", "reason", "Parameter")
_define(
    "Enqueue",
    "action maxQueueSize method waitUrl waitUrlMethod workflowSid",
    "Task",
    text="optional",
)
_define("Leave")
_define("Connect", _ACTION, "Stream Room Conversation ConversationRelay VirtualAgent Assistant")
_define("Start", _ACTION, _MEDIA_STREAMS)
_define("Stop", children=_MEDIA_STREAMS)
_define(
    "Pay",
    f"input action bankAccountType {_STATUS} timeout maxAttempts securityCode postalCode "
    "minPostalCodeLength paymentConnector paymentMethod tokenType chargeAmount currency "
    "description validCardTypes language",
    "Prompt Parameter",
)
_define("Refer", _ACTION, "ReferSip")
_define("Sms", f"to from {_ACTION} statusCallback", text="required")
_define("Echo")

# --- nouns of <Dial> --------------------------------------------------------------------------
_define(
    "Number",
    f"sendDigits url method {_STATUS_EVENTS} byoc {_MACHINE_DETECTION}",
    text="required",
)
_define("Client", f"url method {_STATUS_EVENTS}", "Identity Parameter", text="optional")
_define("Identity", text="required")
_define(
    "Conference",
    "muted beep startConferenceOnEnter endConferenceOnExit waitUrl waitMethod maxParticipants "
    f"record region coach trim {_STATUS_EVENTS} {_RECORDING_STATUS} eventCallbackUrl "
    "jitterBufferSize participantLabel",
    text="required",
)
_define("Queue", "url method reservationSid postWorkActivitySid", text="required")
_define(
    "Sip",
    f"username password url method {_STATUS_EVENTS} {_MACHINE_DETECTION}",
    text="required",
)
_define("Sim", text="required")
_define(
    "Application",
    f"url method {_STATUS_EVENTS} customerId copyParentTo",
    "ApplicationSid Parameter",
    text="optional",
)
_define("ApplicationSid", text="required")
_define("Parameter", "name value")

# --- other nouns --------------------------------------------------------------------------------
_define("Task", "priority timeout", text="required")
_define("Stream", f"name connectorName url track {_STATUS}", "Parameter")
_define("Siprec", f"name connectorName track {_STATUS}", "Parameter")
_define(
    "Transcription",
    "name track statusCallbackUrl statusCallbackMethod inboundTrackLabel outboundTrackLabel "
    "partialResults languageCode transcriptionEngine profanityFilter speechModel hints "
    "enableAutomaticPunctuation intelligenceService enableProviderData "
    "conversationConfiguration conversationId",
    "Config Parameter",
)
_define("Recording", f"name {_RECORDING_STATUS} trim track channels")
_define("Room", "participantIdentity", text="required")
_define(
    "Conversation",
    "serviceInstanceSid inboundAutocreation routingAssignmentTimeout inboundTimeout url method "
    f"record trim {_RECORDING_STATUS} {_STATUS_EVENTS}",
)
_define("ConversationRelay", f"url {_AI_SESSION}", "Language Parameter")
_define("Assistant", f"id {_AI_SESSION}", "Language Parameter")
_define("Language", "code ttsProvider voice transcriptionProvider speechModel")
_define(
    "VirtualAgent",
    f"connectorName language sentimentAnalysis {_STATUS}",
    "Config Parameter",
)
_define("Config", "name value")
_define("Prompt", "for errorType cardType attempt requireMatchingInputs", "Say Play Pause")
_define("ReferSip", text="required", tag="Sip")

# --- SSML inside <Say> --------------------------------------------------------------------------
_define("break", "strength time")
_define("emphasis", "level", _SSML_INLINE, text="optional")
_define("lang", "xml:lang", _SSML_ALL, text="optional")
_define("p", "", "break emphasis lang phoneme prosody s say-as sub w", text="optional")
_define("phoneme", "alphabet ph", text="required")
_define("prosody", "volume rate pitch", _SSML_ALL, text="optional")
_define("s", "", _SSML_INLINE, text="optional")
_define("say-as", "interpret-as format", text="required")
_define("sub", "alias", text="required")
_define("w", "role", "break emphasis phoneme prosody say-as sub", text="optional")

# --- messaging -------------------------------------------------------------------------------
_define("Message", f"to from {_ACTION} statusCallback", "Body Media", text="optional")
_define("Body", text="required")
_define("Media", text="required")

# --- the values Twilio documents ------------------------------------------------------------------
# (every method and ...Method attribute takes GET or POST: see _define)
#: The voices, as the ``SWITCHBOARD_VOICE`` setting is checked (Polly's names in any letters).
_rules("Say", voice=Values(speech.VOICE_FORMS, speech.is_voice), loop=_integer(0),
       language=_LANGUAGE)
_rules("Play", loop=_integer(0), digits=_TONES)
_rules("Pause", length=_POSITIVE)
_rules(
    "Gather",
    input=_some_of("dtmf speech"),
    timeout=_POSITIVE,
    speechTimeout=_POSITIVE | _one_of("auto"),
    maxSpeechTime=_POSITIVE,
    profanityFilter=_BOOLEAN,
    finishOnKey=_matching("[0-9#*]?", "one of the keys 0-9, # and *, or '' for none"),
    numDigits=_POSITIVE,
    language=_SPEECH_LANGUAGE,
    bargeIn=_BOOLEAN,
    debug=_BOOLEAN,
    actionOnEmptyResult=_BOOLEAN,
    enhanced=_BOOLEAN,
)
_rules(
    "Record",
    timeout=_integer(0),
    finishOnKey=_KEYS,
    maxLength=_integer(2, 86400),
    playBeep=_BOOLEAN,
    trim=_TRIM,
    recordingStatusCallbackEvent=_RECORDING_EVENTS,
    transcribe=_BOOLEAN,
)
_rules(
    "Dial",
    timeout=_POSITIVE,
    hangupOnStar=_BOOLEAN,
    timeLimit=_POSITIVE,
    record=_one_of(
        "do-not-record record-from-answer record-from-ringing record-from-answer-dual "
        "record-from-ringing-dual true false"
    ),
    trim=_TRIM,
    recordingStatusCallbackEvent=_RECORDING_EVENTS,
    answerOnBridge=_BOOLEAN,
    ringTone=_one_of(
        "at au bg br be ch cl cn cz de dk ee es fi fr gr hu il in it lt jp mx my nl no nz ph "
        "pl pt ru se sg th uk us us-old tw ve za"
    ),
    recordingTrack=_one_of("both inbound outbound"),
    sequential=_BOOLEAN,
)
_rules("Number Client Sip Application", statusCallbackEvent=_CALL_EVENTS)
_rules(
    "Number Sip",
    machineDetection=_one_of("Enable DetectMessageEnd"),
    machineDetectionTimeout=_integer(3, 60),
    machineDetectionSpeechThreshold=_integer(1000, 6000),
    machineDetectionSpeechEndThreshold=_integer(500, 5000),
    machineDetectionSilenceTimeout=_integer(2000, 10000),
)
_rules("Number", sendDigits=_TONES)
_rules(
    "Conference",
    muted=_BOOLEAN,
    beep=_one_of("true false onEnter onExit"),
    startConferenceOnEnter=_BOOLEAN,
    endConferenceOnExit=_BOOLEAN,
    maxParticipants=_integer(1, 250),  # "positive integer <= 250"
    record=_one_of("do-not-record record-from-start"),
    region=_one_of("us1 us2 ie1 de1 sg1 br1 au1 jp1 in1"),
    trim=_TRIM,
    statusCallbackEvent=_some_of("start end join leave mute hold modify speaker announcement"),
    recordingStatusCallbackEvent=_RECORDING_EVENTS,
    jitterBufferSize=_one_of("large medium small off"),
)
_rules("Reject", reason=_one_of("rejected busy"))
_rules("Task", priority=_integer(0), timeout=_POSITIVE)
_rules("Stream Siprec Transcription", track=_TRACK)
_rules(
    "Transcription",
    partialResults=_BOOLEAN,
    profanityFilter=_BOOLEAN,
    enableAutomaticPunctuation=_BOOLEAN,
    languageCode=_SPEECH_LANGUAGE,
)
_rules(
    "Recording",
    trim=_TRIM,
    recordingStatusCallbackEvent=_RECORDING_EVENTS,
    channels=_one_of("mono dual"),
    track=_one_of("inbound outbound both"),
)
_rules(
    "Pay",
    input=_one_of("dtmf"),
    bankAccountType=_one_of(
        "consumer-checking consumer-savings commercial-checking commercial-savings"
    ),
    timeout=_POSITIVE,
    maxAttempts=_integer(1, 3),
    securityCode=_BOOLEAN,
    minPostalCodeLength=_integer(0),
    paymentMethod=_one_of("credit-card ach-debit"),
    tokenType=_one_of("one-time reusable payment-method"),
    # space-separated in Twilio's <Pay> reference, "comma separated" in its helper
    # libraries' description: either is taken
    validCardTypes=_matching(
        "(visa|mastercard|amex|maestro|discover|optima|jcb|diners-club|enroute)"
        "([ ,]+(visa|mastercard|amex|maestro|discover|optima|jcb|diners-club|enroute))*[ ,]*",
        "one or more of visa, mastercard, amex, maestro, discover, optima, jcb, diners-club, "
        "enroute (separated by spaces or commas)",
    ),
    language=_LANGUAGE,
)
_rules(
    "Prompt",
    for_=_one_of(
        "payment-card-number expiration-date security-code postal-code payment-processing "
        "bank-account-number bank-routing-number"
    ),
    errorType=_some_of(
        "timeout invalid-card-number invalid-card-type invalid-date invalid-security-code "
        "invalid-postal-code invalid-bank-routing-number invalid-bank-account-number "
        "input-matching-failed internal-error"
    ),
    cardType=_CARD_TYPES,
    attempt=_matching("[0-9]+( +[0-9]+)*", "attempt numbers separated by spaces (1 2 3)"),
    requireMatchingInputs=_BOOLEAN,
)
_rules("break", strength=_one_of("none x-weak weak medium strong x-strong"), time=_matching(
    "[0-9]+(\\.[0-9]+)?(ms|s)", "a duration in s or ms (2s, 500ms)"
))
# Polly's values, and Google's (none; currency, verbatim, bleep) for the Google.* voices
_rules("emphasis", level=_one_of("strong moderate reduced none"))
_rules("lang", xml_lang=_LANGUAGE)
_rules(
    "phoneme",
    alphabet=_one_of(
        "ipa x-sampa x-amazon-jyutping x-amazon-pinyin x-amazon-pron-kana x-amazon-yomigana"
    ),
)
_rules(
    "prosody",
    volume=_one_of("default silent x-soft soft medium loud x-loud")
    | _matching("[+-][0-9]+(\\.[0-9]+)?dB", "+ndB or -ndB (+6dB)"),
    rate=_one_of("default x-slow slow medium fast x-fast") | _matching("[0-9]+%", "n% (80%)"),
    # semitones (-2st) are Google's, for the Google.* voices
    pitch=_one_of("default x-low low medium high x-high")
    | _matching("[+-]?[0-9]+(\\.[0-9]+)?(%|st)", "+n% or -n% (+10%), +nst or -nst (-2st)"),
)
_rules(
    "say-as",
    interpret__as=_one_of(
        "character characters spell-out cardinal number ordinal digits fraction unit date "
        "time address expletive interjection telephone currency verbatim bleep"
    ),
)

for _key, _child_keys in _CHILD_KEYS.items():
    _children = ELEMENTS[_key].children
    for _child_key in _child_keys:
        _child = ELEMENTS[_child_key]
        _children[_child.tag] = _child
del _key, _child_keys, _children, _child_key, _child

VOICE_RESPONSE: Final = ELEMENTS["VoiceResponse"]
MESSAGING_RESPONSE: Final = ELEMENTS["MessagingResponse"]

#: Attributes that carry a secret (``<Sip password>``): errors never show their values.
SECRET_ATTRIBUTES: Final = frozenset({"password"})

#: The verbs after which Twilio runs nothing more of a document: it ends the call
#: (``<Hangup>``, ``<Reject>``) or fetches other TwiML in its place (``<Redirect>``), so a
#: verb after one is never run, and the builder refuses to add it.
ENDING_VERBS: Final = MappingProxyType({
    VOICE_RESPONSE: frozenset({"Hangup", "Reject", "Redirect"}),
    MESSAGING_RESPONSE: frozenset({"Redirect"}),
})


def method_name(tag: str) -> str:
    """The builder method that adds ``tag``: ``ConversationRelay`` -> ``conversation_relay``.

    ``break`` is a Python keyword, so its method is ``break_``.
    """
    return keyword_name(tag)


#: Every builder method name that adds a child, for clear errors on a wrong parent.
CHILD_METHODS: Final = frozenset(
    method_name(child.tag) for element in ELEMENTS.values() for child in element.children.values()
)
