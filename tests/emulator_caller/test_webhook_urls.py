"""URLs as Twilio requests and signs them, checked end to end by the server's own signature
check (:func:`switchboard.callbacks.security.verify_flask_request`) on a real socket."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import flask
import pytest
from werkzeug.serving import make_server

from switchboard.callbacks.security import twilio_url, verify_flask_request
from switchboard.emulator.webhooks import WebhookClient, wire_url

TOKEN = "12345"
PARAMS = {"CallSid": "CA1234567890ABCDE", "Body": "a b|c é"}
IDNA_HOST = "xn--bcher-kva.example"  # bücher.example


class Checked:
    """A webhook server that records, for each request, its raw target, the URL the server
    rebuilds and whether the signature holds."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        app = flask.Flask("checked")
        app.add_url_rule("/", "root", self._hook, methods=["GET", "POST"])
        app.add_url_rule("/<path:path>", "hook", self._hook, methods=["GET", "POST"])
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port

    def _hook(self, path: str = "") -> tuple[str, int]:
        request = flask.request
        self.seen.append({
            "raw": request.environ.get("RAW_URI"),
            "url": twilio_url(request, None),
            "valid": verify_flask_request(request, TOKEN),
        })
        return "", 204


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> Iterator[Checked]:
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:  # never beyond 127.0.0.1
        if host in {IDNA_HOST, "bücher.example", "localhost", "LOCALHOST"}:
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    server = Checked()
    thread = threading.Thread(target=server.server.serve_forever,
                              kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


# (configured URL with {port}, the raw request target the server must get)
CASES = [
    ("http://127.0.0.1:{port}/my voice?q=a b", "/my%20voice?q=a%20b"),  # spaces
    ("http://127.0.0.1:{port}/a%7Cb?r=%7C&s=|", "/a%7Cb?r=%7C&s=|"),  # escapes kept as is
    ("http://127.0.0.1:{port}/café?nom=José", "/caf%C3%A9?nom=Jos%C3%A9"),  # non-ASCII
    ("http://127.0.0.1:{port}/voice?x=1#rc=0&frag", "/voice?x=1"),  # fragment never sent
    ("http://bücher.example:{port}/voice", "/voice"),  # IDNA host, signed as xn--bcher-kva
    ("http://LOCALHOST:{port}/voice", "/voice"),  # the Host header is lower case
    ("http://127.0.0.1:{port}", "/"),  # no path: the request line's "/" is signed
    ("http://127.0.0.1:{port}?x=1", "/?x=1"),
]


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize(("configured", "target"), CASES)
def test_the_server_accepts_the_signature_of_each_url(
    checked: Checked, configured: str, target: str, method: str
) -> None:
    url = configured.format(port=checked.port)
    result = WebhookClient().fetch(url + ("" if "#" in url else "#rc=0"), PARAMS,
                                   auth_token=TOKEN, method=method)
    assert result.status_code == 204, result.error_message
    [seen] = checked.seen
    assert seen["valid"], (result.exchanges[0].url, seen["url"])
    assert seen["url"] == result.exchanges[0].url
    raw = seen["raw"]
    if method == "GET":
        assert raw.startswith(target + ("&" if "?" in target else "?"))
    else:
        assert raw == target


def test_wire_url() -> None:
    assert wire_url("https://Bücher.Example/Straße?q=é") == (
        "https://xn--bcher-kva.example/Stra%C3%9Fe?q=%C3%A9")
    assert wire_url("HTTPS://Example.COM:8443?x=1") == "https://example.com:8443/?x=1"
    assert wire_url("http://[::1]:8080/a%7Cb|{c}") == "http://[::1]:8080/a%7Cb|{c}"
