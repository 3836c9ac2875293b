"""The bundled SMS bot: keywords, opt-out and opt-in, help text, escaping, and the quote of
an unknown message, cut between grapheme clusters."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switchboard.callbacks.flows.sms_bot import ECHO_LIMIT
from switchboard.callbacks.text import grapheme_cut, shortened
from tests.server.conftest import CALLER, NUMBER, Twilio, message_params, twiml


def texts(root: Any) -> list[str]:
    return ["".join(message.itertext()) for message in root.iter("Message")]


def send(twilio: Twilio, body: str, caller: str = CALLER, **extra: str) -> list[str]:
    return texts(twiml(twilio.post("/sms", message_params(body, From=caller, **extra))))


def test_help_and_hours(twilio: Twilio) -> None:
    (help_text,) = send(twilio, "help")
    assert "HOURS" in help_text
    assert "STOP" in help_text
    assert send(twilio, " Info ") == [help_text]
    (hours,) = send(twilio, "HOURS")
    assert "Monday to Friday, 9 AM to 5 PM" in hours
    assert "1 Main Street" in hours


def test_anything_else_gets_a_short_help_text(twilio: Twilio) -> None:
    (reply,) = send(twilio, "do you sell bicycles?")
    assert "do you sell bicycles?" in reply
    assert "HOURS" in reply
    assert len(reply) <= 160


TWILIO_OPT_OUT = ["STOP", "stopall", "Unsubscribe", "CANCEL", "end", " Quit "]
"""Twilio's opt-out keywords, as its filtering reads them (whole message, trimmed, any case)."""


@pytest.mark.parametrize("word", TWILIO_OPT_OUT)
def test_an_opt_out_keyword_is_recorded_and_left_to_twilio_to_confirm(
    twilio: Twilio, store: Any, word: str, caller: str
) -> None:
    """Twilio blocks the pair, confirms, then passes the message on: a reply from the bot
    would be refused (error 21610), so it sends none, then nothing until START."""
    assert send(twilio, word, caller) == []
    assert store.is_opted_out(caller, sender=NUMBER)
    assert send(twilio, "hello?", caller) == []
    assert send(twilio, "STOP", caller) == []
    assert send(twilio, "HOURS", caller) == []
    assert send(twilio, "HELP", caller) == []  # Twilio would refuse this answer too
    assert send(twilio, "info", caller) == []
    assert send(twilio, "start", caller) == []  # Twilio confirms the opt-in itself
    assert not store.is_opted_out(caller, sender=NUMBER)
    assert len(send(twilio, "hello?", caller)) == 1
    assert len(send(twilio, "HELP", caller)) == 1


@pytest.mark.parametrize(("word", "whence"), [
    ("STOP.", "from this number"), ("Quit!", "from this number"),
    ("stopall?", "from any of our numbers"),
])
def test_a_variant_twilio_does_not_act_on_is_honoured_and_confirmed_once(
    twilio: Twilio, store: Any, word: str, whence: str, caller: str
) -> None:
    """Twilio neither blocks nor confirms ``STOP.``: the bot's confirmation gets through."""
    (confirmation,) = send(twilio, word, caller)
    assert "you are unsubscribed" in confirmation
    assert whence in confirmation
    assert "Reply START" in confirmation
    assert store.is_opted_out(caller, sender=NUMBER)
    assert send(twilio, word, caller) == []  # once
    assert send(twilio, "hello?", caller) == []


@pytest.mark.parametrize("word", ["YES", "UNSTOP", " start "])
def test_other_opt_in_words(twilio: Twilio, store: Any, word: str, caller: str) -> None:
    send(twilio, "STOP", caller)
    assert send(twilio, word, caller) == []
    assert not store.is_opted_out(caller, sender=NUMBER)


@pytest.mark.parametrize("word", ["START!", "yes."])
def test_an_opt_in_variant_is_not_an_opt_in(
    twilio: Twilio, store: Any, word: str, caller: str
) -> None:
    """Twilio keeps its block after ``START!``: the store keeps the opt-out with it."""
    send(twilio, "STOP", caller)
    assert send(twilio, word, caller) == []
    assert store.is_opted_out(caller, sender=NUMBER)


def test_opt_out_is_per_sender_and_number(twilio: Twilio, caller: str) -> None:
    send(twilio, "STOP", caller)
    assert len(send(twilio, "hello", "+15550009999")) == 1
    assert len(send(twilio, "hello", caller, To="+15550008888")) == 1


def test_the_message_is_recorded(twilio: Twilio, store: Any) -> None:
    params = message_params(
        "hi there", NumMedia="1", MediaUrl0="https://x/1.jpg", MediaContentType0="image/jpeg"
    )
    twiml(twilio.post("/sms", params))
    row = store.get_message(params["MessageSid"])
    assert row is not None
    assert row["body"] == "hi there"


def test_caller_text_is_echoed_as_text_never_markup(shared_twilio: Twilio) -> None:
    body = '</Message><Redirect>https://evil.example</Redirect><Message>&amp; "x"'
    root = twiml(shared_twilio.post("/sms", message_params(body)))
    assert [child.tag for child in root] == ["Message"]
    assert root.find("Redirect") is None
    assert "</Message><Redirect>" in texts(root)[0]
    assert b"<Redirect>" not in shared_twilio.post("/sms", message_params(body)).data


@pytest.mark.parametrize("body", ["", "   ", "\x00\x01\x1f bell\x07", "\ud7ff\ue000\U0001f600"])
def test_odd_bodies_still_get_an_answer(shared_twilio: Twilio, body: str) -> None:
    twiml(shared_twilio.post("/sms", message_params(body)))


OTHER_NUMBER = "+14155550999"


def test_stop_opts_out_of_this_number_only_and_stopall_of_every_number(
    twilio: Twilio, store: Any, caller: str
) -> None:
    send(twilio, "STOP", caller)
    assert store.is_opted_out(caller, sender=NUMBER)
    assert not store.is_opted_out(caller, sender=OTHER_NUMBER)
    assert send(twilio, "STOPALL", caller) == []
    assert store.is_opted_out(caller, sender=OTHER_NUMBER)


def test_stopall_opts_out_of_every_number(twilio: Twilio, store: Any, caller: str) -> None:
    assert send(twilio, "STOPALL", caller) == []  # Twilio's confirmation only
    assert store.is_opted_out(caller, sender=OTHER_NUMBER)
    assert send(twilio, "HELP", caller, To=OTHER_NUMBER) == []
    assert send(twilio, "START", caller) == []
    assert not store.is_opted_out(caller, sender=OTHER_NUMBER)


@pytest.mark.parametrize("word", ["STOP", "STOPALL", "START"])
@pytest.mark.parametrize("missing", ["From", "To"])
def test_opt_out_and_in_need_both_numbers(
    twilio: Twilio, store: Any, caller: str, word: str, missing: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Without To, a STOP could only be recorded as one from every number of ours (and a
    START would lift them all); without From there is no one to confirm to. Twilio always
    sends both: such a message is logged and answered with nothing."""
    send(twilio, "STOP", caller, To=OTHER_NUMBER)
    params = message_params(word, From=caller)
    del params[missing]
    assert texts(twiml(twilio.post("/sms", params))) == []
    assert store.is_opted_out(caller, sender=OTHER_NUMBER)  # START did not lift it
    assert not store.is_opted_out(caller, sender=NUMBER)  # STOP(ALL) did not add one
    assert f"{word} from " in caplog.text
    assert "lacks From or To" in caplog.text


# -- the quote, cut between grapheme clusters ----------------------------------------------

ZWJ = "\u200d"
VS16 = "\ufe0f"  # emoji presentation
SKIN = [chr(code) for code in range(0x1F3FB, 0x1F400)]
FAMILY = "\U0001f468" + ZWJ + "\U0001f469" + ZWJ + "\U0001f467"
SCOTLAND = "\U0001f3f4" + "".join(chr(0xE0000 + ord(c)) for c in "gbsct") + "\U000e007f"
KEEP = ECHO_LIMIT - 3  # what the quote keeps of a longer message, before "..."


def _flag(country: str) -> str:
    return "".join(chr(0x1F1E6 + ord(letter) - ord("A")) for letter in country)


#: Characters that begin a cluster of their own: letters, digits, punctuation, symbols, but
#: no regional indicator, skin tone or joiner.
BASES = st.characters(categories=["Lu", "Ll", "Lo", "Nd", "Po", "Sm", "So"]).filter(
    lambda char: not 0x1F1E6 <= ord(char) <= 0x1F1FF and not 0x1F3FB <= ord(char) <= 0x1F3FF
)
MARKS = st.characters(categories=["Mn", "Me", "Mc"])
EMOJI = st.sampled_from(["\U0001f44d", "\u270c", "\U0001f469", "\u2764", "\U0001f525",
                         "\U0001f3c3"])
MODIFIED = st.tuples(EMOJI, st.sampled_from(["", VS16, *SKIN])).map("".join)
CLUSTERS = st.one_of(
    BASES,
    st.tuples(BASES, st.text(MARKS, min_size=1, max_size=3)).map("".join),
    MODIFIED,
    st.lists(MODIFIED, min_size=2, max_size=4).map(ZWJ.join),
    st.sampled_from(["FR", "DE", "JP", "US", "GB"]).map(_flag),
    st.just(SCOTLAND),
    st.sampled_from("0123456789#*").map(lambda key: key + VS16 + "\u20e3"),
)


def _longest_start(clusters: list[str], limit: int) -> str:
    """The most whole clusters, from the first, that fit in ``limit`` characters."""
    kept = ""
    for cluster in clusters:
        if len(kept) + len(cluster) > limit:
            break
        kept += cluster
    return kept


@settings(max_examples=300, deadline=None)
@given(clusters=st.lists(CLUSTERS, max_size=30), limit=st.integers(0, 60))
def test_a_cut_keeps_the_most_whole_clusters_that_fit(clusters: list[str], limit: int) -> None:
    text = "".join(clusters)
    expected = text if len(text) <= limit else _longest_start(clusters, limit)
    assert grapheme_cut(text, limit) == expected


@settings(max_examples=300, deadline=None)
@given(clusters=st.lists(CLUSTERS, max_size=30), limit=st.integers(1, 60))
def test_a_shortened_text_fits_and_ends_between_clusters(clusters: list[str], limit: int
                                                        ) -> None:
    text = "".join(clusters)
    short = shortened(text, limit)
    assert len(short) <= limit
    if len(text) <= limit:
        assert short == text
    else:
        assert short.endswith("…")
        assert short[:-1] == _longest_start(clusters, limit - 1).rstrip()


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(clusters=st.lists(CLUSTERS, min_size=1, max_size=30))
def test_the_quote_of_any_message_ends_between_clusters(
    shared_app: Flask, clusters: list[str]
) -> None:
    text = "".join(clusters)
    quoted = text if len(text) <= ECHO_LIMIT else _longest_start(clusters, KEEP) + "..."
    (reply,) = send(Twilio(shared_app.test_client()), text)
    assert f'We got "{quoted}"' in reply


@pytest.mark.parametrize(("body", "quoted"), [
    ("a" * 36 + "\U0001f44d\U0001f3fd and more", "a" * 36),  # a thumb and its skin tone
    ("a" * 33 + FAMILY + " and more", "a" * 33),  # a ZWJ sequence: the family, whole
    ("a" * 35 + "\u2764\ufe0f" + ZWJ + "\U0001f525 and more", "a" * 35),
    ("a" * 36 + _flag("FR") + " and more", "a" * 36),  # a flag's two indicators
    ("a" * 35 + _flag("FR") + _flag("DE") + " and more", "a" * 35 + _flag("FR")),
    ("a" * 36 + "\u2764\ufe0f and more", "a" * 36),  # a variation selector
    ("a" * 36 + "e\u0301t\u00e9 and more", "a" * 36),  # a combining accent
    ("a" * 35 + "1\ufe0f\u20e3 and more", "a" * 35),  # a keycap
    ("a" * 31 + SCOTLAND + " and more", "a" * 31),  # a flag's tags
    ("a" * 30 + _flag("FR") + "\U0001f44d\U0001f3fd xyz and more",
     "a" * 30 + _flag("FR") + "\U0001f44d\U0001f3fd xy"),
])
def test_the_quote_never_splits_a_cluster(
    shared_twilio: Twilio, body: str, quoted: str
) -> None:
    assert len(body) > ECHO_LIMIT
    (reply,) = send(shared_twilio, body)
    assert f'We got "{quoted}..."' in reply


PERSIAN = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0645"  # "I want", its non-joiner kept


@pytest.mark.parametrize("body", [f"hi {FAMILY}", f"go {SCOTLAND}", PERSIAN])
def test_the_quote_keeps_the_joiners_and_tags_of_a_short_message(
    shared_twilio: Twilio, body: str
) -> None:
    (reply,) = send(shared_twilio, body)
    assert f'We got "{body}"' in reply


def test_the_quote_leaves_out_bidi_controls(shared_twilio: Twilio) -> None:
    (reply,) = send(shared_twilio, "\u202eabc\u2066d\u200fe")
    assert 'We got "abcde"' in reply


@pytest.mark.parametrize("body", ["hello", "help", "STOP", ""])
def test_a_blank_sender_is_answered_as_no_sender(twilio: Twilio, body: str) -> None:
    """A signed message whose From is blank (spaces) has no one to look up opt-outs for: it
    is answered as one without a From, not with the handler's error."""
    assert send(twilio, body, caller=" ") == send(twilio, body, caller="")
