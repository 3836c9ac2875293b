"""Every ``switchboard api`` operation with random option values (hypothesis), against the
emulator on 127.0.0.1: no traceback ever reaches the user, an error is one ``Error: ...`` line
with the usage or failure exit status, and no secret is ever printed."""

from __future__ import annotations

import json
import logging
import string
from collections import Counter
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switchboard.api.operations import OPERATIONS, Attribute
from switchboard.cli import cli
from switchboard.emulator import Emulator
from tests.load.figures import report

NUMBER = "+15005550006"
EXAMPLES = 20
OUTCOMES: Counter[str] = Counter()
# Anything a shell can pass in an argument: no NUL, no lone surrogates.
TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=30)
SID_PREFIXES = ["AC", "CA", "SM", "MM", "PN", "AP", "RE", "TR", "NO", "CF", "SK", "QU"]
SIDS = st.builds(lambda p, h: p + h, st.sampled_from(SID_PREFIXES),
                 st.text("0123456789abcdef", min_size=32, max_size=32))
PLAUSIBLE = st.one_of(
    st.just(NUMBER),
    st.from_regex(r"\+1[2-9]\d{9}", fullmatch=True),
    SIDS,
    st.sampled_from(["US", "GB", "http://127.0.0.1:9/voice", "https://example.com/x?y=1",
                     "completed", "json", "mp3", "hello", "", " "]),
)


def _value(attribute: Attribute) -> st.SearchStrategy[str]:
    kind = attribute.kind
    if kind == "int":
        return st.one_of(st.integers(-5, 10**7).map(str), TEXT)
    if kind == "bool":
        return st.sampled_from(["true", "false", "yes", "no", "1", "0", "maybe", ""])
    if kind == "method":
        return st.sampled_from(["GET", "POST", "get", "PUT", ""])
    if kind == "choice":
        return st.one_of(st.sampled_from(list(attribute.choices)), TEXT)
    if kind == "date":
        day = st.dates().map(lambda d: d.isoformat())
        return st.one_of(day, st.tuples(st.sampled_from(["<=", ">=", "<", "="]), day).map(
            "".join), TEXT)
    return st.one_of(PLAUSIBLE, TEXT)


@st.composite
def arguments(draw: st.DrawFn, name: str) -> list[str]:
    operation = OPERATIONS[name]
    args = [name]
    for attribute in operation.attributes:
        include = draw(st.floats(0, 1)) < (0.9 if attribute.required else 0.4)
        if not include:
            continue
        values = draw(st.lists(_value(attribute), min_size=1, max_size=3)) if (
            attribute.kind == "list") else [draw(_value(attribute))]
        for value in values:
            args += [attribute.option, value]
    if operation.lists:
        for option in ("--limit", "--page-size"):
            if draw(st.booleans()):
                args += [option, draw(st.one_of(st.integers(-2, 1200).map(str), TEXT))]
    if draw(st.integers(0, 9)) == 0:
        profile = st.one_of(st.just("fuzz"), st.text(string.ascii_letters, max_size=8))
        args += ["--config-ref", draw(profile)]
    return args


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(caller=False, seed=5) as emu:
        emu.state.buy_number(emu.account_sid, NUMBER)
        yield emu


@pytest.fixture(scope="module")
def environment(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    # a main key: a standard one cannot use the Accounts endpoints, as at Twilio
    key_sid, key_secret = emulator.state.add_api_key(emulator.account_sid, main=True)
    profiles = tmp_path_factory.mktemp("cli") / "switchboard.toml"
    profiles.write_text("[profiles.fuzz]\n")
    return {
        "TWILIO_ACCOUNT_SID": emulator.account_sid,
        "TWILIO_AUTH_TOKEN": emulator.auth_token,
        "TWILIO_API_KEY_SID": key_sid,
        "TWILIO_API_KEY_SECRET": key_secret,
        "TWILIO_API_BASE_URL": emulator.url,
        "SWITCHBOARD_DOTENV": "0",
        "SWITCHBOARD_PROFILES_FILE": str(profiles),
    }


@pytest.mark.parametrize("name", sorted(OPERATIONS))
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_random_arguments_get_a_result_or_one_line(
    name: str, data: st.DataObject, environment: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    args = data.draw(arguments(name), label="args")
    with caplog.at_level(logging.DEBUG):
        result = CliRunner().invoke(cli, ["api", *args], env=environment, catch_exceptions=True)
    for secret in ("TWILIO_AUTH_TOKEN", "TWILIO_API_KEY_SECRET"):
        assert environment[secret] not in caplog.text, f"{secret} logged for {args!r}"
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{args!r} raised {result.exception!r}") from result.exception
    assert "Traceback" not in output
    assert environment["TWILIO_API_KEY_SECRET"] not in output, args
    assert environment["TWILIO_AUTH_TOKEN"] not in result.stderr, args
    assert environment["TWILIO_AUTH_TOKEN"] not in result.stdout, args
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, output)
    if result.exit_code:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (args, result.stderr)
        assert lines[0].startswith("Error: "), (args, result.stderr)
        OUTCOMES[f"exit {result.exit_code}"] += 1
        return
    OUTCOMES["exit 0"] += 1
    text = result.stdout.strip()
    if text.startswith(("{", "[")):
        json.loads(text)


def test_account_details_do_not_print_the_auth_token(environment: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["api", "get-account-details"], env=environment)
    assert result.exit_code == 0, result.output
    assert environment["TWILIO_AUTH_TOKEN"] not in result.output
    assert '"auth_token": "********"' in result.output


def test_zz_report() -> None:
    """Not a check: the tally of the fuzzing above, for the figures."""
    report("CLI fuzzing", f"{sum(OUTCOMES.values())} random `switchboard api` invocations of "
           f"{len(OPERATIONS)} operations: {dict(sorted(OUTCOMES.items()))}")
