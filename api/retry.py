"""The retry policy: urllib3's :class:`~urllib3.util.Retry`, taught which Twilio requests are
safe to send again.

- Any request is retried when it was never sent: the connection was refused or timed out
  while connecting.
- Idempotent requests (``GET``, ``HEAD``, ``DELETE``, ``OPTIONS``) are also retried when the
  connection broke or timed out after sending, and on ``500``, ``502``, ``503``, ``504``;
  an answer cut short mid-body is sent again by the client as a broken read.
- ``429 Too Many Requests`` is retried for every method, ``POST`` included: Twilio refused the
  request without acting on it.
- A ``POST`` is otherwise never sent twice, so a call or a message is never placed twice.

Waits grow exponentially (``backoff_factor * 2 ** (n - 1)``, plus up to ``backoff_jitter``
seconds at random, at most ``backoff_max``); a ``Retry-After`` header, when present, sets the
wait instead (capped by ``retry_after_max``). When retries run out the last answer is returned
as is, so the client raises a :class:`~api.errors.TwilioHTTPError` with Twilio's error body;
when they run out on a failure with no answer, the :class:`~urllib3.exceptions.MaxRetryError`
says in ``attempts`` how many times the request was tried.
"""

from __future__ import annotations

import math
from typing import Any

from urllib3.exceptions import (
    ConnectTimeoutError,
    InvalidHeader,
    MaxRetryError,
    ReadTimeoutError,
)
from urllib3.util import Retry

from switchboard.api import observers

__all__ = ["IDEMPOTENT_METHODS", "RETRY_STATUSES", "TwilioRetry", "retry_policy"]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class TwilioRetry(Retry):
    """A :class:`~urllib3.util.Retry` that retries statuses in :attr:`ANY_METHOD_STATUSES`
    (429) for every method, other statuses and read errors only for ``allowed_methods``."""

    #: Statuses that say the request was not acted on, so even a ``POST`` may be sent again.
    ANY_METHOD_STATUSES = frozenset({429})

    def __init__(self, *args: Any, retry_after_max: float = 60.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after_max = retry_after_max

    def new(self, **kw: Any) -> TwilioRetry:
        kw.setdefault("retry_after_max", self.retry_after_max)
        return super().new(**kw)

    def increment(
        self, method: str | None = None, url: str | None = None, response: Any = None,
        error: Exception | None = None, *args: Any, **kwargs: Any,
    ) -> TwilioRetry:
        try:
            retry = super().increment(method, url, response, error, *args, **kwargs)
        except MaxRetryError as exhausted:
            exhausted.attempts = len(self.history) + 1  # type: ignore[attr-defined]
            raise
        if observers.active():
            observers.notify(observers.RetryScheduled(method or "-", _reason(response, error)))
        return retry

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code in self.ANY_METHOD_STATUSES and status_code in self.status_forcelist:
            return True
        return super().is_retry(method, status_code, has_retry_after)

    def get_retry_after(self, response: Any) -> float | None:
        """The wait a ``Retry-After`` header asks for; ``None`` (so the backoff applies)
        when it is missing or unreadable: a bad header must not turn Twilio's answer into
        a connection error."""
        try:
            return super().get_retry_after(response)
        except InvalidHeader:
            return None

    def parse_retry_after(self, retry_after: str) -> float:
        """Seconds to wait: whole or decimal seconds, or an HTTP date; never above the cap."""
        try:
            seconds = float(retry_after)
        except ValueError:
            seconds = super().parse_retry_after(retry_after)
        else:
            if not math.isfinite(seconds) or seconds < 0:
                seconds = super().parse_retry_after(retry_after)  # raises InvalidHeader
        return min(seconds, self.retry_after_max)


def _reason(response: Any, error: Exception | None) -> str:
    """What a retry is for: the status retried, or the failure that left no answer."""
    if error is None and response is not None:
        return str(response.status)
    if isinstance(error, ConnectTimeoutError):  # NewConnectionError too: nothing was sent
        return "connect"
    if isinstance(error, ReadTimeoutError):
        return "read"
    return type(error).__name__


def retry_policy(
    retries: int = 3,
    *,
    backoff_factor: float = 0.5,
    backoff_max: float = 30.0,
    backoff_jitter: float = 0.25,
    retry_after_max: float = 60.0,
) -> TwilioRetry:
    """The client's default policy: up to ``retries`` retries of each kind, as described in
    this module's docstring. ``retries=0`` turns retrying off."""
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries: {retries!r} is not a whole number of at least 0")
    return TwilioRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        redirect=0,
        allowed_methods=IDEMPOTENT_METHODS,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_factor,
        backoff_max=backoff_max,
        backoff_jitter=backoff_jitter,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
        retry_after_max=retry_after_max,
    )
