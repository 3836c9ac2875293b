"""``switchboard provision``, ``switchboard call`` and ``switchboard sms``: the REST client
pointed back at this server.

::

    switchboard provision --number +14155550100 --dry-run
    switchboard provision --number +14155550100
    switchboard call --to +14155550123 --from +14155550100 --flow ivr
    switchboard sms --to +14155550123 --from +14155550100 --body "Your table is ready"

The server's public URL is ``SWITCHBOARD_PUBLIC_URL`` (or ``--public-url``); a local or
plain-http one is refused unless ``--allow-insecure`` (for the emulator).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click
from flask.cli import with_appcontext

from callbacks.commands.api import OneLineCommand, OneLineError, profile_name

if TYPE_CHECKING:
    from api import TwilioClient, TwilioError, ValidationError
    from callbacks.store import Store
    from config import Settings

F = TypeVar("F", bound=Callable[..., Any])

FLOWS = {"ivr": "/voice"}
"""The bundled flows a call can run, by name: the path of the TwiML URL on this server."""

CALL_EVENTS = ("initiated", "ringing", "answered", "completed")

TARGET_OPTIONS = {"number": "--number", "application": "--application", "sandbox": "--sandbox"}
#: The CLI option behind each argument of ``calls.create`` / ``messages.create``.
CALL_OPTIONS = {
    "to": "--to",
    "from_": "--from",
    "url": "--url",
    "fallback_url": "--public-url",
    "status_callback": "--public-url",
}
SMS_OPTIONS = {**CALL_OPTIONS, "body": "--body", "media_url": "--media-url"}


def _common(command: F) -> F:
    command = click.option(
        "--allow-insecure",
        is_flag=True,
        help="Accept a local or plain-http public URL (the emulator runs on 127.0.0.1).",
    )(command)
    command = click.option(
        "--public-url",
        metavar="URL",
        help="This server's public base URL (default: SWITCHBOARD_PUBLIC_URL).",
    )(command)
    return click.option(
        "--config-ref",
        metavar="NAME",
        callback=profile_name,
        help="The settings profile to use (a [profiles.NAME] table); default: the environment.",
    )(command)


def _connect(config_ref: str | None) -> tuple[Settings, TwilioClient]:
    from api import TwilioClient, ValidationError
    from config import ConfigError, load_settings

    try:
        settings = load_settings(config_ref)
        return settings, TwilioClient.from_settings(settings=settings)
    except (ConfigError, ValidationError) as error:
        # a setting or profile that cannot be used: status 2, as every command gives it
        raise OneLineError(str(error)) from None


def _public_url(settings: Settings, public_url: str | None, allow_insecure: bool) -> str:
    """The checked public URL: ``--public-url`` when given, else the setting."""
    from api.provisioning import PUBLIC_URL_SETTING, ProvisioningError, check_public_url

    given = public_url is not None
    try:
        return check_public_url(
            public_url if given else settings.public_url,
            allow_insecure=allow_insecure,
            name="--public-url" if given else PUBLIC_URL_SETTING,
        )
    except ProvisioningError as error:
        raise _one_line(error, 2 if given else 1) from None


def _one_line(error: Exception, exit_code: int = 1) -> click.ClickException:
    exception = click.ClickException(str(error))
    exception.exit_code = exit_code
    return exception


def _usage_error(error: ValidationError, options: dict[str, str]) -> OneLineError:
    """A rejected argument, named by its CLI option (``--media-url``, not ``media_url``)."""
    return OneLineError(f"{options.get(error.argument, error.argument)}: {error.problem}")


def _flat(error: Exception) -> str:
    """``str(error)`` on one line (the store's messages already hide the database password)."""
    return " ".join(str(error).split())


@click.command("provision", cls=OneLineCommand)
@click.option("--number", metavar="E164|PN...", help="A number of the account, by E.164 or SID.")
@click.option("--application", metavar="AP...", help="An application, by SID.")
@click.option("--sandbox", is_flag=True, help="The developer sandbox (retired by Twilio).")
@click.option("--dry-run", is_flag=True, help="Show the changes against Twilio's current values.")
@_common
def provision_command(
    number: str | None,
    application: str | None,
    sandbox: bool,
    dry_run: bool,
    config_ref: str | None,
    public_url: str | None,
    allow_insecure: bool,
) -> None:
    """Point a number, an application or the sandbox at this server.

    Sets the voice, voice fallback, SMS, SMS fallback and status callback URLs to
    PUBLIC_URL/voice, /voice/fallback, /sms, /sms/fallback and /voice/status (and an
    application's SMS status callback to /sms/status), all with POST; the sandbox gets the
    voice and SMS URLs only. A number is detached from any application or SIP trunk, which
    would override its URLs. Then reads them back and checks them.
    """
    from api import TwilioError, ValidationError
    from api.provisioning import (
        ProvisioningError,
        check_target,
        plan,
        resolve_target,
        verify,
        write,
    )
    from config.validation import redact_url

    if [bool(number), bool(application), sandbox].count(True) != 1:
        raise OneLineError("give exactly one of --number, --application, --sandbox")
    try:
        check_target(number, application, sandbox)
    except ValidationError as error:
        raise _usage_error(error, TARGET_OPTIONS) from None
    settings, client = _connect(config_ref)
    base = _public_url(settings, public_url, allow_insecure)
    with client:
        try:
            target = resolve_target(client, number=number, application=application, sandbox=sandbox)
            changes = plan(client, target, base)
            for line in changes.diff():
                click.echo(line)
            if dry_run:
                click.echo("Dry run: nothing was changed.", err=True)
                return
        except ValidationError as error:
            raise _usage_error(error, TARGET_OPTIONS) from None
        except (TwilioError, ProvisioningError) as error:
            raise _one_line(error) from None
        again = "the same command with --dry-run shows what it has now"
        try:
            write(client, changes)
        except ValidationError as error:
            raise _usage_error(error, TARGET_OPTIONS) from None
        except TwilioError as error:
            if _refused(error) or _not_sent(error):
                raise _one_line(f"{error}; nothing was changed") from None
            raise _one_line(
                f"{error}; {target.label} may have been changed all the same: {again}"
            ) from None
        try:
            verify(client, changes)
        except ProvisioningError as error:
            raise _one_line(error) from None
        except TwilioError as error:
            raise _one_line(
                f"the changes to {target.label} were sent but could not be checked: {error}; "
                f"{again}"
            ) from None
    click.echo(f"Verified: {target.label} points at {redact_url(base)}.")


def _refused(error: TwilioError) -> bool:
    """Whether Twilio answered ``error`` with a 4xx: it refused the request, so did nothing.
    Otherwise (a timeout, a lost connection, a 5xx) it may have acted all the same."""
    from api import TwilioHTTPError

    return isinstance(error, TwilioHTTPError) and 400 <= error.status < 500


def _store() -> Store:
    """The store of the app the command runs in (one made by ``callbacks.create_app``)."""
    from flask import current_app

    from callbacks import get_store

    if "switchboard" not in current_app.extensions:
        raise click.ClickException(
            f"the app {current_app.import_name!r} was not made by callbacks.create_app(), so it "
            "has no store to check opt-outs in and record what is placed; name one that was "
            "with --app, or leave --app out"
        )
    return get_store()


def _refuse_opted_out(store: Store, to: str, from_: str, doing: str) -> None:
    from callbacks.store import StoreUnavailable

    try:
        opted_out = store.is_opted_out(to, sender=from_)
    except StoreUnavailable as error:
        raise click.ClickException(
            f"cannot check whether {to} opted out, so not {doing}: {_flat(error)}"
        ) from None
    if opted_out:
        raise click.ClickException(
            f"{to} has opted out (replied STOP to {from_}): not {doing}. "
            "They can reply START to opt back in."
        )


def _check_numbers(to: str, from_: str) -> None:
    from api import ValidationError
    from api.validation import e164

    try:
        e164("--to", to)
        e164("--from", from_)
    except ValidationError as error:
        raise _one_line(error, 2) from None


def _created(what: str, answer: Any, prefixes: tuple[str, ...], search: str) -> dict[str, Any]:
    """Twilio's answer to a create, checked to be ``what`` (a JSON object with a SID starting
    with one of ``prefixes``) before it is stored; else one line saying that it may have been
    created all the same, and the ``search`` that tells."""
    from api import TwilioUnexpectedAnswer
    from api.validation import resource

    try:
        return resource(what, answer, *prefixes)
    except TwilioUnexpectedAnswer as error:
        raise _may_have_acted(error, search) from None


def _may_have_acted(error: TwilioError, search: str) -> click.ClickException:
    """``error``, about a create that Twilio may have carried out all the same, and the
    ``search`` that tells."""
    return click.ClickException(
        f"{error}. Twilio may have acted on the request all the same: check with "
        f"`{search}` before trying again"
    )


def _not_sent(error: TwilioError) -> bool:
    """Whether ``error`` is a connection never made (refused, timed out or name not resolved
    while connecting): nothing reached Twilio."""
    from api import TwilioConnectionError, TwilioTimeout

    if isinstance(error, TwilioTimeout):
        return error.phase == "connect"
    return isinstance(error, TwilioConnectionError) and not error.connected


def _failed(error: TwilioError, search: str) -> click.ClickException:
    """A create that failed: one line, saying it may have been carried out unless Twilio
    refused it (a 4xx) or the connection was never made."""
    if _refused(error) or _not_sent(error):
        return _one_line(error)
    return _may_have_acted(error, search)


def _record(record: Callable[[dict[str, Any]], None], resource: dict[str, Any], done: str) -> None:
    """Store ``resource`` and print it; if the store is down, print it all the same and say
    that ``done`` happened but could not be recorded."""
    from callbacks.store import StoreUnavailable

    text = json.dumps(resource, indent=2, ensure_ascii=False)
    try:
        record(resource)
    except StoreUnavailable as error:
        click.echo(text)
        raise click.ClickException(
            f"{done} (its JSON is printed), but it could not be recorded in the server's store: "
            f"{_flat(error)}"
        ) from None
    click.echo(text)


@click.command("call", cls=OneLineCommand)
@click.option("--to", required=True, metavar="E164", help="The number to call.")
@click.option("--from", "from_", required=True, metavar="E164", help="Your Twilio number.")
@click.option(
    "--flow",
    type=click.Choice(sorted(FLOWS)),
    help="The bundled flow to run when the call is answered (default: ivr).",
)
@click.option("--url", metavar="URL", help="Any TwiML URL to run instead of a bundled flow.")
@click.option("--record", is_flag=True, help="Record the whole call.")
@_common
@with_appcontext
def call_command(
    to: str,
    from_: str,
    flow: str | None,
    url: str | None,
    record: bool,
    config_ref: str | None,
    public_url: str | None,
    allow_insecure: bool,
) -> None:
    """Place a call whose progress comes back to this server.

    The call runs FLOW on this server (or the TwiML at --url), with PUBLIC_URL/voice/fallback
    as its fallback; its status callbacks (initiated, ringing, answered, completed) go to
    PUBLIC_URL/voice/status and land in the server's store. A number that opted out (STOP) is
    not called.
    """
    from api import TwilioError, ValidationError

    if flow and url is not None:
        raise OneLineError("give --flow or --url, not both")
    _check_numbers(to, from_)
    store = _store()
    settings, client = _connect(config_ref)
    base = _public_url(settings, public_url, allow_insecure)
    _refuse_opted_out(store, to, from_, "calling")
    search = f"switchboard api get-calls --to {to}"
    with client:
        try:
            answer = client.calls.create(
                to,
                from_,
                url=url if url is not None else f"{base}{FLOWS[flow or 'ivr']}",
                method="POST",
                fallback_url=f"{base}/voice/fallback",
                fallback_method="POST",
                status_callback=f"{base}/voice/status",
                status_callback_method="POST",
                status_callback_event=list(CALL_EVENTS),
                record=True if record else None,
            )
        except ValidationError as error:
            raise _usage_error(error, CALL_OPTIONS) from None
        except TwilioError as error:
            raise _failed(error, search) from None
    call = _created("a call", answer, ("CA",), search)
    _record(store.record_outbound_call, call, f"call {call['sid']} was placed")


@click.command("sms", cls=OneLineCommand)
@click.option("--to", required=True, metavar="E164", help="The number to text.")
@click.option("--from", "from_", required=True, metavar="E164", help="Your Twilio number.")
@click.option("--body", help="The text of the message (may be left out with --media-url).")
@click.option(
    "--media-url", multiple=True, metavar="URL", help="An image or file to send (repeatable)."
)
@_common
@with_appcontext
def sms_command(
    to: str,
    from_: str,
    body: str | None,
    media_url: tuple[str, ...],
    config_ref: str | None,
    public_url: str | None,
    allow_insecure: bool,
) -> None:
    """Send a message whose delivery reports come back to this server.

    Its status callbacks go to PUBLIC_URL/sms/status and land in the server's store. A number
    that opted out (STOP) is not texted. A message holds text (--body), media (--media-url),
    or both.
    """
    from api import TwilioError, ValidationError
    from api.validation import message_content

    if body is None and not media_url:
        raise OneLineError("give --body, --media-url or both: a message needs text or media")
    _check_numbers(to, from_)
    try:
        message_content("body", body, media=bool(media_url))
    except ValidationError as error:
        raise _usage_error(error, SMS_OPTIONS) from None
    store = _store()
    settings, client = _connect(config_ref)
    base = _public_url(settings, public_url, allow_insecure)
    _refuse_opted_out(store, to, from_, "sending")
    search = f"switchboard api get-all-sms-messages --to {to}"
    with client:
        try:
            answer = client.messages.create(
                to,
                from_=from_,
                body=body,
                media_url=list(media_url) or None,
                status_callback=f"{base}/sms/status",
            )
        except ValidationError as error:
            raise _usage_error(error, SMS_OPTIONS) from None
        except TwilioError as error:
            raise _failed(error, search) from None
    message = _created("a message", answer, ("SM", "MM"), search)
    _record(store.record_outbound_message, message, f"message {message['sid']} was sent")
