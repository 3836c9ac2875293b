"""Twilio's signature algorithm: computing and checking X-Twilio-Signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from werkzeug.datastructures import MultiDict

from switchboard.callbacks.security import (
    SIGNATURE_HEADER,
    RequestValidator,
    body_sha256,
    compute_signature,
    signed_headers,
    url_with_body_sha256,
)
from switchboard.config import Secret
from tests.twilio_signature_example import EXPECTED, PARAMS, TOKEN, URL


def reference(token: str, data: str) -> str:
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def test_twilios_published_example() -> None:
    assert compute_signature(TOKEN, URL, PARAMS) == EXPECTED
    assert RequestValidator(TOKEN).validate(URL, PARAMS, EXPECTED)


@pytest.mark.parametrize(
    "params",
    [
        PARAMS,
        list(PARAMS.items()),
        list(reversed(PARAMS.items())),
        MultiDict(PARAMS),
        {k: [v] for k, v in PARAMS.items()},
        iter(PARAMS.items()),
    ],
)
def test_every_shape_of_params(params: object) -> None:
    assert compute_signature(TOKEN, URL, params) == EXPECTED  # type: ignore[arg-type]


def test_the_token_may_be_a_secret() -> None:
    assert compute_signature(Secret(TOKEN), URL, PARAMS) == EXPECTED
    assert RequestValidator(Secret(TOKEN)).validate(URL, PARAMS, EXPECTED)


def test_the_signed_string_is_url_then_sorted_names_and_values() -> None:
    params = {"b": "2", "a": "1", "B": "3", "ä": "4", "a1": ""}
    data = "https://x.example/v?q=1" + "B3" + "a1" + "a1" + "b2" + "ä4"
    assert compute_signature("t", "https://x.example/v?q=1", params) == reference("t", data)


def test_repeated_names_sign_every_value_sorted() -> None:
    pairs = [("To", "+2"), ("Media", "b"), ("To", "+1"), ("Media", "a"), ("Media", "a")]
    data = "https://x.example/" + "Mediaa" + "Mediaa" + "Mediab" + "To+1" + "To+2"
    expected = reference("t", data)
    assert compute_signature("t", "https://x.example/", pairs) == expected
    assert compute_signature("t", "https://x.example/", {"Media": ["b", "a", "a"],
                                                          "To": ("+2", "+1")}) == expected
    multi = MultiDict(pairs)
    assert compute_signature("t", "https://x.example/", multi) == expected
    assert RequestValidator("t").validate("https://x.example/", multi, expected)
    # a repeated value dropped, or only the first value: not the same request
    assert not RequestValidator("t").validate("https://x.example/", dict(pairs), expected)


def test_get_requests_sign_the_url_alone() -> None:
    url = "https://x.example/voice?CallSid=CA1&From=%2B1415"
    expected = reference("t", url)
    for params in (None, {}, []):
        assert compute_signature("t", url, params) == expected
        assert RequestValidator("t").validate(url, params, expected)


def test_the_fragment_is_not_signed() -> None:
    with_fragment = URL + "#ct=1000&rc=2"
    assert compute_signature(TOKEN, with_fragment, PARAMS) == EXPECTED
    assert RequestValidator(TOKEN).validate(with_fragment, PARAMS, EXPECTED)
    assert RequestValidator(TOKEN).validate("https://mycompany.com:443/myapp.php?foo=1&bar=2#rc=1",
                                            PARAMS, EXPECTED)


@pytest.mark.parametrize(
    ("signed", "received"),
    [
        ("https://x.example/v?a=1", "https://x.example:443/v?a=1"),
        ("https://x.example:443/v?a=1", "https://x.example/v?a=1"),
        ("http://x.example/v", "http://x.example:80/v"),
        ("http://x.example:80/v", "http://x.example/v"),
        ("https://x.example", "https://x.example:443"),
        ("https://x.example?a=b", "https://x.example:443?a=b"),
        ("https://u:p@x.example/v", "https://u:p@x.example:443/v"),
        ("https://[::1]/v", "https://[::1]:443/v"),
        ("https://[::1]:443/v", "https://[::1]/v"),
        ("HTTPS://x.example/v", "HTTPS://x.example:443/v"),
    ],
)
def test_default_port_added_or_removed(signed: str, received: str) -> None:
    signature = compute_signature("t", signed, {"A": "1"})
    assert RequestValidator("t").validate(received, {"A": "1"}, signature)


@pytest.mark.parametrize(
    ("signed", "received"),
    [
        ("https://x.example/v", "https://x.example:80/v"),  # not https's default port
        ("http://x.example/v", "http://x.example:443/v"),
        ("https://x.example/v", "https://x.example:8443/v"),
        ("https://x.example:8443/v", "https://x.example/v"),
        ("https://x.example/v", "https://x.example/v:443"),  # a port is in the authority only
        ("https://x.example/v", "ftp://x.example:443/v"),
    ],
)
def test_other_ports_are_not_interchangeable(signed: str, received: str) -> None:
    signature = compute_signature("t", signed, {"A": "1"})
    assert not RequestValidator("t").validate(received, {"A": "1"}, signature)


def test_json_body_checked_through_body_sha256() -> None:
    body = json.dumps({"CallSid": "CA1", "Nested": {"a": [1, 2]}}).encode()
    url = url_with_body_sha256("https://x.example/hook?x=1", body)
    assert url == f"https://x.example/hook?x=1&bodySHA256={hashlib.sha256(body).hexdigest()}"
    signature = compute_signature("t", url)
    assert signature == reference("t", url)
    validator = RequestValidator("t")
    assert validator.validate(url, None, signature, body=body)
    assert validator.validate(url, {"ignored": "for JSON bodies"}, signature, body=body)
    assert validator.validate(url.replace("x.example", "x.example:443"), None, signature, body)
    assert not validator.validate(url, None, signature, body=body + b" ")
    assert not validator.validate(url, None, signature, body=None)
    assert not validator.validate(url, None, signature, body=b"")
    assert not validator.validate(url, None, signature, body=body.decode())  # type: ignore[arg-type]
    assert validator.validate(url, None, signature, body=bytearray(body))


def test_body_sha256_is_hex() -> None:
    assert body_sha256(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert url_with_body_sha256("https://x.example/h#ct=1", b"").startswith(
        "https://x.example/h?bodySHA256=e3b0"
    )


def test_signed_headers() -> None:
    assert signed_headers(TOKEN, URL, PARAMS) == {SIGNATURE_HEADER: EXPECTED}
    assert SIGNATURE_HEADER == "X-Twilio-Signature"


@pytest.mark.parametrize(
    "signature",
    [None, "", "0/KCTR6DLpKmkAf8muzZqo1nDgQ", "0/KCTR6DLpKmkAf8muzZqo1nDgQ==", " " + EXPECTED,
     "0/KCTR6DLpKmkAf8muzZqo1nDgQé", EXPECTED.lower(), b"0/KCTR6DLpKmkAf8muzZqo1nDgQ=", 42],
)
def test_wrong_or_malformed_signatures_are_rejected(signature: object) -> None:
    assert not RequestValidator(TOKEN).validate(URL, PARAMS, signature)  # type: ignore[arg-type]


def test_wrong_token_or_changed_request_is_rejected() -> None:
    assert not RequestValidator("54321").validate(URL, PARAMS, EXPECTED)
    assert not RequestValidator(TOKEN).validate(URL + "&baz=3", PARAMS, EXPECTED)
    assert not RequestValidator(TOKEN).validate(URL, {**PARAMS, "Digits": "1235"}, EXPECTED)
    assert not RequestValidator(TOKEN).validate(URL, {**PARAMS, "Extra": ""}, EXPECTED)
    assert not RequestValidator(TOKEN).validate(URL, None, EXPECTED)


@pytest.mark.parametrize("params", [{"a": 1}, [("a",)], 5, [1, 2]])
def test_unusable_params_are_rejected_not_raised(params: object) -> None:
    assert not RequestValidator("t").validate("https://x.example/", params, "abc=")  # type: ignore[arg-type]


@pytest.mark.parametrize("token", ["", None, Secret("")])
def test_an_auth_token_is_required(token: object) -> None:
    with pytest.raises(ValueError, match="auth token is required"):
        RequestValidator(token)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="auth token is required"):
        compute_signature(token, URL)  # type: ignore[arg-type]


def test_validator_never_shows_its_token() -> None:
    validator = RequestValidator("super-secret-token")
    assert "super-secret-token" not in repr(validator)
    assert "super-secret-token" not in str(validator)
    assert not hasattr(validator, "__dict__")


# -- one computation, for the server and the emulator ---------------------------------------------


def test_the_emulator_signs_with_the_servers_computation() -> None:
    from switchboard.emulator import webhooks

    assert webhooks.compute_signature is compute_signature
    assert webhooks.SIGNATURE_HEADER == SIGNATURE_HEADER


def test_no_other_module_computes_hmac_sha1() -> None:
    """Signing and checking live in ``callbacks/security.py`` alone: any other ``sha1`` in the
    package would be a second copy of Twilio's signature."""
    from pathlib import Path

    import switchboard
    from switchboard import api, callbacks, config, emulator

    roots = [Path(package.__file__).parent for package in (switchboard, api, callbacks, config,
                                                              emulator)]
    found = sorted(
        str(path.relative_to(path.parents[1]))
        for root in roots
        for path in root.rglob("*.py")
        if "sha1" in path.read_text("utf-8").lower()
    )
    assert found == ["callbacks/security.py"]


@pytest.mark.parametrize(
    "params", [PARAMS, list(PARAMS.items()), MultiDict([("Media", "b"), ("Media", "a")]), None]
)
def test_signing_and_checking_agree(params: object) -> None:
    signature = compute_signature(TOKEN, URL + "#ct=1000", params)  # type: ignore[arg-type]
    assert RequestValidator(TOKEN).validate(URL, params, signature)  # type: ignore[arg-type]
    assert RequestValidator(Secret(TOKEN)).validate(URL, params, signature)  # type: ignore[arg-type]
    assert not RequestValidator("other").validate(URL, params, signature)  # type: ignore[arg-type]
