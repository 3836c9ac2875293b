"""Who may call: Twilio's request signatures (``X-Twilio-Signature``).

Twilio signs each webhook request with HMAC-SHA1 keyed by the account's auth token, over the
full URL (query string included, ``#`` fragment excluded) followed by every POST field, sorted
by name, as ``name + value`` (a repeated name contributes each of its values, sorted). The
signature is base64-encoded. A request with a JSON body carries ``bodySHA256=<hex>`` in its
query string instead: the URL alone is signed and the hash must match the raw body.

The same module signs, so the emulator and the tests can make requests Twilio would make::

    headers = signed_headers(token, "https://example.com/voice", {"CallSid": "CA..."})
    RequestValidator(token).validate(url, params, headers["X-Twilio-Signature"])  # True
"""

from __future__ import annotations

import hashlib
import hmac
import string
from binascii import b2a_base64
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, unquote

from switchboard.config import Secret

if TYPE_CHECKING:
    import flask

SIGNATURE_HEADER = "X-Twilio-Signature"
BODY_SHA256 = "bodySHA256"

Params = Mapping[str, str | Iterable[str]] | Iterable[tuple[str, str | Iterable[str]]]

_DEFAULT_PORTS = {"https": "443", "http": "80"}
# What werkzeug leaves unescaped when it rebuilds a URL: a URL Twilio signed survives as is.
_PATH_SAFE = "!$&'()*+,/:;=@%~"
# The query string arrives as the client sent it: every printable ASCII character is kept
# (Twilio sends ``[`` ``]`` ``|`` ``{`` ``}`` unescaped when the configured URL has them, and
# signs them so); only spaces, control characters and raw non-ASCII bytes are escaped.
_QUERY_SAFE = string.punctuation
#: The content type of the bodies Twilio signs field by field.
FORM_TYPE = "application/x-www-form-urlencoded"


def _key(auth_token: str | Secret) -> bytes:
    token = auth_token.reveal() if isinstance(auth_token, Secret) else auth_token
    if not isinstance(token, str) or not token:
        raise ValueError("an auth token is required to sign or check Twilio requests")
    return token.encode("utf-8")


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _strip_fragment(url: str) -> str:
    cut = url.find("#")
    return url if cut < 0 else url[:cut]


def _params_payload(params: Params | None) -> str:
    """The fields as Twilio appends them to the URL: ``name + value``, sorted by name, then
    by value for a repeated name."""
    if not params:
        return ""
    if type(params) is dict:
        try:
            return "".join([name + params[name] for name in sorted(params)])
        except TypeError:
            pass  # a list of values somewhere: the general way below
    return "".join([name + value for name, value in _sorted_pairs(params)])


def _sorted_pairs(params: Params) -> list[tuple[str, str]]:
    """Every ``(name, value)`` of ``params``, sorted by name, then value."""
    if isinstance(params, Mapping):
        lists = getattr(params, "lists", None)  # werkzeug's MultiDict: every value, not the first
        if callable(lists):
            pairs = [(name, value) for name, values in lists() for value in values]
            pairs.sort()
            return pairs
        items: Iterable = params.items()
    else:
        items = params
    pairs = []
    for name, value in items:
        if isinstance(value, str):
            pairs.append((name, value))
        else:
            pairs.extend([(name, each) for each in value])
    pairs.sort()
    return pairs


def _candidate_payloads(params: Params | None) -> tuple[bytes, ...]:
    """The fields as a signer may have appended them: each value (Twilio's description, and
    :func:`compute_signature`), and, when a name repeats a value, each value once (the
    official SDKs sign ``sorted(set(values))``)."""
    if not params:
        return (b"",)
    if type(params) is dict:
        try:
            return (_encode("".join([name + params[name] for name in sorted(params)])),)
        except TypeError:
            pass  # a list of values somewhere: the general way below
    pairs = _sorted_pairs(params)
    every = _encode("".join([name + value for name, value in pairs]))
    unique = dict.fromkeys(pairs)  # sorted already: each pair once, in order
    if len(unique) == len(pairs):
        return (every,)
    return every, _encode("".join([name + value for name, value in unique]))


def _keyed(auth_token: str | Secret) -> hmac.HMAC:
    """HMAC-SHA1 keyed by the auth token, to be copied for each signature."""
    return hmac.new(_key(auth_token), digestmod=hashlib.sha1)


def _sign(keyed: hmac.HMAC, url: bytes, payload: bytes) -> bytes:
    """The one computation of Twilio's signature: base64 of the HMAC-SHA1 (``keyed``, left
    as it is) of the URL without its fragment, then the fields as :func:`_params_payload`
    writes them."""
    mac = keyed.copy()
    mac.update(url)
    mac.update(payload)
    return b2a_base64(mac.digest(), newline=False)


def compute_signature(auth_token: str | Secret, url: str, params: Params | None = None) -> str:
    """The ``X-Twilio-Signature`` Twilio sends for a request to ``url`` with POST ``params``
    (a mapping of name to value or list of values, or an iterable of ``(name, value)``).

    The server checks signatures (:class:`RequestValidator`) and the emulator signs its
    webhooks with this same computation."""
    payload = _encode(_params_payload(params))
    return _sign(_keyed(auth_token), _encode(_strip_fragment(url)), payload).decode("ascii")


def body_sha256(body: bytes) -> str:
    """The hex SHA-256 of a raw request body, as Twilio puts it in ``bodySHA256``."""
    return hashlib.sha256(body).hexdigest()


def url_with_body_sha256(url: str, body: bytes) -> str:
    """``url`` with ``bodySHA256`` for ``body`` added to its query string, as Twilio sends a
    request with a JSON body (the fragment, if any, is dropped)."""
    url = _strip_fragment(url)
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{BODY_SHA256}={body_sha256(body)}"


def signed_headers(
    auth_token: str | Secret, url: str, params: Params | None = None
) -> dict[str, str]:
    """The headers to send with a request Twilio would sign: ``{"X-Twilio-Signature": ...}``."""
    return {SIGNATURE_HEADER: compute_signature(auth_token, url, params)}


def _port_variant(url: str) -> str | None:
    """``url`` with its default port removed (``:443`` https, ``:80`` http) or added when it
    has none; ``None`` for another port or a URL that is not http(s)."""
    scheme_end = url.find("://")
    if scheme_end < 0:
        return None
    default = _DEFAULT_PORTS.get(url[:scheme_end].lower())
    if default is None:
        return None
    start = scheme_end + 3
    end = len(url)
    for separator in "/?":
        found = url.find(separator, start, end)
        if found >= 0:
            end = found
    authority = url[start:end]
    host_start = authority.rfind("@") + 1
    colon = authority.rfind(":")
    if colon >= host_start and colon > authority.rfind("]"):
        if authority[colon + 1 :] != default:
            return None
        authority = authority[:colon]
    else:
        authority = f"{authority}:{default}"
    return url[:start] + authority + url[end:]


def _body_hashes_in(url: str) -> list[str]:
    """The ``bodySHA256`` values of ``url``'s query, its names decoded as a server decodes
    them (``body%53HA256`` is ``bodySHA256``: request.args has it, so the check must too)."""
    query = url.partition("?")[2]
    if BODY_SHA256 not in query and "%" not in query:
        return []
    return [value for name, value in parse_qsl(query, keep_blank_values=True)
            if name == BODY_SHA256]


class RequestValidator:
    """Checks Twilio's signatures for one auth token.

    The HMAC is keyed once here; each check copies the keyed state. The URL is checked as
    received first and only then with the default port added or removed, as Twilio's own
    validators accept both.
    """

    __slots__ = ("_mac",)

    def __init__(self, auth_token: str | Secret) -> None:
        self._mac = _keyed(auth_token)

    def __repr__(self) -> str:
        return "<RequestValidator>"

    def _matches(self, url: bytes, payloads: tuple[bytes, ...], expected: bytes) -> bool:
        """Whether one of ``payloads`` after ``url`` is signed ``expected``; each compared in
        constant time."""
        matched = False
        for payload in payloads:
            matched |= hmac.compare_digest(_sign(self._mac, url, payload), expected)
        return matched

    def validate(
        self,
        url: str,
        params: Params | None,
        signature: str | None,
        body: bytes | None = None,
    ) -> bool:
        """Whether ``signature`` is Twilio's for a request to ``url`` with POST ``params``, or,
        when ``url`` carries ``bodySHA256`` (once), for the URL alone with ``body`` matching
        the hash. A value repeated under one name may have been signed each time or once (the
        official SDKs' way): both are accepted. Never raises for bad input: anything
        malformed is simply not valid."""
        if not signature or not isinstance(signature, str) or not isinstance(url, str):
            return False
        try:
            expected = signature.encode("ascii")
        except UnicodeEncodeError:
            return False
        url = _strip_fragment(url)
        hashes = _body_hashes_in(url)
        if hashes:
            if (len(hashes) != 1 or not isinstance(body, bytes | bytearray | memoryview)
                    or not hmac.compare_digest(body_sha256(body).encode("ascii"),
                                               _encode(hashes[0]))):
                return False
            payloads: tuple[bytes, ...] = (b"",)
        else:
            try:
                payloads = _candidate_payloads(params)
            except (TypeError, ValueError):
                return False
        if self._matches(_encode(url), payloads, expected):
            return True
        variant = _port_variant(url)
        return variant is not None and self._matches(_encode(variant), payloads, expected)


def twilio_url(request: flask.Request, public_url: str | None) -> str:
    """The URL Twilio signed for ``request``.

    With ``public_url`` (``SWITCHBOARD_PUBLIC_URL``), that base plus the request's path and
    query string: right behind any proxy or tunnel. Without it, the URL as werkzeug sees it
    (scheme and host as rewritten by ``ProxyFix`` for trusted proxies). Percent-escapes are kept
    as the client sent them, which ``request.url`` does not do.
    """
    query = request.query_string.decode("utf-8", "replace")
    tail = _raw_path(request) + (f"?{quote(query, safe=_QUERY_SAFE)}" if query else "")
    if public_url:
        return public_url.rstrip("/") + tail
    root = quote(request.root_path.rstrip("/"), safe=_PATH_SAFE)
    return f"{request.scheme}://{request.host}{root}{tail}"


def _raw_path(request: flask.Request) -> str:
    """The request path below the application root, escaped as the client sent it when the
    server recorded the raw request line, else re-escaped the way werkzeug does."""
    path = request.path
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if isinstance(raw, str) and raw.startswith("/"):
        raw_path = raw.partition("?")[0]
        root = request.root_path.rstrip("/")
        # Mounted under SCRIPT_NAME by the server, or the prefix already removed by a proxy.
        candidates = [raw_path]
        if root and raw_path.startswith(root):
            candidates.insert(0, raw_path[len(root) :])
        for candidate in candidates:
            if candidate.startswith("/") and unquote(candidate, errors="replace") == path:
                return candidate
    return quote(path, safe=_PATH_SAFE)


#: Why a request was refused, for the log line; the client is told nothing.
INVALID_SIGNATURE = "missing or invalid X-Twilio-Signature"
UNCOVERED_BODY = "a body the signature does not cover"


def refusal(
    request: flask.Request,
    validator: RequestValidator,
    public_url: str | None = None,
    form: Mapping[str, str] | None = None,
) -> str | None:
    """``None`` when ``request`` carries Twilio's valid signature over everything a handler
    can read, else why not (:data:`INVALID_SIGNATURE` or :data:`UNCOVERED_BODY`).

    ``form``: the POST fields the caller parsed from the body (else ``request.form``). Read
    the raw body (``request.get_data(cache=True)``) before any form parsing: a body parsed
    away cannot be checked, and is refused.

    - ``bodySHA256`` is looked for in the decoded query, the one ``request.args`` and the
      handlers read; present (once), the raw body as received must match it, byte for byte,
      whatever its type (a form or multipart body so covered is covered field by field).
    - Otherwise a POST ``application/x-www-form-urlencoded`` body is checked field by field,
      and one with no field (not UTF-8) is refused.
    - Any other body (multipart, files, JSON, a body on a GET) is refused: no signature
      covers it. Without a body the URL alone is checked.
    """
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        return INVALID_SIGNATURE
    url = twilio_url(request, public_url)
    hashes = request.args.getlist(BODY_SHA256)
    if hashes:
        body = _body_as_received(request, form)
        if body is None or len(hashes) != 1 or _body_hashes_in(url) != hashes:
            return UNCOVERED_BODY
        valid = validator.validate(url, None, signature, body=body)
    elif request.method == "POST" and request.mimetype == FORM_TYPE:
        fields = request.form if form is None else form
        if not fields and request.get_data(cache=True):
            return UNCOVERED_BODY  # not UTF-8, or no field in it: nothing the signature names
        valid = validator.validate(url, fields, signature)
    else:
        if request.get_data(cache=True) or request.content_length or _parsed_fields(request, form):
            return UNCOVERED_BODY
        valid = validator.validate(url, None, signature)
    return None if valid else INVALID_SIGNATURE


def _parsed_fields(request: flask.Request, form: Mapping[str, str] | None) -> bool:
    """Whether the request has form fields or files, parsed by the caller or by werkzeug."""
    return bool(form) or bool(request.form) or bool(request.files)


def _body_as_received(request: flask.Request, form: Mapping[str, str] | None) -> bytes | None:
    """The raw body, or ``None`` when it was parsed as a form before it was kept (the stream
    is spent: what is left is not what the client sent)."""
    body = request.get_data(cache=True)
    length = request.content_length
    if length is not None and len(body) != length:
        return None
    if not body and _parsed_fields(request, form):
        return None
    return body


def verify_flask_request(
    request: flask.Request,
    auth_token: str | Secret | RequestValidator,
    public_url: str | None = None,
) -> bool:
    """Whether ``request`` carries Twilio's valid signature over everything a view can read
    (:func:`refusal`).

    Form bodies (``application/x-www-form-urlencoded`` POSTs) are checked with every value of
    every field; a URL with ``bodySHA256`` against the raw body; a request without a body
    (GET) by the URL alone. Any other body (multipart, JSON without ``bodySHA256``, a body on
    a GET) is refused: no signature covers it. Call it before reading ``request.form``.
    ``auth_token`` may be a :class:`RequestValidator` made once, to key the HMAC once per
    app; without a token (``None`` or empty) every request is refused.
    """
    if not auth_token or not request.headers.get(SIGNATURE_HEADER):
        return False
    validator = (
        auth_token if isinstance(auth_token, RequestValidator) else RequestValidator(auth_token)
    )
    return refusal(request, validator, public_url) is None
