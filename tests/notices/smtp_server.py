"""A tiny SMTP server on 127.0.0.1 for the tests (the standard library's socketserver): it
takes EHLO, AUTH PLAIN and LOGIN, MAIL, RCPT, DATA, RSET, NOOP and QUIT, keeps what it was
sent, and can refuse on purpose."""

from __future__ import annotations

import base64
import socketserver
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import TracebackType


@dataclass
class Received:
    """One message as the server took it."""

    sender: str
    recipients: list[str]
    data: bytes
    login: tuple[str, str] | None

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


@dataclass
class Behaviour:
    """What the server does: ``data_failures`` DATA commands answered 451 first (a passing
    failure), ``auth_code`` answers AUTH (235: accepted, 535: refused)."""

    data_failures: int = 0
    auth_code: int = 235
    received: list[Received] = field(default_factory=list)
    sessions: int = 0
    logins: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def line(self) -> str | None:
        raw = self.rfile.readline(65536)
        return raw.decode("utf-8", "replace").rstrip("\r\n") if raw else None

    def handle(self) -> None:
        behaviour = self.server.behaviour
        with behaviour.lock:
            behaviour.sessions += 1
        self.reply("220 test-smtp ready")
        sender, recipients, login = "", [], None
        while (line := self.line()) is not None:
            verb, _, rest = line.partition(" ")
            verb = verb.upper()
            if verb in ("EHLO", "HELO"):
                self.wfile.write(b"250-test-smtp\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n")
                self.wfile.flush()
            elif verb == "AUTH":
                login = self.authenticate(rest)
                if login is None:
                    continue
                with behaviour.lock:
                    behaviour.logins.append(login)
                if behaviour.auth_code != 235:
                    self.reply(f"{behaviour.auth_code} 5.7.8 authentication failed")
                    login = None
                else:
                    self.reply("235 2.7.0 accepted")
            elif verb == "MAIL":
                sender = rest.partition(":")[2].split()[0].strip("<>")
                recipients = []
                self.reply("250 ok")
            elif verb == "RCPT":
                recipients.append(rest.partition(":")[2].split()[0].strip("<>"))
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 go ahead")
                data = self.read_data()
                with behaviour.lock:
                    failing = behaviour.data_failures > 0
                    if failing:
                        behaviour.data_failures -= 1
                    else:
                        behaviour.received.append(Received(sender, recipients, data, login))
                self.reply("451 4.3.0 try again later" if failing else "250 queued")
            elif verb in ("RSET", "NOOP"):
                self.reply("250 ok")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")

    def authenticate(self, rest: str) -> tuple[str, str] | None:
        mechanism, _, initial = rest.partition(" ")
        if mechanism.upper() == "PLAIN":
            if not initial:
                self.reply("334 ")
                initial = self.line() or ""
            _, user, password = base64.b64decode(initial).decode().split("\0")
            return user, password
        if mechanism.upper() == "LOGIN":
            if not initial:
                self.reply("334 VXNlcm5hbWU6")
                initial = self.line() or ""
            user = base64.b64decode(initial).decode()
            self.reply("334 UGFzc3dvcmQ6")
            password = base64.b64decode(self.line() or "").decode()
            return user, password
        self.reply("504 unknown mechanism")
        return None

    def read_data(self) -> bytes:
        lines = []
        while True:
            raw = self.rfile.readline(65536)
            if not raw or raw == b".\r\n":
                break
            lines.append(raw[1:] if raw.startswith(b"..") else raw)
        return b"".join(lines)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    behaviour: Behaviour


class SmtpServer:
    """``with SmtpServer() as smtp:`` serves on ``smtp.port``; ``smtp.received`` holds the
    messages, ``smtp.behaviour`` what it does."""

    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour or Behaviour()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.behaviour = self.behaviour
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def received(self) -> list[Received]:
        with self.behaviour.lock:
            return list(self.behaviour.received)

    def __enter__(self) -> SmtpServer:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
