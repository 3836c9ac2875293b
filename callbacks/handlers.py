"""Write your own Twilio handlers: a blueprint whose routes do the webhook chores.

A handler is a plain function that takes the typed request and returns TwiML built with
:mod:`switchboard.callbacks.twiml`::

    from switchboard.callbacks.handlers import TwilioBlueprint
    from switchboard.callbacks.twiml import VoiceResponse

    bp = TwilioBlueprint("hello", __name__)

    @bp.voice("/hello")
    def hello(call):
        return VoiceResponse().say(f"Hello. You are calling from {call.from_}.")

    app.register_blueprint(bp)

Every route made by the decorators, for each request (GET or POST, as Twilio may use either):

1. checks ``X-Twilio-Signature`` first: 403 with an empty body when it does not verify;
2. parses the parameters into a :class:`~callbacks.twilio_request.CallRequest`,
   :class:`~callbacks.twilio_request.MessageRequest` or
   :class:`~callbacks.twilio_request.StatusCallback` (unknown parameters kept in ``.params``);
3. records the call or message in the store, runs the handler with a deadline
   (``settings.handler_timeout``, see :mod:`switchboard.callbacks.deadline`), saves ``.session`` if
   the
   handler changed it;
4. answers TwiML as ``text/xml`` (status callbacks: 204 once stored) or, when anything went
   wrong, the safe answer of :mod:`switchboard.callbacks.errors` -- never a 500;
5. hands what was answered to the store, to be written after the answer
   (:mod:`switchboard.callbacks.exchanges`).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import unquote_to_bytes

from flask import Blueprint, Flask, Request, Response, current_app, request, url_for
from lxml import etree
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.exceptions import ClientDisconnected, RequestTimeout

from switchboard.callbacks.deadline import HandlerTimeout, abandoned, bounded
from switchboard.callbacks.errors import (
    STATUS_KINDS,
    BadHandlerResult,
    empty_messaging,
    observer,
    safe_answer,
    twiml_response,
)
from switchboard.callbacks.exchanges import exchange_row, record_exchange, shown_url
from switchboard.callbacks.security import FORM_TYPE
from switchboard.callbacks.twilio_request import CallRequest, MessageRequest, StatusCallback
from switchboard.callbacks.twiml import (
    MAX_DOCUMENT_BYTES,
    MessagingResponse,
    TwiMLError,
    VoiceResponse,
    parse_twiml,
)

if TYPE_CHECKING:
    from switchboard.callbacks.app import Switchboard

log = logging.getLogger("switchboard.callbacks")

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["TwilioBlueprint", "external_url"]

_NO_CONTENT = 204


class MalformedCallback(ValueError):
    """A status callback without its SID or status: retrying would not help."""


class TwilioBlueprint(Blueprint):
    """A Flask blueprint with decorators for Twilio webhooks.

    ``error_redirect``: a URL the caller is sent to (``<Redirect>``) after the apology when a
    voice handler of this blueprint fails, instead of hanging up; each ``@bp.voice`` may give
    its own.
    """

    def __init__(
        self, name: str, import_name: str, *, error_redirect: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(name, import_name, **kwargs)
        self.error_redirect = error_redirect

    def register(self, app: Flask, options: dict[str, Any]) -> None:
        """Register on ``app``, first giving it Switchboard's settings, store and error policy
        (:func:`~switchboard.callbacks.app.init_app`) when it has none: on an app made by
        :func:`~switchboard.callbacks.create_app` this adds nothing."""
        from switchboard.callbacks.app import init_app

        init_app(app)
        super().register(app, options)

    def voice(
        self, rule: str, *, endpoint: str | None = None, error_redirect: str | None = None
    ) -> Callable[[F], F]:
        """A voice webhook or verb action: ``handler(call: CallRequest) -> VoiceResponse``."""
        return self._webhook(rule, "voice", endpoint, error_redirect or self.error_redirect)

    def sms(self, rule: str, *, endpoint: str | None = None) -> Callable[[F], F]:
        """A message webhook: ``handler(message: MessageRequest) -> MessagingResponse | None``.

        ``None`` sends no reply (an empty ``<Response/>``).
        """
        return self._webhook(rule, "sms", endpoint)

    def call_status(self, rule: str, *, endpoint: str | None = None) -> Callable[[F], F]:
        """A call status callback, stored before ``handler(status: StatusCallback)`` runs."""
        return self._webhook(rule, "call_status", endpoint)

    def message_status(self, rule: str, *, endpoint: str | None = None) -> Callable[[F], F]:
        """A message status callback, stored before ``handler(status: StatusCallback)`` runs."""
        return self._webhook(rule, "message_status", endpoint)

    def recording_status(self, rule: str, *, endpoint: str | None = None) -> Callable[[F], F]:
        """A recording status callback, stored before ``handler(status: StatusCallback)`` runs."""
        return self._webhook(rule, "recording_status", endpoint)

    def fallback(
        self, rule: str, *, kind: str = "voice", endpoint: str | None = None
    ) -> Callable[[F], F]:
        """A fallback URL (``kind`` "voice" or "sms"): Twilio's ``ErrorCode`` and ``ErrorUrl``
        are logged before the handler runs; its answer is subject to the same error policy."""
        if kind not in ("voice", "sms"):
            raise ValueError(f"fallback kind must be 'voice' or 'sms', not {kind!r}")
        return self._webhook(rule, f"{kind}_fallback", endpoint)

    def _webhook(
        self, rule: str, kind: str, endpoint: str | None, error_redirect: str | None = None
    ) -> Callable[[F], F]:
        def decorator(handler: F) -> F:
            if "<" in rule:  # the rule's variables: keyword arguments, as for a Flask view
                view = taking_url_values(
                    make_view(_given_url_values(handler), kind, error_redirect=error_redirect))
            else:
                view = make_view(handler, kind, error_redirect=error_redirect)
            self.add_url_rule(
                rule, endpoint or handler.__name__, view, methods=["GET", "POST"]
            )
            return handler

        return decorator


def _given_url_values(handler: Callable[..., Any]) -> Callable[[Any], Any]:
    """``handler``, called with the request and the URL's variables (``request.view_args``)
    as keyword arguments."""

    @functools.wraps(handler)
    def with_values(twilio_request: Any) -> Any:
        return handler(twilio_request, **(request.view_args or {}))

    return with_values


def taking_url_values(view: Callable[[], Response]) -> Callable[..., Response]:
    """``view`` (:func:`make_view`'s), registered for a rule with variables: Flask passes
    them, and the view drops them; its handler reads them from ``request.view_args`` (or
    gets them as keyword arguments through :func:`_given_url_values`)."""

    @functools.wraps(view)
    def route(**_values: Any) -> Response:
        return view()

    return route


def external_url(endpoint: str, **values: Any) -> str:
    """The absolute URL of ``endpoint`` as Twilio reaches it.

    With ``SWITCHBOARD_PUBLIC_URL``, that base (which may carry a path prefix a proxy strips)
    plus the route's path below the app's root; else the URL werkzeug sees, with scheme, host
    and prefix as rewritten by ``ProxyFix`` for trusted proxies. The bundled flows use it for
    every URL they hand to Twilio, so actions resolve the same behind any proxy or tunnel.

    A URL without ``values`` is built once per endpoint and request origin (scheme, host,
    port, prefix), unless the app has URL defaults functions, which may change it per request.
    """
    switchboard = current_app.extensions.get("switchboard")
    if switchboard is None:
        return _external_url(endpoint, None, values)
    public_url = switchboard.settings.public_url
    if values or any(current_app.url_default_functions.values()):
        return _external_url(endpoint, public_url, values)
    environ = request.environ
    key = (
        endpoint,
        request.blueprint if endpoint.startswith(".") else None,
        environ.get("wsgi.url_scheme"),
        environ.get("HTTP_HOST"),
        environ.get("SERVER_NAME"),
        environ.get("SERVER_PORT"),
        environ.get("SCRIPT_NAME"),
    )
    urls = switchboard.external_urls
    url = urls.get(key)
    if url is None:
        url = _external_url(endpoint, public_url, values)
        if len(urls) < _EXTERNAL_URLS_KEPT:
            urls[key] = url
    return url


#: At most this many external URLs are kept per app (the key holds the Host header).
_EXTERNAL_URLS_KEPT = 512


def _external_url(endpoint: str, public_url: str | None, values: dict[str, Any]) -> str:
    if not public_url:
        return url_for(endpoint, _external=True, **values)
    path = url_for(endpoint, **values)
    root = request.script_root
    if root and path.startswith(root):
        path = path[len(root):]
    return public_url.rstrip("/") + path


def make_view(
    handler: Callable[..., Any], kind: str, *, error_redirect: str | None = None
) -> Callable[[], Response]:
    """The Flask view that runs ``handler`` for a Twilio webhook of ``kind``."""
    run = _RUNNERS[kind]
    view_class, view_kind = _VIEWS[kind]

    @functools.wraps(handler)
    def view() -> Response:
        arrived, started = time.time(), time.perf_counter()
        switchboard: Switchboard = current_app.extensions["switchboard"]
        req: Request = request._get_current_object()  # type: ignore[attr-defined]
        form = read_form(req)
        if not switchboard.verify(req, form):
            if (metrics := observer()) is not None:
                metrics.signature_refused(req.endpoint)
            return Response(status=403)
        args = req.args
        if not args:
            params = form
        elif not form:
            params = args
        else:
            params = MultiDict([*args.items(multi=True), *form.items(multi=True)])
        if _may_hold_nul(req):
            params = _without_nul(req, params)
        twilio_request = view_class(params, switchboard.settings, headers=req.headers)
        if view_kind:
            twilio_request.kind = view_kind
        failure: Exception | None = None
        try:
            response = switchboard.deadline.run(
                functools.partial(run, switchboard, handler, twilio_request),
                started=req.environ.get(_BEGAN_KEY),
            )
        except Exception as error:
            failure = error
            response = _failed(kind, handler, twilio_request, error, switchboard,
                               error_redirect)
        _record_exchange(switchboard, kind, req, twilio_request, response, arrived, started,
                         failure)
        return response

    view.twilio_kind = kind  # type: ignore[attr-defined]
    return view


def _record_exchange(
    switchboard: Switchboard, kind: str, req: Request, twilio_request: Any,
    response: Response, arrived: float, started: float, error: Exception | None,
) -> None:
    """Hand what ``req`` was answered to the store, to be written after the answer; a
    failure is logged and the answer stays as it is."""
    if not switchboard.records_exchanges:  # none kept: those of an earlier setting go
        switchboard.exchange_purger(switchboard.store)
        return
    duplicate = None
    if kind in STATUS_KINDS and error is None:
        duplicate = twilio_request.duplicate
    path = req.path
    if "\x00" in path:
        path = path.replace("\x00", "\ufffd")
    try:
        row = exchange_row(kind, twilio_request.params, response, arrived=arrived,
                           started=started, endpoint=req.endpoint, path=path, error=error,
                           safe=error is not None and not isinstance(error, MalformedCallback),
                           duplicate=duplicate)
    except Exception as failure:
        log.warning("exchange of %s not recorded: %s", req.path, type(failure).__name__,
                    exc_info=failure)
        return
    store, timeout = switchboard.store, float(switchboard.settings.handler_timeout)
    if store.defers or timeout <= 0:
        record_exchange(store, row, switchboard.exchange_purger)
        return
    # written before the answer: within what is left of the handler's time, not the store's
    began = req.environ.get(_BEGAN_KEY)
    spent = time.perf_counter() - started if began is None else time.monotonic() - began
    with bounded(timeout - spent):
        record_exchange(store, row, switchboard.exchange_purger)


_NO_FIELDS: ImmutableMultiDict[str, str] = ImmutableMultiDict()


#: Where :func:`read_form` keeps a request's fields, in its WSGI environ.
_FORM_KEY = "switchboard.form"


#: Where :func:`read_form` keeps when it began to read the request (``time.monotonic()``):
#: the handler's deadline counts from there.
_BEGAN_KEY = "switchboard.began"


def read_form(request: Request) -> MultiDict[str, str]:
    """The POST fields of a Twilio request, parsed in one step from the cached body.

    The raw body is read and kept first, whatever its type and method, so that the signature
    check sees it as received (werkzeug's form parser would spend the stream), within the
    handler's deadline (:func:`_read_body`). Twilio posts small
    ``application/x-www-form-urlencoded`` bodies; werkzeug's general stream parser costs more
    than the parse itself. Other content types go to werkzeug (from the kept body). A body
    that is not UTF-8 has no fields (as with werkzeug); one over ``MAX_CONTENT_LENGTH`` is a
    413, one still arriving at the deadline a 408. The fields are parsed once per request: a
    view that looks at them before the webhook's own (to choose it) costs no second parse.
    Treat them as read-only.
    """
    environ = request.environ
    form = environ.get(_FORM_KEY)
    if form is not None:
        return form
    data = _read_body(request)
    if request.method != "POST":
        form = _NO_FIELDS
    elif request.mimetype != FORM_TYPE:
        form = request.form
    else:
        try:
            text = data.decode()
        except UnicodeDecodeError:
            form = _NO_FIELDS
        else:
            form = MultiDict(parse_form(text))
    environ[_FORM_KEY] = form
    return form


def _read_body(request: Request) -> bytes:
    """The raw body, kept (``get_data(cache=True)``).

    Where the deadline can cut a blocking read short (the main thread: gunicorn's sync
    workers), the read counts against the handler's time, so that a body trickling in does
    not hold the worker past the deadline (and gunicorn's worker timeout then kill it): at the
    deadline it is :class:`~werkzeug.exceptions.RequestTimeout`, a 408 (the safe TwiML on a
    voice or SMS route). Elsewhere the server's thread waits for it, and the handler gets what
    is left of its time.
    """
    began = request.environ.setdefault(_BEGAN_KEY, time.monotonic())
    switchboard: Switchboard | None = current_app.extensions.get("switchboard")
    deadline = switchboard.deadline if switchboard is not None else None
    if deadline is None or not deadline.interrupts():
        return request.get_data(cache=True)
    try:
        return deadline.run(functools.partial(request.get_data, cache=True), started=began)
    except (HandlerTimeout, ClientDisconnected) as error:
        # werkzeug's stream reports any error of a read, the deadline's too, as a disconnect
        if not isinstance(error, HandlerTimeout) and not isinstance(
            error.__context__, HandlerTimeout
        ):
            raise
        log.warning("%s %s: the body did not arrive within the %g s deadline",
                    request.method, request.path, deadline.timeout)
        raise RequestTimeout("the request's body did not arrive in time") from None


def _may_hold_nul(request: Request) -> bool:
    """Whether the path, the query or the body holds a NUL, as sent or percent-encoded."""
    query, body = request.query_string, request.get_data(cache=True)
    return (b"\x00" in query or b"%00" in query or b"\x00" in body or b"%00" in body
            or "\x00" in request.path)


def _without_nul(request: Request, params: Mapping[str, str]) -> MultiDict[str, str]:
    """``params``, and the URL's variables in ``request.view_args``, with each NUL character
    (which no XML document, and no PostgreSQL text, can hold) read as U+FFFD, as a byte that is
    not UTF-8 reads: after the signature check, which covers what was sent."""
    if request.view_args:
        for name, value in request.view_args.items():
            if isinstance(value, str):
                request.view_args[name] = value.replace("\x00", "\ufffd")
    items = params.items(multi=True) if isinstance(params, MultiDict) else params.items()
    return MultiDict([(name.replace("\x00", "\ufffd"), value.replace("\x00", "\ufffd"))
                      for name, value in items])


def parse_form(text: str) -> list[tuple[str, str]]:
    """``urllib.parse.parse_qsl(text, keep_blank_values=True, errors="replace")``, in a third
    of the time: only the names and values that hold an escape are unquoted, each in one step
    (``unquote_plus`` splits its text into runs and decodes each)."""
    fields = []
    for pair in text.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if "%" in name or "+" in name:
            name = _unquote_plus(name)
        if "%" in value or "+" in value:
            value = _unquote_plus(value)
        fields.append((name, value))
    return fields


def _unquote_plus(text: str) -> str:
    return unquote_to_bytes(text.replace("+", " ")).decode("utf-8", "replace")


def _failed(
    kind: str,
    handler: Callable[..., Any],
    twilio_request: Any,
    error: Exception,
    switchboard: Switchboard,
    error_redirect: str | None,
) -> Response:
    if isinstance(error, MalformedCallback):
        log.warning("%s %s: %s; answered 400", request.method, request.path, error)
        return Response(status=400)
    if (metrics := observer()) is not None:
        metrics.handler_failed(kind, request.endpoint, error)
    name = getattr(handler, "__qualname__", repr(handler))
    sid = twilio_request.sid or "-"
    if isinstance(error, HandlerTimeout | BadHandlerResult | TwiMLError) or _is_store_error(error):
        log.error("%s handler %s failed for %s: %s: %s", kind, name, sid,
                  type(error).__name__, error)
    else:
        log.error("%s handler %s failed for %s: %s", kind, name, sid, type(error).__name__,
                  exc_info=error)
    return safe_answer(kind, switchboard.settings, error_redirect)


def _is_store_error(error: BaseException) -> bool:
    from switchboard.callbacks.store import StoreUnavailable

    return isinstance(error, StoreUnavailable)


def _count_database_error(during: str, error: BaseException) -> None:
    if _is_store_error(error) and (metrics := observer()) is not None:
        metrics.database_error(during)


def _params(twilio_request: Any) -> Mapping[str, str]:
    """The fields for the store (a MultiDict reads as its first values)."""
    return twilio_request.params


def _bookkeep(sid: str | None, what: str, record: Callable[[dict[str, str]], None],
              twilio_request: Any) -> None:
    """Record a call or message; a failure is logged and the caller is still answered."""
    if not sid:
        return
    try:
        record(_params(twilio_request))
    except HandlerTimeout:
        raise
    except Exception as error:
        _count_database_error("record", error)
        log.warning("%s %s not recorded: %s", what, sid, type(error).__name__,
                    exc_info=None if _is_store_error(error) else error)


def _schema(switchboard: Switchboard) -> None:
    if not switchboard.schema_ready:
        try:
            switchboard.ensure_schema()
        except HandlerTimeout:
            raise
        except Exception as error:
            _count_database_error("schema", error)
            log.warning("the database is still unavailable: %s", type(error).__name__)


def _save_session(sid: str | None, save: Callable[[dict[str, Any]], None],
                  twilio_request: Any) -> None:
    if not twilio_request.session_changed or abandoned():
        return
    try:
        save(twilio_request.session)
    except HandlerTimeout:
        raise
    except Exception as error:
        _count_database_error("session", error)
        log.error("session of %s not saved: %s", sid, type(error).__name__,
                  exc_info=None if _is_store_error(error) else error)


def _written(result: str | bytes, kind: Literal["voice", "messaging"]) -> bytes:
    """A handler's own TwiML text, checked, as the bytes to send.

    A ``str`` is sent as UTF-8, so one whose XML declaration names another encoding is
    written out again with a UTF-8 one. A document over :data:`MAX_DOCUMENT_BYTES` is a
    :class:`TwiMLError`, as Twilio would refuse it (error 11750).
    """
    root = parse_twiml(result, kind=kind)
    if isinstance(result, bytes):
        body = result
    elif result.lstrip().startswith("<?xml"):
        body = etree.tostring(root.getroottree(), encoding="UTF-8", xml_declaration=True)
    else:
        body = result.encode()
    if len(body) > MAX_DOCUMENT_BYTES:
        raise TwiMLError(
            f"the document is {len(body)} bytes: Twilio reads at most {MAX_DOCUMENT_BYTES} "
            "(error 11750)"
        )
    return body


def _voice_body(result: Any) -> bytes:
    if isinstance(result, VoiceResponse):
        return result.to_bytes()
    if isinstance(result, str | bytes):
        return _written(result, "voice")
    raise BadHandlerResult(f"returned {type(result).__name__}, not a VoiceResponse")


def _sms_body(result: Any) -> bytes:
    if result is None:
        return empty_messaging()
    if isinstance(result, MessagingResponse):
        return result.to_bytes()
    if isinstance(result, str | bytes):
        return _written(result, "messaging")
    raise BadHandlerResult(f"returned {type(result).__name__}, not a MessagingResponse")


def _run_voice(switchboard: Switchboard, handler: Callable[..., Any],
               call: CallRequest) -> Response:
    store = switchboard.store
    sid = call.call_sid
    _schema(switchboard)
    if sid:
        call._session_loader = functools.partial(store.load_voice_session, sid)
    _bookkeep(sid, "call", store.record_call, call)
    body = _voice_body(handler(call))
    if sid:
        _save_session(sid, functools.partial(store.save_voice_session, sid), call)
    return twiml_response(body)


def _run_sms(switchboard: Switchboard, handler: Callable[..., Any],
             message: MessageRequest) -> Response:
    store = switchboard.store
    sender, recipient = message.from_, message.to
    _schema(switchboard)
    if sender and recipient:
        message._session_loader = functools.partial(store.load_sms_session, sender, recipient)
    _bookkeep(message.message_sid, "message", store.record_message, message)
    body = _sms_body(handler(message))
    if sender and recipient:
        save = functools.partial(store.save_sms_session, sender, recipient)
        _save_session(f"{sender}->{recipient}", save, message)
    return twiml_response(body)


def _shown_error_url(url: str | None) -> str:
    """Twilio's ``ErrorUrl`` as the log may show it: without the password of a
    ``user:password@`` part or the query string, which may carry what the URL's owner put
    there (gunicorn's log filter drops queries too, but not under ``flask run``)."""
    return shown_url(url) if url else "-"


def _run_fallback(switchboard: Switchboard, handler: Callable[..., Any],
                  twilio_request: Any) -> Response:
    log.warning(
        "%s fallback for %s: Twilio reports ErrorCode %s at %s",
        twilio_request.kind, twilio_request.sid or "-", twilio_request.error_code or "-",
        _shown_error_url(twilio_request.error_url),
    )
    if (metrics := observer()) is not None:
        metrics.fallback(twilio_request.kind, twilio_request.error_code)
    result = handler(twilio_request)
    if twilio_request.kind == "voice":
        return twiml_response(_voice_body(result))
    return twiml_response(_sms_body(result))


def _run_status(switchboard: Switchboard, handler: Callable[..., Any],
                status: StatusCallback) -> Response:
    store = switchboard.store
    sid = status.sid
    if not sid or not status.status:
        raise MalformedCallback(f"{status.kind} callback without its SID or status")
    switchboard.ensure_schema()
    params = _params(status)
    if status.kind == "call_status":
        new = store.record_call_status(params, status.idempotency_token)
    elif status.kind == "message_status":
        new = store.record_message_status(params, status.idempotency_token)
    else:
        new = store.record_recording_status(params, status.idempotency_token)
    status.duplicate = not new
    handler(status)
    return Response(status=_NO_CONTENT)


_RUNNERS: dict[str, Callable[..., Response]] = {
    "voice": _run_voice,
    "sms": _run_sms,
    "voice_fallback": _run_fallback,
    "sms_fallback": _run_fallback,
    "call_status": _run_status,
    "message_status": _run_status,
    "recording_status": _run_status,
}

_VIEWS: dict[str, tuple[type, str | None]] = {
    "voice": (CallRequest, None),
    "sms": (MessageRequest, None),
    "voice_fallback": (CallRequest, None),
    "sms_fallback": (MessageRequest, None),
    "call_status": (StatusCallback, "call_status"),
    "message_status": (StatusCallback, "message_status"),
    "recording_status": (StatusCallback, "recording_status"),
}
