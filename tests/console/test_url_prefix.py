"""The console served under a URL prefix, ``/sb``: mounted with ``SCRIPT_NAME`` (werkzeug's
``DispatcherMiddleware``, gunicorn's ``SCRIPT_NAME``) or behind a trusted proxy that strips the
prefix and says so in ``X-Forwarded-Prefix``. Login, the session cookie's path, the redirects
and ``next=``, logout, and every link, form, script and stylesheet of every page stay under
the prefix."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client, TestResponse
from werkzeug.wrappers import Response

from switchboard.callbacks import create_app
from switchboard.callbacks.console import register_console
from tests.console.conftest import (
    ACCOUNT_SID,
    CALLER,
    PASSWORD,
    TOKEN,
    add_call,
    add_message,
    add_voicemail,
    csrf_of,
)

PREFIX = "/sb"
WSGIApp = Callable[..., Any]


def _not_here(environ: dict[str, Any], start_response: Any) -> Any:
    return Response("not under the prefix", status=404)(environ, start_response)


class _Proxy:
    """What nginx does with ``location /sb/ { proxy_pass http://app/; }`` and the forwarded
    headers: the prefix taken off the path and sent in ``X-Forwarded-Prefix``, over https."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ["PATH_INFO"]
        if not path.startswith(f"{PREFIX}/"):
            return _not_here(environ, start_response)
        environ["PATH_INFO"] = path[len(PREFIX):]
        environ["HTTP_X_FORWARDED_PREFIX"] = PREFIX
        environ["HTTP_X_FORWARDED_PROTO"] = "https"
        environ["HTTP_X_FORWARDED_FOR"] = "203.0.113.7"
        return self.app(environ, start_response)


def _app(database_url: str, *, proxied: bool) -> Flask:
    config: dict[str, Any] = {
        "TESTING": True, "SWITCHBOARD_DATABASE_URL": database_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": TOKEN,
        "SWITCHBOARD_RECORD_DELAY": "0",
    }
    if proxied:
        config["SWITCHBOARD_TRUSTED_PROXIES"] = "1"
    app = create_app(config)
    app.config["SWITCHBOARD_CONSOLE_PASSWORD"] = PASSWORD
    assert register_console(app) is not None
    return app


class Mounted:
    """The app under ``root`` and a browser-like client of it (cookies kept by their path)."""

    def __init__(self, app: Flask, wsgi: WSGIApp, root: str, base_url: str) -> None:
        self.app = app
        self.wsgi = wsgi
        self.root = root
        self.base_url = base_url
        self.client = self.new_client()

    @property
    def store(self) -> Any:
        return self.app.extensions["switchboard"].store

    def new_client(self) -> Client:
        return Client(self.wsgi)

    def get(self, path: str, client: Client | None = None) -> TestResponse:
        return (client or self.client).get(path, base_url=self.base_url)

    def post(self, path: str, data: dict[str, str], client: Client | None = None) -> TestResponse:
        return (client or self.client).post(path, data=data, base_url=self.base_url)

    def log_in(self, next_: str | None = None) -> TestResponse:
        token = csrf_of(self.get(f"{self.root}/console/login").text)
        data = {"csrf_token": token, "password": PASSWORD}
        if next_ is not None:
            data["next"] = next_
        return self.post(f"{self.root}/console/login", data)


def _mount(database_url: str, how: str) -> Mounted:
    if how == "script_name":
        app = _app(database_url, proxied=False)
        wsgi = DispatcherMiddleware(_not_here, {PREFIX: app})
        return Mounted(app, wsgi, PREFIX, "http://localhost")
    if how == "proxy":
        app = _app(database_url, proxied=True)
        return Mounted(app, _Proxy(app), PREFIX, "http://localhost")
    app = _app(database_url, proxied=False)
    return Mounted(app, app, "", "http://localhost")


@pytest.fixture(params=["script_name", "proxy"])
def mounted(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[Mounted]:
    site = _mount(sqlite_url, request.param)
    yield site
    site.store.close()


def _cookie_attributes(response: TestResponse) -> dict[str, str]:
    header = next(v for v in response.headers.getlist("Set-Cookie")
                  if v.startswith("switchboard_console="))
    attributes = {}
    for part in header.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        attributes[name.lower()] = value
    return attributes


def test_logging_in_under_the_prefix(mounted: Mounted) -> None:
    console = f"{PREFIX}/console"
    first = mounted.get(f"{console}/calls?status=busy")
    assert first.status_code == 302
    assert first.headers["Location"] == f"{console}/login?next={console}/calls?status%3Dbusy"
    page = mounted.get(first.headers["Location"])
    assert f'action="{console}/login"' in page.text
    assert f'name="next" value="{console}/calls?status=busy"' in page.text
    cookie = _cookie_attributes(page)
    assert cookie["path"] == console
    assert ("secure" in cookie) is (mounted.wsgi.__class__ is _Proxy)
    response = mounted.post(f"{console}/login", {
        "csrf_token": csrf_of(page.text), "password": PASSWORD,
        "next": f"{console}/calls?status=busy",
    })
    assert response.status_code == 303
    assert response.headers["Location"] == f"{console}/calls?status=busy"
    assert _cookie_attributes(response)["path"] == console
    assert mounted.get(f"{console}/calls?status=busy").status_code == 200


def test_logging_out_under_the_prefix_ends_the_session(mounted: Mounted) -> None:
    console = f"{PREFIX}/console"
    assert mounted.log_in().status_code == 303
    cookie = mounted.client.get_cookie("switchboard_console", path=console)
    assert cookie is not None
    token = csrf_of(mounted.get(f"{console}/").text)
    response = mounted.post(f"{console}/logout", {"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"] == f"{console}/login?out=1"
    assert _cookie_attributes(response)["path"] == console
    assert mounted.get(f"{console}/").headers["Location"].startswith(f"{console}/login")
    copy = mounted.new_client()
    copy.set_cookie("switchboard_console", cookie.value, domain="localhost", path=console)
    refused = mounted.get(f"{console}/", client=copy)
    assert refused.status_code == 302
    assert refused.headers["Location"].startswith(f"{console}/login")


_URLS = re.compile(r'(href|src|action|data-live|data-login)="([^"]*)"')


def test_every_link_form_script_and_stylesheet_stays_under_the_prefix(mounted: Mounted) -> None:
    console = f"{PREFIX}/console"
    store = mounted.store
    call_sid = add_call(store)
    recording_sid = add_voicemail(store, call_sid)
    add_call(store, status="busy")
    add_message(store, "hello")
    assert mounted.log_in().status_code == 303
    pages = [f"{console}/", f"{console}/calls", f"{console}/calls/{call_sid}",
             f"{console}/voicemails", f"{console}/conversations",
             f"{console}/conversations/{CALLER}", f"{console}/executions"]
    followed: set[str] = set()
    for page in pages:
        response = mounted.get(page)
        assert response.status_code == 200, page
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        for attribute, url in _URLS.findall(response.text):
            url = url.replace("&amp;", "&")
            if url.startswith(("#", "data:")):
                continue
            assert url.startswith(f"{console}/"), f"{url} on {page}"
            if attribute != "action" and "/audio" not in url:  # the audio comes from Twilio
                followed.add(url)
    assert f"{console}/recordings/{recording_sid}/audio" in str(
        _URLS.findall(mounted.get(f"{console}/calls/{call_sid}").text))
    for url in sorted(followed):
        response = mounted.get(url)
        assert response.status_code in (200, 302), url
        if "/static/" in url:
            assert response.headers["Content-Security-Policy"]
    live = mounted.get(f"{console}/overview.json")
    assert live.status_code == 200
    assert live.json["counts"]["calls-today"] == 2


@pytest.mark.parametrize("contact", ["/lead", "a/../b"])
def test_a_contact_linked_by_the_query_stays_under_the_prefix(
    mounted: Mounted, contact: str
) -> None:
    console = f"{PREFIX}/console"
    add_message(mounted.store, "from an odd contact", from_=contact)
    assert mounted.log_in().status_code == 303
    listing = mounted.get(f"{console}/conversations").text
    found = re.search(r'<a class="item" href="([^"]+)"', listing)
    assert found is not None
    link = html.unescape(found.group(1))
    assert link == f"{console}/conversation?contact={contact}"
    page = mounted.get(link)
    assert page.status_code == 200
    assert "from an odd contact" in page.text
    opt_out = f"{console}/conversation/opt-out?contact={contact}"
    assert f'action="{opt_out}"' in page.text
    response = mounted.post(opt_out, {"csrf_token": csrf_of(page.text), "sender": "*"})
    assert response.status_code == 303
    assert response.headers["Location"] == link
    assert mounted.store.is_opted_out(contact)


def test_marking_a_voicemail_heard_comes_back_to_the_page_under_the_prefix(
    mounted: Mounted,
) -> None:
    console = f"{PREFIX}/console"
    call_sid = add_call(mounted.store)
    recording_sid = add_voicemail(mounted.store, call_sid)
    assert mounted.log_in().status_code == 303
    page = mounted.get(f"{console}/calls/{call_sid}").text
    back = re.search(r'name="next" value="([^"]+)"', page)
    assert back is not None
    response = mounted.post(f"{console}/voicemails/{recording_sid}/heard", {
        "csrf_token": csrf_of(page), "next": back.group(1),
    })
    assert response.status_code == 303
    assert response.headers["Location"] == f"{console}/calls/{call_sid}#{recording_sid}"


@pytest.mark.parametrize("how", ["root", "script_name", "proxy"])
@pytest.mark.parametrize("target", [
    "//evil.example", "//evil.example{root}/console/", "https://evil.example{root}/console/",
    "http:{root}/console/", "{root}/../x", "{root}/console/../../x",
    "{root}/console/%2e%2e/%2E%2E/x", "{root}/console/./../x", "{root}/console\\..\\..\\x",
    "{root}/console/login", "{root}/consoles", "/\\evil.example", "{root}/console/\tx",
])
def test_next_never_leaves_the_console(how: str, target: str, sqlite_url: str) -> None:
    site = _mount(sqlite_url, how)
    try:
        response = site.log_in(next_=target.format(root=site.root))
        assert response.status_code == 303
        assert response.headers["Location"] == f"{site.root}/console/"
    finally:
        site.store.close()


def test_next_outside_the_prefix_is_refused(mounted: Mounted) -> None:
    response = mounted.log_in(next_="/console/calls")
    assert response.headers["Location"] == f"{PREFIX}/console/"


@pytest.mark.parametrize("how", ["root", "script_name", "proxy"])
def test_next_inside_the_console_is_followed(how: str, sqlite_url: str) -> None:
    site = _mount(sqlite_url, how)
    try:
        target = f"{site.root}/console/calls?status=busy&number=%2B1555#top"
        assert site.log_in(next_=target).headers["Location"] == target
    finally:
        site.store.close()
