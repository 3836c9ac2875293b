"""external_url: the URL Twilio reaches an endpoint at, built once per endpoint and origin."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, url_for

from switchboard.callbacks.handlers import external_url

from .conftest import make_app


def app_at(tmp_path: Path, **config: object) -> Flask:
    return make_app(f"sqlite:///{tmp_path / 'urls.sqlite3'}", **config)


def urls_in(app: Flask, path: str = "/voice", **kw: object) -> tuple[str, str]:
    with app.test_request_context(path, method="POST", **kw):
        return external_url("ivr.menu"), url_for("ivr.menu", _external=True)


def test_each_origin_gets_its_own_url(tmp_path: Path) -> None:
    app = app_at(tmp_path)
    for base in ("http://localhost", "https://a.example.com", "http://b.example.com:8080"):
        for _ in range(2):  # built, then from the cache
            ours, flasks = urls_in(app, base_url=base)
            assert ours == flasks == f"{base}/voice/menu"
    with app.test_request_context("/voice", base_url="https://a.example.com/prefix"):
        assert external_url("ivr.menu") == "https://a.example.com/prefix/voice/menu"


def test_relative_endpoints_follow_the_blueprint_of_the_request(tmp_path: Path) -> None:
    app = app_at(tmp_path)
    for name in ("one", "two"):
        bp = Blueprint(name, __name__, url_prefix=f"/{name}")
        bp.add_url_rule("/page", "page", lambda: "")
        app.register_blueprint(bp)
    for _ in range(2):
        for name in ("one", "two"):
            with app.test_request_context(f"/{name}/page"):
                assert external_url(".page") == f"http://localhost/{name}/page"


def test_behind_a_trusted_proxy_the_forwarded_origin(tmp_path: Path) -> None:
    app = app_at(tmp_path, SWITCHBOARD_TRUSTED_PROXIES="1")
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sb.example.org"}
    client = app.test_client()
    seen = []

    @app.before_request
    def remember() -> None:
        seen.append(external_url("ivr.menu"))

    client.get("/healthz", headers=forwarded)
    client.get("/healthz")
    client.get("/healthz", headers={**forwarded, "X-Forwarded-Host": "other.example.org"})
    assert seen == [
        "https://sb.example.org/voice/menu",
        "http://localhost/voice/menu",
        "https://other.example.org/voice/menu",
    ]


def test_public_url_wins(tmp_path: Path) -> None:
    app = app_at(tmp_path, SWITCHBOARD_PUBLIC_URL="https://public.example.com/sb/")
    for base in ("http://localhost", "http://127.0.0.1:5000/mounted"):
        ours, _ = urls_in(app, base_url=base)
        assert ours == "https://public.example.com/sb/voice/menu"


def test_values_and_url_defaults_are_never_cached(tmp_path: Path) -> None:
    app = app_at(tmp_path)
    app.add_url_rule("/greet/<name>", "greet", lambda name: name)
    with app.test_request_context("/"):
        assert external_url("greet", name="ann") == "http://localhost/greet/ann"
        assert external_url("greet", name="bob") == "http://localhost/greet/bob"
    current = {"lang": "en"}

    @app.url_defaults
    def language(endpoint: str, values: dict) -> None:
        if endpoint == "translated":
            values.setdefault("lang", current["lang"])

    app.add_url_rule("/t/<lang>", "translated", lambda lang: lang)
    with app.test_request_context("/"):
        assert external_url("translated") == "http://localhost/t/en"
        current["lang"] = "fr"
        assert external_url("translated") == "http://localhost/t/fr"


def test_the_cache_is_bounded(tmp_path: Path) -> None:
    app = app_at(tmp_path)
    for n in range(600):
        ours, flasks = urls_in(app, base_url=f"http://host{n}.example.com")
        assert ours == flasks
    assert len(app.extensions["switchboard"].external_urls) <= 512
