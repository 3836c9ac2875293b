"""The emulator as a running server: :class:`Emulator`."""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from switchboard.emulator.faults import FaultInjector
from switchboard.emulator.rest import EmulatorApp
from switchboard.emulator.state import EmulatorState


class _QuietHandler(WSGIRequestHandler):
    """Logs errors only, not every request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log(self, type: str, message: str, *args: Any) -> None:
        if type == "error":
            super().log(type, message, *args)


def listen(host: str, port: int, app: Any, handler: type[WSGIRequestHandler] = _QuietHandler
           ) -> BaseWSGIServer:
    """A threaded WSGI server for ``app`` bound to ``host``:``port``; OSError (not werkzeug's
    exit) when the address cannot be used."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.create_server((host, port), family=family, backlog=128) as sock:
        return make_server(host, sock.getsockname()[1], app, threaded=True,
                           request_handler=handler, fd=sock.fileno())


def base_url(host: str, port: int) -> str:
    """The URL a client on this machine reaches a server listening on ``host``:``port`` at: a
    wildcard address is reached on 127.0.0.1, and an IPv6 address is written in brackets."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _make_phone(state: EmulatorState) -> Any:
    try:
        from switchboard.emulator.caller import Phone
    except ImportError:  # the caller side is optional for the REST side
        return None
    return Phone(state, api_base_url="")


class Emulator:
    """A local Twilio: the REST API on ``host``:``port`` (0: a free port) and the caller side.

    ``account_sid`` / ``auth_token`` are the main account's credentials (made up when None).
    Start it with :meth:`start` or ``with Emulator() as emu:``; ``emu.url`` is then the base
    URL to give a REST client. ``seed`` makes fault injection repeatable; ``log`` prints a line
    per request; ``caller=False`` leaves out the caller side (created calls are not placed);
    ``strict_senders`` makes a call's or message's ``From`` be one of the account's own.
    """

    def __init__(
        self,
        account_sid: str | None = None,
        auth_token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        seed: int = 0,
        log: bool = False,
        caller: bool = True,
        strict_senders: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.state = EmulatorState(account_sid, auth_token)
        self.state.strict_senders = strict_senders
        self.faults = FaultInjector(seed)
        self.app = EmulatorApp(self.state, self.faults,
                               _make_phone(self.state) if caller else None)
        self._log = log
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def phone(self) -> Any:
        """The caller side (``switchboard.emulator.caller.Phone``), or None."""
        return self.app.context.phone

    @phone.setter
    def phone(self, phone: Any) -> None:
        self.app.context.phone = phone
        if phone is not None and self._server is not None:
            phone.api_base_url = self.url

    @property
    def account_sid(self) -> str:
        return self.state.main_account_sid

    @property
    def auth_token(self) -> str:
        return self.state.auth_token_for(self.state.main_account_sid)

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321`` (once started)."""
        if self._server is None:
            raise RuntimeError("the emulator is not started: call start() first")
        return base_url(self.host, self._server.port)

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> Emulator:
        if self._server is not None:
            return self
        handler = WSGIRequestHandler if self._log else _QuietHandler
        self._server = listen(self.host, self.port, self.app, handler)
        self.port = self._server.port
        self.state.base_url = self.url
        if self.phone is not None:
            self.phone.api_base_url = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"emulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (for the CLI)."""
        self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        close = getattr(self.phone, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "not started"
        return f"<Emulator {self.account_sid} {where}>"
