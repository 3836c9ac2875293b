"""Fetching a webhook the way Twilio does.

One :class:`WebhookClient` per call (or per SMS conversation) keeps the cookies the server sets,
as Twilio does for the length of a call. :meth:`WebhookClient.fetch` sends Twilio's parameters
with the URL's method (a POST form body, or the query string for GET), signs the request with
``X-Twilio-Signature`` over the URL without its fragment (the URL it requests, with ``|`` and
the like as configured: see :func:`wire_url`) by the server's own computation
(:func:`switchboard.callbacks.security.compute_signature`), honours the connection-override
fragment (``#ct=..&rt=..&tt=..&rc=..&rp=..``) and the 15 s total limit (one watchdog thread cuts a
request still running then, see :class:`_Watchdog`), retries with the same
``I-Twilio-Idempotency-Token`` header, follows up to 10 redirects (re-signing each hop), and
classifies the outcome into the Twilio error code the debugger would show: a connection refused
is 11202, a connect timeout 11201, the total time running out 11203, a failed TLS handshake 11220
(a certificate for another host 11235, expired 11236, from an unknown authority 11237); any other
network failure (a read timeout within the total time, a dropped connection) stays 11205.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import ssl
import string
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

import requests
import requests.adapters
import requests.structures
import requests.utils
import urllib3
import urllib3.connection
import urllib3.exceptions
import urllib3.util

from switchboard.api.client import causes
from switchboard.callbacks.security import SIGNATURE_HEADER, compute_signature

#: Twilio's error codes for webhook retrieval, from the error reference.
HTTP_RETRIEVAL_FAILURE = 11200
TCP_CONNECT_TIMEOUT = 11201
TCP_CONNECTION_REFUSED = 11202
HTTP_TOTAL_TIMEOUT = 11203
HTTP_CONNECTION_FAILURE = 11205
HTTP_PROTOCOL_VIOLATION = 11206
HTTP_BAD_HOST_NAME = 11210
HTTP_TOO_MANY_REDIRECTS = 11215
HTTP_ERROR_STATUS = 11217
TLS_HANDSHAKE_ERROR = 11220
CERTIFICATE_DOMAIN_MISMATCH = 11235
CERTIFICATE_EXPIRED = 11236
CERTIFICATE_UNTRUSTED = 11237
EDGE_INVALID = 11240
INTERCONNECT_NOT_ALLOWED = 11242
RETRY_POLICY_INVALID = 11243
RESPONSE_TOO_LARGE = 11750
DOCUMENT_PARSE_FAILURE = 12100
SCHEMA_VALIDATION_WARNING = 12200
INVALID_CONTENT_TYPE = 12300

ERROR_MESSAGES = {
    HTTP_RETRIEVAL_FAILURE: "HTTP retrieval failure",
    TCP_CONNECT_TIMEOUT: "TCP connection timed out",
    TCP_CONNECTION_REFUSED: "TCP connection refused",
    HTTP_TOTAL_TIMEOUT: "HTTP communication total time out triggered",
    HTTP_CONNECTION_FAILURE: "HTTP connection failure",
    HTTP_PROTOCOL_VIOLATION: "HTTP protocol violation",
    HTTP_BAD_HOST_NAME: "HTTP bad host name",
    HTTP_TOO_MANY_REDIRECTS: "HTTP too many redirects",
    HTTP_ERROR_STATUS: "HTTP error response",
    TLS_HANDSHAKE_ERROR: "SSL/TLS handshake error",
    CERTIFICATE_DOMAIN_MISMATCH: "Certificate invalid - domain mismatch",
    CERTIFICATE_EXPIRED: "Certificate invalid - certificate expired",
    CERTIFICATE_UNTRUSTED: "Certificate invalid - could not find path to certificate",
    EDGE_INVALID: "HTTP connection edge location is invalid",
    INTERCONNECT_NOT_ALLOWED: "HTTP connection over Twilio Interconnect is not allowed",
    RETRY_POLICY_INVALID: "HTTP retry policy is invalid",
    RESPONSE_TOO_LARGE: "TwiML response body too large",
    DOCUMENT_PARSE_FAILURE: "Document parse failure",
    SCHEMA_VALIDATION_WARNING: "Schema validation warning",
    INVALID_CONTENT_TYPE: "Invalid Content-Type",
}
#: The code of a certificate OpenSSL refused, by its verify code (``X509_V_ERR_...``).
_CERTIFICATE_ERRORS = {
    2: CERTIFICATE_UNTRUSTED,  # unable to get the issuer's certificate
    10: CERTIFICATE_EXPIRED,
    18: CERTIFICATE_UNTRUSTED,  # self-signed
    19: CERTIFICATE_UNTRUSTED,  # a self-signed certificate in the chain
    20: CERTIFICATE_UNTRUSTED,  # unable to get the local issuer's certificate
    21: CERTIFICATE_UNTRUSTED,  # unable to verify the first certificate
    62: CERTIFICATE_DOMAIN_MISMATCH,  # host name
    64: CERTIFICATE_DOMAIN_MISMATCH,  # IP address
}
#: The names of the failures that are timeouts (``Exchange.error``).
_TIMEOUTS = frozenset({"ConnectTimeout", "ReadTimeout"})

MAX_REDIRECTS = 10
#: Twilio reads at most 64 kB of an answer (more is error 11750).
MAX_BODY = 64 * 1024
#: A voice request never waits longer than this, whatever the overrides say.
MAX_TOTAL_SECONDS = 15.0
USER_AGENT = "TwilioProxy/1.1 (Switchboard emulator)"

TWIML_CONTENT_TYPES = frozenset({"text/xml", "application/xml", "text/html"})
RETRY_POLICIES = frozenset({"4xx", "5xx", "ct", "rt", "all"})
#: The public edges an ``e`` override may name (Twilio's edge locations page).
PUBLIC_EDGES = frozenset({
    "sydney", "sao-paulo", "dublin", "frankfurt", "tokyo", "singapore", "ashburn", "umatilla",
    "roaming",
})
#: The private Interconnect edges: the emulator's accounts have no Interconnect (11242).
INTERCONNECT_EDGES = frozenset({
    "ashburn-ix", "san-jose-ix", "sao-paulo-ix", "london-ix", "frankfurt-ix", "singapore-ix",
    "tokyo-ix", "sydney-ix",
})
#: What a URL keeps as is on the wire: every printable ASCII character but the space.
_WIRE_SAFE = string.punctuation


@dataclass(frozen=True)
class Overrides:
    """Connection overrides, from a URL fragment such as ``#ct=1000&rc=2&rp=5xx,ct``.

    ``error`` is the code and message Twilio fails the request with, without making it, when
    the fragment names a retry policy (11243) or an edge (11240, 11242) it does not take.
    """

    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    total_timeout: float = 15.0
    retry_count: int = 1
    retry_policy: frozenset[str] = frozenset({"ct"})
    error: tuple[int, str] | None = None

    @classmethod
    def from_fragment(cls, fragment: str) -> Overrides:
        """Parse a fragment; out-of-range or non-numeric timeouts and retry counts keep
        Twilio's defaults, an unknown retry policy or edge is an error (see ``error``)."""
        values = dict(parse_qsl(fragment, keep_blank_values=True))
        kwargs: dict[str, object] = {}
        for key, attr, low, high in (
            ("ct", "connect_timeout", 100, 10000),
            ("rt", "read_timeout", 100, 15000),
            ("tt", "total_timeout", 100, 15000),
        ):
            number = _int(values.get(key))
            if number is not None and low <= number <= high:
                kwargs[attr] = number / 1000
        retry_count = _int(values.get("rc"))
        if retry_count is not None and 0 <= retry_count <= 5:
            kwargs["retry_count"] = retry_count
        if "rp" in values:
            policy = frozenset(p.strip().lower() for p in values["rp"].split(","))
            if policy and policy <= RETRY_POLICIES:
                kwargs["retry_policy"] = policy
            else:
                kwargs["error"] = (RETRY_POLICY_INVALID, f"rp={values['rp']!r}: the retry "
                                   f"policies are {', '.join(sorted(RETRY_POLICIES))}")
        if "e" in values and "error" not in kwargs:
            kwargs["error"] = _edge_error(values["e"])
        return cls(**kwargs)

    def retries_on(self, reason: str) -> bool:
        return "all" in self.retry_policy or reason in self.retry_policy


def _edge_error(value: str) -> tuple[int, str] | None:
    """The error of an ``e`` override naming edges (a comma list), or None when it is good."""
    edges = [edge.strip().lower() for edge in value.split(",")]
    unknown = [e for e in edges if e not in PUBLIC_EDGES | INTERCONNECT_EDGES]
    if unknown:
        return EDGE_INVALID, f"e={value!r}: {unknown[0]!r} is not an edge location"
    if any(e in INTERCONNECT_EDGES for e in edges):
        return INTERCONNECT_NOT_ALLOWED, f"e={value!r}: the account has no Interconnect"
    return None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@dataclass
class Exchange:
    """One HTTP attempt, as ``--verbose`` shows it."""

    method: str
    url: str
    request_headers: dict[str, str]
    params: list[tuple[str, str]]
    status_code: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None
    elapsed: float = 0.0

    def summary(self) -> str:
        outcome = f"{self.status_code}" if self.status_code is not None else f"error: {self.error}"
        ctype = self.response_headers.get("Content-Type", "")
        return f"{self.method} {self.url} -> {outcome}{' ' + ctype if ctype else ''}"


@dataclass
class WebhookResponse:
    """The outcome of fetching one webhook (after redirects and retries)."""

    url: str  # the URL as configured, without its fragment and credentials: what was signed
    method: str
    params: list[tuple[str, str]]
    status_code: int | None = None
    content_type: str = ""
    body: bytes = b""
    final_url: str = ""  # after redirects: relative URLs in the document resolve against it
    error_code: int | None = None
    error_message: str = ""
    exchanges: list[Exchange] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error_code is None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def split_url(url: str) -> tuple[str, str, tuple[str, str] | None]:
    """``(url without fragment or credentials, fragment, (user, password) or None)``."""
    parts = urlsplit(url)
    auth = None
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, netloc = netloc.rsplit("@", 1)
        user, _, password = userinfo.partition(":")
        auth = (unquote(user), unquote(password))
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    return clean, parts.fragment, auth


def wire_url(url: str) -> str:
    """``url`` as Twilio requests and signs it: printable ASCII as configured (``|``, ``{``,
    ``'``, ``^``... are not percent-encoded, as requests and urllib3 would), only spaces, control
    characters and non-ASCII text escaped (UTF-8) in its path and query.

    The host is the one the ``Host`` header carries (lower case, an international name in its
    IDNA ``xn--`` form) and an empty path is ``/``, as in the request line: what the server
    rebuilds from the request is what was signed.
    """
    scheme, separator, rest = url.partition("://")
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    target = rest[cut:]
    if separator and not target.startswith("/"):
        target = "/" + target
    return scheme.lower() + separator + _wire_authority(rest[:cut]) + quote(target,
                                                                            safe=_WIRE_SAFE)


def _wire_authority(authority: str) -> str:
    """``host[:port]`` as urllib3 connects to it and names it in the ``Host`` header."""
    userinfo, at, hostport = authority.rpartition("@")
    try:
        parsed = urllib3.util.parse_url("http://" + hostport)
    except (urllib3.exceptions.LocationParseError, ValueError):
        return authority
    if not parsed.host:
        return authority
    port = "" if parsed.port is None else f":{parsed.port}"
    return userinfo + at + parsed.host + port


def _target_of(url: str) -> str:
    """The request target (path and query) of a :func:`wire_url`."""
    rest = url.partition("://")[2]
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    target = rest[cut:]
    return target if target.startswith("/") else "/" + target


def with_query(url: str, params: Iterable[tuple[str, str]]) -> str:
    """``url`` with ``params`` appended to its query string (how Twilio GETs a webhook)."""
    params = list(params)
    if not params:
        return url
    parts = urlsplit(url)
    query = parts.query + ("&" if parts.query else "") + urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


class WebhookClient:
    """Fetches webhooks with one ``requests.Session`` (so cookies last for the call).

    The session's own http(s) adapters (requests' defaults) are replaced by
    :class:`DeadlineAdapter`; adapters a caller mounted (an in-process :class:`WSGIAdapter`)
    are kept.
    """

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        max_total: float = MAX_TOTAL_SECONDS,
    ) -> None:
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        for prefix in ("http://", "https://"):  # requests' own adapters: watched ones instead
            if type(self.session.adapters.get(prefix)) is requests.adapters.HTTPAdapter:
                self.session.mount(prefix, DeadlineAdapter())
        self.max_total = max_total

    def close(self) -> None:
        self.session.close()

    def fetch(
        self,
        url: str,
        params: Mapping[str, str] | Iterable[tuple[str, str]],
        *,
        auth_token: str,
        method: str = "POST",
    ) -> WebhookResponse:
        """Request ``url`` as Twilio would and classify the answer (never raises for HTTP)."""
        pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
        pairs = [(str(k), str(v)) for k, v in pairs if v is not None]
        method = (method or "POST").upper()
        if method not in {"GET", "POST"}:
            method = "POST"
        signed_url, fragment, auth = split_url(url)
        overrides = Overrides.from_fragment(fragment)
        result = WebhookResponse(url=signed_url, method=method, params=pairs)
        scheme = urlsplit(signed_url).scheme
        if scheme not in {"http", "https"} or not urlsplit(signed_url).hostname:
            _fail(result, HTTP_BAD_HOST_NAME, f"not an http(s) URL: {signed_url!r}")
            return result
        if overrides.error is not None:
            code, reason = overrides.error
            _fail(result, code, f"{ERROR_MESSAGES[code]} ({reason})")
            return result
        token = f"{uuid.uuid4()}"
        deadline = time.monotonic() + min(overrides.total_timeout, self.max_total)
        attempts = 1 + overrides.retry_count
        for attempt in range(attempts):
            reason = self._attempt(
                result, signed_url, method, pairs, auth, auth_token, token, overrides, deadline
            )
            if reason is None or attempt + 1 >= attempts or not overrides.retries_on(reason):
                break
            if time.monotonic() >= deadline:  # no time left for the retry the policy asks for
                if (result.exchanges and result.exchanges[-1].error in _TIMEOUTS
                        and result.error_code != HTTP_TOTAL_TIMEOUT):
                    _fail(result, HTTP_TOTAL_TIMEOUT, f"{ERROR_MESSAGES[HTTP_TOTAL_TIMEOUT]} "
                          f"(no time left to retry after {attempt + 1} attempts)")
                break
        return result

    def _attempt(
        self,
        result: WebhookResponse,
        url: str,
        method: str,
        pairs: list[tuple[str, str]],
        auth: tuple[str, str] | None,
        auth_token: str,
        token: str,
        overrides: Overrides,
        deadline: float,
    ) -> str | None:
        """One attempt with its redirects; fills ``result``; returns a retry reason or None."""
        result.error_code = None
        result.error_message = ""
        query = pairs if method == "GET" else []  # a redirect's Location is followed as given
        for _hop in range(MAX_REDIRECTS + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _fail(result, HTTP_TOTAL_TIMEOUT,
                      f"{ERROR_MESSAGES[HTTP_TOTAL_TIMEOUT]} (no time left for a request)")
                return "rt"
            request_url = wire_url(with_query(url, query) if method == "GET" else url)
            body_params = [] if method == "GET" else pairs
            headers = {
                SIGNATURE_HEADER: compute_signature(auth_token, request_url, body_params),
                "I-Twilio-Idempotency-Token": token,
            }
            exchange = Exchange(method, request_url, headers, list(pairs))
            result.exchanges.append(exchange)
            started = time.monotonic()
            in_process = isinstance(self.session.get_adapter(request_url), WSGIAdapter)
            watch = None if in_process else _WATCHDOG.watch(deadline)
            _current.watch, _current.target = watch, _target_of(request_url)
            try:
                response = self.session.request(
                    method,
                    request_url,
                    data=body_params or None,
                    headers=headers,
                    auth=auth,
                    timeout=(
                        min(overrides.connect_timeout, remaining),
                        min(overrides.read_timeout, remaining),
                    ),
                    allow_redirects=False,
                    stream=True,
                )
            except requests.exceptions.RequestException as exc:
                _WATCHDOG.release(watch)
                failure = exc
                if watch is not None and watch.cut:
                    failure = requests.exceptions.ReadTimeout("no answer within the total time")
                return self._request_error(result, exchange, started, failure, deadline)
            except BaseException:
                _WATCHDOG.release(watch)
                raise
            finally:
                _current.watch = _current.target = None
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            try:
                if content_type.startswith("audio/"):  # played from its URL, never read
                    body, too_large = b"", False
                else:
                    body, too_large = _read_body(response, watch)
            except requests.exceptions.RequestException as exc:
                code = (HTTP_TOTAL_TIMEOUT if _is_late(exc, deadline)
                        else HTTP_CONNECTION_FAILURE)
                return self._error(result, exchange, started, code, exc, "rt")
            finally:
                _WATCHDOG.release(watch)
                response.close()
            exchange.elapsed = time.monotonic() - started
            exchange.status_code = response.status_code
            exchange.response_headers = dict(response.headers)
            result.status_code = response.status_code
            exchange.body = body
            result.final_url = url
            if response.is_redirect and response.headers.get("Location"):
                url = urljoin(request_url, response.headers["Location"])
                url, _fragment, auth = _redirect_target(url, auth)
                query = []
                if response.status_code in {301, 302, 303} and method == "POST":
                    method, query = "GET", pairs
                continue
            result.content_type = content_type
            result.body = body
            if response.status_code >= 400:
                _fail(result, HTTP_ERROR_STATUS, f"the server answered {response.status_code}")
                return "4xx" if response.status_code < 500 else "5xx"
            if too_large:
                _fail(result, RESPONSE_TOO_LARGE, f"the answer is larger than {MAX_BODY} bytes")
            return None
        return _fail(result, HTTP_TOO_MANY_REDIRECTS, f"more than {MAX_REDIRECTS} redirects")

    def _request_error(
        self, result: WebhookResponse, exchange: Exchange, started: float,
        exc: requests.exceptions.RequestException, deadline: float,
    ) -> str | None:
        """Classify a request that got no answer; returns a retry reason or None.

        A timeout that ends at the deadline is the total time running out (11203), whichever
        timer fired: the connect or read timeout of the last attempt is cut to the time left.
        """
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            code = HTTP_TOTAL_TIMEOUT if _is_late(exc, deadline) else TCP_CONNECT_TIMEOUT
            return self._error(result, exchange, started, code, exc, "ct")
        if isinstance(exc, requests.exceptions.ReadTimeout):
            code = HTTP_TOTAL_TIMEOUT if _is_late(exc, deadline) else HTTP_CONNECTION_FAILURE
            return self._error(result, exchange, started, code, exc, "rt")
        if isinstance(exc, requests.exceptions.ConnectionError):
            if _is_name_error(exc):
                return self._error(result, exchange, started, HTTP_BAD_HOST_NAME, exc, None)
            reason = "ct" if _is_connect_error(exc) else "rt"
            if isinstance(exc, requests.exceptions.SSLError):
                return self._error(result, exchange, started, _tls_error(exc), exc, reason)
            if any(isinstance(cause, ConnectionRefusedError) for cause in causes(exc)):
                return self._error(result, exchange, started, TCP_CONNECTION_REFUSED, exc, "ct")
            return self._error(result, exchange, started, HTTP_CONNECTION_FAILURE, exc, reason)
        return self._error(result, exchange, started, HTTP_RETRIEVAL_FAILURE, exc, None)

    @staticmethod
    def _error(
        result: WebhookResponse,
        exchange: Exchange,
        started: float,
        code: int,
        exc: BaseException,
        reason: str | None,
    ) -> str | None:
        exchange.elapsed = time.monotonic() - started
        exchange.error = type(exc).__name__
        result.status_code = None
        _fail(result, code, f"{ERROR_MESSAGES[code]} ({type(exc).__name__})")
        return reason


class _Watch:
    """One request's deadline: the socket its answer is read from is shut then."""

    __slots__ = ("cut", "deadline", "done", "sock")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.sock: socket.socket | None = None
        self.cut = False  # the deadline passed before the answer was read
        self.done = False


class _Watchdog:
    """One thread for every webhook request: shuts the connection of a request that is still
    waiting or reading at its deadline.

    Timeouts bound each read, not the whole: a server trickling its status line, headers or
    body would hold a call for ever. Watching costs a request a lock and a heap push, never a
    thread of its own nor a wake-up of this one (deadlines come in order; finished requests are
    dropped when they reach the top of the heap).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Watch]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: float) -> _Watch:
        watch = _Watch(deadline)
        with self._cond:
            heapq.heappush(self._heap, (deadline, next(self._order), watch))
            if self._thread is None or not self._thread.is_alive():  # (not after a fork)
                self._thread = threading.Thread(
                    target=self._run, name="webhook-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is watch:
                self._cond.notify()
        return watch

    def attach(self, watch: _Watch, sock: socket.socket) -> None:
        """``sock`` is what ``watch``'s request reads from (shut at once if already late)."""
        with self._cond:
            if watch.done:
                return
            watch.sock = sock
            if watch.cut:
                _shut(sock)

    def detach(self, watch: _Watch | None, sock: socket.socket | None) -> bool:
        """``sock`` goes back to the pool for another request: never shut for ``watch`` from
        now on. True when it was shut already (the connection must not be reused)."""
        if watch is None or sock is None:
            return False
        with self._cond:
            if watch.sock is sock:
                watch.sock = None
            return watch.cut

    def release(self, watch: _Watch | None) -> None:
        if watch is not None:
            with self._cond:
                watch.done = True
                watch.sock = None

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                delay = self._heap[0][0] - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                watch = heapq.heappop(self._heap)[2]
                watch.cut = True
                if watch.sock is not None:  # under the lock: not once the pool has it back
                    _shut(watch.sock)


_WATCHDOG = _Watchdog()
#: The watch of the request this thread is making, for the connection to attach its socket.
_current = threading.local()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _Watched:
    """What the webhook client's connections add: they request the target exactly as Twilio
    would (urllib3 percent-encodes ``|`` and the like; Twilio does not), and hand their socket
    to the watchdog before waiting for the answer."""

    sock: socket.socket | None
    watch: _Watch | None = None  # the request now reading from this connection

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> None:
        target = getattr(_current, "target", None)
        super().request(method, target or url, *args, **kwargs)  # type: ignore[misc]

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        watch = getattr(_current, "watch", None)
        self.watch = watch
        if watch is not None and self.sock is not None:
            _WATCHDOG.attach(watch, self.sock)
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class _WatchedConnection(_Watched, urllib3.connection.HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, urllib3.connection.HTTPSConnection):
    pass


class _Pooled:
    """What the webhook client's pools add: a connection coming back (its answer read in
    full) is taken from its request's watch first, so a deadline firing now cannot shut it
    under the next request to reuse it; one the watchdog already shut is closed instead."""

    def _put_conn(self, conn: Any) -> None:
        watch = getattr(conn, "watch", None)
        if watch is not None:
            conn.watch = None
            if _WATCHDOG.detach(watch, conn.sock):
                conn.close()
        super()._put_conn(conn)  # type: ignore[misc]


class _WatchedPool(_Pooled, urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedConnection


class _WatchedHTTPSPool(_Pooled, urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class DeadlineAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter whose connections are watched: a webhook's answer is cut at its
    total-time deadline (15 s at most), however slowly the server sends it."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedPool, "https": _WatchedHTTPSPool,
        }


def _read_body(response: requests.Response, watch: _Watch | None) -> tuple[bytes, bool]:
    """The body of a streamed ``response``: its first :data:`MAX_BODY` bytes, and whether
    there was more.

    A server that trickles its answer cannot hold the call past the deadline: the watchdog
    shuts its connection then, and the read fails with
    :class:`requests.exceptions.ReadTimeout`.
    """
    body = bytearray()
    try:
        for chunk in response.iter_content(8192):
            body += chunk
            if len(body) > MAX_BODY:
                return bytes(body[:MAX_BODY]), True
    except requests.exceptions.RequestException:
        if watch is None or not watch.cut:
            raise
    if watch is not None and watch.cut:
        raise requests.exceptions.ReadTimeout("total time limit exceeded while reading")
    return bytes(body), False


def _redirect_target(
    url: str, auth: tuple[str, str] | None
) -> tuple[str, str, tuple[str, str] | None]:
    clean, fragment, new_auth = split_url(url)
    return clean, fragment, new_auth or auth


def _fail(result: WebhookResponse, code: int, message: str) -> None:
    result.error_code = code
    result.error_message = message


def _is_name_error(exc: BaseException) -> bool:
    text = repr(exc)
    return any(
        marker in text
        for marker in (
            "NameResolutionError",
            "Name or service not known",
            "nodename nor servname",
            "getaddrinfo failed",
            "Temporary failure in name resolution",
            "No address associated",
        )
    )


def _tls_error(exc: BaseException) -> int:
    """The code of a failed TLS handshake: the certificate's fault when OpenSSL names one."""
    for cause in causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return _CERTIFICATE_ERRORS.get(cause.verify_code, TLS_HANDSHAKE_ERROR)
    return TLS_HANDSHAKE_ERROR


def _is_late(exc: BaseException, deadline: float) -> bool:
    """True when ``exc`` is a timeout that came at the request's deadline."""
    return isinstance(exc, requests.exceptions.Timeout) and time.monotonic() >= deadline


def _is_connect_error(exc: BaseException) -> bool:
    """True when no connection was made (so ``rp=ct`` applies), not a drop after sending."""
    text = repr(exc)
    return "NewConnectionError" in text or "Connection refused" in text


def error_document_kind(content_type: str) -> str:
    """How Twilio treats a successful answer by its content type.

    ``"twiml"``, ``"maybe-twiml"`` (text/plain: run if it parses, else spoken), ``"audio"``
    (played, then the call ends) or ``"invalid"`` (error 12300).
    """
    if content_type in TWIML_CONTENT_TYPES:
        return "twiml"
    if content_type == "text/plain":
        return "maybe-twiml"
    if content_type.startswith("audio/"):
        return "audio"
    return "invalid"


class _RawHeaders:
    """Enough of urllib3's response for requests to read the cookies a WSGI app set."""

    def __init__(self, headers: Iterable[tuple[str, str]]) -> None:
        import http.client

        message = http.client.HTTPMessage()
        for name, value in headers:
            message[name] = value
        self._original_response = type("Original", (), {"msg": message})()

    def release_conn(self) -> None:
        pass

    def close(self) -> None:
        pass


class WSGIAdapter(requests.adapters.BaseAdapter):
    """A transport adapter that answers requests with a WSGI (Flask) app, in process.

    Mount it on a session (``session.mount("http://", WSGIAdapter(app))``) and the webhook
    client talks to the app through Flask's test client instead of a socket: no server, no
    tunnel. Timeouts do not apply.
    """

    def __init__(self, app: Any) -> None:
        super().__init__()
        self.client = app.test_client(use_cookies=False)

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: Any = True, cert: Any = None,
             proxies: Any = None) -> requests.Response:
        parts = urlsplit(request.url or "")
        target = getattr(_current, "target", None)
        if target:  # as Twilio sends it, not as requests re-escaped it
            parts = parts._replace(path=target.partition("?")[0], query=target.partition("?")[2])
        body = request.body.encode() if isinstance(request.body, str) else request.body
        answer = self.client.open(
            parts.path or "/",
            base_url=f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}",
            method=request.method or "GET",
            query_string=parts.query,
            headers=list(request.headers.items()),
            data=body or b"",
        )
        response = requests.Response()
        response.status_code = answer.status_code
        response.reason = answer.status.partition(" ")[2]
        response.headers = requests.structures.CaseInsensitiveDict(answer.headers.items())
        response._content = answer.get_data()
        response._content_consumed = True
        response.url = request.url or ""
        response.request = request
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        response.raw = _RawHeaders(answer.headers.items())
        response.connection = self
        return response

    def close(self) -> None:
        pass


def wsgi_session(app: Any) -> requests.Session:
    """A session whose http(s) requests are answered by ``app`` in process."""
    session = requests.Session()
    adapter = WSGIAdapter(app)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
