"""The TwiML vocabulary: every element, its attributes (Twilio's own names) and what it may contain.

One table serves both directions: :mod:`callbacks.twiml` builds documents from it and
:func:`callbacks.twiml.parse_twiml` checks documents against it. To follow a new Twilio
attribute or noun, add it here; the builder, the parser and the tests pick it up.

Elements are keyed by a name that is unique even where two tags share a spelling with
different rules: ``<Sip>`` inside ``<Dial>`` (``"Sip"``) takes attributes, ``<Sip>`` inside
``<Refer>`` (``"ReferSip"``) does not.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

XML_NAMESPACE: Final = "http://www.w3.org/XML/1998/namespace"

#: How an element treats text content: ``"none"`` (elements only), ``"optional"``, ``"required"``.
TextRule = Literal["none", "optional", "required"]


@dataclass(frozen=True, eq=False)
class ElementSpec:
    """One TwiML element: its tag, attributes, allowed children and text rule."""

    key: str
    tag: str
    text: TextRule
    #: XML attribute names as lxml reports them (``xml:lang`` in Clark notation).
    attributes: frozenset[str]
    #: keyword argument name (snake_case, or Twilio's own name) -> XML attribute name.
    keywords: MappingProxyType[str, str]
    #: child tag -> child element; filled in once every element is defined.
    children: dict[str, ElementSpec] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<ElementSpec {self.key} <{self.tag}>>"


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
    )
    _CHILD_KEYS[key] = tuple(children.split())


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
_define("Recording", f"{_RECORDING_STATUS} trim track channels")
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

for _key, _child_keys in _CHILD_KEYS.items():
    _children = ELEMENTS[_key].children
    for _child_key in _child_keys:
        _child = ELEMENTS[_child_key]
        _children[_child.tag] = _child
del _key, _child_keys, _children, _child_key, _child

VOICE_RESPONSE: Final = ELEMENTS["VoiceResponse"]
MESSAGING_RESPONSE: Final = ELEMENTS["MessagingResponse"]


def method_name(tag: str) -> str:
    """The builder method that adds ``tag``: ``ConversationRelay`` -> ``conversation_relay``.

    ``break`` is a Python keyword, so its method is ``break_``.
    """
    return keyword_name(tag)


#: Every builder method name that adds a child, for clear errors on a wrong parent.
CHILD_METHODS: Final = frozenset(
    method_name(child.tag) for element in ELEMENTS.values() for child in element.children.values()
)
