"""Named profiles from switchboard.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard.config import ConfigError, load_settings

from .conftest import ACCOUNT_SID, AUTH_TOKEN

SUBACCOUNT = "AC" + "11112222333344445555666677778888"

PROFILES = f"""
[profiles.acme]
account_sid = "{SUBACCOUNT}"
auth_token = "acme-token"
public_url = "https://acme.example.com/"
dial_timeout = 40
validate_signatures = false
handler_timeout = 5

[profiles.emulator]
api_base_url = "http://127.0.0.1:8999"
"""

ENV = {
    "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
    "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
    "SWITCHBOARD_VOICE": "alice",
}


@pytest.fixture
def toml(workdir: Path) -> Path:
    path = workdir / "switchboard.toml"
    path.write_text(PROFILES)
    return path


def test_the_environment_is_the_default_profile(toml: Path) -> None:
    settings = load_settings(environ=ENV)
    assert settings.profile == "default"
    assert settings.account_sid == ACCOUNT_SID


def test_a_profile_overrides_the_default_and_inherits_the_rest(toml: Path) -> None:
    settings = load_settings("acme", environ=ENV)
    assert settings.profile == "acme"
    assert settings.account_sid == SUBACCOUNT
    assert settings.auth_token == "acme-token"
    assert settings.public_url == "https://acme.example.com"
    assert settings.dial_timeout == 40
    assert settings.validate_signatures is False
    assert settings.handler_timeout == 5.0
    assert settings.voice == "alice"  # from the environment


def test_overrides_win_over_the_profile(toml: Path) -> None:
    settings = load_settings("acme", environ=ENV, overrides={"SWITCHBOARD_DIAL_TIMEOUT": "50"})
    assert settings.dial_timeout == 50


def test_profile_chosen_by_environment_variable(toml: Path) -> None:
    settings = load_settings(environ={**ENV, "SWITCHBOARD_PROFILE": "emulator"})
    assert settings.profile == "emulator"
    assert settings.api_base_url == "http://127.0.0.1:8999"
    assert settings.account_sid == ACCOUNT_SID


def test_profiles_file_from_the_environment_or_argument(workdir: Path) -> None:
    elsewhere = workdir / "conf" / "accounts.toml"
    elsewhere.parent.mkdir()
    elsewhere.write_text(PROFILES)
    env = {**ENV, "SWITCHBOARD_PROFILES_FILE": str(elsewhere)}
    assert load_settings("acme", environ=env).account_sid == SUBACCOUNT
    assert load_settings("acme", environ=ENV, profiles_path=elsewhere).account_sid == SUBACCOUNT


def test_unknown_profile_names_the_known_ones(toml: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"^profile 'acne' is not defined .*known profiles: default, acme, emulator$",
    ):
        load_settings("acne", environ=ENV)


def test_unknown_profile_without_a_file(workdir: Path) -> None:
    with pytest.raises(ConfigError, match=r"no switchboard.toml found.*known profiles: default$"):
        load_settings("acme", environ=ENV)


def test_a_named_file_must_exist(workdir: Path) -> None:
    with pytest.raises(ConfigError, match=r"^SWITCHBOARD_PROFILES_FILE: .*does not exist"):
        load_settings(environ={"SWITCHBOARD_PROFILES_FILE": str(workdir / "nope.toml")})


def test_bad_toml_is_one_line(workdir: Path) -> None:
    (workdir / "switchboard.toml").write_text('[profiles.acme]\nauth_token = "unterminated\n')
    with pytest.raises(ConfigError, match="not valid TOML") as err:
        load_settings(environ=ENV)
    assert "\n" not in str(err.value)


def test_unknown_key_in_a_profile(workdir: Path) -> None:
    (workdir / "switchboard.toml").write_text('[profiles.acme]\nacount_sid = "AC"\n')
    with pytest.raises(ConfigError, match=r"profiles\.acme\.acount_sid is not a setting"):
        load_settings(environ=ENV)


def test_profile_must_be_a_table(workdir: Path) -> None:
    (workdir / "switchboard.toml").write_text('profiles = "acme"\n')
    with pytest.raises(ConfigError, match="must be a table"):
        load_settings(environ=ENV)


def test_profile_errors_name_the_profile(workdir: Path) -> None:
    (workdir / "switchboard.toml").write_text('[profiles.acme]\naccount_sid = "ACnope"\n')
    with pytest.raises(
        ConfigError, match=r"^account_sid in profile 'acme' \(switchboard.toml\): 'ACnope' is not"
    ):
        load_settings("acme", environ=ENV)


def test_only_the_chosen_profile_is_validated(workdir: Path) -> None:
    (workdir / "switchboard.toml").write_text('[profiles.broken]\ndial_timeout = "soon"\n')
    assert load_settings(environ=ENV).dial_timeout == 20
    with pytest.raises(ConfigError, match="dial_timeout in profile 'broken'"):
        load_settings("broken", environ=ENV)


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("publc_url", "did you mean public_url?"),
        ("Public_URL", "did you mean public_url?"),
        ("TWILIO_AUTH_TOKEN", "the profile key of TWILIO_AUTH_TOKEN is auth_token"),
        ("switchboard_dial_timeout", "the profile key of SWITCHBOARD_DIAL_TIMEOUT is dial_timeout"),
    ],
)
def test_a_misspelled_key_suggests_the_setting(workdir: Path, key: str, hint: str) -> None:
    (workdir / "switchboard.toml").write_text(f'[profiles.acme]\n{key} = "x"\n')
    with pytest.raises(ConfigError) as err:
        load_settings("acme", environ=ENV)
    assert str(err.value).endswith(f"profiles.acme.{key} is not a setting; {hint}")


def test_a_key_like_no_setting_lists_them_all(workdir: Path) -> None:
    (workdir / "switchboard.toml").write_text('[profiles.acme]\ncolour = "blue"\n')
    with pytest.raises(ConfigError, match=r"colour is not a setting; known: account_sid, "):
        load_settings("acme", environ=ENV)


def test_spaces_around_the_profile_name_are_ignored(toml: Path) -> None:
    env = {**ENV, "SWITCHBOARD_PROFILE": " acme\n"}
    assert load_settings(environ=env).profile == "acme"
    assert load_settings(" acme ", environ=ENV).dial_timeout == 40
