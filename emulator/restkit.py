"""What every REST view of the emulator shares: the state, credentials, paging, JSON."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import g, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from switchboard.emulator.faults import FaultInjector
from switchboard.emulator.params import (
    MAX_REQUEST_BYTES,
    APIError,
    Params,
    bad_request,
    not_found,
    shown,
)
from switchboard.emulator.resources import parse_rfc2822, public
from switchboard.emulator.state import EmulatorState

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
AUTHENTICATE = {"WWW-Authenticate": 'Basic realm="Twilio API"'}
PAGE_TOKEN = re.compile(r"PT[0-9]{1,18}")


@dataclass
class EmulatorContext:
    """What one emulator serves: its state, its fault injector, its caller side."""

    state: EmulatorState
    faults: FaultInjector
    phone: Any = None  # emulator.caller.Phone, when the caller side is present


def context() -> EmulatorContext:
    """The emulator this request belongs to (see :class:`switchboard.emulator.rest.EmulatorApp`)."""
    return request.environ["switchboard.emulator"]


def state() -> EmulatorState:
    return context().state


def params() -> Params:
    """The request's parameters: the form of a POST, the query of anything else.

    A form body that is not UTF-8 is a 400: werkzeug would drop the whole form silently, and the
    answer would then blame a parameter the client did send.
    """
    if request.method != "POST":
        return Params(request.args)
    if request.mimetype == "application/x-www-form-urlencoded":
        data = request.get_data(cache=True)
        if (request.content_length is None and len(data) >= MAX_REQUEST_BYTES
                and request.environ["wsgi.input"].read(1)):
            # a chunked body werkzeug cut at MAX_CONTENT_LENGTH: refused, not parsed cut short
            raise RequestEntityTooLarge()
        try:
            data.decode()
        except UnicodeDecodeError:
            raise bad_request(20001, "The request body is not UTF-8: send form parameters "
                              "percent-encoded as UTF-8.") from None
    values: MultiDict[str, str] = request.form
    return Params(values)


def authenticate() -> None:
    """Check HTTP Basic credentials, and that they may act on the account in the URL.

    Sets ``g.credential_account`` (the account the credentials stand for).
    """
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.username:
        raise APIError(401, 20003, "Authenticate", AUTHENTICATE)
    account_sid = state().authenticate(auth.username, auth.password or "")
    if account_sid is None:
        raise APIError(401, 20003, "Authenticate", AUTHENTICATE)
    g.credential_account = account_sid
    wanted = (request.view_args or {}).get("account_sid")
    if wanted is None:
        return
    if state().get("accounts", wanted) is None:
        raise not_found(request.path)
    if not state().can_access(account_sid, wanted):
        raise APIError(401, 20003, "Authenticate", AUTHENTICATE)


def require_account_credentials() -> None:
    """A 401 for a standard API key: Twilio keeps the Accounts endpoints (and the auth tokens
    they show) to the account's own credentials and main API keys."""
    auth = request.authorization
    if auth is not None and auth.username and state().is_standard_key(auth.username):
        raise APIError(401, 20003, "Authenticate: a standard API key cannot use the Accounts "
                       "endpoints; use the account SID and auth token, or a main API key.",
                       AUTHENTICATE)


def owned(kind: str, sid: str, account_sid: str) -> dict[str, Any]:
    """Resource ``sid`` of ``kind`` in ``account_sid``, or a 404 in Twilio's shape."""
    resource = state().get(kind, sid)
    if resource is None or resource.get("account_sid") != account_sid:
        raise not_found(request.path)
    return resource


def update_owned(kind: str, sid: str, account_sid: str, fields: dict[str, Any]
                 ) -> dict[str, Any]:
    """Set ``fields`` on resource ``sid`` of ``account_sid`` (see :func:`owned`) in one step, so
    that a resource a concurrent request deletes is a 404 rather than an error."""
    with state().lock:
        owned(kind, sid, account_sid)
        return state().update(kind, sid, **fields)


def require_active(account_sid: str) -> None:
    """A 403 (Twilio's 20403) when ``account_sid`` is suspended or closed: such an account
    cannot make calls or send messages until it is active again."""
    account = state().get("accounts", account_sid)
    if account is not None and account["status"] != "active":
        raise APIError(403, 20403, f"Account {account_sid} is {account['status']}: a "
                       f"{account['status']} account cannot make calls or send messages.")


def show(kind: str, resource: dict[str, Any], status: int = 200) -> ResponseReturnValue:
    return jsonify(public(kind, resource)), status


def deleted() -> ResponseReturnValue:
    return "", 204


def page(
    items: list[dict[str, Any]],
    key: str,
    render: Callable[[dict[str, Any]], dict[str, Any]] | str,
) -> ResponseReturnValue:
    """One page of ``items`` in Twilio's list envelope (``Page``, ``PageSize``,
    ``PageToken``; ``uri``, ``first_page_uri``, ``next_page_uri``...). ``render`` shapes each
    item: a kind of resource (its public fields) or a function."""
    shape = render if callable(render) else functools.partial(public, render)

    query = Params(request.args)
    page_size = query.integer("PageSize", low=1, high=MAX_PAGE_SIZE) or DEFAULT_PAGE_SIZE
    number = query.integer("Page", low=0) or 0
    token = query.get("PageToken")
    offset = number * page_size
    if token:
        if not PAGE_TOKEN.fullmatch(token):
            raise APIError(400, 20001, f"PageToken {shown(token)} is not valid.")
        offset = int(token[2:])
    chunk = items[offset:offset + page_size]
    filters = [
        (k, v) for k, v in request.args.items(multi=True)
        if k not in ("Page", "PageSize", "PageToken")
    ]

    def uri(page_number: int, page_offset: int | None = None) -> str:
        query_items: list[tuple[str, Any]] = [*filters, ("PageSize", page_size),
                                              ("Page", page_number)]
        if page_offset is not None:
            query_items.append(("PageToken", f"PT{page_offset}"))
        return f"{request.path}?{urlencode(query_items)}"

    has_next = offset + page_size < len(items)
    body = {
        key: [shape(item) for item in chunk],
        "uri": uri(number, offset if token else None),
        "first_page_uri": uri(0),
        "next_page_uri": uri(number + 1, offset + page_size) if has_next else None,
        "previous_page_uri": (
            uri(number - 1, max(offset - page_size, 0)) if number > 0 and offset > 0 else None
        ),
        "page": number,
        "page_size": page_size,
        "start": offset,
        "end": offset + len(chunk) - 1 if chunk else offset,
    }
    return jsonify(body)


def matching(values: Iterable[tuple[str, Any]]) -> Callable[[dict[str, Any]], bool]:
    """A filter keeping resources whose fields equal every given (field, value); None
    values are ignored."""
    wanted = [(name, value) for name, value in values if value is not None]

    def check(resource: dict[str, Any]) -> bool:
        return all(resource.get(name) == value for name, value in wanted)

    return check


def dated(field: str, check: Callable[[Any], bool] | None
          ) -> Callable[[dict[str, Any]], bool] | None:
    """A filter applying a date check (see :meth:`Params.date_filter`) to an RFC 2822 field."""
    if check is None:
        return None
    return lambda resource: check(parse_rfc2822(resource.get(field)))


def all_of(*checks: Callable[[dict[str, Any]], bool] | None) -> Callable[[dict[str, Any]], bool]:
    active = [c for c in checks if c is not None]
    return lambda resource: all(c(resource) for c in active)


def set_fields(p: Params, mapping: Iterable[tuple[str, str, str]]) -> dict[str, Any]:
    """Read the parameters named in ``mapping`` ((param, field, type) with type one of "str",
    "name" (a FriendlyName: 64 characters), "url", "method", "bool", or "sid:XX" (a SID with
    prefix XX; empty clears it)) into resource fields, only those present."""
    fields: dict[str, Any] = {}
    for name, field_name, kind in mapping:
        if name not in p:
            continue
        if kind == "url":
            value: Any = p.url(name) or None
        elif kind == "method":
            value = p.method(name) or "POST"
        elif kind == "bool":
            value = p.boolean(name)
        elif kind == "name":
            value = p.friendly_name(name)
        elif kind.startswith("sid:"):
            value = p.sid(name, kind.removeprefix("sid:"))
        else:
            value = p.get(name)
        fields[field_name] = value
    return fields


def call_phone(method: str, resource: dict[str, Any]) -> None:
    """Hand ``resource`` to the caller side (``phone.<method>``) when there is one."""
    phone = context().phone
    handler = getattr(phone, method, None) if phone is not None else None
    if handler is not None:
        handler(resource)
