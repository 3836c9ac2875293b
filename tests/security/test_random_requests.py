"""10,000 random signed requests: all accepted; each with one byte changed, all rejected.

Pure-function level (RequestValidator.validate), so the whole run takes a few seconds. The
server's 403 for a failed check is tested with the app itself.
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass
from urllib.parse import quote

from switchboard.callbacks.security import RequestValidator, compute_signature, url_with_body_sha256
from tests import twilio_signature as independent

COUNT = 10_000
SEED = 20_261_127
TOKEN = "e7c1f0a5d9b24c8e9f3a6b1d2c4e8f07"

HOSTS = ["example.com", "abc123.ngrok.io", "127.0.0.1", "hooks.example.org", "[::1]", "localhost"]
NAMES = ["CallSid", "AccountSid", "From", "To", "CallStatus", "Digits", "SpeechResult", "Body",
         "MediaUrl0", "NumMedia", "Direction", "ApiVersion", "StatusCallbackEvent", "A", "a", "é"]
VALUE_CHARS = string.ascii_letters + string.digits + " +-_.:/@&=?%#é€'\"<>"
MUTATION_CHARS = string.printable.strip() + " é"
BASE64_CHARS = string.ascii_letters + string.digits + "+/="


@dataclass
class Case:
    signed_url: str
    received_url: str
    pairs: list[tuple[str, str]]
    body: bytes | None
    signature: str


def _text(rng: random.Random, chars: str, low: int, high: int) -> str:
    return "".join(rng.choices(chars, k=rng.randint(low, high)))


def _url(rng: random.Random) -> tuple[str, str]:
    """A URL Twilio signed and the URL the server received (default port added or removed)."""
    scheme = rng.choice(["https", "http"])
    default = ":443" if scheme == "https" else ":80"
    host = rng.choice(HOSTS)
    port = rng.choice(["", "", default, ":8443", ":5000"])
    path = "/" + "/".join(_text(rng, string.ascii_lowercase + "-._~", 1, 8)
                          for _ in range(rng.randint(0, 3)))
    query = "&".join(
        f"{quote(_text(rng, VALUE_CHARS, 1, 6), safe='')}={quote(_text(rng, VALUE_CHARS, 0, 10))}"
        for _ in range(rng.choice([0, 0, 1, 2, 4]))
    )
    signed = f"{scheme}://{host}{port}{path}" + (f"?{query}" if query else "")
    received = signed
    if port in ("", default) and rng.random() < 0.5:
        authority = f"{host}{default}" if port == "" else host
        received = f"{scheme}://{authority}{path}" + (f"?{query}" if query else "")
    return signed, received


def make_case(rng: random.Random) -> Case:
    signed, received = _url(rng)
    body = None
    pairs: list[tuple[str, str]] = []
    if rng.random() < 0.3:
        document = {rng.choice(NAMES): _text(rng, VALUE_CHARS, 0, 12) for _ in range(4)}
        body = json.dumps(document, ensure_ascii=rng.random() < 0.5).encode()
        signed = url_with_body_sha256(signed, body)
        received = url_with_body_sha256(received, body)
    else:
        for _ in range(rng.randint(0, 20)):
            name = rng.choice(NAMES) if rng.random() < 0.8 else _text(rng, VALUE_CHARS, 1, 8)
            pairs.append((name, _text(rng, VALUE_CHARS, 0, 16)))
        if pairs and rng.random() < 0.3:
            pairs.append((pairs[0][0], _text(rng, VALUE_CHARS, 0, 16)))  # a repeated name
        rng.shuffle(pairs)
    signature = compute_signature(TOKEN, signed, pairs)
    if rng.random() < 0.2:
        received += rng.choice(["#ct=1000", "#ct=1000&rc=2", "#rp=all&rt=15000"])
    return Case(signed, received, pairs, body, signature)


def _change_one(rng: random.Random, text: str, chars: str, end: int | None = None) -> str:
    index = rng.randrange(len(text) if end is None else end)
    replacement = rng.choice([c for c in chars if c != text[index]])
    return text[:index] + replacement + text[index + 1 :]


def _reference(url: str, pairs: list[tuple[str, str]]) -> str:
    return independent.signature(TOKEN, url, pairs)


def test_ten_thousand_random_signed_requests() -> None:
    rng = random.Random(SEED)
    validator = RequestValidator(TOKEN)
    accepted = rejected = 0
    for _ in range(COUNT):
        case = make_case(rng)
        assert case.signature == _reference(case.signed_url, case.pairs)
        params = None if case.body is not None else case.pairs
        assert validator.validate(case.received_url, params, case.signature, case.body), case
        accepted += 1

        # One byte changed in the URL (before any fragment, which is not signed).
        end = case.received_url.find("#")
        url = _change_one(rng, case.received_url, MUTATION_CHARS, None if end < 0 else end)
        assert not validator.validate(url, params, case.signature, case.body), (url, case)
        # ... in the signature
        signature = _change_one(rng, case.signature, BASE64_CHARS)
        assert not validator.validate(case.received_url, params, signature, case.body), case
        rejected += 2
        # ... in the body, or in one parameter's name or value
        if case.body is not None:
            body = bytearray(case.body)
            body[rng.randrange(len(body))] ^= rng.randint(1, 255)
            assert not validator.validate(case.received_url, None, case.signature, bytes(body))
            rejected += 1
        elif case.pairs:
            pairs = list(case.pairs)
            index = rng.randrange(len(pairs))
            name, value = pairs[index]
            if value and rng.random() < 0.5:
                pairs[index] = (name, _change_one(rng, value, MUTATION_CHARS))
            else:
                pairs[index] = (_change_one(rng, name, MUTATION_CHARS), value)
            # Twilio's scheme concatenates without separators; a change is only a different
            # request if the signed string changes (with these names it always does).
            assert independent.signed_string(case.signed_url, pairs) != independent.signed_string(
                case.signed_url, case.pairs
            )
            assert not validator.validate(case.received_url, pairs, case.signature), case
            rejected += 1
    assert accepted == COUNT
    assert rejected > 2 * COUNT


def test_the_cases_cover_every_kind() -> None:
    rng = random.Random(SEED)
    cases = [make_case(rng) for _ in range(2_000)]
    assert any(c.body is not None for c in cases)
    assert any(c.signed_url != c.received_url.split("#")[0] for c in cases)  # port toggled
    assert any("#" in c.received_url for c in cases)
    assert any(":8443" in c.signed_url for c in cases)
    assert any(len({n for n, _ in c.pairs}) < len(c.pairs) for c in cases)  # repeated names
    assert any("?" in c.signed_url and c.body is None for c in cases)
