"""A secret put in the wrong variable never shows in the error that refuses it.

The auth token (32 hexadecimal digits) and an API key secret (32 letters and digits) are
easily pasted into the SID beside them. The settings loader refuses the SID, and its message
says what shape was expected and what was found (its length), never the value: through
``load_settings``, a profile, ``Settings.replace``, and the command line's stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from switchboard.config import ConfigError, Settings, load_settings
from switchboard.config.fields import FIELDS

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
API_KEY_SID = "SK" + "fedcba9876543210" * 2
#: An auth token is 32 lowercase hexadecimal digits; an API key secret 32 letters and digits.
AUTH_TOKEN = "5f2b9c1e7a3d4f60b8e2c1d9a7f3e5b4"
API_SECRET = "Qz7LwX2mNp4RtV9kYb3HsD6fGj8Ac1Ue"
SECRETS = (AUTH_TOKEN, API_SECRET)
SWITCHBOARD = Path(sys.executable).with_name("switchboard")


def _assert_hidden(text: str) -> None:
    for secret in SECRETS:
        # not the value, and not a piece of it (a shortened repr would still give it away)
        for start in range(len(secret) - 7):
            assert secret[start : start + 8] not in text, (secret, text)


#: Every way round of the four credentials where a secret lands in a SID's variable.
SWAPS = [
    pytest.param({"TWILIO_ACCOUNT_SID": AUTH_TOKEN, "TWILIO_AUTH_TOKEN": ACCOUNT_SID},
                 "TWILIO_ACCOUNT_SID", id="account-sid-and-token"),
    pytest.param({"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                  "TWILIO_API_KEY_SID": API_SECRET, "TWILIO_API_KEY_SECRET": API_KEY_SID},
                 "TWILIO_API_KEY_SID", id="api-key-sid-and-secret"),
    pytest.param({"TWILIO_ACCOUNT_SID": API_SECRET, "TWILIO_AUTH_TOKEN": AUTH_TOKEN},
                 "TWILIO_ACCOUNT_SID", id="key-secret-as-account-sid"),
    pytest.param({"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                  "TWILIO_API_KEY_SID": AUTH_TOKEN, "TWILIO_API_KEY_SECRET": API_SECRET},
                 "TWILIO_API_KEY_SID", id="token-as-api-key-sid"),
    pytest.param({"TWILIO_ACCOUNT_SID": "SK" + API_SECRET[:32], "TWILIO_AUTH_TOKEN": AUTH_TOKEN},
                 "TWILIO_ACCOUNT_SID", id="secret-behind-another-prefix"),
    pytest.param({"TWILIO_ACCOUNT_SID": "AC" + API_SECRET, "TWILIO_AUTH_TOKEN": AUTH_TOKEN},
                 "TWILIO_ACCOUNT_SID", id="secret-behind-the-right-prefix"),
]


@pytest.mark.parametrize(("env", "variable"), SWAPS)
def test_load_settings_names_the_variable_and_the_shape_not_the_value(
    env: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ=env)
    message = str(raised.value)
    _assert_hidden(message)
    assert message.startswith(f"{variable}: ")
    prefix = "SK" if "API_KEY" in variable else "AC"
    assert f"({prefix} followed by 32 hexadecimal digits" in message
    length = len(env[variable])
    assert f"{length} characters" in message


def test_the_swap_is_named_when_the_value_has_the_shape_of_the_secret_beside_it() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={"TWILIO_ACCOUNT_SID": AUTH_TOKEN})
    assert "TWILIO_AUTH_TOKEN" in str(raised.value)
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={"TWILIO_API_KEY_SID": API_SECRET})
    assert "TWILIO_API_KEY_SECRET" in str(raised.value)


def test_a_sid_mistyped_is_still_shown() -> None:
    """Not a secret's shape, and the expected prefix: the value helps and is shown."""
    with pytest.raises(ConfigError, match=r"^TWILIO_ACCOUNT_SID: 'AC123' is not an account SID"):
        load_settings(environ={"TWILIO_ACCOUNT_SID": "AC123"})


@pytest.mark.parametrize(("env", "variable"), SWAPS)
def test_a_profile_and_replace_hide_it_too(
    env: dict[str, str], variable: str, tmp_path: Path
) -> None:
    field = next(f for f in FIELDS.values() if f.env == variable)
    profiles = tmp_path / "switchboard.toml"
    profiles.write_text(f'[profiles.acme]\n{field.name} = "{env[variable]}"\n')
    with pytest.raises(ConfigError) as raised:
        load_settings("acme", environ={}, profiles_path=profiles)
    _assert_hidden(str(raised.value))
    with pytest.raises(ConfigError) as raised:
        Settings().replace(**{field.name: env[variable]})
    _assert_hidden(str(raised.value))


@pytest.mark.parametrize(
    "variable",
    [f.env for f in FIELDS.values() if not f.secret],
)
@pytest.mark.parametrize("secret", SECRETS)
def test_no_setting_echoes_a_secret_put_in_it(variable: str, secret: str, tmp_path: Path) -> None:
    """Whatever the setting, a value with the shape of a credential is not repeated."""
    try:
        load_settings(environ={variable: secret, "SWITCHBOARD_FLOWS_DIR": str(tmp_path)}
                      if variable != "SWITCHBOARD_FLOWS_DIR" else {variable: secret})
    except ConfigError as error:
        _assert_hidden(str(error))


def _run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("TWILIO_", "SWITCHBOARD_"))}
    return subprocess.run(
        [str(SWITCHBOARD), *args], env={**base, "SWITCHBOARD_DOTENV": "0", **env}, cwd=cwd,
        capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize(
    "command", [["api", "get-account-details"], ["emulator", "--port", "0", "--quiet"]],
    ids=["api", "emulator"],
)
@pytest.mark.parametrize(("env", "variable"), SWAPS[:2])
def test_the_command_line_says_it_on_stderr_without_the_secret(
    command: list[str], env: dict[str, str], variable: str, tmp_path: Path
) -> None:
    done = _run(*command, env=env, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    _assert_hidden(done.stdout + done.stderr)
    [line] = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert line.startswith(f"Error: {command[0] if command[0] == 'emulator' else command[1]}: "
                           f"{variable}: ")
