"""Every setting's validation: one-line errors naming the setting and why."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.config import ConfigError, load_settings

HEX = "0123456789abcdefABCDEF"
NO_DEADLINE = settings(deadline=None)  # a loaded CI machine must not make these flaky


def _load(**env: str):
    return load_settings(environ=env)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TWILIO_ACCOUNT_SID", "AC123", "is not an account SID (AC followed by 32 hexadecimal"),
        ("TWILIO_ACCOUNT_SID", "SK" + "a" * 32, "is not an account SID"),
        ("TWILIO_ACCOUNT_SID", "AC" + "g" * 32, "is not an account SID"),
        ("TWILIO_API_KEY_SID", "AC" + "a" * 32, "is not an API key SID (SK followed by 32"),
        ("TWILIO_API_BASE_URL", "api.twilio.com", "must start with http:// or https://"),
        ("TWILIO_API_BASE_URL", "https://api.twilio.com?x=1", "must not have a ?query string"),
        ("TWILIO_API_BASE_URL", "https://u:pw@api.twilio.com", "must not hold credentials; set"),
        ("TWILIO_API_BASE_URL", "https://u@api.twilio.com", "must not hold credentials; set"),
        ("SWITCHBOARD_PUBLIC_URL", "ftp://example.com", "must start with http:// or https://"),
        ("SWITCHBOARD_PUBLIC_URL", "https://", "has no host name"),
        ("SWITCHBOARD_PUBLIC_URL", "https://x.example:99999", "is not a valid URL"),
        ("SWITCHBOARD_PUBLIC_URL", "https://x.example/#frag", "must not have a #fragment"),
        ("SWITCHBOARD_DATABASE_URL", "mysql://u@h/db", "database 'mysql' is not supported"),
        ("SWITCHBOARD_DATABASE_URL", "not a url", "not a database URL"),
        ("SWITCHBOARD_DATABASE_URL", "postgresql://u@h", "names no database"),
        ("SWITCHBOARD_DATABASE_URL", "postgresql://u@h:99999/db", "port 99999 is not a TCP port"),
        ("SWITCHBOARD_DATABASE_URL", "postgresql://u@h:0/db", "port 0 is not a TCP port"),
        ("SWITCHBOARD_DATABASE_URL", "postgresql://u@h:-5/db", "port -5 is not a TCP port"),
        # Undecodable bytes: os.environ keeps them as lone surrogates, which cannot be compared
        # or sent.
        ("SWITCHBOARD_CONSOLE_PASSWORD", "password\udcff", "is not UTF-8 text"),
        ("SWITCHBOARD_SECRET_KEY", "k" * 20 + "\udcff", "is not UTF-8 text"),
        ("SWITCHBOARD_CONSOLE_PASSWORD_HASH", "scrypt:1$salt\udcff$hash", "is not UTF-8 text"),
        ("SWITCHBOARD_TRUSTED_PROXIES", "-1", "-1 is below the minimum of 0"),
        ("SWITCHBOARD_TRUSTED_PROXIES", "1.5", "is not a whole number"),
        ("SWITCHBOARD_VALIDATE_SIGNATURES", "maybe", "is not a boolean (use true/false"),
        ("SWITCHBOARD_HANDLER_TIMEOUT", "15", "must be below 15 (Twilio waits at most 15 seconds"),
        ("SWITCHBOARD_HANDLER_TIMEOUT", "20.5", "must be below 15"),
        ("SWITCHBOARD_HANDLER_TIMEOUT", "0", "is below the minimum"),
        ("SWITCHBOARD_HANDLER_TIMEOUT", "nan", "is not a finite number"),
        ("SWITCHBOARD_HANDLER_TIMEOUT", "soon", "is not a number"),
        ("SWITCHBOARD_RECORD_DELAY", "-0.1", "-0.1 is below the minimum of 0"),
        ("SWITCHBOARD_RECORD_DELAY", "10", "must be below 10 (seconds a call or message row"),
        ("SWITCHBOARD_RECORD_DELAY", "later", "is not a number"),
        ("SWITCHBOARD_FORWARD_NUMBER", "4155550100", "is not an E.164 phone number"),
        ("SWITCHBOARD_FORWARD_NUMBER", "+0155550100", "is not an E.164 phone number"),
        ("SWITCHBOARD_FORWARD_NUMBER", "+1", "is not an E.164 phone number"),
        ("SWITCHBOARD_FORWARD_NUMBER", "+" + "1" * 16, "is not an E.164 phone number"),
        ("SWITCHBOARD_FORWARD_NUMBER", "+1 415 555 0100", "is not an E.164 phone number"),
        ("SWITCHBOARD_VOICE", "robot", "'robot' is not a <Say> voice Twilio takes; give man, "),
        ("SWITCHBOARD_VOICE", "Polly.", "is not a <Say> voice Twilio takes"),
        ("SWITCHBOARD_LANGUAGE", "english please", "is not a <Say> language Twilio takes; give "),
        ("SWITCHBOARD_LANGUAGE", "e", "is not a <Say> language Twilio takes"),
        ("SWITCHBOARD_DIAL_TIMEOUT", "2", "is below the minimum of 5"),
        ("SWITCHBOARD_DIAL_TIMEOUT", "601", "is above the maximum of 600"),
        ("SWITCHBOARD_MAX_ATTEMPTS", "0", "is below the minimum of 1"),
        ("SWITCHBOARD_VOICEMAIL_MAX_LENGTH", "x", "is not a whole number"),
    ],
)
def test_bad_values(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(**{variable: value})
    text = str(err.value)
    assert text.startswith(f"{variable}: ")
    assert message in text
    assert "\n" not in text
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///switchboard.db", "sqlite:///switchboard.db"),
        ("sqlite://", "sqlite://"),
        ("postgresql://u:p@localhost/sb", "postgresql+psycopg://u:p@localhost/sb"),
        ("postgres://u:p@localhost:5433/sb", "postgresql+psycopg://u:p@localhost:5433/sb"),
        ("postgresql+psycopg://u@h/sb", "postgresql+psycopg://u@h/sb"),
        ("postgresql+psycopg2://u@h/sb", "postgresql+psycopg2://u@h/sb"),
        ("sqlite+pysqlite:////tmp/x.db", "sqlite+pysqlite:////tmp/x.db"),
    ],
)
def test_database_urls(url: str, expected: str) -> None:
    assert _load(SWITCHBOARD_DATABASE_URL=url).database_url == expected


@pytest.mark.parametrize(
    ("word", "value"),
    [("true", True), ("TRUE", True), ("1", True), ("yes", True), ("Yes", True),
     ("false", False), ("0", False), ("no", False), (" No ", False)],
)
def test_booleans(word: str, value: bool) -> None:
    assert _load(SWITCHBOARD_VALIDATE_SIGNATURES=word).validate_signatures is value


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://abc.ngrok.io", "https://abc.ngrok.io"),
        ("https://abc.ngrok.io/", "https://abc.ngrok.io"),
        ("http://127.0.0.1:5000/prefix//", "http://127.0.0.1:5000/prefix"),
        ("HTTPS://Example.com/app", "HTTPS://Example.com/app"),
    ],
)
def test_public_url_normalised(url: str, expected: str) -> None:
    assert _load(SWITCHBOARD_PUBLIC_URL=url).public_url == expected


@NO_DEADLINE
@given(st.text(alphabet=HEX, min_size=32, max_size=32))
def test_any_well_formed_sid_is_accepted(digits: str) -> None:
    settings = _load(TWILIO_ACCOUNT_SID="AC" + digits, TWILIO_API_KEY_SID="SK" + digits,
                     TWILIO_API_KEY_SECRET="s")
    assert settings.account_sid == "AC" + digits
    assert settings.api_key_sid == "SK" + digits


@NO_DEADLINE
@given(st.text(alphabet=string.printable, min_size=1, max_size=40).filter(str.strip))
def test_malformed_sids_are_rejected_with_the_setting_named(value: str) -> None:
    value = value.strip()
    is_sid = len(value) == 34 and value.startswith("AC") and all(c in HEX for c in value[2:])
    if is_sid:
        return
    with pytest.raises(ConfigError, match=r"^TWILIO_ACCOUNT_SID: .* is not an account SID"):
        _load(TWILIO_ACCOUNT_SID=value)


@NO_DEADLINE
@given(st.integers(min_value=5, max_value=600))
def test_integers_round_trip(number: int) -> None:
    assert _load(SWITCHBOARD_DIAL_TIMEOUT=str(number)).dial_timeout == number


@NO_DEADLINE
@given(st.floats(min_value=0.1, max_value=14.999, allow_nan=False))
def test_handler_timeouts_below_fifteen(seconds: float) -> None:
    assert _load(SWITCHBOARD_HANDLER_TIMEOUT=repr(seconds)).handler_timeout == seconds


def test_record_delay_defaults_to_twenty_milliseconds_and_zero_is_allowed() -> None:
    assert _load().record_delay == 0.02
    assert _load(SWITCHBOARD_RECORD_DELAY="0").record_delay == 0


@NO_DEADLINE
@given(st.from_regex(r"\+[1-9][0-9]{1,14}", fullmatch=True))
def test_e164_numbers(number: str) -> None:
    assert _load(SWITCHBOARD_FORWARD_NUMBER=number).forward_number == number


@NO_DEADLINE
@given(st.text(max_size=30))
def test_any_text_either_parses_or_fails_with_one_line(value: str) -> None:
    for variable in ("SWITCHBOARD_PUBLIC_URL", "SWITCHBOARD_DATABASE_URL",
                     "SWITCHBOARD_TRUSTED_PROXIES", "SWITCHBOARD_HANDLER_TIMEOUT",
                     "SWITCHBOARD_RECORD_DELAY",
                     "SWITCHBOARD_FORWARD_NUMBER", "SWITCHBOARD_VALIDATE_SIGNATURES",
                     "SWITCHBOARD_VOICE", "SWITCHBOARD_LANGUAGE"):
        message = ""
        try:
            _load(**{variable: value})
        except ConfigError as err:
            message = str(err)
        assert not message or (message.startswith(variable) and "\n" not in message)


# -- one E.164 rule for settings and the REST client --------------------------------------------

E164_CASES = [
    ("+14155550100", True),
    ("+442071838750", True),
    ("+12", True),  # the shortest the rule takes: a country code and one more digit
    ("+" + "9" * 15, True),  # 15 digits in all, the most E.164 allows
    ("+1", False),  # a country code alone: the case the two checks once disagreed on
    ("+", False),
    ("+0155550100", False),  # no country code starts with 0
    ("+" + "1" * 16, False),
    ("14155550100", False),
    ("+1 415 555 0100", False),
    ("+1-415-555-0100", False),
    ("+1\u0664\u0661\u0665", False),  # digits of another script
    ("+14155550100\n", False),
    ("", False),
]


@pytest.mark.parametrize(("number", "valid"), E164_CASES)
def test_one_e164_rule_for_settings_and_the_rest_client(number: str, valid: bool) -> None:
    from switchboard.api import ValidationError
    from switchboard.api.validation import e164 as api_e164
    from switchboard.config.validation import is_e164

    assert is_e164(number) is valid
    try:
        api_e164("to", number)
    except ValidationError:
        api_valid = False
    else:
        api_valid = True
    assert api_valid is valid
    if number.strip() == number:  # a setting's surrounding spaces are stripped first
        try:
            _load(SWITCHBOARD_FORWARD_NUMBER=number)
        except ConfigError:
            config_valid = False
        else:
            config_valid = True
        assert config_valid is (valid or not number)  # an empty setting is unset


def test_a_setting_is_stripped_before_the_e164_rule_an_argument_is_not() -> None:
    from switchboard.api import ValidationError
    from switchboard.api.validation import e164 as api_e164

    assert _load(SWITCHBOARD_FORWARD_NUMBER=" +14155550100 ").forward_number == "+14155550100"
    with pytest.raises(ValidationError, match=r"^to: ' \+14155550100' is not an E\.164"):
        api_e164("to", " +14155550100")


@NO_DEADLINE
@given(st.text(alphabet="+0123456789 -", max_size=18))
def test_the_rule_is_the_regular_expression_of_twilios_docs(text: str) -> None:
    import re

    from switchboard.config.validation import is_e164

    assert is_e164(text) is (re.fullmatch(r"\+[1-9][0-9]{1,14}", text) is not None)


# -- one redact_url ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kept", "removed"),
    [
        ("https://bob:pw@h.example/x?q=1", "https://bob:***@h.example/x?q=1",
         "https://h.example/x?q=1"),
        ("https://bob@h.example/x", "https://bob@h.example/x", "https://h.example/x"),
        ("https://h.example/x?to=a@b", "https://h.example/x?to=a@b",
         "https://h.example/x?to=a@b"),
        ("https://bob:p@ss@h.example:8443/", "https://bob:***@h.example:8443/",
         "https://h.example:8443/"),
        # a password with '/' that urlsplit cuts short: hidden all the same
        ("https://bob:pa/ss@h.example/x", "https://bob:***@h.example/x", "https://h.example/x"),
        ("http://[bob:pw@h", "<unparsable URL>", "<unparsable URL>"),
    ],
)
def test_redact_url(url: str, kept: str, removed: str) -> None:
    from switchboard.config.validation import redact_url

    assert redact_url(url) == kept
    assert redact_url(url, keep_user=False) == removed


def test_every_part_shows_urls_through_the_one_redact_url() -> None:
    from switchboard.api import TwilioConnectionError, errors, provisioning, validation
    from switchboard.config import settings as config_settings
    from switchboard.config.validation import redact_url

    assert errors.redact_url is redact_url
    assert provisioning.redact_url is redact_url
    assert config_settings.redact_url is redact_url
    error = TwilioConnectionError("GET", "https://AC1:tok@h.example/a.json", reason="refused")
    assert error.url == "https://h.example/a.json"
    assert validation.show_url("ftp://bob:hunter2@x/y") == "'ftp://bob:***@x/y'"
    assert "hunter2" not in validation.show_url("https://bob:hunter2/x@h.example")


def test_database_urls_are_shown_alike_by_settings_and_the_store() -> None:
    from sqlalchemy.engine import make_url

    from switchboard.callbacks.store.engine import safe_url
    from switchboard.config.validation import redact_database_url

    url = "postgresql+psycopg://u:pw@db.example/x?sslpassword=ssl"
    expected = "postgresql+psycopg://u:***@db.example/x?sslpassword=***"
    assert redact_database_url(url) == expected
    assert safe_url(make_url(url)) == expected
    assert "pw" not in repr(_load(SWITCHBOARD_DATABASE_URL=url))


# -- the <Say> voice and language: checked where every other setting is ---------------------------


def test_a_voice_twilio_does_not_take_fails_in_load_settings() -> None:
    with pytest.raises(ConfigError) as err:
        _load(SWITCHBOARD_VOICE="robot")
    assert str(err.value).startswith("SWITCHBOARD_VOICE: 'robot' is not a <Say> voice")
    assert "Polly.<name>" in str(err.value)
    assert "\n" not in str(err.value)


def test_the_voice_and_language_are_checked_in_a_profile_and_on_replace(workdir) -> None:
    (workdir / "switchboard.toml").write_text('[profiles.acme]\nvoice = "robot"\n', "utf-8")
    with pytest.raises(ConfigError, match=r"^voice in profile 'acme' \(switchboard\.toml\): "):
        load_settings("acme", environ={})
    with pytest.raises(ConfigError, match=r"^SWITCHBOARD_LANGUAGE: 'english' is not a <Say>"):
        _load().replace(language="english")
    assert _load().replace(voice="Polly.Céline").voice == "Polly.Céline"


def test_a_look_alike_letter_is_shown_escaped() -> None:
    with pytest.raises(ConfigError, match=r"^SWITCHBOARD_LANGUAGE: '\\u212aen' is not"):
        _load(SWITCHBOARD_LANGUAGE="\u212aen")  # KELVIN SIGN, not K


@pytest.mark.parametrize(
    "text",
    ["man", "WOMAN", "alice", "Polly.Joanna", "Polly.Joanna-Neural", "Polly.Céline", "Polly.",
     "Polly.Joanna-", "Google.en-US-Neural2-A", "Google.english", "robot", "en-US", "fr-FR",
     "cmn-Hans-CN", "arb", "e", "english please", "\u212aen", "en_US", ""],
)
def test_the_twiml_builder_takes_what_the_settings_take(text: str) -> None:
    from switchboard.callbacks.twiml_vocabulary import ELEMENTS
    from switchboard.config import speech

    say = ELEMENTS["Say"].values
    assert say["voice"].accepts(text) is speech.is_voice(text)
    assert say["language"].accepts(text) is speech.is_language(text)
    assert say["voice"].allowed == speech.VOICE_FORMS
    assert say["language"].allowed == speech.LANGUAGE_FORMS


def test_an_undecodable_smtp_password_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^SWITCHBOARD_SMTP_URL: is not UTF-8 text"):
        _load(SWITCHBOARD_SMTP_URL="smtp://u:pass\udcff@mail.example.com",
              SWITCHBOARD_SMTP_FROM="voicemail@example.com")


def test_a_time_zone_from_a_profile_must_be_text() -> None:
    with pytest.raises(ConfigError, match=r"^SWITCHBOARD_CONSOLE_TIMEZONE: \['UTC'\] is not a"):
        load_settings(environ={}, overrides={"SWITCHBOARD_CONSOLE_TIMEZONE": ["UTC"]})
