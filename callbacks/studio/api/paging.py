"""Twilio's paging for its v2 APIs: ``PageSize`` (default 50, at most 1000: more is Twilio's
20007), ``Page`` (from 0) and ``PageToken`` (given by ``next_page_url``); each list answers its
items under ``key`` and ``meta`` with ``page``, ``page_size``, ``first_page_url``,
``previous_page_url``, ``url``, ``next_page_url`` and ``key``."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import request

from switchboard.callbacks.studio.api import urls
from switchboard.callbacks.studio.api.errors import ApiError, bad_request

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
#: ``PageToken``: where the page starts (``PT`` and an offset).
TOKEN = re.compile(r"PT([0-9]{1,12})")
WHOLE = re.compile(r"-?[0-9]+")
#: Digits past which a whole number is beyond every bound.
DIGITS = 15
#: The furthest a page may start, as a ``PageToken`` can say it.
MAX_OFFSET = 10**12 - 1


@dataclass(frozen=True)
class PageRequest:
    """The page asked for: its number, its size and its first item's position."""

    page: int
    size: int
    offset: int


def page_request() -> PageRequest:
    """The page the request asks for (400 for a bad ``PageSize``, ``Page`` or ``PageToken``)."""
    size = _whole("PageSize", DEFAULT_PAGE_SIZE)
    if size > MAX_PAGE_SIZE:
        raise ApiError(400, 20007, f"Page size too large: PageSize must be at most "
                       f"{MAX_PAGE_SIZE}, not {_given('PageSize')}")
    if size < 1:
        raise bad_request(f"PageSize must be between 1 and {MAX_PAGE_SIZE}, not "
                          f"{_given('PageSize')}")
    page = _whole("Page", 0)
    if not 0 <= page <= MAX_OFFSET // size:
        raise bad_request(f"Page must be between 0 and {MAX_OFFSET // size} for PageSize "
                          f"{size}, not {_given('Page')}")
    token = request.args.get("PageToken")
    if token:
        found = TOKEN.fullmatch(token)
        if found is None:
            raise bad_request(f"PageToken {_given('PageToken')} is not one this API gave; "
                              "follow next_page_url")
        return PageRequest(page, size, int(found.group(1)))
    return PageRequest(page, size, page * size)


def _whole(name: str, default: int) -> int:
    """The query parameter ``name`` as a whole number; beyond every bound (a long number) as
    ``±10**DIGITS``."""
    value = request.args.get(name)
    if value is None or value == "":
        return default
    if WHOLE.fullmatch(value) is None:
        raise bad_request(f"{name} must be a whole number, not {_given(name)}")
    if len(value.lstrip("-")) > DIGITS:
        return -(10**DIGITS) if value.startswith("-") else 10**DIGITS
    return int(value)


def _given(name: str) -> str:
    """The query parameter ``name`` as sent, quoted, cut to 40 characters."""
    value = request.args.get(name, "")
    return repr(value if len(value) <= 40 else value[:40] + "...")


def page_body(key: str, items: Sequence[Any], page: PageRequest, *, more: bool, path: str,
              filters: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A list's answer: ``items`` under ``key``, and ``meta``. ``more``: whether a next page
    has items; ``path`` the list's own (``/Flows``); ``filters`` the query it was given."""
    kept = {name: value for name, value in (filters or {}).items() if value}

    def url(number: int, offset: int | None) -> str:
        query = {**kept, "PageSize": page.size, "Page": number}
        if offset is not None:
            query["PageToken"] = f"PT{offset}"
        return urls.api(path) + "?" + urlencode(query)

    first = url(0, None)
    return {
        key: list(items),
        "meta": {
            "page": page.page,
            "page_size": page.size,
            "first_page_url": first,
            "previous_page_url": (
                url(max(page.page - 1, 0), max(page.offset - page.size, 0))
                if page.offset > 0 else None
            ),
            "url": url(page.page, page.offset if page.offset else None),
            "next_page_url": url(page.page + 1, page.offset + page.size) if more else None,
            "key": key,
        },
    }
