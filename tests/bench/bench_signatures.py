"""Signature checks per second for a 20-field voice request.

Subject: ``switchboard.callbacks.security.RequestValidator`` (HMAC keyed once and copied; the URL as
received first, the default-port variant only if that fails). Baseline, in this file: the
straightforward check that parses the URL, builds both the with-port and without-port forms
and computes a fresh HMAC for each, every time (as Twilio's reference validators do).

Run: ``.venv/bin/python -m tests.bench signatures``. Goal: at least 2x the baseline.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from urllib.parse import urlparse

from switchboard.callbacks.security import RequestValidator, compute_signature

TOKEN = "0123456789abcdef0123456789abcdef"
URL = "https://abc123.ngrok.io/voice/menu?attempt=1&flow=ivr"
PARAMS = {
    "AccountSid": "AC" + "0123456789abcdef" * 2,
    "ApiVersion": "2010-04-01",
    "CallSid": "CA" + "fedcba9876543210" * 2,
    "CallStatus": "in-progress",
    "Called": "+14155550199",
    "CalledCity": "SAN FRANCISCO",
    "CalledCountry": "US",
    "CalledState": "CA",
    "CalledZip": "94105",
    "Caller": "+14155550100",
    "CallerCity": "OAKLAND",
    "CallerCountry": "US",
    "CallerState": "CA",
    "CallerZip": "94612",
    "Digits": "2",
    "Direction": "inbound",
    "FinishedOnKey": "",
    "From": "+14155550100",
    "FromCountry": "US",
    "To": "+14155550199",
}
assert len(PARAMS) == 20


# --- the baseline: straightforward, both URL variants every time ----------------------------


def _baseline_signature(token: str, uri: str, params: dict[str, str]) -> str:
    data = uri
    for name in sorted(params):
        data += name + params[name]
    mac = hmac.new(token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("utf-8")


def _with_port(uri: str) -> str:
    parsed = urlparse(uri)
    if parsed.port:
        return parsed.geturl()
    port = 443 if parsed.scheme == "https" else 80
    return parsed._replace(netloc=f"{parsed.hostname}:{port}").geturl()


def _without_port(uri: str) -> str:
    parsed = urlparse(uri)
    if not parsed.port:
        return parsed.geturl()
    return parsed._replace(netloc=parsed.hostname or "").geturl()


def baseline_validate(token: str, uri: str, params: dict[str, str], signature: str) -> bool:
    uri = uri.split("#")[0]
    without = _baseline_signature(token, _without_port(uri), params)
    with_port = _baseline_signature(token, _with_port(uri), params)
    return hmac.compare_digest(without, signature) | hmac.compare_digest(with_port, signature)


# --- measuring ------------------------------------------------------------------------------


def _rate(check: Callable[[], bool], seconds: float) -> float:
    """Checks per CPU second over about ``seconds`` of this process's CPU time (other jobs on
    a shared machine then slow the figures less)."""
    batch = 1_000
    done = 0
    start = time.process_time()
    while True:
        for _ in range(batch):
            check()
        done += batch
        elapsed = time.process_time() - start
        if elapsed >= seconds:
            return done / elapsed


def _best_rates(
    checks: dict[str, Callable[[], bool]], rounds: int = 5, seconds: float = 0.5
) -> dict[str, float]:
    """Best rate of each check over ``rounds`` interleaved rounds (fair under a noisy CPU)."""
    best = dict.fromkeys(checks, 0.0)
    for _ in range(rounds):
        for name, check in checks.items():
            best[name] = max(best[name], _rate(check, seconds))
    return best


def main() -> None:
    signature = compute_signature(TOKEN, URL, PARAMS)
    validator = RequestValidator(TOKEN)
    with_port = URL.replace("ngrok.io", "ngrok.io:443")
    assert validator.validate(URL, PARAMS, signature)
    assert validator.validate(with_port, PARAMS, signature)
    assert baseline_validate(TOKEN, URL, PARAMS, signature)
    assert not validator.validate(URL, {**PARAMS, "Digits": "3"}, signature)
    assert not baseline_validate(TOKEN, URL, {**PARAMS, "Digits": "3"}, signature)

    rates = _best_rates(
        {
            "subject": lambda: validator.validate(URL, PARAMS, signature),
            "baseline": lambda: baseline_validate(TOKEN, URL, PARAMS, signature),
            "variant": lambda: validator.validate(with_port, PARAMS, signature),
            "rejected": lambda: validator.validate(URL, PARAMS, "x" + signature[1:]),
        }
    )
    subject, baseline = rates["subject"], rates["baseline"]
    variant, rejected = rates["variant"], rates["rejected"]

    print(f"20-field request, {len(URL)}-character URL; rates per CPU second, best of 5")
    print(f"RequestValidator.validate       {subject:12,.0f} checks/s")
    print(f"baseline (both URL variants)    {baseline:12,.0f} checks/s")
    print(f"ratio                           {subject / baseline:12.2f}x  (goal >= 2x)")
    print(f"validate, default-port variant  {variant:12,.0f} checks/s  (second HMAC needed)")
    print(f"validate, rejected signature    {rejected:12,.0f} checks/s  (both variants tried)")


if __name__ == "__main__":
    main()
