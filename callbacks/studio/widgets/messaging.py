"""Message widgets: Send Message and Send & Wait For Reply.

In the answer to an incoming message, a message to the contact from the flow's number is a
``<Message>`` of the TwiML. Anything else (another recipient, another sender, a Messaging
Service, a message during a call, or no webhook to answer: a timer moved the execution) goes
through the REST API with :meth:`switchboard.api.TwilioClient.from_settings`'s account; without
one configured, the widget takes its failure transition and the reason is logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from switchboard.callbacks.studio.schema import LONGEST_REPLY_WAIT
from switchboard.callbacks.studio.widgets.base import (
    MESSAGING,
    Immediate,
    Reply,
    Transition,
    Visit,
    Wait,
    WidgetError,
    log,
)

#: Seconds Send & Wait For Reply waits when its ``timeout`` is not given (Studio's default).
DEFAULT_REPLY_TIMEOUT = 3600
#: The REST API's send waits at most this long (less when the webhook's deadline is nearer).
SEND_TIMEOUT = 5.0
#: A status callback with one of these means the message will not arrive.
UNDELIVERED = frozenset({"failed", "undelivered"})


def _media(visit: Visit) -> list[str]:
    raw = visit.properties.get("media_url")
    if not raw:
        return []
    rendered = visit.render(raw)
    items = rendered if isinstance(rendered, list) else str(rendered).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def _message(visit: Visit) -> tuple[str, list[str], str, str]:
    body, media = visit.text("body"), _media(visit)
    if not body and not media:
        raise WidgetError("the message has no body and no media_url")
    to = visit.text("to", visit.contact)
    from_ = visit.text("from", visit.channel_address)
    if not to or not from_:
        raise WidgetError("no recipient or no sender for the message (to, from)")
    return body, media, to, from_


def _replyable(visit: Visit, to: str, from_: str) -> bool:
    """Whether the message can be a ``<Message>`` of this webhook's answer."""
    return (visit.output.takes_replies and to == visit.contact
            and not from_.startswith("MG"))


def send_rest(
    visit: Visit, body: str, media: list[str], to: str, from_: str,
    status_callback: str | None = None,
) -> str | None:
    """Send through the REST API; None when sent, else the reason (also logged)."""
    client = visit.rest_client()
    if client is None:
        reason = ("no Twilio account is configured (TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN) "
                  f"to send a message to {to} through the REST API")
        log.error("flow %s, widget %s: %s", visit.flow.name, visit.name, reason)
        return reason
    sender: dict[str, Any] = (
        {"messaging_service_sid": from_} if from_.startswith("MG") else {"from_": from_}
    )
    timeout = min(SEND_TIMEOUT, visit.remaining() - 0.5)
    try:
        if timeout <= 0.2:
            raise TimeoutError("no time left before the webhook's deadline")
        with client:
            client.timeout = (min(timeout, 3.0), timeout)
            client.messages.create(
                to, body=body or None, media_url=media or None, status_callback=status_callback,
                **sender,
            )
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"
        log.error("flow %s, widget %s: the message to %s was not sent: %s",
                  visit.flow.name, visit.name, to, reason)
        return reason
    return None


class SendMessage(Immediate):
    """``body`` and ``media_url`` to ``to`` (default: the contact) from ``from`` (default: the
    flow's number). ``sent`` once Twilio has it, ``failed`` when it could not be sent."""

    def run(self, visit: Visit) -> Transition:
        body, media, to, from_ = _message(visit)
        if _replyable(visit, to, from_):
            differs = from_ != visit.channel_address
            visit.output.replies.append(Reply(body, media, from_=from_ if differs else None))
            return Transition("sent")
        problem = send_rest(visit, body, media, to, from_)
        if problem:
            return Transition("failed", {"error": problem})
        return Transition("sent")


class SendAndWaitForReply:
    """Send ``body`` to the contact and wait for the next message from them, ``timeout``
    seconds at most (default an hour, 30 days the longest): ``incomingMessage`` with the
    reply's fields as ``widgets.NAME.inbound`` (``inbound.Body``...), ``timeout``, or
    ``deliveryFailure`` when Twilio reports the question failed or undelivered."""

    def run(self, visit: Visit) -> Wait | Transition:
        if visit.channel != MESSAGING:
            log.warning("flow %s, widget %s: Send & Wait For Reply needs a conversation, not "
                        "a call: taking 'deliveryFailure'", visit.flow.name, visit.name)
            return Transition("deliveryFailure", {"error": "not a conversation"})
        body, media, _to, from_ = _message_to_contact(visit)
        timeout = visit.integer("timeout", DEFAULT_REPLY_TIMEOUT, minimum=1)
        if timeout is not None and timeout > LONGEST_REPLY_WAIT:
            raise WidgetError(f"timeout is {timeout} seconds; Studio waits {LONGEST_REPLY_WAIT} "
                              "(30 days, as long as an execution lives) at most")
        callback = visit.links.message_status(visit.execution_sid, visit.name)
        if _replyable(visit, visit.contact, from_):
            differs = from_ != visit.channel_address
            visit.output.replies.append(
                Reply(body, media, from_=from_ if differs else None, status_callback=callback)
            )
        else:
            problem = send_rest(visit, body, media, visit.contact, from_, callback)
            if problem:
                return Transition("deliveryFailure", {"error": problem})
        return Wait("reply", timeout=float(timeout or DEFAULT_REPLY_TIMEOUT))

    def resume(self, visit: Visit, source: str, params: Mapping[str, str]) -> Transition:
        if source == "timeout":
            return Transition("timeout")
        if source == "deliveryFailure":
            status = {key: params[key] for key in ("MessageSid", "MessageStatus", "ErrorCode")
                      if params.get(key)}
            return Transition("deliveryFailure", {"outbound": status})
        if source != "reply":
            raise WidgetError(f"Send & Wait For Reply does not come back as {source!r}")
        inbound = dict(params)
        return Transition("incomingMessage", {"inbound": inbound, "incoming": inbound})


def _message_to_contact(visit: Visit) -> tuple[str, list[str], str, str]:
    body, media = visit.text("body"), _media(visit)
    if not body and not media:
        raise WidgetError("the message has no body and no media_url")
    from_ = visit.text("from", visit.channel_address)
    if not from_:
        raise WidgetError("no sender for the message (from)")
    return body, media, visit.contact, from_
