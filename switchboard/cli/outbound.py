"""``switchboard call`` and ``switchboard sms``: outbound calls and messages whose callbacks
come back to this server.

::

    switchboard call --to +14155550123 --from +14155550100 --flow ivr
    switchboard sms --to +14155550123 --from +14155550100 --body "Your table is ready"

The server's public URL is ``SWITCHBOARD_PUBLIC_URL`` (or ``--public-url``); a local or
plain-http one is refused unless ``--allow-insecure`` (for the emulator).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click
from flask.cli import with_appcontext

from switchboard.cli.common import (
    OneLineCommand,
    argument_error,
    check_body,
    connect,
    flat,
    not_sent,
    one_line,
    public_url_option,
    refused,
    server_options,
    usage_error,
)

if TYPE_CHECKING:
    from switchboard.api import TwilioError
    from switchboard.callbacks.store import Store

FLOWS = {"ivr": "/voice"}
"""The bundled flows a call can run, by name: the path of the TwiML URL on this server."""

CALL_EVENTS = ("initiated", "ringing", "answered", "completed")

#: The CLI option behind each argument of ``calls.create`` / ``messages.create``.
CALL_OPTIONS = {
    "to": "--to",
    "from_": "--from",
    "url": "--url",
    "fallback_url": "--public-url",
    "status_callback": "--public-url",
}
SMS_OPTIONS = {**CALL_OPTIONS, "body": "--body", "media_url": "--media-url"}


def _store() -> Store:
    """The store of the app the command runs in (one made by
    ``switchboard.callbacks.create_app``)."""
    from flask import current_app

    from switchboard.callbacks import get_store

    if "switchboard" not in current_app.extensions:
        raise click.ClickException(
            f"the app {current_app.import_name!r} was not made by callbacks.create_app(), so it "
            "has no store to check opt-outs in and record what is placed; name one that was "
            "with --app, or leave --app out"
        )
    return get_store()


def _refuse_opted_out(store: Store, to: str, from_: str, doing: str) -> None:
    from switchboard.callbacks.store import StoreUnavailable

    try:
        opted_out = store.is_opted_out(to, sender=from_)
    except StoreUnavailable as error:
        raise click.ClickException(
            f"cannot check whether {to} opted out, so not {doing}: {flat(error)}"
        ) from None
    if opted_out:
        raise click.ClickException(
            f"{to} has opted out (replied STOP to {from_}): not {doing}. "
            "They can reply START to opt back in."
        )


def _check_numbers(to: str, from_: str) -> None:
    from switchboard.api import ValidationError
    from switchboard.api.validation import e164

    try:
        e164("--to", to)
        e164("--from", from_)
    except ValidationError as error:
        raise argument_error(str(error)) from None


def _created(what: str, answer: Any, prefixes: tuple[str, ...], search: str) -> dict[str, Any]:
    """Twilio's answer to a create, checked to be ``what`` (a JSON object with a SID starting
    with one of ``prefixes``) before it is stored; else one line saying that it may have been
    created all the same, and the ``search`` that tells."""
    from switchboard.api import TwilioUnexpectedAnswer
    from switchboard.api.validation import resource

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


def _failed(error: TwilioError, search: str) -> click.ClickException:
    """A create that failed: one line, saying it may have been carried out unless Twilio
    refused it (a 4xx) or the connection was never made."""
    if refused(error) or not_sent(error):
        return one_line(error)
    return _may_have_acted(error, search)


def _record(record: Callable[[dict[str, Any]], None], resource: dict[str, Any], done: str) -> None:
    """Store ``resource`` and print it; if the store is down, print it all the same and say
    that ``done`` happened but could not be recorded."""
    from switchboard.callbacks.store import StoreUnavailable

    text = json.dumps(resource, indent=2, ensure_ascii=False)
    try:
        record(resource)
    except StoreUnavailable as error:
        click.echo(text)
        raise click.ClickException(
            f"{done} (its JSON is printed), but it could not be recorded in the server's store: "
            f"{flat(error)}"
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
@server_options
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
    from switchboard.api import TwilioError, ValidationError
    from switchboard.api.validation import url as check_url

    if flow and url is not None:
        raise argument_error("give --flow or --url, not both")
    _check_numbers(to, from_)
    if url is not None:
        try:
            check_url("url", url)
        except ValidationError as error:
            raise usage_error(error, CALL_OPTIONS) from None
    settings, client = connect(config_ref)
    base = public_url_option(settings, public_url, allow_insecure)
    store = _store()
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
            raise usage_error(error, CALL_OPTIONS) from None
        except TwilioError as error:
            raise _failed(error, search) from None
    call = _created("a call", answer, ("CA",), search)
    _record(store.record_outbound_call, call, f"call {call['sid']} was placed")


@click.command("sms", cls=OneLineCommand)
@click.option("--to", required=True, metavar="E164", help="The number to text.")
@click.option("--from", "from_", required=True, metavar="E164", help="Your Twilio number.")
@click.option("--body", help="The text of the message (may be left out with --media-url).")
@click.option(
    "--media-url", multiple=True, metavar="URL",
    help="An image or file to send (repeatable, up to 10 times)."
)
@server_options
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
    from switchboard.api import TwilioError, ValidationError
    from switchboard.api.validation import media_urls

    if body is None and not media_url:
        raise argument_error("give --body, --media-url or both: a message needs text or media")
    _check_numbers(to, from_)
    try:
        check_body(body, media=bool(media_url))
        media_urls("media_url", media_url)
    except ValidationError as error:
        raise usage_error(error, SMS_OPTIONS) from None
    settings, client = connect(config_ref)
    base = public_url_option(settings, public_url, allow_insecure)
    store = _store()
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
            raise usage_error(error, SMS_OPTIONS) from None
        except TwilioError as error:
            raise _failed(error, search) from None
    message = _created("a message", answer, ("SM", "MM"), search)
    _record(store.record_outbound_message, message, f"message {message['sid']} was sent")
