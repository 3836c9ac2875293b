"""Twilio's paging for its v2 APIs: ``PageSize`` (default 50, at most 1000), ``Page`` (from 0)
and ``PageToken`` (given by ``next_page_url``); each list answers its items under ``key`` and
``meta`` with ``page``, ``page_size``, ``first_page_url``, ``previous_page_url``, ``url``,
``next_page_url`` and ``key``."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import request

from switchboard.callbacks.studio.api import urls
from switchboard.callbacks.studio.api.errors import bad_request

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
#: ``PageToken``: where the page starts (``PT`` and an offset).
TOKEN = re.compile(r"PT([0-9]{1,12})")


@dataclass(frozen=True)
class PageRequest:
    """The page asked for: its number, its size and its first item's position."""

    page: int
    size: int
    offset: int


def page_request() -> PageRequest:
    """The page the request asks for (400 for a bad ``PageSize``, ``Page`` or ``PageToken``)."""
    args = request.args
    size = _whole(args.get("PageSize"), "PageSize", DEFAULT_PAGE_SIZE)
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise bad_request(f"PageSize must be between 1 and {MAX_PAGE_SIZE}, not {size}")
    page = _whole(args.get("Page"), "Page", 0)
    if page < 0:
        raise bad_request(f"Page must be 0 or more, not {page}")
    token = args.get("PageToken")
    if token:
        found = TOKEN.fullmatch(token)
        if found is None:
            raise bad_request(f"PageToken {token[:40]!r} is not one this API gave; follow "
                              "next_page_url")
        return PageRequest(page, size, int(found.group(1)))
    return PageRequest(page, size, page * size)


def _whole(value: str | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"{name} must be a whole number, not {value[:40]!r}") from None


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
                url(page.page - 1, max(page.offset - page.size, 0)) if page.offset > 0 else None
            ),
            "url": url(page.page, page.offset if page.offset else None),
            "next_page_url": url(page.page + 1, page.offset + page.size) if more else None,
            "key": key,
        },
    }
