"""``switchboard api``: run any of the Twilio connector's 50 operations from the shell.

::

    switchboard api --list
    switchboard api get-available-phone-numbers --iso-country-code US --area-code 415
    switchboard api get-calls --status completed --start-time '>=2024-05-01' --limit 20
    switchboard api get-recording --recording-sid RE... --recording-type mp3 --output vm.mp3
    switchboard api get-account-details --config-ref acme

The attributes are the connector's, as kebab-case options; ``--config-ref`` picks a settings
profile. The result is printed as JSON (a list as a JSON array). A bad or missing argument is
reported in one line, before any request is sent.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from switchboard.cli.common import (
    MissingCommand,
    OneLineCommand,
    OneLineError,
    config_ref_option,
    settings_error,
)
from switchboard.config.validation import redact_url

if TYPE_CHECKING:
    from switchboard.api.operations import Attribute, Operation


def _operations() -> dict[str, Operation]:
    """The operations table, imported when a command needs it: ``switchboard --help`` does
    not load the REST client."""
    from switchboard.api.operations import OPERATIONS

    return OPERATIONS


class OperationsGroup(click.Group):
    """The operations as subcommands, built on demand from
    :data:`switchboard.api.operations.OPERATIONS`."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_operations())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        operation = _operations().get(cmd_name)
        return operation_command(operation, cmd_name) if operation else None

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0]
        command = self.get_command(ctx, name)
        if command is None:
            close = difflib.get_close_matches(name, _operations(), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise OneLineError(
                f"api: no operation named {name!r}{hint}; `switchboard api --list` lists them"
            )
        return name, command, args[1:]

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except MissingCommand:
            raise
        except click.UsageError as error:
            raise OneLineError(f"{info_name}: {error.format_message()}") from None


STDOUT = Path("-")
"""What ``--output -`` gives: standard output, as most command-line tools take it (even for
audio on a terminal, as with curl). Told apart by identity, so ``./-`` still names a file."""


class OutputFile(click.Path):
    """``--output FILE``: a file that can be written, checked before any request is sent, or
    ``-`` for standard output (``./-`` names a file called ``-``).

    Its folder must exist and take new files (when the file does not exist yet); a file that
    exists must open for writing and, if it is a regular file, not be read-only (``chmod
    a-w``, ``/proc/version``: even for root); a folder, and an empty name, are refused.
    """

    def __init__(self) -> None:
        super().__init__(dir_okay=False, writable=True, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value == "-":
            return STDOUT
        if value == "":
            self.fail("'' is not a file name; give one, or - for standard output.", param, ctx)
        path = super().convert(value, param, ctx)
        folder = path.parent
        if not folder.is_dir():
            self.fail(f"{str(folder)!r} is not an existing folder.", param, ctx)
        if path.is_file() and not path.stat().st_mode & 0o222:
            self.fail(f"{str(path)!r} is read-only.", param, ctx)
        try:
            if path.exists():  # opened neither truncated nor changed; a pipe does not block
                os.close(os.open(path, os.O_RDWR if path.is_fifo() else os.O_WRONLY))
            else:
                tempfile.TemporaryFile(dir=folder).close()
        except OSError as error:
            where = path if path.exists() else folder
            reason = str(error.strerror or error).rstrip(".")
            self.fail(f"{str(where)!r} cannot be written: {reason}.", param, ctx)
        return path


def _option(attribute: Attribute) -> click.Option:
    kind = attribute.kind
    if kind == "int":
        type_: click.ParamType = click.INT
    elif kind == "bool":
        type_ = click.BOOL
    elif kind == "method":
        type_ = click.Choice(["GET", "POST"], case_sensitive=False)
    elif attribute.choices:
        type_ = click.Choice(list(attribute.choices), case_sensitive=False)
    else:
        type_ = click.STRING
    help_text = attribute.help
    if attribute.wire:
        help_text += f" [Twilio: {attribute.wire}]"
    if attribute.extra:
        help_text += " [beyond the connector]"
    extra: dict[str, Any] = {}
    if attribute.default is not None:  # click tells "default None" from "no default"
        extra.update(default=attribute.default, show_default=True)
    return click.Option(
        [attribute.option, attribute.param],
        type=type_,
        required=attribute.required,
        multiple=kind == "list",
        help=help_text,
        **extra,
    )


class OperationCommand(OneLineCommand):
    """An operation's command, whose errors start with its name as typed (``get-call: ...``;
    an alias as the user spelt it)."""

    def typed_name(self, info_name: str, parent: click.Context | None) -> str:
        return info_name


def operation_command(operation: Operation, name: str | None = None) -> click.Command:
    """The click command that runs ``operation``."""
    params: list[click.Parameter] = [_option(a) for a in operation.attributes]
    params.append(config_ref_option())
    if operation.lists:
        params += [
            click.Option(["--limit"], type=click.IntRange(min=1), help="Stop after this many."),
            click.Option(
                ["--page-size"], type=click.IntRange(1, 1000), help="Items per page fetched."
            ),
        ]
    params.append(
        click.Option(
            ["--output", "-o"],
            type=OutputFile(),
            help="Write the result (JSON, text or media) to this file instead of stdout "
                 "(- for stdout, even audio on a terminal).",
        )
    )
    alias = "" if name in (None, operation.name) else f" (alias of {operation.name})"
    return OperationCommand(
        name or operation.name,
        params=params,
        callback=partial(_run, operation, name or operation.name),
        help=f"{operation.summary}{alias}\n\n{operation.method} {operation.path}",
        short_help=operation.summary,
    )


def _run(
    operation: Operation,
    typed: str,
    config_ref: str | None,
    output: Path | None,
    **values: Any,
) -> None:
    """Run ``operation``, typed as ``typed`` (its name or an alias), and print its result."""
    from switchboard.api import TwilioClient, TwilioError, ValidationError
    from switchboard.config import ConfigError, load_settings

    values = {key: (list(v) if isinstance(v, tuple) else v) for key, v in values.items()}
    media = str(values.get("recording_type") or "").lower() in ("mp3", "wav")
    if media and output is None and sys.stdout.isatty():
        raise OneLineError(f"{typed}: give --output FILE for audio (or --output - to print it, "
                           "or redirect stdout)")
    try:
        client = TwilioClient.from_settings(settings=load_settings(config_ref))
    except (ConfigError, ValidationError) as error:
        raise settings_error(error) from None
    with client:
        try:
            result = operation(client, **values)
            if isinstance(result, Iterator):
                result = _first_then_rest(result)
            _emit(result, None if output is STDOUT else output)
        except ValidationError as error:
            raise OneLineError(f"{typed}: {_name_option(operation, error)}") from None
        except TwilioError as error:  # ResourceNotFound included
            raise click.ClickException(str(error)) from None


def _first_then_rest(items: Iterator[Any]) -> Iterator[Any]:
    """Fetch the first page now, so that an error comes before any output."""
    try:
        first = next(items)
    except StopIteration:
        return iter(())
    return _chain(first, items)


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


#: A name in a problem's words: between spaces, parentheses, commas or semicolons, so that
#: quoted values (``'url'``) and URLs are left alone.
_WORD = re.compile(r"(?<![^\s(,;])[a-z][a-z0-9_]*(?![^\s),;])")


def _name_option(operation: Operation, error: Any) -> str:
    """The problem with the option the user typed: ``sid: 'x' is not a SID`` ->
    ``--call-sid: 'x' is not a SID``. A problem that names its own argument and others is
    about them all (``url: give exactly one of url, twiml and application_sid``): each
    argument it names becomes its option, and no one of them leads (``give exactly one of
    --url, --twiml and --application-sid``)."""
    if error.argument == "update":
        options = [a.option for a in operation.attributes if not a.required and a.wire]
        return f"nothing to change; give one of: {', '.join(options)}"
    options = {}
    for candidate in operation.attributes:
        options[candidate.param] = options[candidate.arg or candidate.param] = candidate.option
    attribute = operation.attribute(error.argument)
    if attribute is None and error.argument == "sid":
        attribute = next((a for a in operation.attributes if a.arg == "sid"), None)
    named = {word for word in _WORD.findall(error.problem) if word in options}
    if error.argument in named and len(named) > 1:
        return _WORD.sub(lambda word: options.get(word[0], word[0]), error.problem)
    name = attribute.option if attribute else error.argument
    return f"{name}: {error.problem}"


def _emit(result: Any, output: Path | None) -> None:
    from switchboard.api.resources import MediaStream

    if isinstance(result, MediaStream):
        with result:
            if output is None:
                stdout = sys.stdout.buffer
                for chunk in result:
                    stdout.write(chunk)
                stdout.flush()
                return
            try:
                written = _save(result, output)
            except OSError as error:
                raise _not_written(output, error, "the recording is still at Twilio") from None
        click.echo(f"Saved {written} bytes to {output}", err=True)
        return
    if result is None:
        click.echo("Done: Twilio answered 204 No Content.", err=True)
        return
    if output is None:
        _write(result, sys.stdout)
        return
    if isinstance(result, Iterable) and not isinstance(result, dict | str):
        try:
            with output.open("w", encoding="utf-8") as out:
                _write_array(result, out)
        except OSError as error:
            raise _not_written(output, error, "the list is still at Twilio") from None
    else:
        text = _text(result)
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as error:
            click.echo(text, nl=False)  # the answer of a create is not to be lost
            raise _not_written(output, error, "the answer is printed on stdout instead") from None
    click.echo(f"Wrote {output}", err=True)


def _save(media: Any, output: Path) -> int:
    """Save ``media`` to ``output``: a new or regular file through a temporary file beside it
    (:meth:`MediaStream.save`); anything else (``/dev/null``, a pipe, a symbolic link such as
    ``/dev/stdout``) written in place, since the rename would replace it."""
    if not output.exists() or (output.is_file() and not output.is_symlink()):
        return media.save(output)
    written = 0
    with output.open("wb") as out:
        for chunk in media:
            out.write(chunk)
            written += len(chunk)
    return written


def _not_written(output: Path, error: OSError, after: str) -> click.ClickException:
    return click.ClickException(f"could not write {output}: {error.strerror or error}; {after}")


#: Fields of Twilio's answers that hold a credential; the CLI prints them masked.
SECRET_FIELDS = frozenset({"auth_token", "secret"})


def _masked(item: Any) -> Any:
    """``item`` with every credential field (an account's ``auth_token``...) masked, and the
    password of every ``user:password@`` URL (a ``voice_url``...) shown as ``***``, as
    ``switchboard provision`` shows them."""
    if isinstance(item, dict):
        return {
            key: "********" if key in SECRET_FIELDS and value else _masked(value)
            for key, value in item.items()
        }
    if isinstance(item, list):
        return [_masked(value) for value in item]
    if isinstance(item, str) and "@" in item and item.startswith(("http://", "https://")):
        return redact_url(item)
    return item


def _text(result: Any) -> str:
    """A text result as it is, anything else as indented JSON; ends with a newline."""
    if isinstance(result, str):
        return result if result.endswith("\n") else result + "\n"
    return json.dumps(_masked(result), indent=2, ensure_ascii=False) + "\n"


def _write(result: Any, out: IO[str]) -> None:
    if isinstance(result, Iterable) and not isinstance(result, dict | str):
        _write_array(result, out)
    else:
        out.write(_text(result))


def _write_array(items: Iterable[Any], out: IO[str]) -> None:
    """A JSON array written item by item, so a long list never sits whole in memory."""
    separator = "[\n"
    for item in items:
        text = json.dumps(_masked(item), indent=2, ensure_ascii=False).replace("\n", "\n  ")
        out.write(f"{separator}  {text}")
        separator = ",\n"
    out.write("[]\n" if separator == "[\n" else "\n]\n")


def _print_list() -> None:
    width = max(map(len, _operations()))
    for name in sorted(_operations()):
        operation = _operations()[name]
        summary = operation.summary if name == operation.name else f"alias of {operation.name}"
        click.echo(f"{name.ljust(width)}  {summary}")


@click.group(
    "api",
    cls=OperationsGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option("--list", "list_", is_flag=True, help="List the operations and what they do.")
@click.pass_context
def api_command(ctx: click.Context, list_: bool) -> None:
    """Run one of the Twilio connector's 50 operations and print the result as JSON.

    Attributes are the connector's, as kebab-case options
    (switchboard api get-available-phone-numbers --iso-country-code US --area-code 415);
    --config-ref NAME picks a settings profile. `switchboard api OPERATION --help` shows an
    operation's attributes.
    """
    if ctx.invoked_subcommand is None:
        if not list_:
            raise MissingCommand(ctx)
        _print_list()
