"""Fault injection: make chosen requests fail the way a busy or broken Twilio would.

``emu.faults.add("503", count=2)`` answers the next two API requests 503;
``emu.faults.add("429", rate=0.3, retry_after=2)`` answers about 30% of them 429 with
``Retry-After: 2`` (deterministically, from the injector's seed). Kinds:

- ``"429"``, ``"500"``, ``"503"``: an error answer in Twilio's JSON shape; the request is not run.
- ``"slow"``: wait ``delay`` seconds, then answer normally (``after=True``: run the request
  first, then wait before answering, so a client timing out has still created the resource).
- ``"drop"``: close the connection with no answer (``after=True``: after running the request,
  the case where a blind retry would create a second call or message).
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

KINDS = ("429", "500", "503", "slow", "drop")

_ERRORS = {
    "429": (20429, "Too Many Requests"),
    "500": (20500, "Internal Server Error"),
    "503": (20503, "Service Unavailable"),
}
_REASONS = {"429": "429 TOO MANY REQUESTS", "500": "500 INTERNAL SERVER ERROR",
            "503": "503 SERVICE UNAVAILABLE"}


@dataclass
class Fault:
    """One rule: which requests it hits (``methods``, ``path_prefix``), how many (``count``)
    or what share (``rate``), and what it does (``kind``)."""

    kind: str
    count: int | None = None
    rate: float | None = None
    retry_after: float | None = 1
    delay: float = 2.0
    methods: frozenset[str] | None = None
    path_prefix: str | None = None
    after: bool = False
    hits: int = field(default=0)

    def matches(self, method: str, path: str) -> bool:
        if self.methods is not None and method.upper() not in self.methods:
            return False
        return self.path_prefix is None or path.startswith(self.path_prefix)

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.hits >= self.count


def parse_fault(spec: str) -> dict[str, Any]:
    """``"503:rate=0.2,retry_after=2"`` as keyword arguments for :meth:`FaultInjector.add`.

    ValueError (naming the bad part) when the spec is not understood.
    """
    kind, _, options = spec.partition(":")
    kind = kind.strip()
    if kind not in KINDS:
        raise ValueError(f"fault kind {kind!r} is not one of {', '.join(KINDS)}")
    kwargs: dict[str, Any] = {"kind": kind}
    for part in filter(None, (p.strip() for p in options.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip().replace("-", "_")
        try:
            if name == "count":
                kwargs[name] = int(value)
            elif name in ("rate", "retry_after", "delay"):
                kwargs[name] = float(value)
            elif name == "methods":
                kwargs[name] = value.replace("|", " ").split()
            elif name == "path_prefix":
                kwargs[name] = value
            elif name == "after":
                kwargs[name] = value.lower() in ("1", "true", "yes", "") if sep else True
            else:
                raise ValueError
        except ValueError:
            raise ValueError(f"fault option {part!r} is not understood in {spec!r}") from None
    return kwargs


class FaultInjector:
    """The rules in force and what they did, thread-safe and deterministic for a ``seed``."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._random = random.Random(seed)
        self.requests_served = 0
        self.injected: Counter[str] = Counter()

    def add(
        self,
        kind: str,
        *,
        count: int | None = None,
        rate: float | None = None,
        retry_after: float | None = 1,
        delay: float = 2.0,
        methods: Iterable[str] | None = None,
        path_prefix: str | None = None,
        after: bool = False,
    ) -> Fault:
        """Add a rule. With neither ``count`` nor ``rate`` it hits the next request only;
        with ``rate`` alone it stays until :meth:`clear`."""
        if kind not in KINDS:
            raise ValueError(f"fault kind {kind!r} is not one of {', '.join(KINDS)}")
        if rate is not None and not 0 <= rate <= 1:
            raise ValueError(f"rate {rate!r} must be between 0 and 1")
        if count is not None and count < 0:
            raise ValueError(f"count {count!r} must be 0 or more")
        if not (math.isfinite(delay) and delay >= 0):
            raise ValueError(f"delay {delay!r} must be a number of seconds, 0 or more")
        if retry_after is not None and not (math.isfinite(retry_after) and retry_after >= 0):
            raise ValueError(f"retry_after {retry_after!r} must be a number of seconds, 0 or more")
        if count is None and rate is None:
            count = 1
        fault = Fault(
            kind=kind,
            count=count,
            rate=rate,
            retry_after=retry_after,
            delay=delay,
            methods=frozenset(m.upper() for m in methods) if methods is not None else None,
            path_prefix=path_prefix,
            after=after,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def pick(self, method: str, path: str) -> Fault | None:
        """Count a request, and return the rule that hits it (using up one of its count)."""
        with self._lock:
            self.requests_served += 1
            for fault in self._faults:
                if fault.exhausted or not fault.matches(method, path):
                    continue
                if fault.rate is not None and self._random.random() >= fault.rate:
                    continue
                fault.hits += 1
                self.injected[fault.kind] += 1
                return fault
        return None


class DroppedConnection(ConnectionAbortedError):
    """Raised after shutting the socket, so the server forgets the request silently."""


def _drop(environ: dict[str, Any]) -> None:
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    raise DroppedConnection("fault injection: connection dropped")


def error_response(fault: Fault, start_response: Callable[..., Any]) -> list[bytes]:
    code, message = _ERRORS[fault.kind]
    status = int(fault.kind)
    body = json.dumps({
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
               ("Twilio-Request-Id", "RQ" + secrets.token_hex(16))]
    if fault.retry_after is not None and fault.kind in ("429", "503"):
        headers.append(("Retry-After", f"{fault.retry_after:g}"))
    start_response(_REASONS[fault.kind], headers)
    return [body]


class FaultMiddleware:
    """WSGI middleware applying a :class:`FaultInjector` to every request of the API.

    Only paths under ``prefix`` (the API root) are subject to faults and counted; ``/`` and
    other paths of the emulator always answer.
    """

    def __init__(self, app: Callable[..., Any], injector: FaultInjector,
                 prefix: str = "/2010-04-01") -> None:
        self.app = app
        self.injector = injector
        self.prefix = prefix

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(self.prefix):
            return self.app(environ, start_response)
        fault = self.injector.pick(environ.get("REQUEST_METHOD", "GET"), path)
        if fault is None:
            return self.app(environ, start_response)
        if fault.kind in _ERRORS:
            return error_response(fault, start_response)
        if not fault.after:
            if fault.kind == "drop":
                _drop(environ)
            time.sleep(fault.delay)
            return self.app(environ, start_response)
        return self._after(fault, environ, start_response)

    def _after(self, fault: Fault, environ: dict[str, Any],
               start_response: Callable[..., Any]) -> Iterator[bytes]:
        captured: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None
                    ) -> Callable[[bytes], None]:
            captured[:] = [status, headers]
            return lambda data: None

        body = b"".join(self.app(environ, capture))
        if fault.kind == "drop":
            _drop(environ)
        time.sleep(fault.delay)
        start_response(*captured)
        yield body
