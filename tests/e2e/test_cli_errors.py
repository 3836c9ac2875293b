"""The ``switchboard`` command's errors: a bad argument is one line (``Error: ...``, exit 2),
before anything is sent; a wrong server, a silent one, a bad env file and an address that
cannot be used are one line too; no password is ever printed.

"Nothing sent" is proven with a server on 127.0.0.1 that records every request it gets.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import pytest
import requests
from click.testing import CliRunner, Result
from werkzeug.wrappers import Request, Response

from switchboard.cli import cli, simulate
from switchboard.config import ConfigError, load_settings
from switchboard.emulator import Emulator
from tests.conftest import serving
from tests.e2e.conftest import Pair

ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "SECRETTOKEN_s3cr3t_xyz"
NUMBER = "+14155550100"
PASSWORD = "hunter2"


@dataclass
class Recorder:
    """A server on 127.0.0.1 answering every request with ``status`` and ``body``."""

    status: int = 200
    body: str = "<!doctype html>\n<html>\n<body>not the emulator</body>\n</html>\n"
    content_type: str = "text/html"
    received: list[str] = field(default_factory=list)
    url: str = ""

    def reset(self) -> None:
        fresh = Recorder(url=self.url)
        self.status, self.body, self.content_type = fresh.status, fresh.body, fresh.content_type
        self.received.clear()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.received.append(f"{request.method} {request.path}")
        response = Response(self.body, self.status, content_type=self.content_type)
        return response(environ, start_response)


@pytest.fixture(scope="module")
def recording_server() -> Iterator[Recorder]:
    app = Recorder()
    with serving(app) as url:
        app.url = url
        yield app


@pytest.fixture
def recorder(recording_server: Recorder, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """The recording server, answering HTML 200 and having received nothing; the settings
    name it as the REST API (the emulator, for ``simulate``)."""
    recording_server.reset()
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("TWILIO_API_BASE_URL", recording_server.url)
    return recording_server


def switchboard(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def assert_one_line_error(result: Result, exit_code: int = 2) -> str:
    """The single line printed, which starts with ``Error:``."""
    assert result.exit_code == exit_code, result.output
    assert result.output.count("\n") == 1, result.output
    assert result.output.startswith("Error: "), result.output
    for unwanted in ("Usage:", "Traceback", TOKEN, PASSWORD):
        assert unwanted not in result.output
    return result.output.strip()


# -- one line for every command's argument errors, before anything is sent ----------------

#: Eleven ``--media`` URLs: one more than Twilio takes on a message.
ELEVEN_MEDIA = [arg for n in range(11) for arg in ("--media", f"https://e.example/{n}.png")]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["simulate", "call", "--to", "42"], "'--to': '42' is not an E.164 number"),
        (["simulate", "call", "--to", NUMBER, "--from", "abc"], "'--from': 'abc' is not"),
        (["simulate", "sms", "--to", NUMBER, "--from", "notanumber", "--body", "hi"],
         "'--from': 'notanumber' is not an E.164 number"),
        (["simulate", "call", "--to", NUMBER, "--url", "notaurl"],
         "'--url': 'notaurl' is not an absolute http(s) URL"),
        (["simulate", "call", "--to", NUMBER, "--url", f"ftp://bob:{PASSWORD}@x/y"],
         "'ftp://bob:***@x/y' is not an absolute http(s) URL"),
        (["simulate", "call", "--to", NUMBER, "--digits", "zz"], "'zz' is not keys of a phone"),
        (["simulate", "call", "--to", NUMBER, "--digits", "1,2x#"], "'2x#' is not keys"),
        (["simulate", "sms", "--to", NUMBER, "--body", "hi", "--media", "notaurl"],
         "'--media': 'notaurl' is not an absolute"),
        (["simulate", "sms", "--to", NUMBER, "--body", "hi", *ELEVEN_MEDIA],
         "simulate sms: --media: 11 given; Twilio takes at most 10 for a message"),
        (["simulate", "sms", "--to", NUMBER, "--body", "", *ELEVEN_MEDIA, "--in-process"],
         "simulate sms: --media: 11 given; Twilio takes at most 10 for a message"),
        (["simulate", "sms", "--to", NUMBER, "--body", ""],
         "simulate sms: --body: must not be empty when no media is sent"),
        (["simulate", "sms", "--to", NUMBER, "--body", "hi", "--fallback-url", "notaurl"],
         "'--fallback-url': 'notaurl' is not an absolute"),
        (["simulate", "call", "--to", NUMBER, "--dial-outcome", "sometimes"],
         "simulate call: Invalid value for --dial-outcome: dial outcome 'sometimes'"),
        (["simulate", "call"], "simulate call: Missing option '--to'."),
        (["simulate", "sms", "--to", NUMBER],
         "simulate sms: give --body, --media or both: a message has text or media"),
        (["simulate", "call", "--to", NUMBER, "--dial-outcome", "answered:abc"],
         "--dial-outcome: 'abc' is not a whole number of seconds from 0 to 3600"),
        (["simulate", "call", "--to", NUMBER, "--dial-outcome", "answered:-5"],
         "--dial-outcome: '-5' is not a whole number of seconds"),
        (["simulate", "call", "--to", NUMBER, "--dial-outcome", "555=busy"],
         "--dial-outcome: number: '555' is not an E.164 number"),
        (["emulator", "--host", ""], "emulator: Invalid value for '--host': '' is not a name"),
        (["emulator", "--host", " "], "an empty one would listen on every address"),
        (["emulator", "--config-ref", ""], "emulator: Invalid value for '--config-ref': '' is "
         "not a profile name"),
        (["api", "get-calls", "--config-ref", " "], "get-calls: Invalid value for '--config-ref'"),
        (["simulate", "sms", "--to", NUMBER, "--body", "x", "--config-ref", ""],
         "simulate sms: Invalid value for '--config-ref': '' is not a profile name"),
        (["sms", "--to", NUMBER, "--from", NUMBER, "--body", "x", "--config-ref", ""],
         "sms: Invalid value for '--config-ref': '' is not a profile name"),
        (["simulate", "call", "--to", NUMBER, "--record-seconds", "-1"],
         "'--record-seconds': -1 is not in the range"),
        (["simulate", "nope"], "simulate: No such command 'nope'."),
        (["simulate", "call", "--to", NUMBER, "--in-process", "--url", "http://127.0.0.1:5/v"],
         "give only one of --url, --emulator and --in-process (not --url and --in-process)"),
        (["simulate", "call", "--to", NUMBER, "--url", "http://127.0.0.1:5/v", "--emulator",
          "http://127.0.0.1:5"], "give only one of --url, --emulator and --in-process"),
        (["simulate", "call", "--to", NUMBER, "--fallback-url", "http://127.0.0.1:5/f"],
         "--fallback-url needs --url"),
        (["simulate", "call", "--to", NUMBER, "--status-callback", "http://127.0.0.1:5/s",
          "--in-process"], "--status-callback needs --url"),
        (["simulate", "sms", "--to", NUMBER, "--body", "x", "--fallback-url",
          "http://127.0.0.1:5/f"], "--fallback-url needs --url"),
        (["simulate", "call", "--to", NUMBER, "--digits", "1", "-i"],
         "give --digits / --speech or --interactive, not both"),
        (["simulate", "call", "--to", NUMBER, "--emulator", f"http://bob:{PASSWORD}@127.0.0.1:9"],
         "'--emulator': must not hold credentials"),
        (["emulator", "--fault", "bogus"], "emulator: Invalid value for --fault: fault kind"),
        (["emulator", "--fault", "503:rate=abc"], "Invalid value for --fault"),
        (["emulator", "--port", "abc"], "emulator: Invalid value for '--port'"),
        (["emulator", "--port", "70000"], "70000 is not in the range"),
        (["emulator", "--seed", "abc"], "emulator: Invalid value for '--seed'"),
        (["nope"], "No such command 'nope'."),
        (["api", "--bogus"], "Error: api: No such option '--bogus'."),
        (["api", "list-calls"], "Error: api: no operation named 'list-calls' (did you mean "
                                "get-calls?); `switchboard api --list` lists them"),
        (["-e", "/nonexistent.env", "api", "get-account-details"],
         "'/nonexistent.env' does not exist"),
        (["run", "--port", "abc"], "run: Invalid value for '--port'"),
    ],
)
def test_a_bad_argument_is_one_line_and_nothing_is_sent(
    recorder: Recorder, args: list[str], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_start(self: Emulator) -> None:
        raise AssertionError("the emulator was started")

    monkeypatch.setattr(Emulator, "start", no_start)
    line = assert_one_line_error(switchboard(*args))
    assert expected in line
    assert recorder.received == []


@pytest.mark.parametrize(
    "command",
    [
        ["api", "get-account-details"],
        ["sms", "--to", NUMBER, "--from", "+15555550101", "--body", "hi"],
        ["call", "--to", NUMBER, "--from", "+15555550101"],
        ["emulator", "--port", "0"],
    ],
)
def test_a_profile_or_setting_that_cannot_be_used_is_status_2_for_every_command(
    recorder: Recorder, command: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A profile that is not defined, or a setting that cannot be used, is a usage error."""
    monkeypatch.chdir(tmp_path)  # no switchboard.toml
    line = assert_one_line_error(switchboard(*command, "--config-ref", "acne"))
    assert "profile 'acne' is not defined" in line
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC123")
    line = assert_one_line_error(switchboard(*command))
    assert "TWILIO_ACCOUNT_SID: 'AC123' is not an account SID" in line
    assert recorder.received == []


def test_a_url_that_does_not_answer_is_not_called_with_bad_arguments(recorder: Recorder) -> None:
    """The checks come before the call: the server at --url gets nothing."""
    result = switchboard("simulate", "call", "--to", "42", "--url", recorder.url + "/voice")
    assert_one_line_error(result)
    result = switchboard("simulate", "sms", "--to", NUMBER, "--from", "x", "--url",
                         recorder.url + "/sms", "--body", "hi")
    assert_one_line_error(result)
    assert recorder.received == []


def test_help_is_intact() -> None:
    for args in (["--help"], ["simulate", "call", "--help"], ["emulator", "--help"]):
        result = switchboard(*args)
        assert result.exit_code == 0, result.output
        assert result.output.startswith("Usage: ")
    result = switchboard("simulate")  # a group with no command: its help, as click does
    assert "Commands:" in result.output


GROUPS = [[], ["simulate"], ["api"]]
"""Every command group of ``switchboard``, called without its command."""


@pytest.mark.parametrize("args", GROUPS, ids=["switchboard", "simulate", "api"])
def test_a_group_without_a_command_shows_its_help_and_exits_2(
    recorder: Recorder, args: list[str]
) -> None:
    """As click and Flask answer a missing command: the help, on stderr, exit status 2."""
    result = switchboard(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    usage = result.stderr.splitlines()[0]
    assert usage.startswith("Usage: ")
    assert " ".join(["", *args, "[OPTIONS]"]) in usage
    assert "Commands:" in result.stderr
    assert recorder.received == []


def _click_8_1_parse_args(original: Any) -> Any:
    """``Group.parse_args`` as click 8.1 had it: a group with no arguments printed its help
    and exited 0 (click 8.2 made it a usage error, ``NoArgsIsHelpError``, exit status 2)."""

    def parse_args(self: Any, ctx: Any, args: list[str]) -> list[str]:
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            click.echo(ctx.get_help(), color=ctx.color)
            ctx.exit()
        return original(self, ctx, args)

    return parse_args


@pytest.mark.parametrize("args", GROUPS, ids=["switchboard", "simulate", "api"])
def test_groups_exit_2_with_click_8_1_too(
    recorder: Recorder, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flask 3 accepts click 8.1, which has no ``NoArgsIsHelpError`` and exited 0 for a group
    without a command: the CLI neither depends on the name nor on that answer."""
    monkeypatch.delattr(click.exceptions, "NoArgsIsHelpError")
    monkeypatch.setattr(click.Group, "parse_args", _click_8_1_parse_args(click.Group.parse_args))
    result = switchboard(*args)
    assert result.exit_code == 2, result.output
    assert "Commands:" in result.stderr
    assert_one_line_error(switchboard("simulate", "call", "--to", "42"))


def test_version_names_switchboard() -> None:
    """``--version`` is Switchboard's, not only Flask's (Python, Flask, Werkzeug)."""
    result = switchboard("--version")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Switchboard "), result.stdout
    assert [line.split()[0] for line in lines[1:]] == ["Python", "Flask", "Werkzeug"]
    assert result.stderr == ""


def test_api_list_is_not_a_missing_command() -> None:
    result = switchboard("api", "--list")
    assert result.exit_code == 0, result.output
    assert "get-call " in result.stdout


def test_in_process_texts_the_sms_route(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", f"sqlite:///{tmp_path / 'sb.sqlite3'}")
    result = CliRunner().invoke(cli, ["simulate", "sms", "--to", NUMBER, "--in-process",
                                      "--body", "HELP"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Message sent: to +15555550100: Switchboard: reply HOURS" in result.output


def test_in_process_texts_media_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As Twilio delivers a picture with no text: Body empty, the media attached."""
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", f"sqlite:///{tmp_path / 'sb.sqlite3'}")
    result = CliRunner().invoke(cli, ["simulate", "sms", "--to", NUMBER, "--in-process",
                                      "--media", "https://example.com/a.png"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Message received: from +15555550100: " in result.output
    assert "Message sent: to +15555550100: Switchboard: Reply HOURS" in result.output


# -- secrets ----------------------------------------------------------------------------------


def test_credentials_in_the_api_base_url_are_refused_as_api_does(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_API_BASE_URL",
                       recorder.url.replace("http://", f"http://u:{PASSWORD}@"))
    line = assert_one_line_error(
        switchboard("simulate", "sms", "--to", NUMBER, "--body", "hours"), exit_code=2)
    assert line == ("Error: simulate sms: TWILIO_API_BASE_URL: must not hold credentials; set "
                    "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
    assert recorder.received == []


# -- the server at --emulator is not the emulator, or does not answer ----------------------


@pytest.mark.parametrize("status", [404, 200])
def test_a_server_that_is_not_the_emulator(recorder: Recorder, status: int) -> None:
    recorder.status = status
    line = assert_one_line_error(
        switchboard("simulate", "sms", "--to", NUMBER, "--body", "hours", "--emulator",
                    recorder.url), exit_code=1)
    assert line == (
        f"Error: {recorder.url} is not a Twilio emulator: GET /2010-04-01/Accounts/"
        f"{ACCOUNT_SID}.json answered {status} (text/html), not Twilio's JSON; give the URL "
        "`switchboard emulator` prints (--emulator URL or TWILIO_API_BASE_URL)")
    assert recorder.received == [f"GET /2010-04-01/Accounts/{ACCOUNT_SID}.json"]


def test_an_emulator_error_is_one_line(recorder: Recorder) -> None:
    recorder.status, recorder.content_type = 500, "application/json"
    recorder.body = '{"code": 20500, "message": "boom\\nand more", "status": 500}'
    line = assert_one_line_error(
        switchboard("simulate", "call", "--to", NUMBER, "--emulator", recorder.url),
        exit_code=1)
    assert line == f"Error: the emulator at {recorder.url} answered 500: boom and more"


def test_a_server_that_never_answers(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(simulate, "PROBE_TIMEOUT", (2.0, 0.5))
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # connections are accepted by the kernel, never answered
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        result = switchboard("simulate", "sms", "--to", NUMBER, "--body", "x",
                             "--emulator", url)
    assert time.monotonic() - started < 10
    line = assert_one_line_error(result, exit_code=1)
    assert line == (f"Error: the emulator at {url} did not answer within 0.5 s: is "
                    "`switchboard emulator` running there?")


def test_the_switchboard_server_is_not_the_emulator(pair: Pair) -> None:
    """``--emulator`` pointed at the Switchboard server (a real one, on its socket)."""
    number = pair.client.incoming_phone_numbers.create(area_code="415")["phone_number"]
    done = pair.run("simulate", "sms", "--to", number, "--body", "hours",
                    "--emulator", pair.url)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith(f"Error: {pair.url} is not a Twilio emulator: GET ")
    assert done.stderr.count("\n") == 1, done.stderr
    assert pair.emulator.state.list("messages") == []


def test_the_emulator_refuses_keys_a_phone_does_not_have(pair: Pair) -> None:
    number = pair.client.incoming_phone_numbers.create(area_code="415")["phone_number"]
    answer = requests.post(
        f"{pair.emulator.url}/2010-04-01/Accounts/{pair.emulator.account_sid}/Simulator/"
        "Calls.json", data={"To": number, "Digits": "1,zz"}, timeout=10,
        auth=(pair.emulator.account_sid, pair.emulator.auth_token))
    assert answer.status_code == 400
    assert answer.json()["message"].startswith("Digits: 'zz' is not keys of a phone")
    assert pair.emulator.state.list("calls") == []


# -- env files ----------------------------------------------------------------------------------


BAD_ENV = f"TWILIO_AUTH_TOKEN {PASSWORD}\nX=\"unterminated\n"


def test_a_bad_env_file_is_one_line_naming_the_file_and_line(
    recorder: Recorder, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.env"
    bad.write_text(BAD_ENV)
    line = assert_one_line_error(switchboard("-e", str(bad), "api", "get-account-details"))
    assert line == (f"Error: Invalid value for '-e' / '--env-file': {bad}, line 1: not a "
                    "KEY=VALUE line (or a quote is left open); fix or remove it")
    assert recorder.received == []


def test_a_good_env_file_is_loaded(recorder: Recorder, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    good = tmp_path / "good.env"
    good.write_text("# a comment\nexport SB_TEST_FROM_ENV_FILE='yes'\n")
    monkeypatch.delenv("SB_TEST_FROM_ENV_FILE", raising=False)
    result = switchboard("-e", str(good), "simulate", "call", "--to", "42")
    assert_one_line_error(result)
    assert os.environ.pop("SB_TEST_FROM_ENV_FILE") == "yes"


def test_the_projects_own_dotenv_is_as_strict(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SWITCHBOARD_DOTENV")
    (tmp_path / ".env").write_text("GOOD=1\n" + BAD_ENV)
    with pytest.raises(ConfigError, match=r"\.env, line 2: not a KEY=VALUE line") as raised:
        load_settings()
    assert PASSWORD not in str(raised.value)


# -- switchboard emulator: an address that cannot be used --------------------------------------


def test_a_host_that_is_not_this_machine() -> None:
    line = assert_one_line_error(switchboard("emulator", "--host", "192.0.2.1", "--port", "0"))
    assert line.startswith("Error: emulator: Invalid value for '--host': '192.0.2.1' is not an "
                           "address of this machine (")
    assert line.endswith("); give one, like 127.0.0.1")


def test_a_host_name_that_does_not_resolve() -> None:
    line = assert_one_line_error(
        switchboard("emulator", "--host", "nosuch.invalid", "--port", "18090"))
    assert line == ("Error: emulator: Invalid value for '--host': 'nosuch.invalid' does not "
                    "resolve: names under .invalid never do; give a name or address of this "
                    "machine, like 127.0.0.1")


@contextlib.contextmanager
def port_in_use() -> Iterator[int]:
    """A port of 127.0.0.1 something listens on."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def test_a_port_in_use() -> None:
    with port_in_use() as port:
        line = assert_one_line_error(switchboard("emulator", "--port", str(port)))
    assert line == (f"Error: emulator: Invalid value for '--port': 127.0.0.1:{port} is already "
                    "in use (Address already in use); pick another port, or 0 for any free port")


# -- switchboard run: checked as the emulator's, before the app is loaded -----------------------


@pytest.fixture
def no_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the server was started")

    monkeypatch.setattr("flask.cli.run_simple", refuse)


@pytest.mark.parametrize("port", ["-5", "99999999999999999999", "99999", "65536"])
def test_run_refuses_a_port_out_of_range(no_serving: None, port: str) -> None:
    line = assert_one_line_error(switchboard("run", "--port", port))
    assert line == (f"Error: run: Invalid value for '--port' / '-p': {port} is not in the "
                    "range 0<=x<=65535.")


def test_run_refuses_a_host_name_that_does_not_resolve(no_serving: None) -> None:
    line = assert_one_line_error(switchboard("run", "--host", "nosuch.invalid"))
    assert line == ("Error: run: Invalid value for '--host' / '-h': 'nosuch.invalid' does not "
                    "resolve: names under .invalid never do; give a name or address of this "
                    "machine, like 127.0.0.1")


def test_run_refuses_a_host_that_is_not_this_machine(no_serving: None) -> None:
    line = assert_one_line_error(switchboard("run", "--host", "192.0.2.1", "--port", "0"))
    assert line.startswith("Error: run: Invalid value for '--host' / '-h': '192.0.2.1' is not "
                           "an address of this machine (")


def test_run_refuses_a_port_in_use_naming_the_address(no_serving: None) -> None:
    with port_in_use() as port:
        line = assert_one_line_error(switchboard("run", "--port", str(port)))
    assert line == (f"Error: run: Invalid value for '--port' / '-p': 127.0.0.1:{port} is "
                    "already in use (Address already in use); pick another port, or 0 for any "
                    "free port")


def test_run_serves_on_the_port_given(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    served: list[tuple[str, int]] = []
    monkeypatch.setattr("flask.cli.run_simple",
                        lambda host, port, *args, **kwargs: served.append((host, port)))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    result = switchboard("run", "--port", "0")
    assert result.exit_code == 0, result.output
    assert served == [("127.0.0.1", 0)]


# -- switchboard api: the command and its options as typed, checked before any request -------

ADVANCED = "get-available-phone-numbers-advanced-seach"
"""The connector's own (misspelt) name; ``...-advanced-search`` is its alias."""


@pytest.mark.parametrize("typed", [ADVANCED, "get-available-phone-numbers-advanced-search"])
def test_an_operation_is_named_as_typed(recorder: Recorder, typed: str) -> None:
    line = assert_one_line_error(
        switchboard("api", typed, "--iso-country-code", "US", "--area-code", "12"))
    assert line == f"Error: {typed}: --area-code: '12' is not a three-digit area code"
    line = assert_one_line_error(switchboard("api", typed, "--area-code", "415"))
    assert line == f"Error: {typed}: Missing option '--iso-country-code'."
    assert recorder.received == []


@pytest.mark.parametrize("operation", ["get-available-phone-numbers", ADVANCED,
                                       "get-available-toll-free-numbers"])
@pytest.mark.parametrize("country", ["usa", "1", "U", "", "u1", "us\n", " us", "ß"])
def test_a_country_code_is_two_letters(recorder: Recorder, operation: str,
                                       country: str) -> None:
    """ISO 3166-1 alpha-2: two letters, shown as typed (``ß`` would be sent as ``SS``, and
    ``US`` and a newline as a path Twilio answers 404)."""
    line = assert_one_line_error(switchboard("api", operation, "--iso-country-code", country))
    assert line == (f"Error: {operation}: --iso-country-code: {country!r} is not an ISO 3166-1 "
                    "alpha-2 country code (two letters, like US)")
    assert recorder.received == []


@pytest.mark.parametrize(("given", "got"), [
    ([], ""),
    (["--url", "https://example.com/voice", "--twiml", "<Response/>"], " (got --url, --twiml)"),
    (["--twiml", "<Response/>", "--application-sid", "AP" + "0" * 32],
     " (got --twiml, --application-sid)"),
])
def test_make_call_names_the_options_one_of_which_it_needs(
    recorder: Recorder, given: list[str], got: str
) -> None:
    line = assert_one_line_error(
        switchboard("api", "make-call", "--to", NUMBER, "--from", "+14155550101", *given))
    assert line == ("Error: make-call: give exactly one of --url, --twiml and --application-sid"
                    + got)
    assert recorder.received == []


def test_an_empty_output_file_name_is_refused(
    recorder: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not taken for the working folder (``Path('')`` is ``.``)."""
    monkeypatch.chdir(tmp_path)
    line = assert_one_line_error(switchboard("api", "get-account-details", "-o", ""))
    assert line == ("Error: get-account-details: Invalid value for '--output' / '-o': '' is not "
                    "a file name; give one, or - for standard output.")
    assert recorder.received == []
    assert list(tmp_path.iterdir()) == []


# -- subcommands: their errors start with the command as typed ---------------------------------


@pytest.fixture
def empty_flows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A flows folder with no flow in it and a fresh SQLite database, both named by the
    settings: the folder."""
    flows = tmp_path / "flows"
    flows.mkdir()
    monkeypatch.setenv("SWITCHBOARD_FLOWS_DIR", str(flows))
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", f"sqlite:///{tmp_path / 'sb.sqlite3'}")
    return flows


@pytest.mark.parametrize(("args", "expected"), [
    (["flows", "run", "ask"], "Error: flows run: Missing option '--from'."),
    (["flows", "run", "ask", "--from", NUMBER, "--to", NUMBER, "--rate", "fast"],
     "Error: flows run: Invalid value for '--rate': 'fast' is not a valid float."),
    (["flows", "run", "ask", "--from", NUMBER, "--bogus"],
     "Error: flows run: No such option '--bogus'."),
    (["flows", "run", "ask", "--from", NUMBER, "--to", NUMBER],
     "Error: flows run: no flow named 'ask' in {flows} (flows: none)"),
    (["simulate", "sms", "--to", NUMBER, "--body", "hi", "--in-process", "--flow", "ask"],
     "Error: simulate sms: --flow: the app has no flow 'ask' (its flows folder's: none; "
     "SWITCHBOARD_FLOWS_DIR sets the folder)"),
    (["simulate", "call", "--to", NUMBER, "--in-process", "--flow", "ask"],
     "Error: simulate call: --flow: the app has no flow 'ask' (its flows folder's: none; "
     "SWITCHBOARD_FLOWS_DIR sets the folder)"),
])
def test_subcommand_errors_start_with_the_command_as_typed(
    recorder: Recorder, empty_flows: Path, args: list[str], expected: str
) -> None:
    line = assert_one_line_error(switchboard(*args))
    assert line == expected.replace("{flows}", str(empty_flows))
    assert recorder.received == []


PN = "PN" + "0" * 32
PUBLIC = ["--public-url", "https://switchboard.example.com"]


@pytest.mark.parametrize(("args", "expected"), [
    (["call", "--to", "42", "--from", NUMBER],
     "Error: call: --to: '42' is not an E.164 number (like +14155550100: '+', country code, "
     "number)"),
    (["call", "--to", NUMBER, "--from", NUMBER, "--url", "twiml.xml"],
     "Error: call: --url: 'twiml.xml' is not an absolute http(s) URL"),
    (["call", "--to", NUMBER, "--from", NUMBER, "--flow", "ivr", "--url", "https://e.com/t"],
     "Error: call: give --flow or --url, not both"),
    (["call", "--to", NUMBER, "--from", NUMBER, "--public-url", "https://example.com/?q=1"],
     "Error: call: --public-url: 'https://example.com/?q=1' must not have a ?query string"),
    (["sms", "--to", NUMBER, "--from", NUMBER],
     "Error: sms: give --body, --media-url or both: a message needs text or media"),
    (["sms", "--to", NUMBER, "--from", "abc", "--body", "hi"],
     "Error: sms: --from: 'abc' is not an E.164 number (like +14155550100: '+', country code, "
     "number)"),
    (["sms", "--to", NUMBER, "--from", NUMBER, "--body", ""],
     "Error: sms: --body: must not be empty when no media is sent (Twilio refuses it: error "
     "21602)"),
    (["sms", "--to", NUMBER, "--from", NUMBER, "--body", "hi", "--media-url", "menu.png"],
     "Error: sms: --media-url: 'menu.png' is not an absolute http(s) URL"),
    (["provision", *PUBLIC], "Error: provision: give exactly one of --number, --application, "
     "--sandbox"),
    (["provision", "--number", "42", *PUBLIC],
     "Error: provision: --number: '42' is neither an E.164 number (like +14155550100) nor a "
     "phone number SID (PN followed by 32 hex digits)"),
    (["provision", "--number", PN, "--public-url", "https://example.com/#x"],
     "Error: provision: --public-url: 'https://example.com/#x' must not have a #fragment"),
    (["provision", "--number", PN, "--flow", "ask", *PUBLIC],
     "Error: provision: --flow: no flow named 'ask' in {flows} (flows: none); a flow of the "
     "Studio API goes by its SID, FW..."),
])
def test_call_sms_and_provision_errors_start_with_the_command(
    recorder: Recorder, empty_flows: Path, monkeypatch: pytest.MonkeyPatch, args: list[str],
    expected: str
) -> None:
    """As every other command's: ``call: --url: ...``, not ``--url: ...``."""
    monkeypatch.setenv("SWITCHBOARD_PUBLIC_URL", "https://switchboard.example.com")
    line = assert_one_line_error(switchboard(*args))
    assert line == expected.replace("{flows}", str(empty_flows))
    assert recorder.received == []


# -- switchboard sms: at most 10 media, checked before the database ----------------------------


@pytest.mark.parametrize(("count", "exit_code", "expected"), [
    (11, 2, "Error: sms: --media-url: 11 given; Twilio takes at most 10 for a message"),
    (10, 1, f"Error: {NUMBER} has opted out (replied STOP to +14155550101): not sending. They "
     "can reply START to opt back in."),
])
def test_sms_takes_at_most_ten_media_urls_checked_before_the_database(
    recorder: Recorder, database_url: str, monkeypatch: pytest.MonkeyPatch, count: int,
    exit_code: int, expected: str
) -> None:
    """Twilio's limit (its error 21623); the opt-out check, in the database, comes after."""
    from switchboard.callbacks.store import Store

    sender = "+14155550101"
    store = Store(database_url)
    try:
        store.opt_out(NUMBER, sender=sender)
    finally:
        store.close()
    looked_up: list[str] = []
    is_opted_out = Store.is_opted_out

    def recording(self: Store, number: str, sender: str | None = None) -> bool:
        looked_up.append(number)
        return is_opted_out(self, number, sender=sender)

    monkeypatch.setattr(Store, "is_opted_out", recording)
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", database_url)
    monkeypatch.setenv("SWITCHBOARD_PUBLIC_URL", "http://127.0.0.1:5000")
    media = [arg for n in range(count) for arg in ("--media-url", f"https://e.example/{n}.png")]
    line = assert_one_line_error(
        switchboard("sms", "--to", NUMBER, "--from", sender, "--allow-insecure", *media),
        exit_code=exit_code)
    assert line == expected
    assert looked_up == ([] if count > 10 else [NUMBER])
    assert recorder.received == []
