"""What the ``switchboard`` commands share: one-line errors, groups that need a command,
the ``--config-ref`` / ``--public-url`` / ``--allow-insecure`` options, and the wording of a
failed request."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from switchboard.api import TwilioClient, TwilioError, ValidationError
    from switchboard.config import Settings

class OneLineError(click.ClickException):
    """A usage error shown as one line (``Error: ...``), with the usage exit status."""

    exit_code = 2


def command_name(context: click.Context) -> str:
    """The command as typed after ``switchboard``: ``"call"``, ``"flows run"``."""
    names = []
    while context.parent is not None:
        names.append(context.info_name or "")
        context = context.parent
    return " ".join(reversed(names)) or (context.info_name or "")


class OneLineCommand(click.Command):
    """A command whose argument errors take one line, not click's usage block, starting with
    the command as typed (``flows run: Missing option '--from'.``)."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as error:
            where = self.typed_name(info_name or self.name or "", parent)
            raise OneLineError(f"{where}: {error.format_message()}") from None

    def typed_name(self, info_name: str, parent: click.Context | None) -> str:
        """What the command's errors start with: the command as typed after ``switchboard``."""
        group = command_name(parent) if parent is not None and parent.parent is not None else ""
        return f"{group} {info_name}".strip()


def typed_command(context: click.Context) -> str:
    """What the argument errors of the command running in ``context`` start with: the command
    as typed after ``switchboard`` (``"sms"``, ``"simulate sms"``, an operation by the name or
    alias given)."""
    if isinstance(context.command, OneLineCommand):
        return context.command.typed_name(context.info_name or "", context.parent)
    return command_name(context)


def argument_error(message: str) -> OneLineError:
    """A bad argument of the running command: one line starting with the command as typed
    (``sms: --media-url: 11 given; ...``), with the usage exit status."""
    context = click.get_current_context(silent=True)
    return OneLineError(f"{typed_command(context)}: {message}" if context else message)


def settings_error(error: Exception | str) -> OneLineError:
    """A setting or profile the running command cannot use (a ``ConfigError``, or the REST
    client refusing the account): one line starting with the command as typed, as its
    argument errors do (``call: TWILIO_ACCOUNT_SID: 'AC123' is not an account SID ...``),
    with the usage exit status."""
    return argument_error(str(error))


def profile_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--config-ref NAME``: a profile's name; an empty one is refused rather than taken for
    the environment's settings."""
    if value is not None and (not value.strip() or value != value.strip()):
        raise click.BadParameter(
            f"{value!r} is not a profile name (a [profiles.NAME] table); leave the option out "
            "for the environment's settings")
    return value


#: ``--config-ref NAME`` (the parameter ``config_ref``) as the commands that read the settings
#: take it: a profile's name, checked by :func:`profile_name`.
CONFIG_REF: dict[str, Any] = {
    "metavar": "NAME",
    "callback": profile_name,
    "help": "The settings profile to use (a [profiles.NAME] table); default: the environment.",
}


def config_ref_option() -> click.Option:
    """``--config-ref NAME`` (:data:`CONFIG_REF`), for a command built from its parameters."""
    return click.Option(["--config-ref", "config_ref"], **CONFIG_REF)


class MissingCommand(click.UsageError):
    """A group called without a command: its help on stderr and the usage exit status 2, as
    click 8.2 and later answer (click 8.1, which Flask 3 accepts too, printed the help and
    exited 0, as if something had been done)."""

    def __init__(self, ctx: click.Context) -> None:
        super().__init__(ctx.get_help(), ctx=ctx)

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(self.format_message(), file=file, err=True,
                   color=self.ctx.color if self.ctx else None)


def require_command(ctx: click.Context, args: list[str]) -> None:
    """Raise :class:`MissingCommand` when a group that needs a command got no arguments."""
    if not args and getattr(ctx.command, "no_args_is_help", False) and not ctx.resilient_parsing:
        raise MissingCommand(ctx)


class CommandGroup(click.Group):
    """A group that needs a command: without one, its help and exit status 2
    (:class:`MissingCommand`), whatever the version of click."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        require_command(ctx, args)
        return super().parse_args(ctx, args)


F = TypeVar("F", bound=Callable[..., Any])


def server_options(command: F) -> F:
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
    return with_config_ref(command)


def with_config_ref(command: F) -> F:
    """Add ``--config-ref NAME`` (:data:`CONFIG_REF`) to the command ``command`` becomes."""
    return click.option("--config-ref", "config_ref", **CONFIG_REF)(command)


def connect(config_ref: str | None) -> tuple[Settings, TwilioClient]:
    """The settings (of the profile ``config_ref``) and a REST client for their account; a
    setting or profile that cannot be used is :func:`settings_error`."""
    from switchboard.api import TwilioClient, ValidationError
    from switchboard.config import ConfigError, load_settings

    try:
        settings = load_settings(config_ref)
        return settings, TwilioClient.from_settings(settings=settings)
    except (ConfigError, ValidationError) as error:
        raise settings_error(error) from None


def public_url_option(settings: Settings, public_url: str | None, allow_insecure: bool) -> str:
    """The checked public URL: ``--public-url`` when given, else the setting."""
    from switchboard.api.provisioning import PUBLIC_URL_SETTING, ProvisioningError, check_public_url

    given = public_url is not None
    try:
        return check_public_url(
            public_url if given else settings.public_url,
            allow_insecure=allow_insecure,
            name="--public-url" if given else PUBLIC_URL_SETTING,
        )
    except ProvisioningError as error:
        raise (argument_error(str(error)) if given else settings_error(error)) from None


def one_line(error: Exception, exit_code: int = 1) -> click.ClickException:
    exception = click.ClickException(str(error))
    exception.exit_code = exit_code
    return exception


def usage_error(error: ValidationError, options: dict[str, str]) -> OneLineError:
    """A rejected argument, named by its CLI option (``--media-url``, not ``media_url``), after
    the command as typed (:func:`argument_error`)."""
    return argument_error(f"{options.get(error.argument, error.argument)}: {error.problem}")


def check_body(body: str | None, *, media: bool) -> None:
    """A message's text as Twilio takes it, checked before anything is sent: not empty unless
    media go with it, and no longer than Twilio's limit; raises ``ValidationError`` naming
    ``body``."""
    from switchboard.api.resources.messages import body as message_body
    from switchboard.api.validation import message_content

    message_content("body", body, media=media)
    if body is not None:
        message_body("body", body)


def flat(error: Exception) -> str:
    """``str(error)`` on one line (the store's messages already hide the database password)."""
    return " ".join(str(error).split())


def refused(error: TwilioError) -> bool:
    """Whether Twilio answered ``error`` with a 4xx: it refused the request, so did nothing.
    Otherwise (a timeout, a lost connection, a 5xx) it may have acted all the same."""
    from switchboard.api import TwilioHTTPError

    return isinstance(error, TwilioHTTPError) and 400 <= error.status < 500


def not_sent(error: TwilioError) -> bool:
    """Whether ``error`` is a connection never made (refused, timed out or name not resolved
    while connecting): nothing reached Twilio."""
    from switchboard.api import TwilioConnectionError, TwilioTimeout

    if isinstance(error, TwilioTimeout):
        return error.phase == "connect"
    return isinstance(error, TwilioConnectionError) and not error.connected
