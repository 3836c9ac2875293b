"""The client's requests on the wire and its decoding of answers."""

from __future__ import annotations

import base64
import datetime as dt
import threading
from pathlib import Path

import pytest
import requests

from switchboard.api import TwilioClient, TwilioClientClosed, TwilioError, ValidationError
from switchboard.api.client import DEFAULT_TIMEOUT, encode_params
from tests.api_transport.conftest import ACCOUNT_SID, API_KEY_SID, AUTH_TOKEN, StubServer


def basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


def test_basic_auth_with_the_account_sid_and_token(client: TwilioClient, stub: StubServer) -> None:
    client.request("GET", client.account_path(".json"))
    assert stub.received[0].headers["Authorization"] == basic(ACCOUNT_SID, AUTH_TOKEN)
    assert stub.received[0].path == f"/2010-04-01/Accounts/{ACCOUNT_SID}.json"


def test_basic_auth_with_an_api_key(stub: StubServer) -> None:
    with TwilioClient(ACCOUNT_SID, "key-secret", api_key_sid=API_KEY_SID, base_url=stub.url) as c:
        c.request("GET", c.account_path("/Calls.json"))
    assert stub.received[0].headers["Authorization"] == basic(API_KEY_SID, "key-secret")
    assert ACCOUNT_SID in stub.received[0].path


def test_user_agent_names_switchboard_requests_and_python(
    client: TwilioClient, stub: StubServer
) -> None:
    client.request("GET", "/2010-04-01/Accounts.json")
    ua = stub.received[0].headers["User-Agent"]
    assert ua.startswith("switchboard/")
    assert f"python-requests/{requests.__version__}" in ua
    assert "Python 3." in ua


def test_user_agent_prefix(stub: StubServer) -> None:
    with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=stub.url, user_agent="acme/2.0") as c:
        c.request("GET", "/x.json")
    assert stub.received[0].headers["User-Agent"].startswith("acme/2.0 switchboard/")


def test_form_encoding(client: TwilioClient, stub: StubServer) -> None:
    client.request(
        "POST",
        client.account_path("/Messages.json"),
        data={
            "To": "+14155550100",
            "Body": "héllo & bye",
            "MediaUrl": ["https://a.example/1.png", "https://a.example/2.png"],
            "Record": True,
            "Trim": False,
            "Timeout": 20,
            "StatusCallback": None,
        },
    )
    got = stub.received[0]
    assert got.method == "POST"
    assert got.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert got.form == {
        "To": ["+14155550100"],
        "Body": ["héllo & bye"],
        "MediaUrl": ["https://a.example/1.png", "https://a.example/2.png"],
        "Record": ["true"],
        "Trim": ["false"],
        "Timeout": ["20"],
    }


def test_query_parameters_are_encoded_the_same_way(client: TwilioClient, stub: StubServer) -> None:
    client.request(
        "GET",
        "/2010-04-01/x.json",
        params=[("StartTime>", dt.date(2024, 1, 2)), ("Status", "completed"), ("To", None)],
    )
    assert stub.received[0].query == {"StartTime>": ["2024-01-02"], "Status": ["completed"]}


def test_encode_params_rejects_what_a_form_cannot_hold() -> None:
    with pytest.raises(ValidationError, match=r"^Bad: cannot send a dict"):
        encode_params({"Bad": {"a": 1}})


def test_json_answer_is_decoded(client: TwilioClient, stub: StubServer) -> None:
    stub.reply(201, {"sid": "CA" + "0" * 32, "status": "queued", "price": None})
    answer = client.request("POST", "/2010-04-01/x.json", data={"A": "1"})
    assert answer == {"sid": "CA" + "0" * 32, "status": "queued", "price": None}


def test_204_and_empty_bodies_give_none(client: TwilioClient, stub: StubServer) -> None:
    stub.reply(204)
    assert client.request("DELETE", "/2010-04-01/x.json") is None
    stub.reply(200, body=b"")
    assert client.request("GET", "/2010-04-01/x.json") is None


def test_absolute_paths_and_urls_under_base_url(client: TwilioClient, stub: StubServer) -> None:
    client.request("GET", "/2010-04-01/Accounts/AC1/Calls.json?PageSize=2&Page=1")
    client.request("GET", stub.url + "/2010-04-01/y.json")
    assert stub.received[0].query == {"PageSize": ["2"], "Page": ["1"]}
    assert stub.received[1].path == "/2010-04-01/y.json"


@pytest.mark.parametrize(
    "path",
    ["https://evil.example/2010-04-01/x.json", "2010-04-01/x.json", "http://127.0.0.1.evil/"],
)
def test_credentials_go_only_to_base_url(client: TwilioClient, stub: StubServer, path: str) -> None:
    with pytest.raises(ValidationError, match=r"^path: "):
        client.request("GET", path)
    assert stub.received == []


def test_stream_returns_the_open_response(client: TwilioClient, stub: StubServer) -> None:
    audio = bytes(range(256)) * 64
    stub.reply(200, body=audio, headers={"Content-Type": "audio/mpeg"})
    response = client.request("GET", "/2010-04-01/Recordings/RE1.mp3", stream=True)
    with response:
        assert isinstance(response, requests.Response)
        assert b"".join(response.iter_content(1000)) == audio


def test_stream_checks_the_status_first(client: TwilioClient, stub: StubServer) -> None:
    stub.reply(404, {"code": 20404, "message": "The requested resource was not found"})
    with pytest.raises(Exception, match=r"HTTP 404 from GET /2010-04-01/Recordings/RE1\.wav"):
        client.request("GET", "/2010-04-01/Recordings/RE1.wav", stream=True)


def test_account_path(client: TwilioClient) -> None:
    assert client.account_path("/Calls.json") == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    other = "AC" + "1" * 32
    assert client.account_path(".json", other) == f"/2010-04-01/Accounts/{other}.json"
    with pytest.raises(ValidationError, match=r"^account_sid: "):
        client.account_path(".json", "CA" + "1" * 32)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"account_sid": "AC123"}, "account_sid"),
        ({"auth_token": ""}, "auth_token"),
        ({"api_key_sid": "AC" + "0" * 32}, "api_key_sid"),
        ({"timeout": None}, "timeout"),
        ({"timeout": (1, None)}, "timeout"),
        ({"timeout": (0, 5)}, "timeout"),
        ({"base_url": "ftp://api.twilio.com"}, "base_url"),
        ({"base_url": "https://AC1:token@api.twilio.com"}, "base_url"),
        ({"retries": -1}, "retries"),
        ({"user_agent": "app/1.0\r\nX-Evil: 1"}, "user_agent"),
    ],
)
def test_constructor_rejects_bad_arguments(kwargs: dict, argument: str) -> None:
    args = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, **kwargs}
    with pytest.raises(ValidationError) as info:
        TwilioClient(args.pop("account_sid"), args.pop("auth_token"), **args)
    assert info.value.argument == argument
    assert "token@" not in str(info.value)


def test_timeouts_default_and_single_number() -> None:
    assert TwilioClient(ACCOUNT_SID, AUTH_TOKEN).timeout == DEFAULT_TIMEOUT
    assert TwilioClient(ACCOUNT_SID, AUTH_TOKEN, timeout=5).timeout == (5.0, 5.0)


def test_from_settings_with_a_secret(stub: StubServer) -> None:
    from switchboard.config import Secret, load_settings

    settings = load_settings(
        environ={
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_API_BASE_URL": stub.url,
        }
    )
    assert isinstance(settings.auth_token, Secret)
    with TwilioClient.from_settings(settings=settings) as c:
        assert c.account_sid == ACCOUNT_SID
        assert c.base_url == stub.url
        c.request("GET", c.account_path(".json"))
    assert stub.received[0].headers["Authorization"] == basic(ACCOUNT_SID, AUTH_TOKEN)


def test_from_settings_with_an_api_key(stub: StubServer) -> None:
    from switchboard.config import load_settings

    settings = load_settings(
        environ={
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_API_KEY_SID": API_KEY_SID,
            "TWILIO_API_KEY_SECRET": "key-secret",
            "TWILIO_API_BASE_URL": stub.url,
        }
    )
    with TwilioClient.from_settings(settings=settings, timeout=(1, 1)) as c:
        c.request("GET", c.account_path(".json"))
        assert c.timeout == (1.0, 1.0)
    assert stub.received[0].headers["Authorization"] == basic(API_KEY_SID, "key-secret")


def test_from_settings_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch, stub: StubServer
) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("TWILIO_API_BASE_URL", stub.url)
    with TwilioClient.from_settings() as c:
        assert c.request("GET", "/2010-04-01/Accounts.json") == {}


def test_from_settings_without_credentials() -> None:
    from switchboard.config import ConfigError

    with pytest.raises(ConfigError, match="TWILIO_AUTH_TOKEN"):
        TwilioClient.from_settings()


def test_cookies_are_not_kept(client: TwilioClient, stub: StubServer) -> None:
    stub.reply(200, {}, headers={"Set-Cookie": "session=abc; Path=/"})
    client.request("GET", "/a.json")
    client.request("GET", "/b.json")
    assert "Cookie" not in stub.received[1].headers


def test_proxy_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, stub: StubServer
) -> None:
    monkeypatch.setenv("HTTP_PROXY", stub.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url="http://api.twilio.invalid") as c:
        c.request("GET", "/2010-04-01/x.json")
    assert stub.received[0].target == "http://api.twilio.invalid/2010-04-01/x.json"


def test_no_proxy_is_honoured(monkeypatch: pytest.MonkeyPatch, stub: StubServer) -> None:
    from tests.conftest import free_port

    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=stub.url, retries=0) as c:
        assert c.request("GET", "/2010-04-01/x.json") == {}
    assert stub.received[0].target == "/2010-04-01/x.json"


def test_a_redirect_to_another_host_carries_no_credentials(
    client: TwilioClient, stub: StubServer
) -> None:
    media = StubServer().start()
    try:
        media.reply(200, body=b"RIFF....WAVE", headers={"Content-Type": "audio/x-wav"})
        location = media.url.replace("127.0.0.1", "localhost") + "/bucket/RE1.wav?sig=x"
        stub.reply(302, body=b"", headers={"Location": location})
        with client.request("GET", "/2010-04-01/Recordings/RE1.wav", stream=True) as response:
            assert response.content == b"RIFF....WAVE"
        assert "Authorization" in stub.received[0].headers
        assert "Authorization" not in media.received[0].headers
    finally:
        media.stop()


def test_from_settings_with_a_named_profile(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, stub: StubServer
) -> None:
    profiles = tmp_path / "switchboard.toml"
    profiles.write_text(
        "[profiles.staging]\n"
        f'account_sid = "{ACCOUNT_SID}"\n'
        f'auth_token = "{AUTH_TOKEN}"\n'
        f'api_base_url = "{stub.url}"\n'
    )
    monkeypatch.setenv("SWITCHBOARD_PROFILES_FILE", str(profiles))
    with TwilioClient.from_settings("staging") as c:
        c.request("GET", c.account_path(".json"))
    assert stub.received[0].headers["Authorization"] == basic(ACCOUNT_SID, AUTH_TOKEN)


# -- a closed client ------------------------------------------------------------------------

RECORDING = "RE" + "0123456789abcdef" * 2


def _closed_client(stub: StubServer) -> TwilioClient:
    client = TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=stub.url, retries=0)
    client.request("GET", client.account_path(".json"))  # a pooled connection to close
    client.close()
    return client


@pytest.mark.parametrize(
    "use",
    [
        lambda c: c.request("GET", c.account_path(".json")),
        lambda c: c.request("POST", c.account_path("/Messages.json"), data={"Body": "hi"}),
        lambda c: c.request("GET", c.account_path(f"/Recordings/{RECORDING}.mp3"), stream=True),
        lambda c: c.accounts.get(),
        lambda c: c.messages.create("+14155550100", from_="+14155550101", body="hi"),
        lambda c: c.calls.list(),
        lambda c: c.paginate(c.account_path("/Calls.json"), key="calls"),
        lambda c: c.recordings.media(RECORDING, "mp3"),
        lambda c: c.transcriptions.text("TR" + "0123456789abcdef" * 2),
    ],
    ids=["get", "post", "stream", "resource", "create", "list", "paginate", "media", "text"],
)
def test_a_closed_client_refuses_every_request(stub: StubServer, use: object) -> None:
    client = _closed_client(stub)
    assert client.closed
    with pytest.raises(TwilioClientClosed, match="the Twilio client is closed") as caught:
        use(client)  # type: ignore[operator]
    assert isinstance(caught.value, TwilioError)
    assert isinstance(caught.value, ValueError)
    assert AUTH_TOKEN not in str(caught.value)
    assert len(stub.received) == 1  # only the request made before close()


def test_a_list_started_before_close_stops_at_the_next_page(stub: StubServer) -> None:
    client = TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=stub.url, retries=0)
    nxt = client.account_path("/Calls.json?Page=1")
    stub.reply(200, {"calls": [{"sid": "CA1"}], "next_page_uri": nxt})
    calls = client.calls.list()
    assert next(calls) == {"sid": "CA1"}
    client.close()
    with pytest.raises(TwilioClientClosed):
        next(calls)
    assert len(stub.received) == 1


def test_with_closes_the_client(stub: StubServer) -> None:
    with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=stub.url) as client:
        client.accounts.get()
    assert client.closed
    with pytest.raises(TwilioClientClosed):
        client.accounts.get()
    with pytest.raises(TwilioClientClosed), client:
        pass
    client.close()  # twice: harmless
    assert len(stub.received) == 1


def test_a_stream_open_before_close_is_read_to_its_end(stub: StubServer) -> None:
    audio = bytes(range(256)) * 1024
    stub.reply(200, body=audio, headers={"Content-Type": "audio/mpeg"})
    client = TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=stub.url)
    media = client.recordings.media(RECORDING, "mp3")
    client.close()
    assert b"".join(media) == audio


def test_a_retry_waiting_when_another_thread_closes_is_not_sent(stub: StubServer) -> None:
    """A POST answered 429 waits to be sent again; the client is closed meanwhile: the retry
    is refused with TwilioClientClosed (nothing was sent), not a connection error saying
    Twilio may have acted."""
    stub.reply(429, {"code": 20429, "message": "Too Many Requests"}, headers={"Retry-After": "1"})
    stub.reply(201, {"sid": "CA" + "3" * 32})
    client = TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=stub.url)
    closer = threading.Timer(0.3, client.close)
    closer.start()
    with pytest.raises(TwilioClientClosed, match="cannot send POST"):
        client.request("POST", client.account_path("/Calls.json"), data={"To": "+14155550100"})
    closer.join()
    assert len(stub.received) == 1


def test_a_request_past_the_closed_check_opens_no_new_pool(stub: StubServer) -> None:
    """close() in another thread just after a request checked ``closed``: requests' adapter
    would open a new pool and send it all the same."""
    client = TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=stub.url, retries=0)
    client.accounts.get()
    session_request = client._session.request

    def close_first(*args: object, **kwargs: object) -> object:
        client.close()  # as if another thread did, just now
        return session_request(*args, **kwargs)

    client._session.request = close_first  # type: ignore[method-assign]
    with pytest.raises(TwilioClientClosed, match="cannot send POST"):
        client.request("POST", client.account_path("/Calls.json"), data={"To": "+14155550100"})
    assert len(stub.received) == 1
