"""The bundled SMS bot, written with the public handler API only.

Keywords (the whole message, any case): HELP / INFO, HOURS, the opt-out words STOP, STOPALL,
UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT (kept in the store per sender and number,
STOPALL for every number of ours, and honoured by the REST client's outbound sending) and the
opt-in words START, YES, UNSTOP.

The bot leaves to Twilio what Twilio does by default on a long code or toll-free number, and
never sends what Twilio would block:

- An opt-out keyword, exactly (``stop``, `` Stop ``): Twilio blocks the number pair, sends
  its own confirmation, then passes the message on; any reply to it would be refused (error
  21610). The bot records the opt-out and answers nothing. A variant Twilio does not act on
  (``Stop!``) is honoured too, and confirmed once by the bot, since Twilio sends nothing
  (again to Twilio's retry of that message: the opt-out keeps its idempotency token).
- An opt-in keyword, exactly: Twilio lifts its block and confirms; the bot records the opt-in
  and answers nothing. Variants are not opt-ins (Twilio's block would stay).
- HELP / INFO: the bot's help text, unless the sender opted out of this number: Twilio would
  refuse that reply, as it refuses everything to them until they opt back in.

Anything else gets a short help text (nothing once opted out) that quotes the start of the
message, cut between two grapheme clusters (:func:`grapheme_cut`); the caller's words are
echoed only through the TwiML builder, escaped.
"""

from __future__ import annotations

import logging

from switchboard.callbacks import get_store
from switchboard.callbacks.handlers import TwilioBlueprint
from switchboard.callbacks.store import Store, StoreUnavailable
from switchboard.callbacks.text import JOINERS, TAGS, grapheme_cut
from switchboard.callbacks.twilio_request import MessageRequest
from switchboard.callbacks.twiml import MessagingResponse

log = logging.getLogger("switchboard.callbacks")
bp = TwilioBlueprint("sms_bot", __name__)

#: Twilio's default opt-out keywords on a long code or toll-free number.
OPT_OUT = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
OPT_IN = frozenset({"START", "YES", "UNSTOP"})
HELP = frozenset({"HELP", "INFO"})
HOURS = frozenset({"HOURS"})
#: How much of an unknown message the bot quotes back, in characters (code points).
ECHO_LIMIT = 40

def _kept(char: str) -> bool:
    """Whether the bot's quote keeps ``char``: what prints, spaces, the joiners and tags
    (no control, bidi control or other invisible format character)."""
    return char.isprintable() or char.isspace() or char in JOINERS or ord(char) in TAGS


def keyword(body: str | None) -> str:
    """The message as a keyword: trimmed, upper case, without trailing punctuation."""
    return (body or "").strip().rstrip(".!?").strip().upper()


def twilio_keyword(body: str | None) -> str:
    """The message as Twilio's opt-out filtering reads it: trimmed, upper case, nothing more
    (``STOP PLEASE`` and ``Stop!`` are not keywords to Twilio)."""
    return (body or "").strip().upper()


def _reply(text: str) -> MessagingResponse:
    response = MessagingResponse()
    response.message(text)
    return response


def _opted_out(store: Store, sender: str, number: str | None, *, answerable: bool) -> bool:
    """Whether ``sender`` opted out of ``number``. For HELP (``answerable``) a database that
    cannot say counts as "no": Twilio still refuses the reply if they did, and the help text
    is what a caller should get while the database is down."""
    try:
        return store.is_opted_out(sender, sender=number)
    except StoreUnavailable:
        if not answerable:
            raise
        log.warning("HELP from %s answered without its opt-out checked: the database is "
                    "unavailable", sender)
        return False


@bp.sms("/sms")
def reply(message: MessageRequest) -> MessagingResponse | None:
    """Answer one incoming message."""
    settings = message.settings
    name = settings.business_name
    word = keyword(message.body)
    sender, number = (message.from_ or "").strip(), message.to  # a blank From is none
    store = get_store()
    exact = twilio_keyword(message.body)
    if exact in OPT_IN:
        word = exact
    elif word in OPT_IN:
        word = ""  # "start!": Twilio keeps its block, so neither is it an opt-in here
    if (word in OPT_OUT or word in OPT_IN) and not (sender and number):
        # Twilio always sends both; without them there is no one to confirm to, and an
        # opt-out of an unknown number of ours would have to be one from all of them.
        log.warning("%s from %s to %s not recorded: the message lacks From or To",
                    word, sender or "-", number or "-")
        return None
    if word in OPT_OUT:
        everywhere = word == "STOPALL"  # every number of ours, not only this one
        token = message.retry_key
        # opted out already by another message: Twilio's retry of the message that opted
        # out finds its own opt-out, and is answered as its first attempt was
        already = any(not token or found.token != token
                      for found in store.opt_outs_of(sender, sender=number))
        if not already or everywhere:
            store.opt_out(sender, sender=None if everywhere else number, token=token)
        if already or exact in OPT_OUT:
            return None  # Twilio confirmed (and would refuse ours), or the bot did already
        whence = "any of our numbers" if everywhere else "this number"
        return _reply(
            f"{name}: you are unsubscribed and will receive no more messages from {whence}. "
            "Reply START to subscribe again."
        )
    if word in OPT_IN:
        store.opt_in(sender, sender=number)
        return None  # Twilio has lifted its block and confirmed
    if sender and _opted_out(store, sender, number, answerable=word in HELP):
        return None  # Twilio refuses every message to them, HELP's answer too
    if word in HELP:
        return _reply(
            f"{name}: reply HOURS for our opening hours and address. "
            "Reply STOP to unsubscribe."
        )
    if word in HOURS:
        return _reply(
            f"{name} is open {settings.business_hours}. "
            f"Our address is {settings.business_address}."
        )
    kept = "".join(char for char in message.body or "" if _kept(char))
    text = " ".join(kept.split())
    quoted = text if len(text) <= ECHO_LIMIT else grapheme_cut(text, ECHO_LIMIT - 3) + "..."
    heard = f'We got "{quoted}", but this number only answers a few words. ' if quoted else ""
    return _reply(f"{name}: {heard}Reply HOURS for our opening hours, HELP for help.")
