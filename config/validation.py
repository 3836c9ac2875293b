"""Parsers for setting values: each takes the setting's name (for the message) and a raw value
(a string from the environment, or a native value from TOML or ``overrides``) and returns the
typed value or raises :class:`~config.errors.ConfigError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit, urlunsplit

from switchboard.config import speech
from switchboard.config.errors import ConfigError
from switchboard.config.secret import Secret

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

_SID_RE = re.compile(r"[0-9a-fA-F]{32}")
#: E.164 (Twilio's "What is E.164?"): ``+``, a country code, which never starts with 0, then
#: the national number; 15 digits in all at most, and more than one (a bare ``+1`` is a country
#: code, not a number). ``[0-9]``, not ``\d``, which takes any script's digits.
_E164_RE = re.compile(r"\+[1-9][0-9]{1,14}")
# Characters TwiML (XML 1.0) cannot carry; tab, newline and carriage return it can.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_URL_UNSAFE_RE = re.compile(r"[\x00-\x20\x7f\\]")
_INTEGER_RE = re.compile(r"[+-]?[0-9]+")
_NUMBER_RE = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}
DATABASE_BACKENDS = ("sqlite", "postgresql")


#: Runs that look like a credential wherever they are: an auth token (32 hexadecimal digits),
#: an API key secret (32 letters and digits).
_HEX_RUN_RE = re.compile(r"[0-9a-fA-F]{32}")
_ALNUM_RUN_RE = re.compile(r"[A-Za-z0-9]{32,}")
#: A whole value that may be a key or a password: one word of 16 or more such characters.
_CREDENTIAL_WORD_RE = re.compile(r"[A-Za-z0-9+=_-]{16,}")


def may_be_secret(value: str) -> bool:
    """Whether ``value`` has the shape of a credential, so that an error must not repeat it:
    it holds 32 hexadecimal digits in a row (an auth token), or 32 or more letters and digits
    with both in them (an API key secret), or it is one word of 16 or more letters, digits
    and ``+=_-`` with both a letter and a digit in it."""
    if _HEX_RUN_RE.search(value):
        return True
    if any(_has_letter_and_digit(run) for run in _ALNUM_RUN_RE.findall(value)):
        return True
    return bool(_CREDENTIAL_WORD_RE.fullmatch(value)) and _has_letter_and_digit(value)


def _has_letter_and_digit(text: str) -> bool:
    return any(c.isdigit() for c in text) and any(c.isalpha() for c in text)


def show(value: object, limit: int = 40) -> str:
    """A short ``repr`` of a value for an error message; a value that may be a secret put in
    the wrong setting (:func:`may_be_secret`) is described by its length, never shown."""
    if isinstance(value, str) and may_be_secret(value):
        return f"the value ({len(value)} characters, not shown: it may be a secret)"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def redact_url(url: str, *, keep_user: bool = True) -> str:
    """``url`` for a message or a log: the password of any ``user:password@`` part replaced
    by ``***``, or, with ``keep_user=False``, the whole ``user:password@`` part removed.

    The one place URLs are cleaned of credentials: settings, the REST client's errors, the
    CLI and the server's logs all use it.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if not at:
        if "@" not in url or _port_parses(parts):
            return url
        return _redact_unsplit(url, keep_user)
    if not keep_user:
        return urlunsplit(parts._replace(netloc=hostport))
    if ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostport}"))


def _port_parses(parts: SplitResult) -> bool:
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    return True


def _redact_unsplit(url: str, keep_user: bool) -> str:
    """A broken URL whose password holds ``/``, ``?`` or ``#`` (``https://user:pa/ss@host``),
    which ``urlsplit`` cuts short: everything from the first ``:`` after the scheme to the last
    ``@`` is hidden (from the scheme's ``//`` on, without ``keep_user``)."""
    start = url.find("://") + 3
    at = url.rfind("@")
    if not keep_user:
        return url[:start] + url[at + 1 :] if start >= 3 else url[at + 1 :]
    colon = url.find(":", start, at)
    return url if colon < 0 else f"{url[: colon + 1]}***{url[at:]}"


#: Query parameters of a database URL that carry a secret (libpq and psycopg read
#: ``?password=``).
DATABASE_SECRET_QUERY = frozenset({"password", "sslpassword"})


def redact_database_url(url: str | URL) -> str:
    """A database URL (text or SQLAlchemy's ``URL``) for a message or a repr: its password,
    also one given in the query, as ``***``; ``<database URL>`` when it does not parse (the
    raw text is never shown)."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
        hidden = {k: "***" for k in parsed.query if k.lower() in DATABASE_SECRET_QUERY}
        if hidden:
            parsed = parsed.update_query_dict(hidden)
        if parsed.host and "@" in parsed.host:  # an unescaped '@' in the password
            parsed = parsed.set(host="***@" + parsed.host.rpartition("@")[2])
        return parsed.render_as_string(hide_password=True).replace("%2A%2A%2A", "***")
    except Exception:  # never let a message or a repr fail, never show the raw URL
        return "<database URL>"


def text(name: str, value: object) -> str:
    """A non-empty string, stripped."""
    if not isinstance(value, str):
        raise ConfigError(f"{name}: expected text, got {type(value).__name__}")
    value = value.strip()
    if not value:
        raise ConfigError(f"{name}: must not be empty")
    check_utf8(name, value)
    return value


def check_utf8(name: str, value: str) -> None:
    """Refuse what the environment could not decode (``os.environ`` keeps such bytes as lone
    surrogates, which nothing can encode later). The value is not shown: it may be a secret."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigError(
                f"{name}: is not UTF-8 text (a byte the system could not decode); fix the value"
            ) from None


def twiml_text(name: str, value: object) -> str:
    """:func:`text` that TwiML can carry: no control characters other than tab and newline
    (the bundled flows would fail on every call)."""
    value = text(name, value)
    bad = _CONTROL_RE.search(value)
    if bad:
        raise ConfigError(
            f"{name}: holds the control character U+{ord(bad.group()):04X} at position "
            f"{bad.start() + 1}; remove it"
        )
    return value


def folder(name: str, value: object) -> str:
    """An existing folder (``~`` expanded), such as the Studio flows folder."""
    import os

    path = os.path.expanduser(text(name, value))
    if not os.path.isdir(path):
        raise ConfigError(f"{name}: {show(path)} is not a folder; create it or fix the path")
    return path


def say_voice(name: str, value: object) -> str:
    """A ``<Say>`` voice Twilio takes (:func:`switchboard.config.speech.is_voice`)."""
    return _say(name, value, "voice", speech.is_voice, speech.VOICE_FORMS)


def say_language(name: str, value: object) -> str:
    """A ``<Say>`` language Twilio takes (:func:`switchboard.config.speech.is_language`)."""
    return _say(name, value, "language", speech.is_language, speech.LANGUAGE_FORMS)


def _say(name: str, value: object, attribute: str, accepts: Callable[[str], bool],
         forms: str) -> str:
    """:func:`twiml_text` that every ``<Say>`` of the bundled flows can carry as its
    ``attribute``: the TwiML builder would refuse anything else on every call."""
    value = twiml_text(name, value)
    if not accepts(value):
        # Non-ASCII text escaped: a look-alike letter (U+212A for K) shows as what it is.
        if may_be_secret(value):
            shown = show(value)
        else:
            shown = f"{value!r:.60}" if value.isascii() else f"{value!a:.60}"
        raise ConfigError(f"{name}: {shown} is not a <Say> {attribute} Twilio takes; "
                          f"give {forms}")
    return value


def secret(name: str, value: object) -> Secret:
    """A secret (auth token, API key secret): any non-empty text. The value is never shown."""
    if isinstance(value, Secret):
        value = value.reveal()
    if not isinstance(value, str):
        raise ConfigError(f"{name}: expected text, got {type(value).__name__}")
    value = value.strip()
    if not value:
        raise ConfigError(f"{name}: must not be empty")
    check_utf8(name, value)
    return Secret(value)


def _sid(name: str, value: object, prefix: str, what: str) -> str:
    """A SID: ``prefix`` and 32 hexadecimal digits. A wrong value is shown only when it starts
    with ``prefix`` and does not look like a secret: the auth token or an API key secret is
    easily pasted into the SID beside it, so otherwise only its shape is told."""
    value = text(name, value)
    if value[:2] == prefix and _SID_RE.fullmatch(value[2:]):
        return value
    expected = f"{prefix} followed by 32 hexadecimal digits"
    if value.startswith(prefix) and not may_be_secret(value):
        raise ConfigError(f"{name}: {show(value)} is not {what} ({expected})")
    found = f"{len(value)} characters"
    if not value.startswith(prefix):
        found += f" not starting with {prefix}"
    raise ConfigError(
        f"{name}: the value is not {what} ({expected}, 34 characters): it has {found}, and is "
        f"not shown in case it is a secret{_swap_hint(value)}"
    )


def _swap_hint(value: str) -> str:
    if len(value) == 32 and _SID_RE.fullmatch(value):
        return "; 32 hexadecimal digits is an auth token's shape: is it TWILIO_AUTH_TOKEN's value?"
    if len(value) == 32 and value.isascii() and value.isalnum():
        return ("; 32 letters and digits is an API key secret's shape: is it "
                "TWILIO_API_KEY_SECRET's value?")
    return ""


def account_sid(name: str, value: object) -> str:
    """An account SID: ``AC`` + 32 hex digits."""
    return _sid(name, value, "AC", "an account SID")


def api_key_sid(name: str, value: object) -> str:
    """An API key SID: ``SK`` + 32 hex digits."""
    return _sid(name, value, "SK", "an API key SID")


def http_url(name: str, value: object) -> str:
    """An ``http(s)://host...`` URL, returned without a trailing slash."""
    value = text(name, value)
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or port == 0 or _URL_UNSAFE_RE.search(value):
        raise ConfigError(f"{name}: {show(redact_url(value))} is not a valid URL")
    if parts.scheme.lower() not in ("http", "https"):
        raise ConfigError(
            f"{name}: {show(redact_url(value))} must start with http:// or https://"
        )
    if not parts.hostname:
        raise ConfigError(f"{name}: {show(redact_url(value))} has no host name")
    if "#" in value:
        raise ConfigError(f"{name}: {show(redact_url(value))} must not have a #fragment")
    return value.rstrip("/")


def base_url(name: str, value: object) -> str:
    """A base URL other paths are appended to: :func:`http_url` with no query string."""
    value = http_url(name, value)
    if "?" in value:
        raise ConfigError(f"{name}: {show(redact_url(value))} must not have a ?query string")
    return value


def api_base_url(name: str, value: object) -> str:
    """The REST API root: :func:`base_url` without a ``user:password@`` part (the REST client
    authenticates with the account SID and auth token, or the API key)."""
    value = base_url(name, value)
    if urlsplit(value).username is not None:
        raise ConfigError(
            f"{name}: must not hold credentials; set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"
        )
    return value


def database_url(name: str, value: object) -> str:
    """An SQLAlchemy URL for SQLite or PostgreSQL.

    ``postgres://`` is read as ``postgresql://``, and a PostgreSQL URL without a driver gets
    ``+psycopg`` (psycopg 3, the driver Switchboard installs).
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    value = text(name, value)
    try:
        url = make_url(value)
    except (ArgumentError, ValueError):
        # The parser's own message repeats the URL, password included: do not chain it.
        raise ConfigError(
            f"{name}: not a database URL (expected sqlite:///path or "
            "postgresql://user:password@host/dbname)"
        ) from None
    if url.host and "@" in url.host:
        raise ConfigError(
            f"{name}: the host name holds '@' (write an '@' in the user name or password "
            "as %40)"
        )
    if url.port is not None and not 0 < url.port < 65536:
        raise ConfigError(f"{name}: port {url.port} is not a TCP port (1 to 65535)")
    backend, _, driver = url.drivername.partition("+")
    if backend == "postgres":
        backend = "postgresql"
    if backend not in DATABASE_BACKENDS:
        raise ConfigError(
            f"{name}: database {show(backend)} is not supported (use sqlite or postgresql)"
        )
    _check_pooler(name, url.query.get(DATABASE_POOLER_OPTION), backend)
    if backend == "postgresql":
        if not url.database:
            raise ConfigError(f"{name}: the PostgreSQL URL names no database")
        url = url.set(drivername=f"postgresql+{driver or 'psycopg'}")
        if "password" in url.query:
            # libpq's ?password=: moved where every URL shown hides it (the store's messages).
            if url.password is not None:
                raise ConfigError(f"{name}: gives the password twice (before the @ and as "
                                  "?password=); keep one")
            password = url.query["password"]
            if not isinstance(password, str):
                raise ConfigError(f"{name}: gives ?password= more than once; keep one")
            url = url.difference_update_query(["password"]).set(password=password)
        return url.render_as_string(hide_password=False)
    return value


DATABASE_POOLER_OPTION = "pooler"
"""A database URL's query option naming the pooler in front of PostgreSQL (Switchboard's own:
the store takes it out before connecting)."""
DATABASE_POOLERS = ("none", "session", "transaction")


def _check_pooler(name: str, value: object, backend: str) -> None:
    """``?pooler=``: one of :data:`DATABASE_POOLERS`, on a PostgreSQL URL only."""
    if value is None:
        return
    if backend != "postgresql":
        raise ConfigError(f"{name}: ?{DATABASE_POOLER_OPTION}= applies to PostgreSQL only")
    if not isinstance(value, str) or value.strip().lower() not in DATABASE_POOLERS:
        shown = show(value) if isinstance(value, str) else "given more than once"
        raise ConfigError(
            f"{name}: ?{DATABASE_POOLER_OPTION}= is {shown}: use "
            f"{', '.join(DATABASE_POOLERS)} (transaction: PgBouncer in transaction mode)"
        )


def boolean(name: str, value: object) -> bool:
    """``true/false/1/0/yes/no`` (any case), or a bool."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ConfigError(f"{name}: {show(value)} is not a boolean (use true/false, 1/0 or yes/no)")


def integer(name: str, value: object, *, minimum: int | None = None,
            maximum: int | None = None) -> int:
    """A whole number, optionally within ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigError(f"{name}: {show(value)} is not a whole number")
    if isinstance(value, str) and not _INTEGER_RE.fullmatch(value.strip()):
        raise ConfigError(f"{name}: {show(value)} is not a whole number")
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name}: {show(value)} is not a whole number") from None
    _check_range(name, number, minimum, maximum)
    return number


def number(name: str, value: object, *, minimum: float | None = None,
           below: float | None = None, reason: str = "") -> float:
    """A finite number, at least ``minimum`` and strictly below ``below``."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"{name}: {show(value)} is not a number")
    if isinstance(value, str) and not _NUMBER_RE.fullmatch(value.strip()):
        word = value.strip().lower().lstrip("+-")
        finite = word not in ("inf", "infinity", "nan")
        raise ConfigError(f"{name}: {show(value)} is not a {'' if finite else 'finite '}number")
    try:
        result = float(value)
    except ValueError:
        raise ConfigError(f"{name}: {show(value)} is not a number") from None
    if not math.isfinite(result):
        raise ConfigError(f"{name}: {show(value)} is not a finite number")
    if minimum is not None and result < minimum:
        raise ConfigError(f"{name}: {result:g} is below the minimum of {minimum:g}")
    if below is not None and result >= below:
        raise ConfigError(f"{name}: {result:g} must be below {below:g}{reason}")
    return result


def _check_range(name: str, value: int, minimum: int | None, maximum: int | None) -> None:
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}: {value} is below the minimum of {minimum}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name}: {value} is above the maximum of {maximum}")


def is_e164(value: object) -> bool:
    """Whether ``value`` is a phone number in E.164 form: ``+`` then 2 to 15 digits, the
    first not 0, nothing else (no spaces or dashes). The one rule for settings, the REST
    client's arguments and the CLI."""
    return isinstance(value, str) and _E164_RE.fullmatch(value) is not None


def e164(name: str, value: object) -> str:
    """A phone number in E.164 form (:func:`is_e164`), surrounding spaces stripped as for
    every setting."""
    value = text(name, value)
    if not is_e164(value):
        raise ConfigError(
            f"{name}: {show(value)} is not an E.164 phone number (like +14155550100)"
        )
    return value
