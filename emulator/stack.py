"""The emulator and a Switchboard server together, on real sockets: for end-to-end tests."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer

from switchboard.emulator.server import Emulator, listen

if TYPE_CHECKING:
    from flask import Flask


class SwitchboardStack:
    """An :class:`Emulator` and the Switchboard app (``switchboard.callbacks.create_app``) served on
    127.0.0.1, configured for each other: the app's ``TWILIO_*`` settings are the emulator's
    account and URL, its public URL is its own address, so the emulator's signed webhooks
    validate.

    ``database_url`` defaults to an SQLite file in ``instance_path`` (or the app's default);
    ``config`` adds to or overrides the app's configuration.
    """

    def __init__(
        self,
        *,
        database_url: str | None = None,
        config: Mapping[str, Any] | None = None,
        emulator: Emulator | None = None,
        instance_path: str | Path | None = None,
    ) -> None:
        self.emulator = emulator or Emulator()
        self.database_url = database_url
        if database_url is None and instance_path is not None:
            self.database_url = f"sqlite:///{Path(instance_path) / 'switchboard.sqlite3'}"
        self.config = dict(config or {})
        self.app: Flask | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The Switchboard server's base URL."""
        if self._server is None:
            raise RuntimeError("the stack is not started: call start() first")
        return f"http://127.0.0.1:{self._server.port}"

    @property
    def store(self) -> Any:
        assert self.app is not None
        return self.app.extensions["switchboard"].store

    def client(self, **kwargs: Any) -> Any:
        """An ``api.TwilioClient`` for the emulator's main account."""
        from switchboard.api import TwilioClient

        return TwilioClient(self.emulator.account_sid, self.emulator.auth_token,
                            base_url=self.emulator.url, **kwargs)

    def start(self) -> SwitchboardStack:
        from switchboard.callbacks import create_app

        self.emulator.start()
        app_holder: dict[str, Any] = {}

        def dispatch(environ: dict[str, Any], start_response: Any) -> Any:
            return app_holder["app"](environ, start_response)

        self._server = listen("127.0.0.1", 0, dispatch)
        config: dict[str, Any] = {
            "TESTING": True,
            "TWILIO_ACCOUNT_SID": self.emulator.account_sid,
            "TWILIO_AUTH_TOKEN": self.emulator.auth_token,
            "TWILIO_API_BASE_URL": self.emulator.url,
            "SWITCHBOARD_PUBLIC_URL": self.url,
        }
        if self.database_url:
            config["SWITCHBOARD_DATABASE_URL"] = self.database_url
        config.update(self.config)
        self.app = create_app(config)
        app_holder["app"] = self.app
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="switchboard-stack",
            daemon=True,
        )
        self._thread.start()
        return self

    def wait_idle(self, timeout: float = 10) -> bool:
        """Wait for the emulator's background calls and deliveries to finish."""
        phone = self.emulator.phone
        return phone.wait_idle(timeout) if phone is not None else True

    def stop(self) -> None:
        self.wait_idle(5)
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        self.emulator.stop()
        if self.app is not None:
            close = getattr(self.app.extensions["switchboard"].store, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> SwitchboardStack:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
