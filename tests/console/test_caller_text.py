"""Numbers and texts from callers on the console's pages: each in an element of its own
(``<bdi>``, or one the stylesheet isolates), so that a bidi control in it (U+202E, right-to-left
override, and the like) turns nothing around it, and a long word wraps instead of widening the
page."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

from tests.console.conftest import NUMBER, add_call, add_message

OVERRIDE = "\u202e+15555550123"  # shown right to left until its element ends


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
    link's address, a form's field, the title, a timeline's title (an element the
    stylesheet isolates whole)."""
    page = re.sub(r"<(a|form|input|time)\b[^>]*>", "<\\1>", page)
    page = re.sub(r"<title>.*?</title>", "", page, flags=re.S)
    return re.sub(r'<div class="what">\s*<strong>.*?</strong>', "", page, flags=re.S)


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
