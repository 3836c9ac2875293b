"""Lists as lazy iterators over Twilio's pages.

A list answer from the 2010-04-01 API is an envelope::

    {"calls": [...], "page": 0, "page_size": 50, "uri": "...",
     "next_page_uri": "/2010-04-01/Accounts/AC.../Calls.json?PageSize=50&Page=1&PageToken=PA..."}

:func:`paginate` fetches the first page when iteration starts, yields its items, then follows
``next_page_uri`` until it is empty or ``limit`` items have been yielded. Only the current page
is held in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from api.errors import TwilioInvalidResponse
from api.validation import positive_int

if TYPE_CHECKING:
    from api.client import TwilioClient

__all__ = ["MAX_PAGE_SIZE", "paginate"]

#: The largest ``PageSize`` Twilio accepts.
MAX_PAGE_SIZE = 1000


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

    ``params`` (the filters, already encoded: see :func:`api.client.encode_params`) go with
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
    seen: set[str] = set()
    next_path: str | None = path
    page_params: list[tuple[str, str]] | None = params
    while next_path:
        page = client.request("GET", next_path, params=page_params)
        if not isinstance(page, dict) or not isinstance(page.get(key), list):
            raise TwilioInvalidResponse(
                200,
                "GET",
                client.url_for(next_path),
                content_type="application/json",
                problem=f"the page has no list under {key!r}",
            )
        items: list[dict] = page[key]
        if remaining is not None and len(items) >= remaining:
            yield from items[:remaining]
            return
        yield from items
        if remaining is not None:
            remaining -= len(items)
        seen.add(next_path)
        next_path = _next_page(page)
        page_params = None
        del page, items
        if next_path in seen:
            return


def _next_page(page: Mapping[str, Any]) -> str | None:
    """``next_page_uri`` (2010-04-01), or ``meta.next_page_url`` (the newer APIs)."""
    nxt = page.get("next_page_uri")
    if not nxt and isinstance(page.get("meta"), Mapping):
        nxt = page["meta"].get("next_page_url")
    return nxt or None
