"""``switchboard simulate call|sms``: a simulated inbound call or text through your server.

Where the server is, one of:

- ``--in-process``: the app from ``switchboard.callbacks.create_app`` (your settings), or the
  one named with ``switchboard --app``, answered through Flask's test client: no server to
  start, no tunnel. The number gets the bundled routes, or with ``--flow NAME`` a Studio
  flow's URL, ``/flows/NAME``, for calls and texts (the executions are kept in the app's
  database, so one ``simulate sms`` after another goes on with the conversation).
- ``--url URL``: that voice (or SMS) URL of a running server, signed with TWILIO_AUTH_TOKEN
  (``--fallback-url`` and ``--status-callback`` go with it).
- ``--emulator URL`` (default: TWILIO_API_BASE_URL when it is not Twilio's): a running
  ``switchboard emulator`` places the call itself through its simulator endpoints
  (:func:`switchboard.emulator.caller.simulator_blueprint`), so the call and its recordings are
  its own; when it has none, or with ``--interactive``, the number's voice / SMS / fallback / status
  URLs are read from it and the call is placed from this process.

Every argument is checked, with the checkers of ``switchboard call`` and ``sms``, before
anything is sent. The transcript (what the caller hears, what was sent) is printed as it
happens; ``--verbose`` adds every HTTP exchange.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import click

from switchboard.api.errors import ValidationError
from switchboard.api.validation import MAX_MEDIA_URLS, e164, url
from switchboard.cli.common import (
    CONFIG_REF,
    CommandGroup,
    argument_error,
    check_body,
    command_name,
    flat,
    settings_error,
    usage_error,
)
from switchboard.config.validation import redact_url

if TYPE_CHECKING:
    import requests

    from switchboard.emulator.caller import Phone
    from switchboard.emulator.transcript import Event, Transcript

DEFAULT_FROM = "+15555550100"
MAX_DIAL_SECONDS = 3600
"""The longest talk time ``--dial-outcome answered:SECONDS`` takes."""
TWILIO_API = "https://api.twilio.com"

PROBE_TIMEOUT = (3.05, 10.0)
"""(connect, read) seconds to wait for the emulator's quick answers (the account, a number)."""

SIMULATION_TIMEOUT = (3.05, 300.0)
"""(connect, read) seconds to wait for a call or text the emulator runs whole (it waits up to
15 s for each of the server's answers)."""

BUNDLED_ROUTES = {
    "voice_url": "/voice",
    "voice_fallback_url": "/voice/fallback",
    "status_callback": "/voice/status",
    "sms_url": "/sms",
    "sms_fallback_url": "/sms/fallback",
}
"""The number's URLs with ``--in-process``: the bundled flows' routes."""


def flow_routes(name: str) -> dict[str, str]:
    """The number's URLs with ``--in-process --flow NAME``: calls and texts to the Studio flow,
    the fallbacks and status callback the server's (as ``provision --flow`` sets them)."""
    path = f"/flows/{quote(name, safe='')}"
    return {**BUNDLED_ROUTES, "voice_url": path, "sms_url": path}


class Checked(click.ParamType):
    """A value checked by one of :mod:`switchboard.api.validation`'s checkers (those of
    ``switchboard call`` and ``sms``); the password of a URL is never repeated in the error."""

    def __init__(self, name: str, check: Callable[[str, Any], object]) -> None:
        self.name = name
        self.check = check

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        try:
            self.check(self.name, redact_url(value))
        except ValidationError as error:
            self.fail(error.problem, param, ctx)
        return value


def emulator_url(name: str, value: object) -> str:
    """The root URL of a running emulator: absolute http(s), without credentials (the
    account's SID and token authenticate, as with the REST client's ``base_url``)."""
    if isinstance(value, str) and "@" in urlsplit(value).netloc:
        raise ValidationError(
            name, "must not hold credentials; set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
    return url(name, value).rstrip("/")


def _digits(name: str, value: object) -> object:
    from switchboard.emulator.script import check_digits

    try:
        return check_digits(str(value))
    except ValueError as error:
        raise ValidationError(name, str(error)) from None


def stir_verstat(name: str, value: object) -> object:
    """A SHAKEN/STIR verification result as Twilio reports it in ``StirVerstat`` (one of
    :data:`switchboard.emulator.caller.STIR_VERSTATS`, spelt as Twilio spells it)."""
    from switchboard.emulator.caller import STIR_VERSTATS

    if value not in STIR_VERSTATS:
        raise ValidationError(name, f"{value!r} is not a StirVerstat Twilio sends; one of "
                                    f"{', '.join(STIR_VERSTATS)}")
    return value


NUMBER = Checked("number", e164)
URL = Checked("url", url)
EMULATOR_URL = Checked("url", emulator_url)
DIGITS = Checked("keys", _digits)
STIR_VERSTAT = Checked("verstat", stir_verstat)


@dataclass
class Target:
    phone: Phone
    description: str
    #: Called once the conversation is over (the app in process: its store closed, so that
    #: what it writes after its answers is in the database when the command ends).
    close: Callable[[], None] | None = None


def _check_where(url: str | None, emulator: str | None, in_process: bool,
                 url_only: Mapping[str, object], flow: str | None = None) -> None:
    """One place for the server; the options that only mean something with ``--url``, and
    ``--flow``, only with ``--in-process``."""
    given = [name for name, value in (("--url", url), ("--emulator", emulator),
                                      ("--in-process", in_process)) if value]
    if len(given) > 1:
        raise click.UsageError(
            f"give only one of --url, --emulator and --in-process (not {' and '.join(given)})")
    if flow is not None and not in_process:
        raise click.UsageError(
            "--flow needs --in-process (with --emulator the number's own URLs are used: point "
            "it at the flow with `switchboard provision --number NUMBER --flow NAME`; with "
            "--url give the flow's URL, .../flows/NAME)")
    for option, value in url_only.items():
        if value and not url:
            raise click.UsageError(
                f"{option} needs --url (otherwise the number's own configuration is used)")


def _settings(profile: str | None) -> Any:
    from switchboard.config import ConfigError, load_settings

    try:
        return load_settings(profile)
    except ConfigError as error:
        raise settings_error(error) from None


def _credentials(settings: Any) -> tuple[str | None, str | None]:
    token = settings.auth_token.reveal() if settings.auth_token else None
    return settings.account_sid, token


def _in_process(settings: Any, profile: str | None, to: str, flow: str | None = None
                ) -> Target:
    """The app in this process: Switchboard's, made by ``create_app`` with the settings (and
    ``--config-ref``), or the one named with ``--app``, loaded as ``switchboard run`` loads it.
    Its webhooks are signed with its own account's token when it was made by ``create_app``."""
    from flask.cli import ScriptInfo

    from switchboard.callbacks import create_app
    from switchboard.cli.group import named_app
    from switchboard.config import ConfigError
    from switchboard.emulator.caller import Phone
    from switchboard.emulator.state import EmulatorState
    from switchboard.emulator.webhooks import wsgi_session

    context = click.get_current_context()
    if named_app(context):
        app = context.ensure_object(ScriptInfo).load_app()
        extension = app.extensions.get("switchboard")
        if extension is not None:
            settings = extension.settings
        account_sid, token = _credentials(settings)
        if token is None:
            _note_made_up_token()
        state = EmulatorState(account_sid, token)
    else:
        account_sid, token = _credentials(settings)
        state = EmulatorState(account_sid, token)
        config: dict[str, Any] = {}
        if profile:
            config["SWITCHBOARD_PROFILE"] = profile
        if token is None:  # sign with a made-up account the app is told about
            config["TWILIO_ACCOUNT_SID"] = state.main_account_sid
            config["TWILIO_AUTH_TOKEN"] = state.auth_token_for(state.main_account_sid)
        try:
            app = create_app(config)
        except ConfigError as error:
            raise settings_error(error) from None
        extension = app.extensions["switchboard"]
    base = (settings.public_url or "http://localhost").rstrip("/")
    routes = BUNDLED_ROUTES
    description = f"the app in process ({redact_url(base)})"
    if flow is not None:
        _check_served(app, flow)
        routes = flow_routes(flow)
        description = f"flow {flow} of the app in process ({redact_url(base)})"
    state.buy_number(state.main_account_sid, to,
                     **{field: base + path for field, path in routes.items()})
    phone = Phone(state, api_base_url=TWILIO_API, session_factory=lambda: wsgi_session(app))
    return Target(phone, description,
                  close=extension.store.close if extension is not None else None)


def _note_made_up_token() -> None:
    click.echo("note: TWILIO_AUTH_TOKEN is not set; requests are signed with a made-up "
               "token, which a server that checks signatures refuses", err=True)


def _check_served(app: Any, name: str) -> None:
    """``--flow NAME``: a flow the app serves at ``/flows/NAME`` (a ``NAME.json`` of its flows
    folder, or a flow's SID, the folder's or the Studio API's); else one line, exit status 2."""
    from switchboard.callbacks.store import StoreUnavailable

    studio = app.blueprints.get("studio")
    runtime = getattr(studio, "runtime", None)
    if runtime is None:
        raise click.UsageError("--flow: the app serves no Studio flows")
    with app.app_context():
        try:
            found = runtime.flow(name)
        except StoreUnavailable as error:
            where = command_name(click.get_current_context())
            raise click.ClickException(
                f"{where}: --flow: cannot look flow {name} up: {flat(error)}") from None
    if found is None:
        known = ", ".join(sorted(runtime.flows)) or "none"
        raise click.UsageError(f"--flow: the app has no flow {name!r} (its flows folder's: "
                               f"{known}; SWITCHBOARD_FLOWS_DIR sets the folder)")


def _direct(settings: Any, to: str, url: str, kind: str, fallback_url: str | None,
            status_callback: str | None) -> Target:
    from switchboard.emulator.caller import Phone
    from switchboard.emulator.state import EmulatorState
    from switchboard.emulator.webhooks import split_url

    account_sid, token = _credentials(settings)
    if token is None:
        _note_made_up_token()
    state = EmulatorState(account_sid, token)
    prefix = "voice" if kind == "call" else "sms"
    fields = {f"{prefix}_url": url}
    if fallback_url:
        fields[f"{prefix}_fallback_url"] = fallback_url
    if status_callback:
        fields["status_callback"] = status_callback
    state.buy_number(state.main_account_sid, to, **fields)
    return Target(Phone(state, api_base_url=TWILIO_API), split_url(url)[0])


class EmulatorAPI:
    """The REST API of a running ``switchboard emulator``, as the configured account; every
    way it can fail (not running, not answering, not an emulator, refusing the account) is a
    one-line :class:`click.ClickException`."""

    def __init__(self, base: str, account_sid: str, token: str) -> None:
        import requests

        self.base = base.rstrip("/")
        self.account_sid = account_sid
        self.token = token
        self.root = f"{self.base}/2010-04-01/Accounts/{account_sid}"
        self.session = requests.Session()
        self.session.auth = (account_sid, token)

    def call(self, method: str, path: str, *,
             timeout: tuple[float, float] | None = None,
             **kwargs: Any) -> tuple[int, dict[str, Any]]:
        """``(status, JSON body)`` of ``method`` on the account's ``path``, waiting
        :data:`PROBE_TIMEOUT` unless told otherwise."""
        import requests

        timeout = timeout or PROBE_TIMEOUT
        try:
            answer = self.session.request(method, self.root + path, timeout=timeout, **kwargs)
        except requests.ReadTimeout:
            raise click.ClickException(
                f"the emulator at {self.base} did not answer within {timeout[1]:g} s: is "
                "`switchboard emulator` running there?") from None
        except requests.RequestException as error:
            raise click.ClickException(
                f"cannot reach the emulator at {self.base} ({type(error).__name__}): start it "
                "with `switchboard emulator` or pass --emulator URL") from None
        body = _json(answer)
        if body is None:
            raise self.not_an_emulator(method, path, answer)
        if answer.status_code == 401:
            raise click.ClickException(
                f"the emulator at {self.base} refused TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN: "
                "start it with the same settings")
        return answer.status_code, body

    def not_an_emulator(self, method: str, path: str,
                        answer: requests.Response) -> click.ClickException:
        content_type = answer.headers.get("Content-Type", "no content type").split(";")[0]
        return click.ClickException(
            f"{self.base} is not a Twilio emulator: {method} {urlsplit(self.root).path}{path} "
            f"answered {answer.status_code} ({content_type}), not Twilio's JSON; give the URL "
            "`switchboard emulator` prints (--emulator URL or TWILIO_API_BASE_URL)")

    def failed(self, status: int, body: Mapping[str, Any]) -> click.ClickException:
        message = " ".join(str(body.get("message") or "no message").split())
        return click.ClickException(f"the emulator at {self.base} answered {status}: {message}")

    def check(self) -> None:
        """Fetch the account: a quick answer that it is there and is an emulator."""
        status, body = self.call("GET", ".json")
        if status != 200:
            raise self.failed(status, body)
        if body.get("sid") != self.account_sid:
            raise click.ClickException(
                f"{self.base} is not a Twilio emulator: it did not answer with the account "
                f"{self.account_sid}")


def _json(answer: requests.Response) -> dict[str, Any] | None:
    """The JSON object of ``answer``; None when it holds none (not a Twilio API answer)."""
    if "json" not in answer.headers.get("Content-Type", ""):
        return None
    try:
        body = answer.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _default_emulator(settings: Any) -> str | None:
    """TWILIO_API_BASE_URL when it is not Twilio's."""
    base = settings.api_base_url.rstrip("/")
    if base == TWILIO_API:
        return None
    try:
        return emulator_url("TWILIO_API_BASE_URL", base)
    except ValidationError as error:
        raise settings_error(error) from None


def _emulator(settings: Any, base: str) -> EmulatorAPI:
    account_sid, token = _credentials(settings)
    if not account_sid or not token:
        raise settings_error(
            "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be the emulator's account to read "
            "its numbers (or use --url URL or --in-process)")
    api = EmulatorAPI(base, account_sid, token)
    api.check()
    return api


NUMBER_FIELDS = (
    "voice_url", "voice_method", "voice_fallback_url", "voice_fallback_method",
    "status_callback", "status_callback_method", "sms_url", "sms_method", "sms_fallback_url",
    "sms_fallback_method",
)
APPLICATION_FIELDS = (*NUMBER_FIELDS, "sms_status_callback", "message_status_callback")


def _from_emulator(api: EmulatorAPI, to: str) -> Target:
    """Mirror the number's configuration from a running emulator, and call it from here."""
    from switchboard.emulator.caller import Phone
    from switchboard.emulator.state import EmulatorState

    status, body = api.call("GET", "/IncomingPhoneNumbers.json", params={"PhoneNumber": to})
    if status != 200:
        raise api.failed(status, body)
    numbers = [n for n in body.get("incoming_phone_numbers", [])
               if n.get("phone_number") == to]
    if not numbers:
        raise click.ClickException(
            f"{to} is not a number of the emulator's account: buy it and point it at your "
            "server (`switchboard provision`), or use --url URL")
    remote = numbers[0]
    state = EmulatorState(api.account_sid, api.token, base_url=api.base)
    fields = {k: remote.get(k) for k in NUMBER_FIELDS if remote.get(k)}
    for key in ("voice_application_sid", "sms_application_sid"):
        if remote.get(key):
            status, data = api.call("GET", f"/Applications/{remote[key]}.json")
            if status == 200:
                local = state.create_application(
                    api.account_sid,
                    **{k: data.get(k) for k in APPLICATION_FIELDS if data.get(k)},
                )
                fields[key] = local["sid"]
    state.buy_number(api.account_sid, to, **fields)
    return Target(Phone(state, api_base_url=api.base), f"{to} as configured in {api.base}")


def _target(kind: str, *, to: str, url: str | None, emulator_url: str | None, in_process: bool,
            fallback_url: str | None, status_callback: str | None, profile: str | None,
            remote: list[tuple[str, str]] | None = None, verbose: bool = False,
            flow: str | None = None) -> Target | None:
    """Where the simulation runs; None when a running emulator ran it (``remote`` fields)."""
    settings = _settings(profile)
    if in_process:
        return _in_process(settings, profile, to, flow)
    if url:
        return _direct(settings, to, url, kind, fallback_url, status_callback)
    base = emulator_url or _default_emulator(settings)
    if not base:
        raise click.UsageError(
            "say where your server is: --url URL (a running server), --emulator URL (a running "
            "`switchboard emulator`, or set TWILIO_API_BASE_URL), or --in-process")
    api = _emulator(settings, base)
    if remote is not None and _in_emulator(api, kind, remote, verbose):
        return None
    return _from_emulator(api, to)


def _in_emulator(api: EmulatorAPI, kind: str, fields: list[tuple[str, str]],
                 verbose: bool) -> bool:
    """Have the running emulator place the call (or send the text) itself, so the call, its
    recordings and messages are its own resources; False when it has no simulator endpoint
    (the number's configuration is then copied and the call placed from here)."""
    resource = "Calls" if kind == "call" else "Messages"
    path = f"/Simulator/{resource}.json"
    to, from_ = dict(fields)["To"], dict(fields)["From"]
    status, body = api.call("POST", path, data=[*fields, ("Verbose", str(verbose).lower())],
                            timeout=SIMULATION_TIMEOUT)
    if status == 404 and body.get("code") == 20404:
        return False
    if status != 200:
        raise api.failed(status, body)
    if not isinstance(body.get("lines"), list):
        raise click.ClickException(
            f"{api.base} is not a Twilio emulator: POST {urlsplit(api.root).path}{path} "
            "answered without the lines of a simulation")
    verb = "Calling" if kind == "call" else "Texting"
    click.echo(f"{verb} {to} from {from_} ({to} as configured in {api.base})")
    for line in body["lines"]:
        if verbose or not line.get("request"):
            click.echo(line.get("text", ""))
    for line in body.get("report", []):
        click.echo(line)
    return True


def _printer(verbose: bool) -> Any:
    from switchboard.emulator.transcript import event_line

    def show(event: Event) -> None:
        is_request, line = event_line(event)
        if verbose or not is_request:
            click.echo(line)
            sys.stdout.flush()

    return show


def _epilogue(target: Target, transcript: Transcript, verbose: bool) -> None:
    if target.close is not None:
        target.close()
    for line in target.phone.report(transcript, verbose=verbose):
        click.echo(line)


def _common(function: Any) -> Any:
    for option in reversed([
        click.option("--to", required=True, type=NUMBER, metavar="NUMBER",
                     help="The number called or texted (E.164)."),
        click.option("--from", "from_", default=DEFAULT_FROM, show_default=True, type=NUMBER,
                     metavar="NUMBER", help="The caller's number (E.164)."),
        click.option("--url", default=None, type=URL, metavar="URL",
                     help="Call this webhook URL of a running server directly."),
        click.option("--emulator", "emulator_url", default=None, type=EMULATOR_URL,
                     metavar="URL",
                     help="A running `switchboard emulator` (default: TWILIO_API_BASE_URL)."),
        click.option("--in-process", is_flag=True,
                     help="Run the app from create_app in this process (no server needed)."),
        click.option("--flow", default=None, metavar="NAME",
                     help="With --in-process: the number's calls and texts go to this Studio "
                          "flow (/flows/NAME), not the bundled routes."),
        click.option("--fallback-url", default=None, type=URL, metavar="URL",
                     help="With --url: the fallback URL to try when the URL fails."),
        click.option("--verbose", "-v", is_flag=True, help="Show every HTTP exchange."),
        click.option("--config-ref", "profile", **CONFIG_REF),
    ]):
        function = option(function)
    return function


@click.group("simulate", cls=CommandGroup)
def simulate_group() -> None:
    """Drive a simulated inbound call or text message through your server."""


@simulate_group.command("call")
@_common
@click.option("--digits", default=None, type=DIGITS, metavar="KEYS,KEYS,...",
              help="Keys pressed at each Gather, comma-separated ('1,2#'; empty: no input; "
                   "keys 0-9, * and #, w or W to pause).")
@click.option("--speech", multiple=True, metavar="TEXT",
              help="What the caller says at Gathers listening for speech (repeatable).")
@click.option("--dial-outcome", "dial_outcomes", multiple=True,
              metavar="[NUMBER=]OUTCOME[:SECONDS]",
              help="What dialled numbers do: answered, busy, no-answer, failed (repeatable; "
                   "e.g. busy or +15557770000=no-answer or answered:60).")
@click.option("--record-seconds", default=5, show_default=True, type=click.IntRange(0, 3600),
              help="How long the caller speaks at each Record (0: silence).")
@click.option("--status-callback", default=None, type=URL, metavar="URL",
              help="With --url: where to send the call's status callbacks.")
@click.option("--interactive", "-i", is_flag=True,
              help="Type the keys yourself at each Gather (from the terminal).")
@click.option("--stir-verstat", default=None, type=STIR_VERSTAT, metavar="VERSTAT",
              help="The caller's SHAKEN/STIR verification, sent as StirVerstat as Twilio "
                   "sends it (e.g. TN-Validation-Passed-A; default: none, as for a call that "
                   "came without a SHAKEN PASSporT).")
def simulate_call(to: str, from_: str, url: str | None, emulator_url: str | None,
                  in_process: bool, flow: str | None, fallback_url: str | None, verbose: bool,
                  profile: str | None, digits: str | None, speech: tuple[str, ...],
                  dial_outcomes: tuple[str, ...], record_seconds: int,
                  status_callback: str | None, interactive: bool,
                  stir_verstat: str | None) -> None:
    """Call the number --to and print what the caller hears.

    \b
    switchboard simulate call --to +15551230000 --in-process --digits 2
    switchboard simulate call --to +15551230000 --in-process --flow ivr_voicemail --digits 3
    switchboard simulate call --to +15551230000 --url http://127.0.0.1:5000/voice -i
    switchboard simulate call --to +15551230000 --in-process --stir-verstat TN-Validation-Passed-A
    """
    from switchboard.emulator.script import CallScript, RecordingTake, parse_dial_outcome

    _check_where(url, emulator_url, in_process,
                 {"--fallback-url": fallback_url, "--status-callback": status_callback}, flow)
    if interactive and (digits or speech):
        raise click.UsageError("give --digits / --speech or --interactive, not both")
    dial: dict[str, Any] = {}
    try:
        for spec in dial_outcomes:
            number, _, outcome = spec.rpartition("=")
            if number:
                e164("number", number)
            seconds = outcome.partition(":")[2].strip()
            if seconds and not (seconds.isdigit() and int(seconds) <= MAX_DIAL_SECONDS):
                raise ValueError(f"{seconds!r} is not a whole number of seconds from 0 to "
                                 f"{MAX_DIAL_SECONDS}")
            dial[number or "*"] = parse_dial_outcome(outcome)
    except ValueError as error:  # ValidationError too
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
        *([("StirVerstat", stir_verstat)] if stir_verstat else []),
    ]
    target = _target("call", to=to, url=url, emulator_url=emulator_url, in_process=in_process,
                     fallback_url=fallback_url, status_callback=status_callback,
                     profile=profile, remote=remote, verbose=verbose, flow=flow)
    if target is None:
        return
    click.echo(f"Calling {to} from {from_} ({target.description})")
    transcript = target.phone.inbound_call(to, from_, script=script, on_event=_printer(verbose),
                                           stir_verstat=stir_verstat)
    _epilogue(target, transcript, verbose)


@simulate_group.command("sms")
@_common
@click.option("--body", metavar="TEXT",
              help="The text of the message (may be left out with --media).")
@click.option("--media", multiple=True, type=URL, metavar="URL",
              help="A media URL (repeatable, up to 10 times).")
def simulate_sms(to: str, from_: str, url: str | None, emulator_url: str | None,
                 in_process: bool, flow: str | None, fallback_url: str | None, verbose: bool,
                 profile: str | None, body: str | None, media: tuple[str, ...]) -> None:
    """Text the number --to and print the replies.

    \b
    switchboard simulate sms --to +15551230000 --body HELP --in-process
    switchboard simulate sms --to +15551230000 --body hi --in-process --flow sms_reply_loop
    """
    if body is None and not media:
        raise click.UsageError("give --body, --media or both: a message has text or media")
    try:
        check_body(body, media=bool(media))
    except ValidationError as error:
        raise usage_error(error, {"body": "--body"}) from None
    if len(media) > MAX_MEDIA_URLS:
        raise argument_error(f"--media: {len(media)} given; Twilio takes at most "
                             f"{MAX_MEDIA_URLS} for a message")
    body = body or ""
    _check_where(url, emulator_url, in_process, {"--fallback-url": fallback_url}, flow)
    remote = [("To", to), ("From", from_), ("Body", body), *[("MediaUrl", m) for m in media]]
    target = _target("sms", to=to, url=url, emulator_url=emulator_url, in_process=in_process,
                     fallback_url=fallback_url, status_callback=None, profile=profile,
                     remote=remote, verbose=verbose, flow=flow)
    if target is None:
        return
    click.echo(f"Texting {to} from {from_} ({target.description})")
    transcript = target.phone.inbound_sms(to, from_, body, media, on_event=_printer(verbose))
    _epilogue(target, transcript, verbose)
