"""``switchboard emulator``: what Switchboard's loggers write while it runs (the emulator's
caller side, the REST client and the app code it runs) is one line each with no credential,
as under ``switchboard run``: the configured auth token and API key secret, the token the
emulator makes up, a URL's password, and no line forged with a newline.

The emulator runs in a subprocess of its own, so that no other test has filtered the loggers
first; its serving is replaced by the lines logged where it would serve."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "configured-token-not-for-logs"
KEY_SID = "SK0123456789abcdef0123456789abcdef"
KEY_SECRET = "key-secret-not-for-logs"
PASSWORD = "url-pa55word-not-for-logs"

#: Runs ``switchboard emulator --port 0``, logging on Switchboard's loggers instead of serving;
#: prints the emulator's token (the made-up one, when none is configured) on stdout last.
SCRIPT = f"""
import logging, os
from switchboard.emulator import Emulator

def serve(self):
    log = logging.getLogger("switchboard.emulator")
    log.warning("webhook refused for %s", self.auth_token)
    log.warning("API key refused: %s", os.environ.get("TWILIO_API_KEY_SECRET"))
    logging.getLogger("switchboard.api").warning("GET /Calls.json failed%s", "\\nforged line")
    try:
        raise OSError("cannot post to https://owner:{PASSWORD}@hooks.example/voice")
    except OSError:
        logging.getLogger("switchboard.callbacks").exception("handler failed")
    print("TOKEN=" + self.auth_token)

Emulator.serve_forever = serve
from switchboard.cli import cli
cli.main(["emulator", "--port", "0", "--quiet"], prog_name="switchboard",
         standalone_mode=False)
"""


def emulator(tmp_path: Path, **env: str) -> tuple[str, str]:
    """(stderr, the emulator's token) of the script run with ``env``."""
    (tmp_path / "script.py").write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, "script.py"],
        env={"PATH": "/usr/bin:/bin", **env}, cwd=tmp_path, capture_output=True, text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr, done.stdout.rpartition("TOKEN=")[2].strip()


def assert_clean(stderr: str, *secrets: str) -> None:
    for secret in (*secrets, PASSWORD):
        assert secret not in stderr, stderr
    assert not [line for line in stderr.splitlines() if line.startswith("forged")], stderr
    assert "webhook refused for ***\n" in stderr
    assert "GET /Calls.json failed\\nforged line" in stderr
    assert "OSError: cannot post to https://owner:***@hooks.example/voice" in stderr


@pytest.mark.parametrize("with_key", [False, True])
def test_the_configured_credentials_are_hidden(tmp_path: Path, with_key: bool) -> None:
    env = {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": TOKEN}
    if with_key:
        env |= {"TWILIO_API_KEY_SID": KEY_SID, "TWILIO_API_KEY_SECRET": KEY_SECRET}
    stderr, token = emulator(tmp_path, **env)
    assert token == TOKEN
    assert_clean(stderr, TOKEN, KEY_SECRET)
    assert f"API key refused: {'***' if with_key else None}\n" in stderr


def test_a_made_up_token_is_hidden_too(tmp_path: Path) -> None:
    stderr, token = emulator(tmp_path)
    assert len(token) >= 32
    assert_clean(stderr, token)
