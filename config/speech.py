"""The voices and languages Twilio's ``<Say>`` takes.

The settings (``SWITCHBOARD_VOICE``, ``SWITCHBOARD_LANGUAGE``) are checked against these rules
when they are loaded, and the TwiML vocabulary (:mod:`switchboard.callbacks.twiml_vocabulary`)
checks every ``<Say voice language>`` against the same ones: a setting that loads is one every
``<Say>`` of the bundled flows can carry.
"""

from __future__ import annotations

import re
from typing import Final

#: Amazon Polly voices have names in their own languages (Polly.Céline, Polly.Vitória): any
#: letters there; the rest of a voice is ASCII.
_VOICE: Final = re.compile(
    r"man|woman|alice|polly\.[^\W\d_]+(-(?a:[a-z]+))*"
    r"|(?a:google\.[a-z]{2,3}-[a-z0-9]{2,4}(-[a-z0-9]+)+)",
    re.IGNORECASE,
)
#: The voices Twilio takes, for error messages.
VOICE_FORMS: Final = (
    "man, woman, alice, Polly.<name> (Polly.Joanna, Polly.Joanna-Neural) or "
    "Google.<language>-<model>-<name> (Google.en-US-Neural2-A)"
)

#: A BCP-47 tag's shape (``en-US``, ``cmn-Hans-CN``, ``arb``); which tags a voice or speech
#: model takes is Twilio's to say.
_LANGUAGE: Final = re.compile("[a-z]{2,3}(-[a-z0-9]{1,8})*", re.IGNORECASE | re.ASCII)
#: The languages Twilio takes, for error messages.
LANGUAGE_FORMS: Final = "a BCP-47 language tag such as en-US or fr-FR"


def is_voice(text: str) -> bool:
    """Whether ``text`` is a ``<Say>`` voice Twilio takes (any case, as Twilio reads it)."""
    return _VOICE.fullmatch(text) is not None


def is_language(text: str) -> bool:
    """Whether ``text`` is a language tag Twilio takes (ASCII letters and digits only: ``[a-z]``
    in any case must not match look-alikes such as U+212A, the Kelvin sign)."""
    return text.isascii() and _LANGUAGE.fullmatch(text) is not None
