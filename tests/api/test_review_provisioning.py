"""Second review of ``switchboard.api.provisioning`` and ``switchboard provision``: public URLs
that would
make broken webhook URLs, local addresses in their short forms, a number's SIP trunk, and a
failed write or read-back that says what was (or may have been) changed."""

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
    plan,
    webhook_settings,
)
from switchboard.cli import cli
from switchboard.emulator import Emulator
from tests.api.conftest import ACCOUNT_SID, AUTH_TOKEN, TwilioStub, sid

A = f"/2010-04-01/Accounts/{ACCOUNT_SID}"
PUBLIC = "https://switchboard.example.com"
NUMBER = "+14155550100"
PN, TK = sid("PN"), sid("TK")


#: Public URLs that the settings' checks once let through, though every URL made from them
#: is broken (``https://host?/voice`` is the root with a query; a space is no URL at all).
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


def test_public_addresses_are_still_accepted() -> None:
    for url in ("https://8.8.8.8", "https://abc.ngrok.app/base", "https://100.128.0.1"):
        assert check_public_url(url) == url


def current_number(**fields: str | None) -> dict[str, str | None]:
    return {"sid": PN, "phone_number": NUMBER, **webhook_settings(PUBLIC, "number"),
            "voice_application_sid": None, "sms_application_sid": None, **fields}  # fmt: skip


def test_a_number_on_a_sip_trunk_is_detached_from_it(client: TwilioClient) -> None:
    target = Target("number", PN, f"number {NUMBER}", current_number(trunk_sid=TK))
    changes = plan(client, target, PUBLIC)
    assert changes.diff() == [f"number {NUMBER}:", f"  trunk_sid: {TK} -> (none)"]
    assert changes.desired["trunk_sid"] == ""


def test_apply_detaches_the_trunk_and_checks_it_stayed_detached(
    client: TwilioClient, stub: TwilioStub
) -> None:
    stub.answer("GET", f"{A}/IncomingPhoneNumbers/{PN}.json", current_number(trunk_sid=TK))
    target = Target("number", PN, f"number {NUMBER}", current_number(trunk_sid=TK))
    with pytest.raises(ProvisioningError, match=f"trunk_sid is {TK}, not \\(none\\)"):
        apply(client, plan(client, target, PUBLIC))
    update = stub.requests[0]
    assert update.form == {"TrunkSid": [""]}


def test_write_and_verify_are_apply_in_two_steps(client: TwilioClient, stub: TwilioStub) -> None:
    target = Target("number", PN, f"number {NUMBER}", current_number(voice_url=None))
    changes = plan(client, target, PUBLIC)
    provisioning.write(client, changes)
    assert [(r.method, r.form) for r in stub.requests] == [
        ("POST", {"VoiceUrl": [f"{PUBLIC}/voice"]})
    ]
    stub.answer("GET", f"{A}/IncomingPhoneNumbers/{PN}.json", current_number())
    assert provisioning.verify(client, changes)["voice_url"] == f"{PUBLIC}/voice"
    unchanged = plan(client, Target("number", PN, "n", current_number()), PUBLIC)
    stub.reset()
    provisioning.write(client, unchanged)
    assert stub.requests == []


def provision(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["provision", *args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def public_env(twilio_env: TwilioStub, monkeypatch: pytest.MonkeyPatch) -> TwilioStub:
    monkeypatch.setenv("SWITCHBOARD_PUBLIC_URL", PUBLIC)
    return twilio_env


@pytest.mark.parametrize(("url", "expected"), BREAKING[::2])
def test_cli_refuses_a_public_url_that_would_break_the_urls_before_any_request(
    public_env: TwilioStub, url: str, expected: str
) -> None:
    code, output = provision("--number", PN, "--public-url", url, "--dry-run")
    assert code == 2
    assert output.count("\n") == 1, output
    assert output.startswith("Error: --public-url: ")
    assert expected in output
    assert public_env.requests == []


def test_cli_a_refused_write_says_nothing_was_changed(public_env: TwilioStub) -> None:
    public_env.answer("GET", f"{A}/IncomingPhoneNumbers/{PN}.json", current_number(voice_url=None))
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
    public_env.answer("GET", f"{A}/IncomingPhoneNumbers/{PN}.json", current_number(voice_url=None))
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
    public_env.answer("GET", f"{A}/IncomingPhoneNumbers/{PN}.json", current_number(voice_url=None))
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
