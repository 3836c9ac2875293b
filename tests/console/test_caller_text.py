"""Numbers and texts from callers on the console's pages: each in an element of its own
(``<bdi>``, or one the stylesheet isolates), so that a bidi control in it (U+202E, right-to-left
override, and the like) turns nothing around it, and a long word wraps instead of widening the
page. A line the console writes around such values (a timeline's title, an answer's verb, an
error message) isolates each value on its own, in the markup and in a real browser, where the
console's words keep their order; and a contact whose path a browser would rewrite opens its
conversation, in a real browser too."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from switchboard.callbacks.console.answers import verbs
from switchboard.callbacks.console.lines import Line, Value, isolated_text, plain
from tests.conftest import serving
from tests.console.browser import browser_context
from tests.console.conftest import (
    ACCOUNT_SID,
    CALLER,
    NUMBER,
    PASSWORD,
    TOKEN,
    add_call,
    add_message,
)
from tests.server.conftest import Twilio

OVERRIDE = "\u202e+15555550123"  # shown right to left until its element ends
LEG = "\u202e+15557770000"
SAID = "\u202eopening hours"


def test_a_caller_s_number_is_isolated_on_every_page_that_shows_it(
    client: FlaskClient, store: Any
) -> None:
    call_sid = add_call(store, status="failed", from_=OVERRIDE)
    add_message(store, "\u202eyas", from_=OVERRIDE)
    isolated = f"<bdi>{OVERRIDE}</bdi>"
    for path in ("/console/", f"/console/calls/{call_sid}",
                 "/console/conversations", f"/console/conversations/{OVERRIDE}"):
        page = client.get(path).text
        assert isolated in page, path
        assert re.search(rf"(?<!<bdi>){re.escape(OVERRIDE)}(?!</bdi>)", _without_links(page)) \
            is None, path
    assert "<bdi>\u202eyas</bdi>" in client.get("/console/conversations").text
    overview = client.get("/console/overview.json").get_json()
    assert isolated in overview["sections"]["failures"]
    assert isolated in overview["sections"]["recent-calls"]
    assert f"<bdi>{NUMBER}</bdi>" in client.get(f"/console/calls/{call_sid}").text


def _without_links(page: str) -> str:
    """The page without what holds the number other than as text beside other text: a
    link's address, a form's field, the title (isolated with U+2068 and U+2069)."""
    page = re.sub(r"<(a|form|input|time)\b[^>]*>", "<\\1>", page)
    return re.sub(r"<title>.*?</title>", "", page, flags=re.S)


# -- lines the console writes around values ------------------------------------------------


def _call_with_overrides(app: Flask, store: Any) -> str:
    """A call from :data:`OVERRIDE` that dialled :data:`LEG` (busy), whose caller said
    :data:`SAID` at the menu, and whose leg's webhook came in: four titles with an override
    in one of their values, followed by the console's words."""
    call_sid = "CA" + "0" * 32
    twilio = Twilio(app.test_client(), token=TOKEN)
    call = {"CallSid": call_sid, "AccountSid": ACCOUNT_SID, "From": OVERRIDE, "To": NUMBER,
            "CallStatus": "ringing", "Direction": "inbound"}
    twilio.post("/voice", call)
    twilio.post("/voice/menu", {**call, "CallStatus": "in-progress", "SpeechResult": SAID})
    leg = {"CallSid": "CA" + "1" * 32, "ParentCallSid": call_sid, "AccountSid": ACCOUNT_SID,
           "From": NUMBER, "To": LEG, "CallStatus": "busy", "Direction": "outbound-dial"}
    store.record_call(leg)
    twilio.post("/voice/voicemail", {**leg, "CallStatus": "in-progress"})
    return call_sid


#: Each title (as text) of :func:`_call_with_overrides`'s timeline that holds an override.
TITLES = [
    f"Inbound call from {OVERRIDE} to {NUMBER}",
    f'Webhook /voice/menu · said "{SAID}"',
    f"Dialled {LEG}: busy",
    f"Leg to {LEG}: Webhook /voice/voicemail",
]


def _titles(page: str) -> list[str]:
    return re.findall(r'<div class="what">\s*<strong>(.*?)</strong>', page, flags=re.S)


def test_each_value_in_a_timeline_title_is_isolated_on_its_own(
    app: Flask, client: FlaskClient, store: Any
) -> None:
    call_sid = _call_with_overrides(app, store)
    titles = _titles(client.get(f"/console/calls/{call_sid}").text)
    shown = [html.unescape(re.sub(r"<a\b[^>]*>|</a>", "", title)) for title in titles]
    for title in TITLES:
        marked = title
        for value in (OVERRIDE, LEG, SAID):
            marked = marked.replace(value, f"<bdi>{value}</bdi>")
        assert marked in shown, (marked, shown)
    for title in titles:  # no override outside a <bdi> of its own
        assert "\u202e" not in re.sub(r"<bdi>\u202e[^<]*</bdi>", "", title), title


def test_a_line_keeps_its_values_apart_from_the_console_s_words() -> None:
    line = Line.of("Dialled {}: {}", LEG, "busy") + ", a repeat"
    assert line == f"Dialled {LEG}: busy, a repeat"
    assert line.parts == ("Dialled ", LEG, ": ", "busy", ", a repeat")
    assert [type(part) for part in line.parts] == [str, Value, str, Value, str]
    nested = Line.of("Leg to {}: {}", LEG, Line.of("Webhook {}", "/voice"))
    assert nested.parts == ("Leg to ", LEG, ": ", "Webhook ", "/voice")
    assert isinstance(nested.parts[4], Value)
    joined = "Gather (" + Line("; ").join([Line.of("Say {}", SAID), Line("Hangup")]) + ")"
    assert isinstance(joined, Line)
    assert [part for part in joined.parts if isinstance(part, Value)] == [SAID]
    with pytest.raises(ValueError, match="2 places for 1 values"):
        Line.of("{} and {}", "one")


def test_an_answer_s_verb_keeps_what_was_said_apart() -> None:
    (say, message) = verbs(f"<Response><Say>{SAID}</Say><Message to='{LEG}'>{SAID}</Message>"
                           "</Response>")
    assert say.parts == ("Say ", '"', SAID, '"')
    assert message.parts == ("Message", " to ", LEG, " ", '"', SAID, '"')
    assert all(isinstance(part, Value) for part in (say.parts[2], message.parts[2]))


@pytest.mark.parametrize(("value", "alone"), [
    ("+15555550100", True),
    ("Zoë … café", True),
    ("\u202e+15555550123", False),
    ("שלום", False),
    ("\u2067abc", False),
    ("٣", False),
])
def test_only_a_value_that_can_turn_its_neighbours_needs_an_element(
    value: str, alone: bool
) -> None:
    assert plain(value) is alone


@pytest.mark.parametrize(("value", "text"), [
    ("+15555550100", "+15555550100"),
    ("\u202eabc", "\u2068\u202eabc\u2069"),
    ("\u2067abc", "\u2068\u2067abc\u2069\u2069"),  # its isolate closed, then ours
    ("abc\u2069\u202e", "\u2068abc\u202e\u2069"),  # a U+2069 that would close ours
    ("\u2067a\u2069b\u2069", "\u2068\u2067a\u2069b\u2069"),
])
def test_a_value_in_text_without_elements_is_isolated_by_characters(
    value: str, text: str
) -> None:
    assert isolated_text(value) == text


def test_a_contact_s_title_and_confirmations_isolate_it_with_characters(
    client: FlaskClient, store: Any
) -> None:
    add_message(store, "hi", from_=OVERRIDE)
    page = client.get("/console/conversations").text
    link = re.search(r'<a class="item" href="([^"]+)"', page)
    assert link is not None
    page = client.get(html.unescape(link.group(1))).text
    isolated = f"\u2068{OVERRIDE}\u2069"
    assert f"<title>{isolated} · Switchboard</title>" in page
    assert f'data-confirm="Opt {isolated} out of texts from {NUMBER}?"' in page
    assert f'data-confirm="Opt {isolated} out of texts from every number?"' in page


def test_an_error_message_isolates_the_value_it_names(client: FlaskClient) -> None:
    page = client.get("/console/calls/CA\u202eevil").text
    assert "<p>No call <bdi>CA\u202eevil</bdi> in the database.</p>" in page


def test_the_stylesheet_wraps_and_isolates_what_callers_send(client: FlaskClient) -> None:
    css = re.sub(r"/\*.*?\*/", "", client.get("/console/static/console.css").text, flags=re.S)
    rules = {" ".join(selectors.split()): body
             for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", css)}
    isolated = next(selectors for selectors, body in rules.items()
                    if "unicode-bidi: isolate" in body)
    for selector in ("table.rows td", ".item .who", ".item .preview", ".timeline .what strong",
                     ".timeline .verbs li", ".fields dd", ".bubble .body", "bdi"):
        assert selector in isolated.split(", "), selector
    wrapped = [selectors for selectors, body in rules.items()
               if "overflow-wrap: anywhere" in body]
    assert any("table.rows td" in selectors.split(", ") for selectors in wrapped)
    assert any(".timeline .what" in selectors.split(", ") for selectors in wrapped)


# -- in a real browser -----------------------------------------------------------------------

#: The characters of an element's text, in the order they are laid out: top to bottom, left
#: to right (the characters of no width, U+202E among them, left out).
_LAID_OUT = """(element) => {
  const placed = [];
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.data.length; i++) {
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const box = range.getBoundingClientRect();
      if (box.width > 0) { placed.push([Math.round(box.top), box.left, node.data[i]]); }
    }
  }
  placed.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return placed.map((p) => p[2]).join("");
}"""


@pytest.fixture
def browser(app: Flask, tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """Headless Chromium logged in to the console, served on a real socket: (page, base)."""
    with serving(app) as base:
        for context in browser_context(tmp_path / "profile"):
            page = context.new_page()
            page.goto(base + "/console/login")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(base + "/console/")
            yield page, base + "/console"


def test_the_console_s_words_keep_their_order_beside_an_override_in_a_browser(
    app: Flask, store: Any, browser: tuple[Any, str]
) -> None:
    page, console = browser
    call_sid = _call_with_overrides(app, store)
    page.goto(f"{console}/calls/{call_sid}")
    laid_out = [page.evaluate(_LAID_OUT, title)
                for title in page.query_selector_all(".timeline .what strong")]
    for title in TITLES:
        expected = title
        for value in (OVERRIDE, LEG, SAID):
            expected = expected.replace(value, value[1:][::-1])  # the value alone turned
        assert expected in laid_out, (expected, laid_out)


@pytest.mark.parametrize("contact", ["/lead", "a/../b", "x/./y/.", ".."])
def test_a_contact_a_browser_would_rewrite_opens_and_opts_out_in_a_browser(
    store: Any, browser: tuple[Any, str], contact: str
) -> None:
    page, console = browser
    add_message(store, "from an odd contact", from_=contact)
    add_message(store, "from the caller", from_=CALLER)
    page.goto(f"{console}/conversations")
    page.click('.conversations .item:has-text("from an odd contact")')
    page.wait_for_selector("h1")
    assert page.locator("h1").inner_text() == contact
    assert "from an odd contact" in page.locator(".thread").inner_text()
    assert "from the caller" not in page.locator(".thread").inner_text()
    page.once("dialog", lambda dialog: dialog.accept())
    page.click('button:text("Opt out of every number")')
    page.wait_for_selector('.optouts .status.bad:text("opted out")')
    assert store.is_opted_out(contact)
    assert page.locator("h1").inner_text() == contact
