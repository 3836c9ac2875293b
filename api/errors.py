"""The exceptions the REST client raises.

Everything the client raises is a :class:`TwilioError`. An answer from Twilio with an error
status is a :class:`TwilioHTTPError` carrying Twilio's own ``code``, ``message`` and
``more_info`` link (a :class:`RetiredResource` when what was asked for is a resource Twilio
retired, a :class:`RangeNotSatisfiable` when the part of a media file asked for is not in it);
a body that is not a JSON object (not JSON, or an array, a string, a number, ``null``) is a
:class:`TwilioInvalidResponse`, whatever the status. A request that got no answer, or an
answer cut off mid-body, is a :class:`TwilioTimeout` or a :class:`TwilioConnectionError`. A
JSON object that is not the resource asked for (a message with no SID) is a
:class:`TwilioUnexpectedAnswer`. Arguments rejected before any request is sent raise
:class:`ValidationError`, which is also a ``ValueError``; a request on a closed client raises
:class:`TwilioClientClosed`. A lookup by something other than a SID that finds nothing raises
:class:`ResourceNotFound` (also a ``LookupError``), and so does Twilio's ``404``: a
:class:`TwilioNotFound` is both a :class:`TwilioHTTPError` and a :class:`ResourceNotFound`.
Provisioning that cannot go ahead, or that Twilio did not keep, raises
:class:`ProvisioningError`.

No exception carries credentials: URLs are stored without user info, and no request headers
are kept.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from switchboard.config.validation import redact_url

__all__ = [
    "ProvisioningError",
    "RangeNotSatisfiable",
    "ResourceNotFound",
    "RetiredResource",
    "TwilioClientClosed",
    "TwilioConnectionError",
    "TwilioError",
    "TwilioHTTPError",
    "TwilioInvalidResponse",
    "TwilioNotFound",
    "TwilioTimeout",
    "TwilioUnexpectedAnswer",
    "ValidationError",
]


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path or "/"


def _rebuild(cls: type[TwilioError], args: tuple, state: dict) -> TwilioError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class TwilioError(Exception):
    """Base class of everything the client raises."""

    def __reduce__(self) -> tuple:
        # The subclasses' constructors take keyword arguments, so rebuild from the
        # attributes (for pickling across processes) rather than by calling them.
        return (_rebuild, (type(self), self.args, self.__dict__))


class ValidationError(TwilioError, ValueError):
    """An argument was rejected before any request was sent.

    ``argument`` names it; the message reads ``"to: '+1' is not an E.164 number"``.
    """

    def __init__(self, argument: str, problem: str) -> None:
        self.argument = argument
        self.problem = problem
        super().__init__(f"{argument}: {problem}")


class TwilioClientClosed(TwilioError, ValueError):
    """A request on a client after its :meth:`~api.TwilioClient.close` (or after the end of
    its ``with`` block). Also a ``ValueError``, as I/O on a closed file is."""

    def __init__(self, method: str | None = None) -> None:
        self.method = method
        what = f"cannot send {method}: " if method else ""
        super().__init__(
            f"{what}the Twilio client is closed (close() or the end of its with block); "
            "make a new TwilioClient"
        )


class _RequestError(TwilioError):
    """An error about one request: keeps its method and (credential-free) URL."""

    def __init__(self, method: str, url: str) -> None:
        self.method = method.upper()
        self.url = redact_url(url, keep_user=False)
        super().__init__(str(self))

    @property
    def path(self) -> str:
        return _path_of(self.url)

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc


class TwilioHTTPError(_RequestError):
    """Twilio answered with an error status (4xx or 5xx).

    ``str()`` reads like::

        HTTP 404 from GET /2010-04-01/Accounts/AC.../Calls/CA....json: The requested resource
        ... was not found (Twilio error 20404, https://www.twilio.com/docs/errors/20404)
    """

    def __init__(
        self,
        status: int,
        code: int | None,
        message: str,
        more_info: str | None,
        method: str,
        url: str,
        *,
        request_id: str | None = None,
        details: object = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.more_info = more_info
        self.request_id = request_id
        self.details = details
        super().__init__(method, url)

    def __str__(self) -> str:
        text = f"HTTP {self.status} from {self.method} {self.path}: {self.message}"
        extra = []
        if self.code is not None:
            extra.append(f"Twilio error {self.code}")
        if self.more_info:
            extra.append(str(self.more_info))
        if extra:
            text += f" ({', '.join(extra)})"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, method={self.method!r}, url={self.url!r})"
        )


class TwilioInvalidResponse(TwilioHTTPError):
    """The body of an answer was not the JSON object the client expected (a proxy's HTML
    page, a truncated body, a JSON array...). ``snippet`` holds its first characters."""

    SNIPPET_LENGTH = 200

    def __init__(
        self,
        status: int,
        method: str,
        url: str,
        *,
        body: bytes = b"",
        content_type: str | None = None,
        request_id: str | None = None,
        problem: str | None = None,
    ) -> None:
        text = body[: self.SNIPPET_LENGTH * 4].decode("utf-8", "replace")
        snippet = " ".join(text.split())[: self.SNIPPET_LENGTH]
        self.snippet = snippet
        self.content_type = content_type
        kind = content_type.split(";")[0].strip() if content_type else "unknown type"
        if _is_json(body):
            message = f"the body is JSON but not an object ({kind}, {len(body)} bytes)"
        else:
            message = f"the body is not JSON ({kind}, {len(body)} bytes)"
        if snippet:
            message += f": {snippet!r}"
        elif not body:
            message = "the body is empty, JSON was expected"
        if problem:
            message = problem
        super().__init__(status, None, message, None, method, url, request_id=request_id)


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


class RetiredResource(TwilioHTTPError):
    """Twilio answered 404/405/410 for a resource it retired (the Sandbox, deleting a
    Notification); the message says so."""


class RangeNotSatisfiable(TwilioHTTPError):
    """Twilio answered 416 to a request for part of a media file: the range asked for starts
    past its end. ``complete_length`` is the file's size in bytes when the answer told it
    (``Content-Range: bytes */SIZE``), else None."""

    def __init__(
        self,
        method: str,
        url: str,
        *,
        complete_length: int | None = None,
        request_id: str | None = None,
    ) -> None:
        self.complete_length = complete_length
        size = f" of {complete_length} bytes" if complete_length is not None else ""
        message = f"the byte range asked for is not within the media{size}"
        super().__init__(416, None, message, None, method, url, request_id=request_id)


class TwilioTimeout(_RequestError):
    """No answer within the timeout: ``phase`` is ``"connect"`` or ``"read"``.

    ``seconds`` is the timeout of one attempt. When the request was tried more than once
    (the retry policy allowed it), ``attempts`` says how many times and ``elapsed`` how many
    seconds all of them took, waits included.
    """

    def __init__(
        self,
        method: str,
        url: str,
        *,
        phase: str,
        seconds: float | None,
        attempts: int = 1,
        elapsed: float | None = None,
    ) -> None:
        self.phase = phase
        self.seconds = seconds
        self.attempts = attempts
        self.elapsed = elapsed
        super().__init__(method, url)

    def __str__(self) -> str:
        after = f" after {self.seconds:g} s" if self.seconds is not None else ""
        if self.phase == "connect":
            what = f"connecting to {self.host} for {self.method} {self.path}"
        else:
            what = f"waiting for the answer to {self.method} {self.path} from {self.host}"
        if self.attempts > 1:
            spent = f", {_duration(self.elapsed)} in all" if self.elapsed is not None else ""
            what += f" ({self.attempts} attempts{spent})"
        return f"timed out{after} {what}; check the network or raise the client's timeout"


def _duration(seconds: float) -> str:
    """``4.2 s``, ``2 min 05 s``."""
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


class TwilioConnectionError(_RequestError):
    """The request could not be sent or its answer could not be read (refused, reset,
    name not resolved, cut off...), after any retries the policy allowed.

    ``connected`` is False when no connection was ever made (refused, name not resolved):
    nothing was sent, so Twilio did nothing. ``cut`` is True when the answer began but the
    connection broke before its body ended: the request reached Twilio, which may have acted
    on it. ``received`` is then how many bytes of the body came and ``expected`` how many were
    announced (None when unknown); ``attempts`` is how many times the request was sent.
    """

    def __init__(
        self,
        method: str,
        url: str,
        *,
        reason: str,
        connected: bool = True,
        cut: bool = False,
        received: int | None = None,
        expected: int | None = None,
        attempts: int = 1,
    ) -> None:
        self.reason = reason
        self.connected = connected
        self.cut = cut
        self.received = received
        self.expected = expected
        self.attempts = attempts
        super().__init__(method, url)

    def __str__(self) -> str:
        if not self.cut:
            return f"could not reach {self.host} for {self.method} {self.path}: {self.reason}"
        after = ""
        if self.received is not None:
            total = f" of {self.expected}" if self.expected is not None else ""
            after = f" after {self.received}{total} bytes"
        tries = f" ({self.attempts} attempts)" if self.attempts > 1 else ""
        return (
            f"the answer to {self.method} {self.path} from {self.host} was cut off{after}"
            f"{tries}: {self.reason}"
        )


class TwilioUnexpectedAnswer(TwilioError):
    """Twilio answered with success, but its JSON is not the resource asked for: ``what``
    names the resource expected (``"a call"``), ``problem`` what was wrong with the answer.

    ``str()`` reads like ``Twilio's answer is not a call: it is a JSON array``.
    """

    def __init__(self, what: str, problem: str) -> None:
        self.what = what
        self.problem = problem
        super().__init__(f"Twilio's answer is not {what}: {problem}")


class ResourceNotFound(TwilioError, LookupError):
    """A lookup by something other than a SID (a friendly name, a phone number) found nothing.
    Also a ``LookupError``."""


class TwilioNotFound(TwilioHTTPError, ResourceNotFound):
    """Twilio answered ``404``: what was asked for is not there (Twilio error 20404). Both a
    :class:`TwilioHTTPError`, with Twilio's ``code``, ``message`` and ``more_info``, and a
    :class:`ResourceNotFound`."""


class ProvisioningError(TwilioError):
    """Provisioning cannot go ahead (no public URL Twilio can reach, a number the account does
    not have), or Twilio did not keep what was written. The message is one line."""
