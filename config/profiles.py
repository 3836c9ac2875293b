"""Named account profiles from a TOML file.

```toml
[profiles.acme]
account_sid = "AC..."
auth_token = "..."
public_url = "https://acme.example.com"
```
"""

from __future__ import annotations

import contextlib
import difflib
import tomllib
from collections.abc import Mapping
from pathlib import Path

from switchboard.config.errors import ConfigError
from switchboard.config.fields import BY_ENV, FIELDS

DEFAULT_PROFILES_FILE = "switchboard.toml"


def profiles_file(explicit: str | Path | None) -> tuple[Path, bool]:
    """The profiles file to read and whether it was asked for (so must exist)."""
    if explicit:
        path = Path(explicit)
        with contextlib.suppress(RuntimeError):  # ~user of no known user: the name as it is
            path = path.expanduser()
        return path, True
    return Path.cwd() / DEFAULT_PROFILES_FILE, False


def read_profiles(path: Path, *, required: bool) -> dict[str, dict[str, object]]:
    """The ``[profiles.NAME]`` tables of ``path``; ``{}`` when an optional file is absent."""
    try:
        with path.open("rb") as fh:
            document = tomllib.load(fh)
    except FileNotFoundError:
        if required:
            raise ConfigError(f"SWITCHBOARD_PROFILES_FILE: {str(path)!r} does not exist") from None
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the profiles file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid TOML (not UTF-8 text)") from None
    except ValueError:  # a NUL in the file name
        raise ConfigError(f"{str(path)!r}: not a usable file name") from None
    profiles = document.get("profiles", {})
    if not isinstance(profiles, Mapping):
        raise ConfigError(f"{path}: 'profiles' must be a table of [profiles.NAME] tables")
    result: dict[str, dict[str, object]] = {}
    for name, table in profiles.items():
        if not isinstance(table, Mapping):
            raise ConfigError(f"{path}: profiles.{name} must be a table")
        for key in table:
            if key not in FIELDS:
                raise ConfigError(f"{path}: profiles.{name}.{key} is not a setting; "
                                  f"{_suggest(key)}")
        result[name] = dict(table)
    return result


def _suggest(key: str) -> str:
    """What a profile key that is not a setting probably meant: the key of an environment
    variable's name, else the closest key, else the list of keys."""
    if key.upper() in BY_ENV:
        return f"the profile key of {key.upper()} is {BY_ENV[key.upper()].name}"
    close = difflib.get_close_matches(key.lower(), FIELDS, n=1, cutoff=0.7)
    if close:
        return f"did you mean {close[0]}?"
    return f"known: {', '.join(FIELDS)}"
