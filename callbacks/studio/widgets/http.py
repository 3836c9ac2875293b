"""Make HTTP Request and Run Function: a request from the flow to a web service.

As in Studio, a request gets 10 seconds at most, here never more than the webhook's deadline
leaves; only ``http`` and ``https`` URLs are requested. The answer's ``status_code``,
``content_type`` and ``body`` (read in the charset its type names, else UTF-8) become the
widget's variables, and ``parsed`` too when the body is a JSON object: for Make HTTP Request
only an ``application/json`` one, for Run Function whatever its type (Studio's documented
rules for each), read as Studio's JavaScript reads JSON: a body holding ``NaN`` or
``Infinity`` is not JSON, and has no ``parsed``. A 2xx answer is success; anything else, a
body over Studio's 64 kB, a timeout, a refused connection or a URL that cannot be requested
is the failure transition (``failed``, or ``fail`` for Run Function).

Run Function signs its POST as Twilio signs a webhook (``X-Twilio-Signature``, keyed by the
account's auth token), so a protected Function accepts it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from switchboard.callbacks.security import FORM_TYPE, signed_headers
from switchboard.callbacks.studio.parameters import read_json
from switchboard.callbacks.studio.widgets.base import (
    Immediate,
    Transition,
    Visit,
    log,
    nests_deeper,
)
from switchboard.config import ConfigError, Secret
from switchboard.config.validation import redact_url

#: Studio's limit on a widget's request, in seconds.
STUDIO_LIMIT = 10.0
#: Below this many seconds left, a request is not started.
LEAST_TIME = 0.3
#: Seconds a request leaves to the widgets after it (of what the webhook's deadline allows).
LEFT_FOR_THE_REST = 0.5
#: Studio's limit on an answer's body, in bytes: a larger one is a failure.
MAX_BODY = 64 * 1024
USER_AGENT = "Switchboard-Studio/1"
FORM = FORM_TYPE
JSON = "application/json"


@dataclass(frozen=True)
class Answer:
    """What the service answered (``error`` set when there was no usable answer)."""

    status_code: int | None = None
    content_type: str = ""
    body: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300

    def variables(self, *, any_type: bool = False) -> dict[str, Any]:
        """The widget's variables; ``parsed`` for a JSON object body, of an ``application/json``
        answer only unless ``any_type``."""
        variables: dict[str, Any] = {}
        if self.status_code is not None:
            variables.update(status_code=self.status_code, content_type=self.content_type,
                             body=self.body)
            if any_type or media_type(self.content_type) == JSON:
                parsed = json_object(self.body)
                if parsed is not None:
                    variables["parsed"] = parsed
        if self.error:
            variables["error"] = self.error
        return variables


def media_type(content_type: str) -> str:
    """``application/json`` of ``application/JSON; charset=utf-8``."""
    return content_type.partition(";")[0].strip().lower()


def json_object(body: str) -> dict[str, Any] | None:
    """``body`` as a JSON object; None for anything else (not JSON, ``NaN`` and ``Infinity``
    included: see :func:`~.parameters.read_json`; an array, a string..., an object nesting
    more than :data:`~.base.JSON_DEPTH` levels deep)."""
    if not body.lstrip().startswith("{"):
        return None
    try:
        value = read_json(body)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) and not nests_deeper(value) else None


def request(
    method: str, url: str, *, timeout: float, params: Any = None, data: Any = None,
    headers: Mapping[str, str] | None = None, auth: tuple[str, str] | None = None,
    sign_with: Secret | None = None,
) -> Answer:
    """One request, never longer than ``timeout`` seconds to connect and to read.

    ``data``: the body, as bytes, text (sent as UTF-8) or form fields (``(name, value)``
    pairs). ``sign_with``: an auth token to sign the request with, as Twilio signs a
    webhook: the URL as it is sent and the form fields ``data``."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        return Answer(error=f"{_shown(url)!r} is not an http or https URL")
    if timeout < LEAST_TIME:
        return Answer(error="no time left before the webhook's deadline")
    sent = {"User-Agent": USER_AGENT, **(headers or {})}
    try:
        if isinstance(data, str):
            data = data.encode()
        with requests.Session() as session:
            prepared = session.prepare_request(requests.Request(
                method, url, params=params, data=data, headers=sent, auth=auth))
            if sign_with:
                prepared.headers.update(signed_headers(sign_with, prepared.url or url, data))
            environment = session.merge_environment_settings(
                prepared.url, proxies={}, stream=True, verify=None, cert=None)
            with session.send(prepared, timeout=(min(timeout, 5.0), timeout),
                              allow_redirects=True, **environment) as response:
                return _read(response)
    except requests.Timeout:
        return Answer(error=f"no answer from {_shown(url)} within {timeout:.1f} s")
    except requests.RequestException as error:
        return Answer(error=f"{type(error).__name__}: {_shown(url)} could not be reached")
    except UnicodeEncodeError:  # a lone UTF-16 surrogate (a JSON "\ud800" without its pair)
        return Answer(error=f"the request to {_shown(url)} holds text that is not Unicode "
                            "(a lone UTF-16 surrogate)")


def _read(response: requests.Response) -> Answer:
    """The answer, or an error for a body over :data:`MAX_BODY` (not read further)."""
    body = b""
    for chunk in response.iter_content(16 * 1024):
        body += chunk
        if len(body) > MAX_BODY:
            return Answer(error=f"the answer's body is larger than {MAX_BODY // 1024} kB, "
                                "Studio's limit")
    content_type = response.headers.get("Content-Type", "")
    return Answer(response.status_code, content_type, _decoded(body, content_type))


def _decoded(body: bytes, content_type: str) -> str:
    """``body`` as text: in the ``charset`` its ``content_type`` names, else UTF-8 (not HTTP/1.1's
    old ISO-8859-1 for ``text/*``, which would garble a UTF-8 ``text/plain`` answer)."""
    charset = "utf-8"
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip(" \"'"):
            charset = value.strip(" \"'")
    try:
        return body.decode(charset, errors="replace")
    except LookupError:  # a charset Python does not know
        return body.decode("utf-8", errors="replace")


def _shown(url: str) -> str:
    """``url`` for the log and the execution's context: no password, no query string (either
    may hold a secret), 80 characters at most."""
    shown = redact_url(url).partition("?")[0].partition("#")[0]
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _pairs(visit: Visit) -> list[tuple[str, str]]:
    pairs = []
    for item in visit.properties.get("parameters") or []:
        key = str(item.get("key") or "").strip()
        if key:
            value = visit.render(item.get("value", ""))
            pairs.append((key, value if isinstance(value, str) else json.dumps(value)))
    return pairs


def _took(visit: Visit, answer: Answer, success: str, failure: str, *,
          any_type: bool = False, note: str = "") -> Transition:
    variables = answer.variables(any_type=any_type)
    if answer.ok:
        return Transition(success, variables)
    why = answer.error or f"HTTP {answer.status_code}"
    log.warning("flow %s, widget %s: the request failed (%s)%s: taking %r",
                visit.flow.name, visit.name, why, note, failure)
    return Transition(failure, variables)


class MakeHttpRequest(Immediate):
    """``method`` to ``url``; ``parameters`` as the query (GET, DELETE) or a form body, or
    ``body`` (Liquid) as it is for a JSON ``content_type`` (or a form without parameters);
    ``add_twilio_auth`` sends the account's credentials. ``success`` or ``failed``."""

    def run(self, visit: Visit) -> Transition:
        method = visit.text("method", "GET").upper()
        url = visit.text("url")
        content_type = visit.text("content_type", FORM)
        pairs = _pairs(visit)
        params = data = None
        headers: dict[str, str] = {}
        if method in ("GET", "DELETE", "HEAD"):
            params = pairs or None
        else:
            body = visit.text("body")
            if media_type(content_type) == FORM and (pairs or not body):
                data = pairs
            elif body:
                data = body
            else:
                data = json.dumps(dict(pairs)).encode() if pairs else b""
            headers["Content-Type"] = content_type
        auth = None
        if visit.flag("add_twilio_auth"):
            try:
                auth = visit.settings.basic_auth()
            except ConfigError:
                log.warning("flow %s, widget %s: add_twilio_auth, but no Twilio credentials are "
                            "configured: sent without", visit.flow.name, visit.name)
        timeout = min(STUDIO_LIMIT, visit.remaining() - LEFT_FOR_THE_REST)
        answer = request(method, url, timeout=timeout, params=params, data=data,
                         headers=headers, auth=auth)
        return _took(visit, answer, "success", "failed")


class RunFunction(Immediate):
    """A POST of the ``parameters`` (a form) to the function's ``url``, signed with the
    account's auth token (``TWILIO_AUTH_TOKEN``; unsigned without one) as a protected Function
    requires: ``success`` on a 2xx answer, ``fail`` otherwise."""

    def run(self, visit: Visit) -> Transition:
        url = visit.text("url")
        token = visit.settings.auth_token
        timeout = min(STUDIO_LIMIT, visit.remaining() - LEFT_FOR_THE_REST)
        answer = request("POST", url, timeout=timeout, data=_pairs(visit),
                         headers={"Content-Type": FORM}, sign_with=token)
        note = "" if token else " (sent unsigned: no TWILIO_AUTH_TOKEN is configured)"
        return _took(visit, answer, "success", "fail", any_type=True, note=note)
