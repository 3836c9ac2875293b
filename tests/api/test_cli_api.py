"""``switchboard api``: the operations from the shell, against the recording stub."""

from __future__ import annotations

import errno
import json
import os
import tempfile
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from switchboard.cli import cli
from tests.api.conftest import ACCOUNT_SID, AUTH_TOKEN, MEDIA, TwilioStub, sid

A = f"/2010-04-01/Accounts/{ACCOUNT_SID}"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["api", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_list_names_every_operation_with_a_description() -> None:
    code, output = invoke("--list")
    assert code == 0
    lines = output.strip().splitlines()
    assert len(lines) == 51
    by_name = dict(line.split(None, 1) for line in lines)
    assert by_name["make-call"] == "Place a call."
    assert by_name["get-available-phone-numbers-advanced-search"] == (
        "alias of get-available-phone-numbers-advanced-seach"
    )


def test_operation_help_shows_the_seed_attributes() -> None:
    code, output = invoke("get-available-phone-numbers", "--help")
    assert code == 0
    assert "--iso-country-code" in output
    assert "--in-postal-code" in output
    assert "--config-ref" in output
    assert "--limit" in output


def test_runs_an_operation_and_prints_json(twilio_env: TwilioStub) -> None:
    numbers = [{"phone_number": "+14155550100"}, {"phone_number": "+14155550101"}]
    twilio_env.answer(
        "GET",
        f"{A}/AvailablePhoneNumbers/US/Local.json",
        {"available_phone_numbers": numbers, "next_page_uri": None},
    )
    code, output = invoke(
        "get-available-phone-numbers", "--iso-country-code", "US", "--area-code", "415"
    )
    assert code == 0, output
    assert json.loads(output) == numbers
    assert twilio_env.last.query == {"AreaCode": ["415"]}
    assert twilio_env.last.headers["Authorization"].startswith("Basic ")


def test_a_single_resource_is_a_json_object(twilio_env: TwilioStub) -> None:
    code, output = invoke("get-call", "--call-sid", sid("CA"))
    assert code == 0, output
    assert json.loads(output)["sid"] == sid("CA")


def test_limit_is_respected(twilio_env: TwilioStub) -> None:
    twilio_env.answer(
        "GET",
        f"{A}/Calls.json",
        {
            "calls": [{"sid": sid("CA", n)} for n in range(2)],
            "next_page_uri": f"{A}/Calls.json?Page=1",
        },
    )
    code, output = invoke("get-calls", "--status", "completed", "--limit", "2")
    assert code == 0, output
    assert [call["sid"] for call in json.loads(output)] == [sid("CA", 0), sid("CA", 1)]
    assert len(twilio_env.requests) == 1
    assert twilio_env.last.query == {"Status": ["completed"], "PageSize": ["2"]}


def test_repeated_options_and_date_inequalities(twilio_env: TwilioStub) -> None:
    code, output = invoke(
        "make-call", "--to", "+14155550100", "--from", "+14155550199",
        "--url", "https://example.com/voice", "--status-callback", "https://example.com/s",
        "--status-callback-event", "initiated", "--status-callback-event", "answered",
        "--if-machine", "Hangup",
    )  # fmt: skip
    assert code == 0, output
    assert twilio_env.last.form["StatusCallbackEvent"] == ["initiated", "answered"]
    assert twilio_env.last.form["MachineDetection"] == ["Enable"]
    code, output = invoke("get-all-sms-messages", "--date-sent", ">=2024-05-01")
    assert code == 0, output
    assert twilio_env.last.query == {"DateSent>": ["2024-05-01T00:00:00Z"]}


def test_media_goes_to_the_output_file(twilio_env: TwilioStub, tmp_path: Path) -> None:
    target = tmp_path / "vm.wav"
    code, output = invoke(
        "get-recording", "--recording-sid", sid("RE"), "--recording-type", "WAV",
        "--output", str(target),
    )  # fmt: skip
    assert code == 0, output
    assert target.read_bytes() == MEDIA
    assert twilio_env.last.path == f"{A}/Recordings/{sid('RE')}.wav"


def test_deletion_says_done(twilio_env: TwilioStub) -> None:
    code, output = invoke("delete-recording", "--recording-sid", sid("RE"))
    assert code == 0
    assert "204" in output
    assert twilio_env.last.method == "DELETE"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["get-call"], "Missing option '--call-sid'"),
        (["get-call", "--call-sid", sid("SM")], "--call-sid: "),
        (["get-call", "--call-sid", sid("CA"), "--colour", "blue"], "No such option"),
        (["get-calls", "--status", "lost"], "'lost' is not one of"),
        (["get-calls", "--limit", "0"], "--limit"),
        (["get-calls", "--start-time", "2024-02-30"], "--start-time: "),
        (["make-call", "--to", "+14155550100", "--from", "+14155550199"],
         "make-call: give exactly one of --url, --twiml and --application-sid"),
        (["send-sms-message", "--to", "+14155550100", "--body", "x"],
         "send-sms-message: give --from or --messaging-service-sid"),
        (
            [
                "update-participant-status",
                "--conference-sid",
                sid("CF"),
                "--call-sid",
                sid("CA"),
                "--muted",
                "maybe",
            ],
            "--muted",
        ),
        (
            [
                "get-available-phone-numbers-advanced-seach",
                "--iso-country-code",
                "US",
                "--near-phone-number",
                "nearby",
            ],
            "--near-phone-number: ",
        ),
        (
            [
                "exchange-phone-numbers-between-subaccounts",
                "--incoming-phone-number-sid",
                sid("PN"),
                "--account-sid-to",
                sid("PN"),
            ],
            "--account-sid-to: ",
        ),
        (["get-cal"], "did you mean get-call?"),
        (["--bogus"], "No such option"),
    ],
)
def test_bad_arguments_get_one_line_and_no_request(
    twilio_env: TwilioStub, args: list[str], expected: str
) -> None:
    code, output = invoke(*args)
    assert code == 2
    assert output.count("\n") == 1, output
    assert output.startswith("Error: ")
    assert expected in output
    assert twilio_env.requests == []


def test_twilio_errors_are_one_line_without_secrets(twilio_env: TwilioStub) -> None:
    twilio_env.answer(
        "GET", f"{A}/Sandbox.json", {"code": 20404, "message": "Not found", "status": 404},
        status=404,
    )  # fmt: skip
    code, output = invoke("get-sandbox")
    assert code == 1
    assert output.count("\n") == 1
    assert "retired by Twilio" in output
    assert AUTH_TOKEN not in output


def test_not_found_by_friendly_name_is_one_line(twilio_env: TwilioStub) -> None:
    code, output = invoke("get-sub-account-by-friendly-name", "--friendly-name", "ghost")
    assert code == 1
    assert output == "Error: no account has the friendly name 'ghost'\n"


def test_missing_credentials_and_unknown_profiles_are_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, stub: TwilioStub
) -> None:
    code, output = invoke("get-account-details")
    assert code == 2  # as every command gives a setting or profile it cannot use
    assert output.count("\n") == 1
    assert "TWILIO_ACCOUNT_SID" in output
    profiles = tmp_path / "switchboard.toml"
    profiles.write_text('[profiles.other]\naccount_sid = "AC' + "0" * 32 + '"\n')
    monkeypatch.setenv("SWITCHBOARD_PROFILES_FILE", str(profiles))
    code, output = invoke("get-account-details", "--config-ref", "acme")
    assert code == 2
    assert output.count("\n") == 1
    assert "acme" in output
    assert stub.requests == []


def test_config_ref_picks_a_profile(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, stub: TwilioStub
) -> None:
    other = sid("AC", 7)
    profiles = tmp_path / "switchboard.toml"
    profiles.write_text(
        f'[profiles.acme]\naccount_sid = "{other}"\nauth_token = "acme-token"\n'
        f'api_base_url = "{stub.url}"\n'
    )
    monkeypatch.setenv("SWITCHBOARD_PROFILES_FILE", str(profiles))
    code, output = invoke("get-account-details", "--config-ref", "acme")
    assert code == 0, output
    assert stub.last.path == f"/2010-04-01/Accounts/{other}.json"


def test_media_streams_to_a_redirected_stdout(twilio_env: TwilioStub) -> None:
    result = CliRunner().invoke(
        cli, ["api", "get-recording", "--recording-sid", sid("RE"), "--recording-type", "mp3"]
    )
    assert result.exit_code == 0
    assert result.stdout_bytes == MEDIA


def test_account_tokens_are_printed_masked(twilio_env: TwilioStub) -> None:
    secret = "f" * 32
    account = {"sid": ACCOUNT_SID, "friendly_name": "main", "auth_token": secret}
    twilio_env.answer("GET", f"{A}.json", account)
    code, output = invoke("get-account-details")
    assert code == 0, output
    assert secret not in output
    assert json.loads(output) == {**account, "auth_token": "********"}
    twilio_env.answer("GET", "/2010-04-01/Accounts.json",
                      {"accounts": [account], "next_page_uri": None})
    code, output = invoke("get-all-accounts-details")
    assert code == 0, output
    assert secret not in output
    assert json.loads(output)[0]["auth_token"] == "********"


def test_an_empty_sms_body_is_refused_before_any_request(twilio_env: TwilioStub) -> None:
    code, output = invoke("send-sms-message", "--to", "+14155550100", "--from", "+14155550199",
                          "--body", "")  # fmt: skip
    assert code == 2
    assert output == ("Error: send-sms-message: --body: must not be empty when no media is sent "
                      "(Twilio refuses it: error 21602)\n")  # fmt: skip
    assert twilio_env.requests == []
    code, output = invoke("send-sms-message", "--to", "+14155550100", "--from", "+14155550199",
                          "--body", "", "--media-url", "https://example.com/a.png")  # fmt: skip
    assert code == 0, output
    assert twilio_env.last.form["MediaUrl"] == ["https://example.com/a.png"]


def test_an_sms_of_neither_body_nor_media_names_no_python_argument(
    twilio_env: TwilioStub,
) -> None:
    code, output = invoke("send-sms-message", "--to", "+14155550100", "--from", "+14155550199")
    assert code == 2
    assert output == ("Error: send-sms-message: --body: a message needs a body, media URLs or "
                      "both\n")  # fmt: skip
    assert twilio_env.requests == []
    code, output = invoke("send-sms-message", "--to", "+14155550100", "--from", "+14155550199",
                          "--media-url", "https://example.com/a.png")  # fmt: skip
    assert code == 0, output
    assert "Body" not in twilio_env.last.form


def _unwritable(tmp_path: Path, kind: str) -> Path:
    if kind == "missing folder":
        return tmp_path / "nonexistent" / "x.json"
    if kind == "folder":
        return tmp_path
    if kind == "read-only file":
        target = tmp_path / "kept.json"
        target.write_text("kept\n")
        target.chmod(0o444)
        return target
    if kind == "read-only folder":
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
        try:
            (folder / "x").touch()  # root writes anyway
        except OSError:
            return folder / "x.json"
        (folder / "x").unlink()
        # As root (CI), a folder no one may create files in: sysfs refuses even root.
        try:
            tempfile.TemporaryFile(dir="/sys").close()
        except OSError:
            return Path("/sys/switchboard-output.json")
        pytest.skip("this user may write in a read-only folder, and in /sys")
    assert kind == "/proc/version"
    target = Path("/proc/version")
    if not target.exists():
        pytest.skip("no /proc/version here")
    return target


@pytest.mark.parametrize(
    "kind", ["missing folder", "folder", "read-only file", "read-only folder", "/proc/version"]
)
@pytest.mark.parametrize(
    "args",
    [
        ["create-sub-account", "--friendly-name", "lost1"],
        ["get-recording", "--recording-sid", sid("RE"), "--recording-type", "mp3"],
    ],
    ids=["json", "media"],
)
def test_an_output_that_cannot_be_written_is_refused_before_any_request(
    twilio_env: TwilioStub, tmp_path: Path, kind: str, args: list[str]
) -> None:
    target = _unwritable(tmp_path, kind)
    code, output = invoke(*args, "--output", str(target))
    assert code == 2
    assert output.count("\n") == 1, output
    assert output.startswith(f"Error: {args[0]}: Invalid value for '--output' / '-o': ")
    assert twilio_env.requests == []
    if kind == "read-only file":
        assert target.read_text() == "kept\n"


def _disk_full(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_an_output_that_fails_after_the_request_keeps_the_answer(
    twilio_env: TwilioStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = {"sid": sid("AC", 9), "friendly_name": "lost1", "auth_token": "f" * 32}
    twilio_env.answer("POST", "/2010-04-01/Accounts.json", account)
    target = tmp_path / "x.json"
    monkeypatch.setattr(Path, "write_text", _disk_full)  # the disk fills after the check
    result = CliRunner().invoke(
        cli, ["api", "create-sub-account", "--friendly-name", "lost1", "-o", str(target)]
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {**account, "auth_token": "********"}
    assert result.stderr == (
        f"Error: could not write {target}: No space left on device; the answer is printed on "
        "stdout instead\n"
    )
    assert len(twilio_env.requests) == 1


def test_media_that_fails_after_the_request_is_one_line(
    twilio_env: TwilioStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from switchboard.api.resources import MediaStream

    target = tmp_path / "vm.mp3"
    monkeypatch.setattr(MediaStream, "save", _disk_full)
    code, output = invoke("get-recording", "--recording-sid", sid("RE"), "--recording-type",
                          "mp3", "-o", str(target))  # fmt: skip
    assert code == 1
    assert output == (
        f"Error: could not write {target}: No space left on device; the recording is still at "
        "Twilio\n"
    )
    assert not target.exists()


def test_media_to_a_pipe_is_written_in_place(twilio_env: TwilioStub, tmp_path: Path) -> None:
    """Not through a temporary file renamed over it, which would replace the pipe (or, for
    root, ``/dev/null``) with a regular file."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received = bytearray()

    def read() -> None:  # the check before the request opens and closes the pipe once
        while len(received) < len(MEDIA):
            with pipe.open("rb") as source:
                received.extend(source.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    result: list[tuple[int, str]] = []
    writer = threading.Thread(target=lambda: result.append(invoke(
        "get-recording", "--recording-sid", sid("RE"), "--recording-type", "mp3", "-o", str(pipe),
    )), daemon=True)  # fmt: skip
    writer.start()
    writer.join(20)  # a pipe opened with no reader blocks: fail, never hang the suite
    reader.join(10)
    assert result, "the command was still blocked on the pipe after 20 s"
    code, output = result[0]
    assert code == 0, output
    assert output == f"Saved {len(MEDIA)} bytes to {pipe}\n"
    assert bytes(received) == MEDIA
    assert pipe.is_fifo()


def test_passwords_in_urls_are_printed_masked(twilio_env: TwilioStub) -> None:
    number = {
        "sid": sid("PN"),
        "voice_url": "http://bob:hunter2@127.0.0.1:5000/voice",
        "sms_url": "https://bob:hunter2@example.com/sms?x=1",
        "status_callback": "https://alice@example.com/voice/status",
        "friendly_name": "mail bob@example.com: http://x",
    }
    twilio_env.answer("GET", f"{A}/IncomingPhoneNumbers.json",
                      {"incoming_phone_numbers": [number], "next_page_uri": None})  # fmt: skip
    code, output = invoke("get-incoming-phone-numbers")
    assert code == 0, output
    assert "hunter2" not in output
    assert json.loads(output) == [{
        **number,
        "voice_url": "http://bob:***@127.0.0.1:5000/voice",
        "sms_url": "https://bob:***@example.com/sms?x=1",
    }]  # fmt: skip
    twilio_env.answer("GET", f"{A}/IncomingPhoneNumbers/{sid('PN')}.json", number)
    code, output = invoke("get-incoming-phone-numbers-by-incoming-phone-number-sid",
                          "--incoming-phone-number-sid", sid("PN"))
    assert code == 0, output
    assert json.loads(output)["voice_url"] == "http://bob:***@127.0.0.1:5000/voice"


def test_media_through_a_symbolic_link_keeps_the_link(
    twilio_env: TwilioStub, tmp_path: Path
) -> None:
    real = tmp_path / "real.mp3"
    real.write_bytes(b"old")
    link = tmp_path / "link.mp3"
    link.symlink_to(real)
    code, output = invoke("get-recording", "--recording-sid", sid("RE"), "--recording-type",
                          "mp3", "-o", str(link))  # fmt: skip
    assert code == 0, output
    assert link.is_symlink()
    assert real.read_bytes() == MEDIA


@pytest.mark.parametrize(
    ("args", "options"),
    [
        (["update-account"], "--account-status, --friendly-name"),
        (["update-sandbox"], "--voice-url"),
    ],
)
def test_an_update_with_nothing_to_change_names_the_options(
    twilio_env: TwilioStub, args: list[str], options: str
) -> None:
    code, output = invoke(*args)
    assert code == 2, output
    assert output.startswith(f"Error: {args[0]}: nothing to change; give one of: ")
    assert options in output
    assert len(output.strip().splitlines()) == 1
    assert twilio_env.requests == []


@pytest.mark.parametrize("option", ["--account-sid", "--call-sid"])
def test_a_secret_given_as_a_sid_is_never_echoed(twilio_env: TwilioStub, option: str) -> None:
    operation = "get-account-details" if option == "--account-sid" else "get-call"
    code, output = invoke(operation, option, AUTH_TOKEN)
    assert code == 2
    assert output.count("\n") == 1, output
    assert f"{option}: the value is not a SID" in output
    assert "not shown in case it is a secret" in output
    assert AUTH_TOKEN not in output
    assert AUTH_TOKEN[:10] not in output
    assert twilio_env.requests == []
