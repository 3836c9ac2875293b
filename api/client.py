"""The transport: one :class:`requests.Session` per client, Basic auth, timeouts, retries
(urllib3's :class:`~urllib3.util.Retry` on the adapter, see :mod:`switchboard.api.retry`), form
encoding,
JSON decoding and Twilio's errors.

::

    client = TwilioClient("AC...", "auth token")
    call = client.request("GET", client.account_path("/Calls/CA....json"))
    for call in client.paginate(client.account_path("/Calls.json"), key="calls", limit=100):
        ...
"""

from __future__ import annotations

import datetime as dt
import functools
import http.cookiejar
import json
import logging
import math
import os
import platform
import time
from base64 import b64encode
from collections.abc import Iterable, Iterator, Mapping
from importlib import metadata
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import (
    ClosedPoolError,
    IncompleteRead,
    MaxRetryError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.util import Retry

from switchboard.api import observers, paging
from switchboard.api.connections import PoolAdapter
from switchboard.api.errors import (
    RangeNotSatisfiable,
    TwilioClientClosed,
    TwilioConnectionError,
    TwilioError,
    TwilioHTTPError,
    TwilioInvalidResponse,
    TwilioNotFound,
    TwilioTimeout,
    ValidationError,
)
from switchboard.api.resources import ResourceGroups
from switchboard.api.resources.base import date_time
from switchboard.api.retry import retry_policy
from switchboard.api.validation import show_url
from switchboard.api.validation import sid as check_sid

if TYPE_CHECKING:
    from switchboard.config import Settings

__all__ = [
    "API_VERSION",
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "TwilioClient",
    "default_user_agent",
    "encode_params",
]

log = logging.getLogger("switchboard.api")

API_VERSION = "2010-04-01"
DEFAULT_BASE_URL = "https://api.twilio.com"
#: (connect, read) seconds: a little over a multiple of 3 s (TCP's retransmission window) to
#: connect, 30 s for Twilio to answer.
DEFAULT_TIMEOUT = (3.05, 30.0)
#: How much of an error body is read from a streamed answer before giving up on it.
_ERROR_BODY_LIMIT = 64 * 1024
#: The longest timeout accepted, in seconds: a day.
MAX_TIMEOUT = 86400.0
#: The methods :meth:`TwilioClient.request` sends.
REQUEST_METHODS = frozenset({"GET", "POST", "DELETE", "HEAD", "OPTIONS", "PUT", "PATCH"})
#: How long Twilio's own error message may be in an exception's text.
MESSAGE_LIMIT = 500
#: How many redirects a media download follows (Twilio sends recordings and MMS media
#: from a storage host).
MAX_MEDIA_REDIRECTS = 5

Params = Mapping[str, Any] | Iterable[tuple[str, Any]]


@functools.cache
def _version() -> str:
    """The installed distribution's version, read once (a metadata read walks sys.path)."""
    try:
        return metadata.version("switchboard")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def default_user_agent(prefix: str | None = None) -> str:
    """``switchboard/0.1.0 (python-requests/2.32.3; Python 3.12.4)``, after ``prefix`` if given."""
    ua = (
        f"switchboard/{_version()} "
        f"(python-requests/{requests.__version__}; Python {platform.python_version()})"
    )
    return f"{prefix} {ua}" if prefix else ua


def _form_value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dt.datetime):
        return date_time(name, value)
    if isinstance(value, dt.date):
        return value.isoformat()
    raise ValidationError(name, f"cannot send a {type(value).__name__} as a form value")


def encode_params(data: Params | None) -> list[tuple[str, str]]:
    """Turn ``data`` into the (name, value) pairs Twilio expects.

    A list or tuple value becomes a repeated name (``MediaUrl=a&MediaUrl=b``); ``True`` and
    ``False`` become ``"true"`` and ``"false"``; ``None`` drops the name; numbers become text.
    Dates go as the typed resources send them: a :class:`datetime.date` as ``YYYY-MM-DD`` (what
    a date filter such as ``DateCreated`` takes), a :class:`datetime.datetime` as
    ``YYYY-MM-DDTHH:MM:SSZ`` in UTC, one without a time zone taken as UTC
    (:func:`switchboard.api.resources.base.date_time`).
    """
    if data is None:
        return []
    if isinstance(data, str | bytes | bytearray) or not isinstance(data, Mapping | Iterable):
        raise ValidationError(
            "data", f"a {type(data).__name__} is not a mapping or (name, value) pairs"
        )
    items = data.items() if isinstance(data, Mapping) else data
    pairs: list[tuple[str, str]] = []
    for item in items:
        if not isinstance(item, tuple | list) or len(item) != 2 or not isinstance(item[0], str):
            raise ValidationError("data", f"{item!r:.60} is not a (name, value) pair")
        name, value = item
        if value is None:
            continue
        if isinstance(value, list | tuple | set | frozenset):
            pairs.extend((name, _form_value(name, v)) for v in value if v is not None)
        else:
            pairs.append((name, _form_value(name, value)))
    return pairs


class _BasicAuth(requests.auth.AuthBase):
    """HTTP Basic with the header built once; its repr never shows the secret."""

    def __init__(self, username: str, secret: str) -> None:
        self.username = username
        token = b64encode(f"{username}:{secret}".encode()).decode("ascii")
        self._header = f"Basic {token}"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header
        return request

    def __repr__(self) -> str:
        return f"<BasicAuth {self.username}:********>"


def _reveal(name: str, value: object) -> str:
    """The text of a ``str`` or a ``config.Secret``."""
    reveal = getattr(value, "reveal", None)
    text = reveal() if callable(reveal) else value
    if not isinstance(text, str) or not text:
        raise ValidationError(name, "is required (a non-empty string)")
    return text


def _check_timeout(value: object) -> tuple[float, float]:
    if value is None:
        raise ValidationError(
            "timeout", "None would wait forever; give (connect, read) seconds like (3.05, 30)"
        )
    pair = (value, value) if isinstance(value, int | float) else value
    if (
        isinstance(pair, tuple | list)
        and len(pair) == 2
        and all(
            isinstance(t, int | float)
            and not isinstance(t, bool)
            and math.isfinite(t)
            and 0 < t <= MAX_TIMEOUT
            for t in pair
        )
    ):
        return (float(pair[0]), float(pair[1]))
    raise ValidationError(
        "timeout",
        f"{value!r:.60} is not (connect, read) seconds, both above 0 and at most "
        f"{MAX_TIMEOUT:g}",
    )


def _check_pool_maxsize(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(
            "pool_maxsize", f"{value!r:.60} is not a whole number of connections of at least 1"
        )
    return value


def _check_base_url(value: object) -> str:
    if isinstance(value, str):
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:
            parts = None
        if parts is not None and "@" in parts.netloc:
            raise ValidationError(
                "base_url", "must not hold credentials; give account_sid and auth_token"
            )
        if (
            parts is not None
            and parts.scheme in ("http", "https")
            and parts.hostname
            and not parts.query
            and not parts.fragment
            and not any(ch.isspace() for ch in value)
        ):
            return value.rstrip("/")
    raise ValidationError(
        "base_url", f"{show_url(value)} is not an http(s) URL like {DEFAULT_BASE_URL}"
    )


def _check_method(value: object) -> str:
    method = value.upper() if isinstance(value, str) else None
    if method not in REQUEST_METHODS:
        raise ValidationError(
            "method", f"{value!r:.40} is not one of {', '.join(sorted(REQUEST_METHODS))}"
        )
    return method


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it wraps (arguments, ``reason``, causes), nearest first:
    requests wraps urllib3's error, which names its ``reason``, raised from the socket's."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        err = todo.pop(0)
        if id(err) in seen:
            continue
        seen.add(id(err))
        yield err
        linked = [*err.args, getattr(err, "reason", None), err.__cause__, err.__context__]
        todo.extend(e for e in linked if isinstance(e, BaseException))  # ssl's reason is text


def _reason(exc: BaseException, *, may_retry: bool = True) -> str:
    """A short, credential-free reason for a transport failure."""
    retried = False
    for err in causes(exc):
        if isinstance(err, MaxRetryError):
            retried = True
        if isinstance(err, OSError) and err.strerror:
            text = err.strerror
            break
        if type(err).__name__ in ("RemoteDisconnected", "IncompleteRead", "BadStatusLine"):
            text = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
            break
    else:
        text = type(exc).__name__
    return f"{text} (retries exhausted)" if retried and may_retry else text


def _cut_off(
    method: str, url: str, exc: requests.exceptions.ChunkedEncodingError, attempts: int
) -> TwilioConnectionError:
    """An answer whose body broke off (the connection closed or was reset mid-body): how many
    of its bytes came, when the answer announced its length."""
    reason = "the connection closed before the end of the body"
    received = expected = None
    for err in causes(exc):
        if isinstance(err, IncompleteRead) and isinstance(err.partial, int):
            received, expected = err.partial, err.partial + err.expected
        elif isinstance(err, OSError) and err.strerror:
            reason = err.strerror
    return TwilioConnectionError(
        method, url, reason=reason, cut=True, received=received, expected=expected,
        attempts=attempts,
    )


def _read_timeout(exc: BaseException) -> bool:
    """Whether a requests ConnectionError is really a read timeout: after retries, or while
    reading a body that stopped coming."""
    inner = exc.args[0] if exc.args else None
    if isinstance(inner, MaxRetryError):
        inner = inner.reason
    return isinstance(inner, ReadTimeoutError)


def _never_connected(exc: BaseException) -> bool:
    """Whether a requests ConnectionError is a connection that was never made (refused, name
    not resolved), so that nothing was sent."""
    inner = exc.args[0] if exc.args else None
    reason = inner.reason if isinstance(inner, MaxRetryError) else inner
    return isinstance(reason, NewConnectionError)


def _pool_closed(exc: BaseException) -> bool:
    """Whether a requests ConnectionError is a request refused by a closed connection pool,
    before anything was sent (the client was closed while the request waited to go out)."""
    return bool(exc.args) and isinstance(exc.args[0], ClosedPoolError)


def _attempts(exc: BaseException) -> int:
    """How many times the request that failed with ``exc`` was tried: what
    :class:`~api.retry.TwilioRetry` counted when the retries ran out, else 1."""
    inner = exc.args[0] if exc.args else None
    attempts = getattr(inner, "attempts", 1) if isinstance(inner, MaxRetryError) else 1
    return attempts if isinstance(attempts, int) and attempts > 0 else 1


class TwilioClient(ResourceGroups):
    """A client for Twilio's REST API 2010-04-01.

    ``auth_token`` is the account's auth token, or with ``api_key_sid`` that API key's secret;
    either may be a ``str`` or a :class:`config.Secret`. ``timeout`` is (connect, read) seconds.
    ``retries`` is a number of retries under :func:`switchboard.api.retry.retry_policy` or a urllib3
    :class:`~urllib3.util.Retry` used as given (``raise_on_status`` is turned off so that the
    last answer's error body is reported). ``user_agent`` is put before Switchboard's own
    product token. One client may be shared by several threads.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str | object,
        *,
        api_key_sid: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        retries: int | Retry = 3,
        user_agent: str | None = None,
        pool_maxsize: int = 10,
    ) -> None:
        try:
            self.account_sid = check_sid("account_sid", account_sid, "AC")
        except ValidationError:
            # Not shown: given the arguments the wrong way round, it is the auth token.
            raise ValidationError(
                "account_sid",
                "is not an account SID (AC followed by 32 hex digits); the value is not "
                "shown in case it is the auth token",
            ) from None
        if api_key_sid is not None:
            check_sid("api_key_sid", api_key_sid, "SK")
        self.api_key_sid = api_key_sid
        secret = _reveal("auth_token", auth_token)
        self.base_url = _check_base_url(base_url)
        self.timeout = _check_timeout(timeout)
        if isinstance(retries, Retry):
            self.retries = retries.new(raise_on_status=False)
        else:
            try:
                self.retries = retry_policy(retries)
            except ValueError as exc:
                raise ValidationError("retries", str(exc).partition(": ")[2]) from None
        if user_agent is not None and (
            not isinstance(user_agent, str) or not user_agent.isprintable() or not user_agent
        ):
            raise ValidationError(
                "user_agent", f"{user_agent!r} is not a product token like app/1.0"
            )
        self.user_agent = default_user_agent(user_agent)
        pool_maxsize = _check_pool_maxsize(pool_maxsize)

        session = requests.Session()
        # The environment (proxies, NO_PROXY, a CA bundle) is read once here rather than on
        # every request; netrc is not consulted since the credentials are explicit.
        session.trust_env = False
        session.proxies.update(requests.utils.get_environ_proxies(self.base_url))
        ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if ca_bundle:
            session.verify = ca_bundle
        session.auth = _BasicAuth(api_key_sid or account_sid, secret)
        session.headers["User-Agent"] = self.user_agent
        session.headers["Accept"] = "application/json"
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        session.max_redirects = MAX_MEDIA_REDIRECTS
        adapter = PoolAdapter(
            pool_connections=2, pool_maxsize=pool_maxsize, max_retries=self.retries
        )
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        self._session = session
        self._closed = False
        super().__init__()

    @classmethod
    def from_settings(
        cls, profile: str | None = None, settings: Settings | None = None, **kwargs: Any
    ) -> TwilioClient:
        """A client for a settings profile (``switchboard.config.load_settings(profile)``), or for
        ``settings`` when given. ``kwargs`` go to the constructor (``timeout``, ``retries``...)."""
        from switchboard.config import ConfigError, load_settings

        if settings is None:
            settings = load_settings(profile)
        username, secret = settings.basic_auth()
        if not settings.account_sid:
            raise ConfigError(
                "TWILIO_ACCOUNT_SID is not set: the client needs the account SID (AC...)"
            )
        api_key_sid = username if username != settings.account_sid else None
        if "base_url" in kwargs:
            return cls(settings.account_sid, secret, api_key_sid=api_key_sid, **kwargs)
        try:
            return cls(
                settings.account_sid,
                secret,
                api_key_sid=api_key_sid,
                base_url=settings.api_base_url,
                **kwargs,
            )
        except ValidationError as error:
            if error.argument != "base_url":
                raise
            problem = error.problem
            if problem.startswith("must not hold credentials"):
                problem = "must not hold credentials; set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"
            raise ConfigError(f"TWILIO_API_BASE_URL: {problem}") from None

    def __repr__(self) -> str:
        user = f" key {self.api_key_sid}" if self.api_key_sid else ""
        return f"<{type(self).__name__} {self.account_sid}{user} at {self.base_url}>"

    def close(self) -> None:
        """Close the pooled connections; every later request raises
        :class:`~api.errors.TwilioClientClosed`. A media stream already open is still read
        to its end. Closing twice is harmless."""
        self._closed = True
        self._session.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def __enter__(self) -> TwilioClient:
        if self._closed:
            raise TwilioClientClosed()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def account_path(self, suffix: str = "", account_sid: str | None = None) -> str:
        """``/2010-04-01/Accounts/{account_sid}`` followed by ``suffix`` (``"/Calls.json"``)."""
        if account_sid is None:
            account_sid = self.account_sid
        else:
            check_sid("account_sid", account_sid, "AC")
        return f"/{API_VERSION}/Accounts/{account_sid}{suffix}"

    def url_for(self, path: str) -> str:
        """The URL of ``path``: a path from the API root (``/2010-04-01/...``, as Twilio's
        ``uri`` and ``next_page_uri`` are) or a full URL under ``base_url``."""
        if not isinstance(path, str):
            raise ValidationError("path", f"{path!r} is not a string")
        if path.startswith(("http://", "https://")):
            if path.startswith(self.base_url + "/"):
                return path
            raise ValidationError(
                "path",
                f"{path!r} is not under {self.base_url}; the client sends its credentials "
                "only there",
            )
        if not path.startswith("/"):
            raise ValidationError("path", f"{path!r} must start with '/' (like /{API_VERSION}/...)")
        return self.base_url + path

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        data: Params | None = None,
        stream: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Send a request and return its decoded JSON object (``None`` for an empty answer).

        ``params`` go in the query string, ``data`` in a form-encoded body (see
        :func:`encode_params`); ``headers`` are sent beside the client's own (``Range`` for
        part of a media file). With ``stream=True`` the open :class:`requests.Response` is
        returned instead, once its status is known to be good; the caller closes it.
        A redirect is followed only by a streamed ``GET`` (a recording or a media file,
        which Twilio serves from a storage host, to which the credentials are not sent);
        any other request answered with a redirect raises
        :class:`~api.errors.TwilioInvalidResponse`, so that a request and its body never go
        anywhere but ``base_url``. A body that is not a JSON object (an array, ``null``...)
        raises :class:`~api.errors.TwilioInvalidResponse` too, and an answer cut off mid-body
        (once the resends the retry policy allows are spent) a
        :class:`~api.errors.TwilioConnectionError` with ``cut`` set. Raises
        :class:`~api.errors.TwilioError` subclasses.
        """
        method = _check_method(method)
        if self._closed:
            raise TwilioClientClosed(method)
        url = self.url_for(path)
        query = _query(params)
        body = encode_params(data) if data is not None else None
        started = time.perf_counter()
        error: TwilioError | None = None
        resends = 0 if stream else self._resends_of_cut_answers(method)
        attempts = 1
        while True:
            try:
                response = self._session.request(
                    method,
                    url,
                    params=query,
                    data=body,
                    headers=headers,
                    timeout=self.timeout,
                    stream=stream,
                    allow_redirects=stream and method == "GET",
                )
            except requests.exceptions.ChunkedEncodingError as exc:
                if resends > 0:
                    resends -= 1
                    attempts += 1
                    log.debug(
                        "%s %s: the answer was cut short; sent again", method, urlsplit(url).path
                    )
                    continue
                error = _cut_off(method, url, exc, attempts)
            except requests.RequestException as exc:
                error = self._transport_error(method, url, exc, time.perf_counter() - started)
            break
        if log.isEnabledFor(logging.DEBUG):
            outcome = f"failed: {error}" if error else f"-> {response.status_code}"
            log.debug(
                "%s %s %s in %.1f ms",
                method,
                urlsplit(url).path,
                outcome,
                (time.perf_counter() - started) * 1000,
            )
        if error is not None:
            # Raised outside the except block: the requests exception, which holds the
            # prepared request and its Authorization header, is not chained.
            _observe(method, None, error, started)
            raise error
        if not observers.active():
            return self._decode(method, url, response, stream)
        try:
            result = self._decode(method, url, response, stream)
        except TwilioError as failed:
            _observe(method, response.status_code, failed, started)
            raise
        _observe(method, response.status_code, None, started)
        return result

    def paginate(
        self,
        path: str,
        *,
        params: Params | None = None,
        key: str,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict]:
        """Lazily iterate the items under ``key`` on every page
        (:func:`switchboard.api.paging.paginate`)."""
        if not isinstance(key, str) or not key:
            raise ValidationError("key", f"{key!r:.40} is not the name of a list in the page")
        if self._closed:
            raise TwilioClientClosed("GET")
        return paging.paginate(
            self, path, params=_query(params), key=key, limit=limit, page_size=page_size
        )

    def _resends_of_cut_answers(self, method: str) -> int:
        """How many times a request whose answer is cut short mid-body (the connection reset
        or closed early) is sent again: as many as the retry policy's read retries, for the
        methods it retries (never a ``POST`` under the default policy)."""
        retry = self.retries
        allowed = retry.allowed_methods
        if allowed is not None and method not in allowed:
            return 0
        limits = [n for n in (retry.total, retry.read) if n is not None]
        if any(n is False for n in limits):
            return 0
        return min((n for n in limits if isinstance(n, int)), default=0)

    def _transport_error(
        self, method: str, url: str, exc: requests.RequestException, elapsed: float | None = None
    ) -> TwilioError:
        if isinstance(exc, requests.exceptions.ChunkedEncodingError):
            return _cut_off(method, url, exc, 1)
        if self._closed and _pool_closed(exc):
            return TwilioClientClosed(method)  # closed by another thread: nothing was sent
        if isinstance(exc, requests.ConnectTimeout):
            phase, seconds = "connect", self.timeout[0]
        elif isinstance(exc, requests.ReadTimeout) or (
            isinstance(exc, requests.ConnectionError) and _read_timeout(exc)
        ):
            phase, seconds = "read", self.timeout[1]
        else:
            may_retry = self.retries.total not in (0, False)
            return TwilioConnectionError(
                method,
                url,
                reason=_reason(exc, may_retry=may_retry),
                connected=not _never_connected(exc),
            )
        return TwilioTimeout(
            method, url, phase=phase, seconds=seconds, attempts=_attempts(exc), elapsed=elapsed
        )

    def _decode(self, method: str, url: str, response: requests.Response, stream: bool) -> Any:
        status = response.status_code
        request_id = response.headers.get("Twilio-Request-Id")
        if 300 <= status < 400:
            response.close()
            raise TwilioInvalidResponse(
                status,
                method,
                url,
                content_type=response.headers.get("Content-Type"),
                request_id=request_id,
                problem=_redirect_problem(response),
            )
        if status >= 400:
            try:
                if stream:
                    body = next(response.iter_content(_ERROR_BODY_LIMIT), b"")
                else:
                    body = response.content
            except requests.RequestException:
                body = b""
            finally:
                response.close()
            raise _http_error(status, method, url, body, response, request_id)
        if stream:
            return response
        try:
            content = response.content
        except requests.RequestException as exc:
            error = self._transport_error(method, url, exc)
        else:
            error = None
        if error is not None:
            raise error
        if status == 204 or not content:
            return None
        try:
            document = json.loads(content)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            # Every JSON answer of Twilio's is an object; anything else would fail later,
            # far from the request, in code that reads its fields.
            raise TwilioInvalidResponse(
                status,
                method,
                url,
                body=content,
                content_type=response.headers.get("Content-Type"),
                request_id=request_id,
            )
        return document


def _http_error(
    status: int,
    method: str,
    url: str,
    body: bytes,
    response: requests.Response,
    request_id: str | None,
) -> TwilioHTTPError:
    if status == 416:
        return RangeNotSatisfiable(
            method,
            url,
            complete_length=_complete_length(response.headers.get("Content-Range")),
            request_id=request_id,
        )
    try:
        doc = json.loads(body) if body else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        return TwilioInvalidResponse(
            status,
            method,
            url,
            body=body,
            content_type=response.headers.get("Content-Type"),
            request_id=request_id,
        )
    code = doc.get("code")
    if isinstance(code, str) and code.isdecimal() and len(code) < 10:
        code = int(code)
    more_info = doc.get("more_info")
    error_class = TwilioNotFound if status == 404 else TwilioHTTPError
    return error_class(
        status,
        code if isinstance(code, int) and not isinstance(code, bool) else None,
        _one_line(doc.get("message") or doc.get("detail") or response.reason or "error"),
        more_info if isinstance(more_info, str) and more_info.isprintable() else None,
        method,
        url,
        request_id=request_id,
        details=doc.get("details"),
    )


def _complete_length(content_range: str | None) -> int | None:
    """The size in ``Content-Range: bytes */SIZE`` (or ``bytes FIRST-LAST/SIZE``), if given."""
    unit, _, rest = (content_range or "").strip().partition(" ")
    size = rest.rpartition("/")[2]
    if unit.lower() == "bytes" and size.isascii() and size.isdecimal() and len(size) <= 18:
        return int(size)
    return None


def _observe(method: str, status: int | None, error: TwilioError | None, started: float) -> None:
    """Tell the REST client's observers (:mod:`switchboard.api.observers`) of a request."""
    if observers.active():
        name = type(error).__name__ if error is not None else None
        observers.notify(
            observers.RequestDone(method, status, name, time.perf_counter() - started)
        )


def _query(params: Params | None) -> list[tuple[str, str]]:
    """:func:`encode_params` for a query string: errors about its shape name ``params``."""
    try:
        return encode_params(params)
    except ValidationError as error:
        if error.argument != "data":
            raise
        raise ValidationError("params", error.problem) from None


def _one_line(message: object) -> str:
    """Twilio's message as one line of at most :data:`MESSAGE_LIMIT` characters."""
    text = message if isinstance(message, str) else json.dumps(message, default=str)
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 3] + "..."


def _redirect_problem(response: requests.Response) -> str:
    location = response.headers.get("Location")
    if not location:
        return "the answer is a redirect with no Location; JSON was expected"
    try:
        target = urlsplit(requests.compat.urljoin(response.url, location))
        where = f"{target.hostname}{target.path}" if target.hostname else "?"
    except ValueError:
        where = "an address that is not a URL"
    return (
        f"the answer redirects to {_one_line(where)[:120]}; the client does not follow "
        "redirects of API requests, so that they go nowhere but its base_url"
    )
