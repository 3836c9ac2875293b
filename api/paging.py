"""Lists as lazy iterators over Twilio's pages.

A list answer from the 2010-04-01 API is an envelope::

    {"calls": [...], "page": 0, "page_size": 50, "uri": "...",
     "next_page_uri": "/2010-04-01/Accounts/AC.../Calls.json?PageSize=50&Page=1&PageToken=PA..."}

:func:`paginate` fetches the first page when iteration starts, yields its items, then follows
``next_page_uri`` until it is empty or ``limit`` items have been yielded. Only the current page
is held in memory. A page without a list under the key asked for, or with an item that is not
a JSON object, raises :class:`~api.errors.TwilioInvalidResponse` before any of its items is
yielded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from switchboard.api.errors import TwilioInvalidResponse, ValidationError
from switchboard.api.validation import positive_int

if TYPE_CHECKING:
    from switchboard.api.client import TwilioClient

__all__ = ["MAX_PAGE_SIZE", "paginate"]

#: The largest ``PageSize`` Twilio accepts.
MAX_PAGE_SIZE = 1000
#: How much of an item that is not an object an error shows.
SHOWN = 60


def paginate(
    client: TwilioClient,
    path: str,
    *,
    params: Iterable[tuple[str, str]] | None = None,
    key: str,
    limit: int | None = None,
    page_size: int | None = None,
) -> Iterator[dict]:
    """Yield the items under ``key`` of every page of the list at ``path``.

    ``params`` (the filters, already encoded: see :func:`switchboard.api.client.encode_params`) go
    with
    the first request only; ``next_page_uri`` carries them on.
    ``limit`` caps the number of items (no page beyond the one holding the last is fetched);
    ``page_size`` is sent as ``PageSize`` (at most 1000; by default ``limit`` when it is
    smaller than 1000, else Twilio's default of 50). Arguments are checked now; no request is
    sent until the first item is asked for.
    """
    if limit is not None:
        limit = positive_int("limit", limit)
    if page_size is not None:
        page_size = min(positive_int("page_size", page_size), MAX_PAGE_SIZE)
    elif limit is not None:
        page_size = min(limit, MAX_PAGE_SIZE)
    first = list(params or ())
    if page_size is not None:
        first = [(name, value) for name, value in first if name != "PageSize"]
        first.append(("PageSize", str(page_size)))
    return _iterate(client, path, first, key, limit)


def _iterate(
    client: TwilioClient,
    path: str,
    params: list[tuple[str, str]],
    key: str,
    limit: int | None,
) -> Iterator[dict]:
    remaining = limit
    seen: set[tuple] = set()
    next_path: str | None = path
    page_params: list[tuple[str, str]] | None = params
    while next_path:
        url = client.url_for(next_path)
        seen.add(_page_key(url, page_params))
        page = client.request("GET", next_path, params=page_params)
        if not isinstance(page, dict) or not isinstance(page.get(key), list):
            raise _bad_page(url, f"the page has no list under {key!r}")
        items: list[dict] = page[key]
        for number, item in enumerate(items):
            if not isinstance(item, dict):
                shown = json.dumps(item)[:SHOWN]
                raise _bad_page(
                    url, f"item {number} of its list under {key!r} is JSON but not an object: "
                    f"{shown}"
                )
        if remaining is not None and len(items) >= remaining:
            yield from items[:remaining]
            return
        yield from items
        if remaining is not None:
            remaining -= len(items)
        next_path = _next_page(client, url, page)
        page_params = None
        del page, items
        if next_path and _page_key(client.url_for(next_path), None) in seen:
            return


def _page_key(url: str, params: Iterable[tuple[str, str]] | None) -> tuple:
    """What identifies a page: its path and its query's pairs, in any order."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params or ())
    return (parts.path, tuple(sorted(query)))


def _bad_page(url: str, problem: str) -> TwilioInvalidResponse:
    return TwilioInvalidResponse(
        200, "GET", url, content_type="application/json", problem=problem
    )


def _next_page(client: TwilioClient, url: str, page: Mapping[str, Any]) -> str | None:
    """``next_page_uri`` (2010-04-01), or ``meta.next_page_url`` (the newer APIs), checked:
    a path, or a URL under the client's ``base_url`` (the credentials go nowhere else)."""
    nxt = page.get("next_page_uri")
    if not nxt and isinstance(page.get("meta"), Mapping):
        nxt = page["meta"].get("next_page_url")
    if not nxt:
        return None
    if not isinstance(nxt, str):
        raise _bad_page(url, f"its next page is a {type(nxt).__name__}, not a path")
    try:
        client.url_for(nxt)
    except ValidationError as error:
        raise _bad_page(url, f"its next page {error.problem}") from None
    return nxt
