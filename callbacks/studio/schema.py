"""The structure of a Studio flow definition as a JSON schema (draft-07), written from the
properties Twilio documents for each widget of Studio's widget library.

One sub-schema per widget type (``definitions.widgets.TYPE``), selected by the state's
``type``; a widget's ``properties`` and ``transitions`` are checked there. Properties the
schema does not name (``offset``, properties Studio adds in later versions) are allowed, as
Studio exports them. Numbers and flags also take strings: Studio exports some of them as
strings (``"timeout": "3600"``, ``"play_beep": "true"``) and a Liquid template is a string.

The properties a widget reads as a whole number (``timeout``, ``number_of_digits``...) are
:func:`whole_number` schemas, which hold the smallest and the largest the widget takes: a JSON
number outside them is refused by ``minimum`` and ``maximum``, and so is a string that is a
number outside them, or no number at all, unless it holds Liquid (``{``) or is blank (the
widget's default).

The keywords starting ``x-`` are this module's own (jsonschema ignores keywords it does not
know, and :mod:`~switchboard.callbacks.studio.check` gives them their meaning):

- ``x-problem``: the one-line message for an ``anyOf`` that fails;
- ``x-number-text``: a string must be a number within ``minimum`` and ``maximum``, a Liquid
  template or blank;
- ``x-too-large``: what is wrong with a number above ``maximum``, when more can be said than
  that it is more.
"""

from __future__ import annotations

from typing import Any

SCHEMA_DRAFT = "http://json-schema.org/draft-07/schema#"

CONDITION_TYPES: tuple[str, ...] = (
    "equal_to",
    "not_equal_to",
    "matches_any_of",
    "does_not_match_any_of",
    "is_blank",
    "is_not_blank",
    "regex",
    "contains",
    "does_not_contain",
    "starts_with",
    "does_not_start_with",
    "less_than",
    "greater_than",
    "is_before_time",
    "is_after_time",
    "is_before_date",
    "is_after_date",
)
"""The predicates of a Split Based On... condition (``conditions[].type``)."""

VALUELESS_CONDITIONS = frozenset({"is_blank", "is_not_blank"})
"""The condition types that compare with no ``value``."""

LONGEST_REPLY_WAIT = 30 * 24 * 60 * 60
"""The longest ``timeout`` of a Send & Wait For Reply, in seconds: 30 days, as long as Studio
lets an execution live."""

LONGEST_REDIRECT = 4 * 60 * 60
"""The longest ``timeout`` of a TwiML Redirect, in seconds, and its default: 4 hours, as
Studio's widget documents (0 to 14400)."""

WIDGET_EVENTS: dict[str, tuple[str, ...]] = {
    "trigger": ("incomingMessage", "incomingCall", "incomingConversationMessage",
                "incomingRequest", "incomingParent"),
    "say-play": ("audioComplete",),
    "gather-input-on-call": ("keypress", "speech", "timeout"),
    "split-based-on": ("noMatch", "match"),
    "set-variables": ("next",),
    "send-message": ("sent", "failed"),
    "send-and-wait-for-reply": ("incomingMessage", "timeout", "deliveryFailure"),
    "record-voicemail": ("recordingComplete", "noAudio", "hangup"),
    "connect-call-to": ("callCompleted", "hangup"),
    "make-http-request": ("success", "failed"),
    "run-function": ("success", "fail"),
    "run-subflow": ("completed", "failed"),
    "add-twiml-redirect": ("return", "timeout", "fail"),
    "record-call": ("success", "failed"),
    "enqueue-call": ("callComplete", "failedToEnqueue", "callFailure"),
    "make-outgoing-call-v2": ("answered", "busy", "noAnswer", "failed"),
}
"""The widgets Switchboard runs, and the events each one ends with (a transition's
``event``)."""

UNSUPPORTED_WIDGETS: dict[str, str] = {
    "send-to-flex": "hands the call or message to Twilio Flex (TaskRouter)",
    "send-to-auto-pilot": "hands the conversation to an Autopilot assistant",
    "capture-payments": "collects a payment with <Pay> through a Twilio Pay connector",
    "fork-stream": "streams the call's audio with <Stream> to a media server",
    "connect-virtual-agent": "connects the call to a Dialogflow virtual agent",
    "connect-virtual-agent-v2": "connects the call to a Dialogflow CX virtual agent",
    "make-outgoing-call-v1": "places an outbound call from Twilio's side of the flow",
    "run-function-v2": "runs a Twilio Function, in a newer form Twilio's widget library does "
                       "not describe",
    "update-sync-object": "writes a Twilio Sync document, list or map",
    "create-task": "creates a TaskRouter task",
    "understand": "hands the conversation to an Autopilot assistant (Understand)",
}
"""Studio widgets Switchboard knows but cannot run on its own, and what each one needs from
Twilio: a flow that holds one loads with a warning, and an execution that reaches one fails
there (the runtime takes the widget's failure transition when it has one)."""

WIDGET_TYPES: tuple[str, ...] = (*WIDGET_EVENTS, *UNSUPPORTED_WIDGETS)

LARGEST_INTEGER = 2**31 - 1
"""The largest whole number a widget property takes (a 32-bit integer's largest)."""

STRING: dict[str, Any] = {"type": "string"}
NUMBER: dict[str, Any] = {"type": ["integer", "number", "string"]}
FLAG: dict[str, Any] = {"type": ["boolean", "string"]}
METHOD: dict[str, Any] = {"type": "string", "enum": ["GET", "POST"]}
OFFSET: dict[str, Any] = {"type": "object", "properties": {"x": NUMBER, "y": NUMBER}}
KEY_VALUES: dict[str, Any] = {
    "type": "array",
    "items": {
        "title": "key/value pair",
        "type": "object",
        "required": ["key"],
        "properties": {"key": STRING, "value": {"type": ["string", "number", "boolean"]}},
    },
}


def whole_number(minimum: int = 0, maximum: int = LARGEST_INTEGER, *,
                 too_large: str | None = None) -> dict[str, Any]:
    """A property a widget reads as a whole number from ``minimum`` to ``maximum``
    (:meth:`~switchboard.callbacks.studio.widgets.base.Visit.integer`, whose ``minimum`` this
    is): a number, a number as text, a Liquid template taken as it renders, or blank for the
    widget's default. ``too_large``: what to say of a number above ``maximum``."""
    schema: dict[str, Any] = {**NUMBER, "minimum": minimum, "maximum": maximum,
                              "x-number-text": True}
    if too_large:
        schema["x-too-large"] = too_large
    return schema


def _widget(title: str, properties: dict[str, Any], *, required: tuple[str, ...] = (),
            extra: dict[str, Any] | None = None, transitions: dict[str, Any] | None = None,
            ) -> dict[str, Any]:
    """The sub-schema of one widget type: its ``properties`` object (``properties`` named,
    ``required`` needed, ``extra`` keywords such as ``anyOf``) and, when given, the schema
    of each of its ``transitions``."""
    properties_schema: dict[str, Any] = {
        "title": title,
        "type": "object",
        "properties": {"offset": OFFSET, **properties},
    }
    if required:
        properties_schema["required"] = list(required)
    properties_schema.update(extra or {})
    schema: dict[str, Any] = {"properties": {"properties": properties_schema}}
    if transitions is not None:
        schema["properties"]["transitions"] = {"type": "array", "items": transitions}
    return schema


def _needs_one_of(*names: str) -> dict[str, Any]:
    quoted = [f"'{name}'" for name in names]
    return {
        "anyOf": [{"required": [name]} for name in names],
        "x-problem": f"needs {', '.join(quoted[:-1])} or {quoted[-1]}",
    }


CONDITION: dict[str, Any] = {
    "title": "condition",
    "type": "object",
    "required": ["type"],
    "properties": {
        "friendly_name": STRING,
        "arguments": {"type": "array", "items": STRING},
        "type": {"type": "string", "enum": list(CONDITION_TYPES)},
        "value": {"type": ["string", "number"]},
    },
    "if": {"properties": {"type": {"enum": sorted(VALUELESS_CONDITIONS)}}},
    "else": {"title": "condition", "required": ["value"]},
}

SPLIT_TRANSITION: dict[str, Any] = {
    "if": {"properties": {"event": {"const": "match"}}},
    "then": {
        "title": "match transition",
        "required": ["conditions"],
        "properties": {"conditions": {"minItems": 1}},
    },
}

WIDGET_SCHEMAS: dict[str, dict[str, Any]] = {
    "trigger": _widget("trigger widget", {}),
    "say-play": _widget(
        "say-play widget",
        {"say": STRING, "play": STRING, "digits": STRING, "voice": STRING,
         "language": STRING, "loop": NUMBER},
        extra=_needs_one_of("say", "play", "digits"),
    ),
    "gather-input-on-call": _widget(
        "gather-input-on-call widget",
        {"say": STRING, "play": STRING, "voice": STRING, "language": STRING,
         "number_of_digits": whole_number(), "finish_on_key": STRING,
         "timeout": whole_number(-LARGEST_INTEGER),
         "speech_timeout": NUMBER, "speech_model": STRING, "hints": STRING,
         "gather_language": STRING, "profanity_filter": FLAG, "loop": NUMBER,
         "stop_gather": FLAG, "input": STRING},
    ),
    "split-based-on": _widget(
        "split-based-on widget", {"input": STRING}, required=("input",),
        transitions=SPLIT_TRANSITION,
    ),
    "set-variables": _widget(
        "set-variables widget",
        {"variables": KEY_VALUES},
    ),
    "send-message": _widget(
        "send-message widget",
        {"body": STRING, "from": STRING, "to": STRING, "media_url": STRING,
         "service": STRING, "channel": STRING, "attributes": STRING},
        required=("from", "to"),
        extra={
            "if": {"properties": {"message_type": {"const": "content_template"}},
                   "required": ["message_type"]},
            "then": {"title": "send-message widget", "required": ["content_sid"]},
            "else": {"title": "send-message widget", "required": ["body"]},
        },
    ),
    "send-and-wait-for-reply": _widget(
        "send-and-wait-for-reply widget",
        {"body": STRING, "from": STRING, "media_url": STRING,
         "timeout": whole_number(1, LONGEST_REPLY_WAIT, too_large=(
             "seconds is longer than Studio waits for a reply: an execution lives 30 days "
             "at most")),
         "service": STRING, "channel": STRING, "attributes": STRING},
        required=("body", "from", "timeout"),
    ),
    "record-voicemail": _widget(
        "record-voicemail widget",
        {"timeout": whole_number(), "finish_on_key": STRING, "max_length": whole_number(1),
         "play_beep": FLAG, "trim": STRING, "transcribe": FLAG,
         "transcription_callback_url": STRING, "recording_status_callback_url": STRING},
    ),
    "connect-call-to": _widget(
        "connect-call-to widget",
        {"noun": {"type": "string",
                  "enum": ["number", "number-multi", "client", "sip", "sim", "conference"]},
         "to": STRING, "caller_id": STRING, "timeout": whole_number(1),
         "time_limit": whole_number(1),
         "record": FLAG,
         "sip_endpoint": STRING, "sip_username": STRING, "sip_password": STRING},
        required=("noun", "caller_id"),
        extra={
            "if": {"properties": {"noun": {"const": "sip"}}, "required": ["noun"]},
            "then": {"title": "connect-call-to widget", "required": ["sip_endpoint"]},
            "else": {"title": "connect-call-to widget", "required": ["to"]},
        },
    ),
    "make-http-request": _widget(
        "make-http-request widget",
        {"method": METHOD, "url": STRING, "content_type": STRING,
         "parameters": KEY_VALUES, "body": STRING},
        required=("method", "url", "content_type"),
    ),
    "run-function": _widget(
        "run-function widget",
        {"url": STRING, "service_sid": STRING, "environment_sid": STRING,
         "function_sid": STRING, "parameters": KEY_VALUES},
        required=("url",),
    ),
    "run-subflow": _widget(
        "run-subflow widget",
        {"flow_sid": STRING, "flow_revision": STRING, "parameters": KEY_VALUES},
        required=("flow_sid", "flow_revision"),
    ),
    "add-twiml-redirect": _widget(
        "add-twiml-redirect widget",
        {"url": STRING, "method": METHOD,
         "timeout": whole_number(0, LONGEST_REDIRECT, too_large=(
             "seconds is longer than Studio waits for TwiML to return (4 hours)"))},
        required=("url",),
    ),
    "record-call": _widget(
        "record-call widget",
        {"record_call": FLAG, "trim": STRING, "recording_status_callback": STRING,
         "recording_status_callback_method": METHOD,
         "recording_status_callback_events": STRING, "recording_channels": STRING},
        required=("record_call",),
    ),
    "enqueue-call": _widget(
        "enqueue-call widget",
        {"queue_name": STRING, "workflow_sid": STRING, "task_attributes": STRING,
         "priority": whole_number(), "timeout": whole_number(), "wait_url": STRING,
         "wait_url_method": METHOD},
        extra=_needs_one_of("queue_name", "workflow_sid"),
    ),
    "send-to-flex": _widget(
        "send-to-flex widget",
        {"workflow": STRING, "channel": STRING, "attributes": STRING,
         "priority": NUMBER, "timeout": NUMBER},
        required=("workflow", "channel"),
    ),
    "send-to-auto-pilot": _widget(
        "send-to-auto-pilot widget", {"autopilot_assistant_sid": STRING, "body": STRING}),
    "capture-payments": _widget(
        "capture-payments widget",
        {"payment_connector": STRING, "payment_amount": STRING, "currency": STRING}),
    "fork-stream": _widget(
        "fork-stream widget",
        {"stream_action": {"type": "string", "enum": ["start", "stop"]},
         "stream_url": STRING, "stream_name": STRING}),
    "connect-virtual-agent": _widget("connect-virtual-agent widget", {"connector": STRING}),
    "connect-virtual-agent-v2": _widget("connect-virtual-agent-v2 widget", {}),
    "make-outgoing-call-v1": _widget(
        "make-outgoing-call-v1 widget", {"from": STRING, "to": STRING}),
    "make-outgoing-call-v2": _widget(
        "make-outgoing-call-v2 widget",
        {"from": STRING, "to": STRING, "timeout": whole_number(1),
         "machine_detection_timeout": whole_number()},
        required=("from", "to")),
    "run-function-v2": _widget("run-function-v2 widget", {}),
    "update-sync-object": _widget("update-sync-object widget", {}),
    "create-task": _widget("create-task widget", {}),
    "understand": _widget("understand widget", {}),
}
"""One sub-schema per widget type: what its ``properties`` hold and which it needs."""

TRANSITION: dict[str, Any] = {
    "title": "transition",
    "type": "object",
    "required": ["event"],
    "properties": {
        "event": {"type": "string", "minLength": 1},
        "next": {"type": ["string", "null"]},
        "conditions": {"type": "array", "items": {"$ref": "#/definitions/condition"}},
    },
}

STATE: dict[str, Any] = {
    "title": "state",
    "type": "object",
    "required": ["name", "type", "properties", "transitions"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "type": {"type": "string", "enum": list(WIDGET_TYPES)},
        "properties": {"type": "object"},
        "transitions": {"type": "array", "items": {"$ref": "#/definitions/transition"}},
    },
    "allOf": [
        {"if": {"properties": {"type": {"const": kind}}, "required": ["type"]},
         "then": {"$ref": f"#/definitions/widgets/{kind}"}}
        for kind in WIDGET_TYPES
    ],
}

FLOW_SCHEMA: dict[str, Any] = {
    "$schema": SCHEMA_DRAFT,
    "title": "flow definition",
    "description": "A Twilio Studio flow definition, as Studio exports it.",
    "type": "object",
    "required": ["initial_state", "states"],
    "properties": {
        "description": STRING,
        "initial_state": {"type": "string", "minLength": 1},
        "flags": {"type": "object",
                  "properties": {"allow_concurrent_calls": {"type": "boolean"}}},
        "states": {"type": "array", "minItems": 1, "maxItems": 1000,
                   "items": {"$ref": "#/definitions/state"}},
    },
    "definitions": {
        "state": STATE,
        "transition": TRANSITION,
        "condition": CONDITION,
        "widgets": WIDGET_SCHEMAS,
    },
}
"""The whole definition: ``description``, ``flags``, ``initial_state`` and ``states``."""
