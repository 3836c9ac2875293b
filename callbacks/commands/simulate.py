"""``switchboard simulate call|sms``: a simulated inbound call or text through your server.

Where the server is, in order of precedence:

- ``--in-process``: the app from ``callbacks.create_app`` (your settings), answered through
  Flask's test client: no server to start, no tunnel.
- ``--url URL``: that voice (or SMS) URL of a running server, signed with TWILIO_AUTH_TOKEN.
- ``--emulator URL`` (default: TWILIO_API_BASE_URL when it is not Twilio's): a running
  ``switchboard emulator`` places the call itself through its simulator endpoints
  (:func:`emulator.caller.simulator_blueprint`), so the call and its recordings are its own;
  when it has none, or with ``--interactive``, the number's voice / SMS / fallback / status
  URLs are read from it and the call is placed from this process.

The transcript (what the caller hears, what was sent) is printed as it happens; ``--verbose``
adds every HTTP exchange.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from emulator.caller import Phone
    from emulator.transcript import Event, Transcript

DEFAULT_FROM = "+15555550100"
TWILIO_API = "https://api.twilio.com"


@dataclass
class Target:
    phone: Phone
    description: str


def _settings(profile: str | None) -> Any:
    from config import ConfigError, load_settings

    try:
        return load_settings(profile)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


def _credentials(settings: Any) -> tuple[str | None, str | None]:
    token = settings.auth_token.reveal() if settings.auth_token else None
    return settings.account_sid, token


def _in_process(settings: Any, profile: str | None, to: str, url: str | None) -> Target:
    from callbacks import create_app
    from emulator.caller import Phone
    from emulator.state import EmulatorState
    from emulator.webhooks import wsgi_session

    account_sid, token = _credentials(settings)
    state = EmulatorState(account_sid, token)
    config: dict[str, Any] = {}
    if profile:
        config["SWITCHBOARD_PROFILE"] = profile
    if token is None:  # sign with a made-up account the app is told about
        config["TWILIO_ACCOUNT_SID"] = state.main_account_sid
        config["TWILIO_AUTH_TOKEN"] = state.auth_token_for(state.main_account_sid)
    from config import ConfigError

    try:
        app = create_app(config)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    base = (settings.public_url or "http://localhost").rstrip("/")
    _number(state, to, base, url)
    phone = Phone(state, api_base_url=TWILIO_API, session_factory=lambda: wsgi_session(app))
    return Target(phone, f"the app in process ({base})")


def _number(state: Any, to: str, base: str, url: str | None, *, kind: str = "both") -> None:
    """Give ``to`` the bundled routes under ``base``, or ``url`` for the call or the SMS."""
    fields = {
        "voice_url": base + "/voice",
        "voice_fallback_url": base + "/voice/fallback",
        "status_callback": base + "/voice/status",
        "sms_url": base + "/sms",
        "sms_fallback_url": base + "/sms/fallback",
    }
    if url:
        fields = {"voice_url": url} if kind == "call" else {"sms_url": url}
    state.buy_number(state.main_account_sid, to, **fields)


def _direct(settings: Any, to: str, url: str, kind: str, fallback_url: str | None,
            status_callback: str | None) -> Target:
    from emulator.caller import Phone
    from emulator.state import EmulatorState
    from emulator.webhooks import split_url

    account_sid, token = _credentials(settings)
    if token is None:
        click.echo("note: TWILIO_AUTH_TOKEN is not set; requests are signed with a made-up "
                   "token, which a server that checks signatures refuses", err=True)
    state = EmulatorState(account_sid, token)
    _number(state, to, "", url, kind=kind)
    number = state.find_number(to)
    extra: dict[str, Any] = {}
    if fallback_url:
        extra["voice_fallback_url" if kind == "call" else "sms_fallback_url"] = fallback_url
    if status_callback:
        extra["status_callback"] = status_callback
    if extra and number is not None:
        state.update("incoming_phone_numbers", number["sid"], **extra)
    return Target(Phone(state, api_base_url=TWILIO_API), split_url(url)[0])


NUMBER_FIELDS = (
    "voice_url", "voice_method", "voice_fallback_url", "voice_fallback_method",
    "status_callback", "status_callback_method", "sms_url", "sms_method", "sms_fallback_url",
    "sms_fallback_method",
)
APPLICATION_FIELDS = (*NUMBER_FIELDS, "sms_status_callback", "message_status_callback")


def _from_emulator(settings: Any, emulator_url: str, to: str) -> Target:
    """Mirror the number's configuration from a running emulator, and call it from here."""
    import requests

    from emulator.caller import Phone
    from emulator.state import EmulatorState

    account_sid, token = _credentials(settings)
    if not account_sid or not token:
        raise click.ClickException(
            "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be the emulator's account to read "
            "its numbers (or use --url URL or --in-process)")
    base = emulator_url.rstrip("/")
    session = requests.Session()
    session.auth = (account_sid, token)
    root = f"{base}/2010-04-01/Accounts/{account_sid}"
    try:
        answer = session.get(f"{root}/IncomingPhoneNumbers.json", params={"PhoneNumber": to},
                             timeout=(3, 10))
    except requests.RequestException as error:
        raise click.ClickException(
            f"cannot reach the emulator at {base} ({type(error).__name__}): start it with "
            "`switchboard emulator` or pass --emulator URL") from None
    if answer.status_code == 401:
        raise click.ClickException(
            f"the emulator at {base} refused TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN: start it "
            "with the same settings")
    if answer.status_code != 200:
        raise click.ClickException(f"the emulator at {base} answered {answer.status_code}")
    numbers = [n for n in answer.json().get("incoming_phone_numbers", [])
               if n.get("phone_number") == to]
    if not numbers:
        raise click.ClickException(
            f"{to} is not a number of the emulator's account: buy it and point it at your "
            "server (`switchboard provision`), or use --url URL")
    remote = numbers[0]
    state = EmulatorState(account_sid, token, base_url=base)
    fields = {k: remote.get(k) for k in NUMBER_FIELDS if remote.get(k)}
    for key in ("voice_application_sid", "sms_application_sid"):
        if remote.get(key):
            app = session.get(f"{root}/Applications/{remote[key]}.json", timeout=(3, 10))
            if app.status_code == 200:
                data = app.json()
                local = state.create_application(
                    account_sid, **{k: data.get(k) for k in APPLICATION_FIELDS if data.get(k)}
                )
                fields[key] = local["sid"]
    state.buy_number(account_sid, to, **fields)
    return Target(Phone(state, api_base_url=base), f"{to} as configured in {base}")


def _target(kind: str, *, to: str, url: str | None, emulator_url: str | None, in_process: bool,
            fallback_url: str | None, status_callback: str | None, profile: str | None,
            remote: list[tuple[str, str]] | None = None, verbose: bool = False
            ) -> Target | None:
    """Where the simulation runs; None when a running emulator ran it (``remote`` fields)."""
    settings = _settings(profile)
    if in_process:
        return _in_process(settings, profile, to, url)
    if url:
        return _direct(settings, to, url, kind, fallback_url, status_callback)
    emulator_url = emulator_url or (
        settings.api_base_url if settings.api_base_url.rstrip("/") != TWILIO_API else None)
    if emulator_url:
        if remote is not None and _in_emulator(settings, emulator_url, kind, remote, verbose):
            return None
        return _from_emulator(settings, emulator_url, to)
    raise click.UsageError(
        "say where your server is: --url URL (a running server), --emulator URL (a running "
        "`switchboard emulator`, or set TWILIO_API_BASE_URL), or --in-process")


def _in_emulator(settings: Any, emulator_url: str, kind: str, fields: list[tuple[str, str]],
                 verbose: bool) -> bool:
    """Have the running emulator place the call (or send the text) itself, so the call, its
    recordings and messages are its own resources; False when it has no simulator endpoint
    (the number's configuration is then copied and the call placed from here)."""
    import requests

    account_sid, token = _credentials(settings)
    if not account_sid or not token:
        return False
    base = emulator_url.rstrip("/")
    resource = "Calls" if kind == "call" else "Messages"
    endpoint = f"{base}/2010-04-01/Accounts/{account_sid}/Simulator/{resource}.json"
    to, from_ = dict(fields)["To"], dict(fields)["From"]
    try:
        answer = requests.post(endpoint, data=[*fields, ("Verbose", str(verbose).lower())],
                               auth=(account_sid, token), timeout=(3, 600))
    except requests.RequestException as error:
        raise click.ClickException(
            f"cannot reach the emulator at {base} ({type(error).__name__}): start it with "
            "`switchboard emulator` or pass --emulator URL") from None
    body = _json(answer)
    if answer.status_code == 404 and body.get("code") == 20404:
        return False
    if answer.status_code == 401:
        raise click.ClickException(
            f"the emulator at {base} refused TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN: start it "
            "with the same settings")
    if answer.status_code != 200:
        raise click.ClickException(
            f"the emulator at {base} answered {answer.status_code}: "
            f"{body.get('message') or answer.text[:200]}")
    verb = "Calling" if kind == "call" else "Texting"
    click.echo(f"{verb} {to} from {from_} ({to} as configured in {base})")
    for line in body.get("lines", []):
        if verbose or not line.get("request"):
            click.echo(line.get("text", ""))
    for line in body.get("report", []):
        click.echo(line)
    return True


def _json(answer: Any) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _printer(verbose: bool) -> Any:
    from emulator.transcript import event_line

    def show(event: Event) -> None:
        is_request, line = event_line(event)
        if verbose or not is_request:
            click.echo(line)
            sys.stdout.flush()

    return show


def _epilogue(target: Target, transcript: Transcript, verbose: bool) -> None:
    for line in target.phone.report(transcript, verbose=verbose):
        click.echo(line)


def _common(function: Any) -> Any:
    for option in reversed([
        click.option("--to", required=True, metavar="NUMBER",
                     help="The number called or texted (E.164)."),
        click.option("--from", "from_", default=DEFAULT_FROM, show_default=True,
                     metavar="NUMBER", help="The caller's number."),
        click.option("--url", default=None, metavar="URL",
                     help="Call this webhook URL of a running server directly."),
        click.option("--emulator", "emulator_url", default=None, metavar="URL",
                     help="A running `switchboard emulator` (default: TWILIO_API_BASE_URL)."),
        click.option("--in-process", is_flag=True,
                     help="Run the app from create_app in this process (no server needed)."),
        click.option("--fallback-url", default=None, metavar="URL",
                     help="With --url: the fallback URL to try when the URL fails."),
        click.option("--verbose", "-v", is_flag=True, help="Show every HTTP exchange."),
        click.option("--config-ref", "profile", default=None, metavar="NAME",
                     help="Use this settings profile."),
    ]):
        function = option(function)
    return function


@click.group("simulate")
def simulate_group() -> None:
    """Drive a simulated inbound call or text message through your server."""


@simulate_group.command("call")
@_common
@click.option("--digits", default=None, metavar="KEYS,KEYS,...",
              help="Keys pressed at each Gather, comma-separated ('1,2#'; empty: no input).")
@click.option("--speech", multiple=True, metavar="TEXT",
              help="What the caller says at Gathers listening for speech (repeatable).")
@click.option("--dial-outcome", "dial_outcomes", multiple=True,
              metavar="[NUMBER=]OUTCOME[:SECONDS]",
              help="What dialled numbers do: answered, busy, no-answer, failed (repeatable; "
                   "e.g. busy or +15557770000=no-answer or answered:60).")
@click.option("--record-seconds", default=5, show_default=True, type=click.IntRange(0, 3600),
              help="How long the caller speaks at each Record (0: silence).")
@click.option("--status-callback", default=None, metavar="URL",
              help="With --url: where to send the call's status callbacks.")
@click.option("--interactive", "-i", is_flag=True,
              help="Type the keys yourself at each Gather (from the terminal).")
def simulate_call(to: str, from_: str, url: str | None, emulator_url: str | None,
                  in_process: bool, fallback_url: str | None, verbose: bool,
                  profile: str | None, digits: str | None, speech: tuple[str, ...],
                  dial_outcomes: tuple[str, ...], record_seconds: int,
                  status_callback: str | None, interactive: bool) -> None:
    """Call NUMBER and print what the caller hears.

    \b
    switchboard simulate call --to +15551230000 --in-process --digits 2
    switchboard simulate call --to +15551230000 --url http://127.0.0.1:5000/voice -i
    """
    from emulator.script import CallScript, RecordingTake, parse_dial_outcome

    dial: dict[str, Any] = {}
    try:
        for spec in dial_outcomes:
            number, _, outcome = spec.rpartition("=")
            dial[number or "*"] = parse_dial_outcome(outcome)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--dial-outcome") from None
    script = CallScript(
        digits, speech=list(speech), dial=dial,
        recording=RecordingTake(duration=record_seconds, digits="#"),
        interactive=interactive,
    )
    remote = None if interactive else [
        ("To", to), ("From", from_), ("Digits", digits or ""), ("RecordSeconds",
                                                                str(record_seconds)),
        *[("Speech", text) for text in speech], *[("DialOutcome", d) for d in dial_outcomes],
    ]
    target = _target("call", to=to, url=url, emulator_url=emulator_url, in_process=in_process,
                     fallback_url=fallback_url, status_callback=status_callback,
                     profile=profile, remote=remote, verbose=verbose)
    if target is None:
        return
    click.echo(f"Calling {to} from {from_} ({target.description})")
    transcript = target.phone.inbound_call(to, from_, script=script, on_event=_printer(verbose))
    _epilogue(target, transcript, verbose)


@simulate_group.command("sms")
@_common
@click.option("--body", required=True, metavar="TEXT", help="The text of the message.")
@click.option("--media", multiple=True, metavar="URL", help="A media URL (repeatable).")
def simulate_sms(to: str, from_: str, url: str | None, emulator_url: str | None,
                 in_process: bool, fallback_url: str | None, verbose: bool,
                 profile: str | None, body: str, media: tuple[str, ...]) -> None:
    """Text NUMBER and print the replies.

    \b
    switchboard simulate sms --to +15551230000 --body HELP --in-process
    """
    remote = [("To", to), ("From", from_), ("Body", body), *[("MediaUrl", m) for m in media]]
    target = _target("sms", to=to, url=url, emulator_url=emulator_url, in_process=in_process,
                     fallback_url=fallback_url, status_callback=None, profile=profile,
                     remote=remote, verbose=verbose)
    if target is None:
        return
    click.echo(f"Texting {to} from {from_} ({target.description})")
    transcript = target.phone.inbound_sms(to, from_, body, media, on_event=_printer(verbose))
    _epilogue(target, transcript, verbose)
