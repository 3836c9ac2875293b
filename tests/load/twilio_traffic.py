"""Twilio's side of a run: a few threads sending a steady mix of signed webhooks (status
callbacks, voice webhooks, SMS) to a server and keeping every answer, until told to stop."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass

from tests.load.servers import TOKEN, Answer, Sender
from tests.load.workload import TOKEN_HEADER

ACCOUNT = "AC" + "5" * 32


@dataclass
class Sent:
    kind: str  # call-status, message-status, voice, menu, sms
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    answer: Answer
    database_up: bool  # what the test believed when the request was sent


def _sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def webhook(n: int) -> tuple[str, str, dict[str, str], dict[str, str]]:
    """The ``n``-th request of the mix: (kind, path, params, headers)."""
    kind = ("call-status", "message-status", "voice", "menu", "sms")[n % 5]
    if kind == "call-status":
        sid = _sid("CA")
        params = {"CallSid": sid, "AccountSid": ACCOUNT, "CallStatus": "completed",
                  "SequenceNumber": "0", "CallDuration": "12", "From": "+15005550006",
                  "To": "+15005550001"}
        return kind, "/voice/status", params, {TOKEN_HEADER: sid + "-0"}
    if kind == "message-status":
        sid = _sid("SM")
        params = {"MessageSid": sid, "AccountSid": ACCOUNT, "MessageStatus": "delivered",
                  "From": "+15005550001", "To": "+15005550006"}
        return kind, "/sms/status", params, {TOKEN_HEADER: sid + "-delivered"}
    if kind in ("voice", "menu"):
        params = {"CallSid": _sid("CA"), "AccountSid": ACCOUNT, "From": "+15005550006",
                  "To": "+15005550001", "CallStatus": "in-progress", "Direction": "inbound"}
        if kind == "menu":
            params["Digits"] = "9"
        return kind, "/voice" if kind == "voice" else "/voice/menu", params, {}
    params = {"MessageSid": _sid("SM"), "AccountSid": ACCOUNT, "From": f"+1555{n:07d}"[-12:],
              "To": "+15005550001", "Body": "hello", "NumMedia": "0"}
    return kind, "/sms", params, {}


class Traffic:
    """``threads`` senders posting :func:`webhook` in turn to ``port`` until :meth:`stop`."""

    def __init__(self, port: int, threads: int = 8, token: str = TOKEN) -> None:
        self.port = port
        self.token = token
        self.sent: list[Sent] = []
        self.database_up = True
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._counter = 0
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def start(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def _run(self) -> None:
        sender = Sender(self.port, self.token, timeout=30)
        try:
            while not self._stop.is_set():
                with self._lock:
                    n = self._counter
                    self._counter += 1
                    up = self.database_up
                kind, path, params, headers = webhook(n)
                answer = sender.post(path, params, headers)
                with self._cond:
                    self.sent.append(Sent(kind, path, params, headers, answer, up))
                    self._cond.notify_all()
        finally:
            sender.close()

    def wait_for(self, count: int, timeout: float = 60) -> None:
        """Wait until ``count`` more answers have come in."""
        with self._cond:
            target = len(self.sent) + count
            if not self._cond.wait_for(lambda: len(self.sent) >= target, timeout):
                raise TimeoutError(f"only {len(self.sent)} of {target} answers in {timeout} s")

    def set_database_up(self, up: bool) -> None:
        with self._lock:
            self.database_up = up

    def stop(self) -> list[Sent]:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)
        return self.sent
