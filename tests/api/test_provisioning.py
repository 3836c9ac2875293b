"""``switchboard.api.provisioning`` and ``switchboard provision``: point a number, an application
or the sandbox at the server, with a dry-run diff and a read-back check. Public URLs that would
make broken webhook URLs or that only this machine reaches are refused; a number on a SIP
trunk is detached from it; a failed write or read-back says what was (or may have been)
changed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from switchboard.api import TwilioClient, provisioning
from switchboard.api.provisioning import (
    ProvisioningError,
    Target,
    apply,
    check_public_url,
    check_target,
    plan,
    resolve_target,
    webhook_settings,
)
from switchboard.cli import cli
from switchboard.emulator import Emulator
from tests.api.conftest import ACCOUNT_SID, AUTH_TOKEN, TwilioStub, sid

A = f"/2010-04-01/Accounts/{ACCOUNT_SID}"
PUBLIC = "https://switchboard.example.com"
NUMBER = "+14155550100"
PN, AP, TK = sid("PN"), sid("AP"), sid("TK")


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "http://localhost:5000",
        "https://localhost",
        "http://127.0.0.1:5000",
        "https://192.168.1.20",
        "https://[::1]:8443",
        "https://myhost.local",
        "http://switchboard.example.com",
        "ftp://switchboard.example.com",
    ],
)
def test_unreachable_public_urls_are_refused_with_tunnel_advice(url: str | None) -> None:
    with pytest.raises(ProvisioningError) as raised:
        check_public_url(url)
    message = str(raised.value)
    assert "\n" not in message
    assert "SWITCHBOARD_PUBLIC_URL" in message
    if url and not url.startswith("ftp"):
        assert "tunnel" in message


def test_public_url_checks_pass_and_insecure_is_allowed_for_the_emulator() -> None:
    assert check_public_url("https://abc.ngrok.app/") == "https://abc.ngrok.app"
    assert check_public_url("http://127.0.0.1:5000", allow_insecure=True) == (
        "http://127.0.0.1:5000"
    )


def test_passwords_in_the_public_url_are_never_shown(client: TwilioClient) -> None:
    from switchboard.api.provisioning import Target

    with pytest.raises(ProvisioningError) as raised:
        check_public_url("http://twilio:hunter2@switchboard.example.com")
    assert "hunter2" not in str(raised.value)
    assert "twilio:***@switchboard.example.com" in str(raised.value)
    public = "https://twilio:hunter2@switchboard.example.com"
    target = Target("number", PN, f"number {NUMBER}", current_number())
    lines = plan(client, target, check_public_url(public)).diff()
    assert not any("hunter2" in line for line in lines)
    assert (
        "  voice_url: https://old.example.com/v -> https://twilio:***@switchboard.example.com/voice"
    ) in lines


def current_number(**fields: str) -> dict[str, str]:
    return {"sid": PN, "phone_number": NUMBER, "voice_url": "https://old.example.com/v",
            "voice_method": "GET", **fields}  # fmt: skip


def provisioned_number(public: str = PUBLIC) -> dict[str, str]:
    return {"sid": PN, "phone_number": NUMBER, **webhook_settings(public, "number"),
            "voice_application_sid": "", "sms_application_sid": None}  # fmt: skip


def test_plan_lists_every_change_and_detaches_applications(client: TwilioClient) -> None:
    from switchboard.api.provisioning import Target

    target = Target("number", PN, f"number {NUMBER}", current_number(voice_application_sid=AP))
    changes = plan(client, target, PUBLIC)
    lines = changes.diff()
    assert lines[0] == f"number {NUMBER}:"
    assert f"  voice_url: https://old.example.com/v -> {PUBLIC}/voice" in lines
    assert "  voice_method: GET -> POST" in lines
    assert f"  status_callback: (none) -> {PUBLIC}/voice/status" in lines
    assert f"  voice_application_sid: {AP} -> (none)" in lines
    assert not any("sms_application_sid" in line for line in lines)


def test_apply_writes_then_reads_back(client: TwilioClient, stub: TwilioStub) -> None:
    stub.answer("GET", f"{A}/IncomingPhoneNumbers.json",
                {"incoming_phone_numbers": [current_number(voice_application_sid=AP)]})  # fmt: skip
    stub.answer("GET", f"{A}/IncomingPhoneNumbers/{PN}.json", provisioned_number())
    target = resolve_target(client, number=NUMBER)
    after = apply(client, plan(client, target, PUBLIC))
    assert after["voice_url"] == f"{PUBLIC}/voice"
    lookup, update, read_back = stub.requests
    assert lookup.query == {"PhoneNumber": [NUMBER]}
    assert (update.method, update.path) == ("POST", f"{A}/IncomingPhoneNumbers/{PN}.json")
    assert update.form == {
        "VoiceUrl": [f"{PUBLIC}/voice"],
        "VoiceMethod": ["POST"],
        "VoiceFallbackUrl": [f"{PUBLIC}/voice/fallback"],
        "VoiceFallbackMethod": ["POST"],
        "SmsUrl": [f"{PUBLIC}/sms"],
        "SmsMethod": ["POST"],
        "SmsFallbackUrl": [f"{PUBLIC}/sms/fallback"],
        "SmsFallbackMethod": ["POST"],
        "StatusCallback": [f"{PUBLIC}/voice/status"],
        "StatusCallbackMethod": ["POST"],
        "VoiceApplicationSid": [""],
    }
    assert (read_back.method, read_back.path) == ("GET", update.path)


def test_apply_fails_when_twilio_did_not_keep_the_change(
    client: TwilioClient, stub: TwilioStub
) -> None:
    stub.answer("GET", f"{A}/IncomingPhoneNumbers/{PN}.json", current_number())
    stub.answer("GET", f"{A}/IncomingPhoneNumbers/{PN}.json", current_number())
    target = resolve_target(client, number=PN)
    with pytest.raises(
        ProvisioningError, match=r"did not keep the change: voice_url is https://old"
    ):
        apply(client, plan(client, target, PUBLIC))


def test_application_gets_the_sms_status_callback(client: TwilioClient, stub: TwilioStub) -> None:
    stub.answer("GET", f"{A}/Applications/{AP}.json", {"sid": AP, "friendly_name": "ivr"})
    desired = webhook_settings(PUBLIC, "application")
    stub.answer("GET", f"{A}/Applications/{AP}.json", {"sid": AP, **desired})
    target = resolve_target(client, application=AP)
    assert target.label == f"application 'ivr' ({AP})"
    apply(client, plan(client, target, PUBLIC))
    update = stub.requests[1]
    assert update.form["SmsStatusCallback"] == [f"{PUBLIC}/sms/status"]
    assert update.form["StatusCallback"] == [f"{PUBLIC}/voice/status"]


def test_sandbox_gets_its_four_urls(client: TwilioClient, stub: TwilioStub) -> None:
    stub.answer("GET", f"{A}/Sandbox.json", {"phone_number": "+14155992671", "pin": "1234"})
    stub.answer("GET", f"{A}/Sandbox.json", webhook_settings(PUBLIC, "sandbox"))
    target = resolve_target(client, sandbox=True)
    apply(client, plan(client, target, PUBLIC))
    assert stub.requests[1].form == {
        "VoiceUrl": [f"{PUBLIC}/voice"],
        "VoiceMethod": ["POST"],
        "SmsUrl": [f"{PUBLIC}/sms"],
        "SmsMethod": ["POST"],
    }


def test_unknown_number_is_a_clear_error(client: TwilioClient) -> None:
    with pytest.raises(ProvisioningError, match=r"\+14155550100 is not one of this account"):
        resolve_target(client, number=NUMBER)


def provision(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["provision", *args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def public_env(twilio_env: TwilioStub, monkeypatch: pytest.MonkeyPatch) -> TwilioStub:
    monkeypatch.setenv("SWITCHBOARD_PUBLIC_URL", PUBLIC)
    return twilio_env


def test_cli_dry_run_prints_the_diff_and_changes_nothing(public_env: TwilioStub) -> None:
    public_env.answer("GET", f"{A}/IncomingPhoneNumbers/{PN}.json", current_number())
    code, output = provision("--number", PN, "--dry-run")
    assert code == 0, output
    assert f"voice_url: https://old.example.com/v -> {PUBLIC}/voice" in output
    assert "Dry run" in output
    assert [r.method for r in public_env.requests] == ["GET"]


def test_cli_provisions_and_verifies(public_env: TwilioStub) -> None:
    public_env.answer("GET", f"{A}/IncomingPhoneNumbers/{PN}.json", current_number())
    public_env.answer("GET", f"{A}/IncomingPhoneNumbers/{PN}.json", provisioned_number())
    code, output = provision("--number", PN)
    assert code == 0, output
    assert output.strip().endswith(f"Verified: number {NUMBER} ({PN}) points at {PUBLIC}.")
    assert [r.method for r in public_env.requests] == ["GET", "POST", "GET"]


def test_cli_already_provisioned_changes_nothing(public_env: TwilioStub) -> None:
    public_env.answer("GET", f"{A}/IncomingPhoneNumbers/{PN}.json", provisioned_number())
    public_env.answer("GET", f"{A}/IncomingPhoneNumbers/{PN}.json", provisioned_number())
    code, output = provision("--number", PN)
    assert code == 0, output
    assert "nothing to change" in output
    assert [r.method for r in public_env.requests] == ["GET", "GET"]


def test_cli_refuses_a_local_public_url_before_any_request(
    twilio_env: TwilioStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHBOARD_PUBLIC_URL", "http://127.0.0.1:5000")
    code, output = provision("--number", PN)
    assert code == 2
    assert output.count("\n") == 1
    assert "tunnel" in output
    assert twilio_env.requests == []


def test_cli_allow_insecure_for_the_emulator(
    twilio_env: TwilioStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = "http://127.0.0.1:5000"
    monkeypatch.setenv("SWITCHBOARD_PUBLIC_URL", local)
    twilio_env.answer("GET", f"{A}/Sandbox.json", {"phone_number": "+14155992671"})
    twilio_env.answer("GET", f"{A}/Sandbox.json", webhook_settings(local, "sandbox"))
    code, output = provision("--sandbox", "--allow-insecure")
    assert code == 0, output
    assert twilio_env.requests[1].form["VoiceUrl"] == [f"{local}/voice"]


def test_cli_needs_exactly_one_target(public_env: TwilioStub) -> None:
    code, output = provision("--number", PN, "--sandbox")
    assert code == 2
    assert output.count("\n") == 1
    assert public_env.requests == []


def test_cli_verified_line_hides_the_public_url_password(
    twilio_env: TwilioStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    public = "https://bob:hunter2@switchboard.example.com"
    monkeypatch.setenv("SWITCHBOARD_PUBLIC_URL", public)
    twilio_env.answer("GET", f"{A}/IncomingPhoneNumbers/{PN}.json", current_number())
    twilio_env.answer("GET", f"{A}/IncomingPhoneNumbers/{PN}.json", provisioned_number(public))
    code, output = provision("--number", PN)
    assert code == 0, output
    assert "hunter2" not in output
    assert output.endswith(
        f"Verified: number {NUMBER} ({PN}) points at https://bob:***@switchboard.example.com.\n"
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--number", "42"], "--number: '42' is neither an E.164 number"),
        (["--number", "PN123"], "--number: 'PN123' is not a SID (PN followed by 32 hex digits)"),
        (["--number", sid("AP")], "--number: "),
        (["--application", "AP123"], "--application: 'AP123' is not a SID (AP followed by"),
        (["--application", PN], f"--application: '{PN}' is a PN SID"),
        ([], "give exactly one of --number, --application, --sandbox"),
        (["--number", PN, "--application", AP], "give exactly one of --number, --application"),
    ],
)
def test_cli_bad_targets_name_the_options_before_any_request(
    public_env: TwilioStub, args: list[str], expected: str
) -> None:
    code, output = provision(*args)
    assert code == 2
    assert output.count("\n") == 1, output
    assert output.startswith(f"Error: provision: {expected}"), output
    for internal in ("phone_number:", "sid:", "number:", "application:"):
        assert f"Error: {internal}" not in output
    assert public_env.requests == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://switchboard.example.com/?q=1", "must not have a ?query string"),
        ("https://switchboard.example.com/#frag", "must not have a #fragment"),
        ("notaurl", "'notaurl' must start with http:// or https://"),
        ("https://bob:hunter2@switchboard.example.com/?q=1", "bob:***@switchboard"),
        ("", "--public-url is empty"),
        ("http://127.0.0.1:5000", "--public-url http://127.0.0.1:5000 is on this machine"),
    ],
)
def test_cli_public_url_option_is_checked_like_the_setting(
    public_env: TwilioStub, url: str, expected: str
) -> None:
    code, output = provision("--number", PN, "--public-url", url)
    assert code == 2
    assert output.count("\n") == 1, output
    assert output.startswith("Error: provision: --public-url")
    assert expected in output
    assert "SWITCHBOARD_PUBLIC_URL" not in output
    assert "hunter2" not in output
    assert public_env.requests == []


def test_public_url_setting_and_option_get_the_same_checks() -> None:
    for name in ("SWITCHBOARD_PUBLIC_URL", "--public-url"):
        with pytest.raises(ProvisioningError, match=rf"^{name}: .* must not have a \?query"):
            check_public_url("https://example.com/?q=1", name=name)
        with pytest.raises(ProvisioningError, match=rf"^{name}: .* must not have a #fragment"):
            check_public_url("https://example.com/#x", allow_insecure=True, name=name)
    assert check_public_url("https://example.com/", name="--public-url") == "https://example.com"


@pytest.mark.parametrize(
    ("args", "path", "answer", "expected"),
    [
        (["--number", PN], f"{A}/IncomingPhoneNumbers/{PN}.json", [1, 2],
         f"HTTP 200 from GET {A}/IncomingPhoneNumbers/{PN}.json: the body is JSON but not an "
         "object (application/json, 6 bytes): '[1, 2]'"),
        (["--number", PN], f"{A}/IncomingPhoneNumbers/{PN}.json", {"phone_number": NUMBER},
         "Twilio's answer is not a phone number: it has no sid"),
        (["--application", AP], f"{A}/Applications/{AP}.json", "ivr",
         f"HTTP 200 from GET {A}/Applications/{AP}.json: the body is JSON but not an object "
         """(application/json, 5 bytes): '"ivr"'"""),
        (["--sandbox"], f"{A}/Sandbox.json", None,
         f"HTTP 200 from GET {A}/Sandbox.json: the body is JSON but not an object "
         "(application/json, 4 bytes): 'null'"),
    ],
)  # fmt: skip
def test_cli_wrong_shaped_answers_are_one_line(
    public_env: TwilioStub, args: list[str], path: str, answer: object, expected: str
) -> None:
    public_env.answer("GET", path, answer)
    code, output = provision(*args)
    assert code == 1
    assert output.count("\n") == 1, output
    assert output.startswith(f"Error: {expected}")
    assert [r.method for r in public_env.requests] == ["GET"]


def test_cli_wrong_shaped_read_back_is_one_line(public_env: TwilioStub) -> None:
    public_env.answer("GET", f"{A}/IncomingPhoneNumbers/{PN}.json", current_number())
    public_env.answer("GET", f"{A}/IncomingPhoneNumbers/{PN}.json", [1, 2])
    code, output = provision("--number", PN)
    assert code == 1
    assert output.splitlines()[-1] == (
        f"Error: the changes to number {NUMBER} ({PN}) were sent but could not be checked: "
        f"HTTP 200 from GET {A}/IncomingPhoneNumbers/{PN}.json: the body is JSON but not an "
        "object (application/json, 6 bytes): '[1, 2]'; the same command with --dry-run shows "
        "what it has now"
    )
    assert [r.method for r in public_env.requests] == ["GET", "POST", "GET"]


def test_cli_wrong_shaped_number_lookup_is_one_line(public_env: TwilioStub) -> None:
    public_env.answer("GET", f"{A}/IncomingPhoneNumbers.json", [1, 2])
    code, output = provision("--number", NUMBER)
    assert code == 1
    assert output.count("\n") == 1, output
    assert "the body is JSON but not an object (application/json, 6 bytes): '[1, 2]'" in output


def test_cli_wrong_shaped_items_in_the_number_lookup_are_one_line(
    public_env: TwilioStub,
) -> None:
    public_env.answer("GET", f"{A}/IncomingPhoneNumbers.json",
                      {"incoming_phone_numbers": [1, 2], "next_page_uri": None})  # fmt: skip
    code, output = provision("--number", NUMBER)
    assert code == 1
    assert output == (
        f"Error: HTTP 200 from GET {A}/IncomingPhoneNumbers.json: item 0 of its list under "
        "'incoming_phone_numbers' is JSON but not an object: 1\n"
    )


def test_check_target_names_the_library_arguments() -> None:
    from switchboard.api import ValidationError

    with pytest.raises(ValidationError) as raised:
        check_target(number="42")
    assert raised.value.argument == "number"
    with pytest.raises(ValidationError) as raised:
        check_target(application="AP1")
    assert raised.value.argument == "application"
    with pytest.raises(ValidationError, match="exactly one"):
        check_target()
    check_target(number=NUMBER)
    check_target(number=PN)
    check_target(application=AP)
    check_target(sandbox=True)


def test_cli_write_never_sent_says_nothing_was_changed(
    public_env: TwilioStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection never made (refused) sent nothing: not "may have been changed"."""
    from switchboard.api import TwilioConnectionError, provisioning

    def refused(client: TwilioClient, changes: object) -> None:
        raise TwilioConnectionError(
            "POST", f"{public_env.url}{A}/IncomingPhoneNumbers/{PN}.json",
            reason="Connection refused", connected=False)

    monkeypatch.setattr(provisioning, "write", refused)
    public_env.answer("GET", f"{A}/IncomingPhoneNumbers/{PN}.json", current_number())
    code, output = provision("--number", PN)
    assert code == 1
    assert output.endswith(": Connection refused; nothing was changed\n"), output
    assert "may have been changed" not in output


#: Public URLs that look usable but make every URL built from them broken
#: (``https://host?/voice`` is the root with a query; a space is no URL at all).
BREAKING = [
    ("https://switchboard.example.com?", "must not have a ?query string"),
    ("https://switchboard.example.com/?", "must not have a ?query string"),
    ("https://switchboard.example.com#", "must not have a #fragment"),
    ("https://switch board.example.com", "is not a valid URL"),
    ("https://switchboard.example.com/a b", "is not a valid URL"),
    ("https://switchboard.example.com/a\tb", "is not a valid URL"),
]


@pytest.mark.parametrize(("url", "expected"), BREAKING)
def test_public_urls_that_would_break_the_webhook_urls_are_refused(
    url: str, expected: str
) -> None:
    with pytest.raises(ProvisioningError) as raised:
        check_public_url(url, allow_insecure=True, name="--public-url")
    message = str(raised.value)
    assert message == f"--public-url: {url!r} {expected}"


def test_a_refused_public_url_never_shows_its_password() -> None:
    for url in ("https://bob:hunter2@switch board.example.com", "https://bob:hunter2@sb.com?"):
        with pytest.raises(ProvisioningError) as raised:
            check_public_url(url)
        assert "hunter2" not in str(raised.value)
        assert "bob:***@" in str(raised.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.1",
        "https://2130706433",
        "https://0x7f.0.0.1",
        "https://100.64.1.1",
        "https://100.100.100.100:8443",
    ],
)
def test_local_addresses_in_short_forms_and_cgnat_are_refused(url: str) -> None:
    with pytest.raises(ProvisioningError, match="on this machine or a private network"):
        check_public_url(url)
    assert check_public_url(url, allow_insecure=True) == url


def test_public_addresses_are_accepted() -> None:
    for url in ("https://8.8.8.8", "https://abc.ngrok.app/base", "https://100.128.0.1"):
        assert check_public_url(url) == url


def pointed_number(**fields: str | None) -> dict[str, str | None]:
    """A number whose webhooks already point at ``PUBLIC``, with ``fields`` on top."""
    return {"sid": PN, "phone_number": NUMBER, **webhook_settings(PUBLIC, "number"),
            "voice_application_sid": None, "sms_application_sid": None, **fields}  # fmt: skip


def test_a_number_on_a_sip_trunk_is_detached_from_it(client: TwilioClient) -> None:
    target = Target("number", PN, f"number {NUMBER}", pointed_number(trunk_sid=TK))
    changes = plan(client, target, PUBLIC)
    assert changes.diff() == [f"number {NUMBER}:", f"  trunk_sid: {TK} -> (none)"]
    assert changes.desired["trunk_sid"] == ""


def test_apply_detaches_the_trunk_and_checks_it_stayed_detached(
    client: TwilioClient, stub: TwilioStub
) -> None:
    stub.answer("GET", f"{A}/IncomingPhoneNumbers/{PN}.json", pointed_number(trunk_sid=TK))
    target = Target("number", PN, f"number {NUMBER}", pointed_number(trunk_sid=TK))
    with pytest.raises(ProvisioningError, match=f"trunk_sid is {TK}, not \\(none\\)"):
        apply(client, plan(client, target, PUBLIC))
    update = stub.requests[0]
    assert update.form == {"TrunkSid": [""]}


def test_write_and_verify_are_apply_in_two_steps(client: TwilioClient, stub: TwilioStub) -> None:
    target = Target("number", PN, f"number {NUMBER}", pointed_number(voice_url=None))
    changes = plan(client, target, PUBLIC)
    provisioning.write(client, changes)
    assert [(r.method, r.form) for r in stub.requests] == [
        ("POST", {"VoiceUrl": [f"{PUBLIC}/voice"]})
    ]
    stub.answer("GET", f"{A}/IncomingPhoneNumbers/{PN}.json", pointed_number())
    assert provisioning.verify(client, changes)["voice_url"] == f"{PUBLIC}/voice"
    unchanged = plan(client, Target("number", PN, "n", pointed_number()), PUBLIC)
    stub.reset()
    provisioning.write(client, unchanged)
    assert stub.requests == []


@pytest.mark.parametrize(("url", "expected"), BREAKING[::2])
def test_cli_refuses_a_public_url_that_would_break_the_urls_before_any_request(
    public_env: TwilioStub, url: str, expected: str
) -> None:
    code, output = provision("--number", PN, "--public-url", url, "--dry-run")
    assert code == 2
    assert output.count("\n") == 1, output
    assert output.startswith("Error: provision: --public-url: ")
    assert expected in output
    assert public_env.requests == []


def test_cli_a_refused_write_says_nothing_was_changed(public_env: TwilioStub) -> None:
    public_env.answer("GET", f"{A}/IncomingPhoneNumbers/{PN}.json", pointed_number(voice_url=None))
    public_env.answer("POST", f"{A}/IncomingPhoneNumbers/{PN}.json",
                      {"code": 21402, "message": "VoiceUrl is not valid", "status": 400},
                      status=400)  # fmt: skip
    code, output = provision("--number", PN)
    assert code == 1
    last = output.splitlines()[-1]
    assert last.startswith("Error: HTTP 400 from POST ")
    assert last.endswith("; nothing was changed")
    assert [r.method for r in public_env.requests] == ["GET", "POST"]


def test_cli_a_write_that_failed_on_twilios_side_may_have_changed_it(
    public_env: TwilioStub,
) -> None:
    public_env.answer("GET", f"{A}/IncomingPhoneNumbers/{PN}.json", pointed_number(voice_url=None))
    public_env.answer("POST", f"{A}/IncomingPhoneNumbers/{PN}.json",
                      {"code": 20500, "message": "Internal Server Error", "status": 500},
                      status=500)  # fmt: skip
    code, output = provision("--number", PN)
    assert code == 1
    assert output.splitlines()[-1].endswith(
        f"; number {NUMBER} ({PN}) may have been changed all the same: "
        "the same command with --dry-run shows what it has now"
    )


def test_cli_a_failed_read_back_says_the_changes_were_sent(public_env: TwilioStub) -> None:
    public_env.answer("GET", f"{A}/IncomingPhoneNumbers/{PN}.json", pointed_number(voice_url=None))
    public_env.answer("GET", f"{A}/IncomingPhoneNumbers/{PN}.json",
                      {"code": 20404, "message": "Not found", "status": 404},
                      status=404)  # fmt: skip
    code, output = provision("--number", PN)
    assert code == 1
    last = output.splitlines()[-1]
    assert last.startswith(
        f"Error: the changes to number {NUMBER} ({PN}) were sent but could not be checked: "
        "HTTP 404 from GET "
    )
    assert last.endswith("; the same command with --dry-run shows what it has now")


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with Emulator(ACCOUNT_SID, AUTH_TOKEN, caller=False) as running:
        monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        monkeypatch.setenv("TWILIO_API_BASE_URL", running.url)
        monkeypatch.setenv("SWITCHBOARD_PUBLIC_URL", PUBLIC)
        yield running


def test_cli_a_lost_answer_to_the_write_says_it_may_have_changed_it(emu: Emulator) -> None:
    emu.faults.add("drop", after=True, methods=["POST"])
    code, output = provision("--sandbox")
    assert code == 1
    last = output.splitlines()[-1]
    assert last.startswith("Error: could not reach ")
    assert last.endswith(
        "may have been changed all the same: the same command with --dry-run shows what it "
        "has now"
    )
    code, output = provision("--sandbox", "--dry-run")
    assert code == 0, output
    assert "already points at this server" in output


def test_cli_detaches_a_sip_trunk_on_the_emulator(emu: Emulator) -> None:
    with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=emu.url, retries=0) as client:
        number = client.incoming_phone_numbers.create(area_code="415")
        client.incoming_phone_numbers.update(number["sid"], trunk_sid=TK)
        code, output = provision("--number", number["phone_number"])
        assert code == 0, output
        assert f"  trunk_sid: {TK} -> (none)" in output
        assert not client.incoming_phone_numbers.get(number["sid"])["trunk_sid"]


TOKEN = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--application", TOKEN], "--application: the value is not a SID (AP followed by 32 "
                                   "hex digits): it has 32 characters not starting with AP"),
        (["--application", f"AP{TOKEN[:20]}"], "--application: the value is not a SID"),
        (["--number", TOKEN], "--number: the value (32 characters, not shown in case it is a "
                              "secret) is neither an E.164 number"),
        (["--number", f"PN{TOKEN}x"], "--number: the value is not a SID"),
    ],
)
def test_cli_never_echoes_a_target_that_may_be_a_secret(
    public_env: TwilioStub, args: list[str], expected: str
) -> None:
    code, output = provision(*args)
    assert code == 2
    assert output.count("\n") == 1, output
    assert output.startswith(f"Error: provision: {expected}"), output
    assert TOKEN[:20] not in output
    assert public_env.requests == []


def test_cli_without_a_public_url_is_a_usage_error(
    twilio_env: TwilioStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SWITCHBOARD_PUBLIC_URL", raising=False)
    code, output = provision("--number", PN)
    assert code == 2
    assert output.count("\n") == 1, output
    assert "SWITCHBOARD_PUBLIC_URL" in output
    assert twilio_env.requests == []
