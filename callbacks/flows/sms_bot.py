"""The bundled SMS bot, written with the public handler API only.

Keywords (the whole message, any case): HELP / INFO, HOURS, the opt-out words STOP, STOPALL,
UNSUBSCRIBE, CANCEL, END, QUIT (kept in the store per sender and number, and honoured by the
REST client's outbound sending) and the opt-in words START, YES, UNSTOP. After an opt-out the
bot answers once with a confirmation (a repeated STOP gets none), then stays silent to that
number until it opts back in (HELP is still answered, as US messaging practice expects).
Anything else gets a short help text; the caller's words are echoed only through the TwiML
builder, escaped.
"""

from __future__ import annotations

import logging

from callbacks import get_store
from callbacks.handlers import TwilioBlueprint
from callbacks.twilio_request import MessageRequest
from callbacks.twiml import MessagingResponse

log = logging.getLogger("callbacks")
bp = TwilioBlueprint("sms_bot", __name__)

OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN = frozenset({"START", "YES", "UNSTOP"})
HELP = frozenset({"HELP", "INFO"})
HOURS = frozenset({"HOURS"})
#: How much of an unknown message the bot quotes back.
ECHO_LIMIT = 40


def keyword(body: str | None) -> str:
    """The message as a keyword: trimmed, upper case, without trailing punctuation."""
    return (body or "").strip().rstrip(".!?").strip().upper()


def _reply(text: str) -> MessagingResponse:
    response = MessagingResponse()
    response.message(text)
    return response


@bp.sms("/sms")
def reply(message: MessageRequest) -> MessagingResponse | None:
    """Answer one incoming message."""
    settings = message.settings
    name = settings.business_name
    word = keyword(message.body)
    sender, number = message.from_ or "", message.to
    store = get_store()
    if (word in OPT_OUT or word in OPT_IN) and not (sender and number):
        # Twilio always sends both; without them there is no one to confirm to, and an
        # opt-out of an unknown number of ours would have to be one from all of them.
        log.warning("%s from %s to %s not recorded: the message lacks From or To",
                    word, sender or "-", number or "-")
        return None
    if word in OPT_OUT:
        everywhere = word == "STOPALL"  # every number of ours, not only this one
        if store.is_opted_out(sender, sender=number):
            if everywhere:
                store.opt_out(sender)
            return None  # confirmed once already: nothing more goes to this number
        store.opt_out(sender, sender=None if everywhere else number)
        return _reply(
            f"{name}: you are unsubscribed and will receive no more messages. "
            "Reply START to subscribe again."
        )
    if word in OPT_IN:
        store.opt_in(sender, sender=number)
        return _reply(f"{name}: you are subscribed again. Reply HELP for help, STOP to stop.")
    if word in HELP:
        return _reply(
            f"{name}: reply HOURS for our opening hours and address. "
            "Reply STOP to unsubscribe."
        )
    if sender and store.is_opted_out(sender, sender=number):
        return None
    if word in HOURS:
        return _reply(
            f"{name} is open {settings.business_hours}. "
            f"Our address is {settings.business_address}."
        )
    printable = "".join(c for c in message.body or "" if c.isprintable() or c.isspace())
    text = " ".join(printable.split())
    quoted = text if len(text) <= ECHO_LIMIT else text[: ECHO_LIMIT - 3] + "..."
    heard = f'We got "{quoted}", but this number only answers a few words. ' if quoted else ""
    return _reply(f"{name}: {heard}Reply HOURS for our opening hours, HELP for help.")
