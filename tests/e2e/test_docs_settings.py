"""The settings table of docs/configuration.md against switchboard.config.fields and the
defaults of switchboard.config.Settings: every setting documented, named and defaulted as the
code has it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from switchboard.config import Settings
from switchboard.config.fields import FIELDS

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["docs/configuration.md"]
HEADER = "| Variable | Profile key | Default | Meaning |"
ROW = re.compile(r"^\| `(?P<env>[A-Z_]+)` \| `(?P<key>[a-z_]+)` \| (?P<default>[^|]+) \|")
# How the tables write "no value": the field is optional and its default is None.
UNSET = {"unset", "SQLite in the instance folder"}


def settings_table(page: str) -> list[re.Match[str]]:
    lines = (ROOT / page).read_text(encoding="utf-8").splitlines()
    start = lines.index(HEADER) + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        row = ROW.match(line)
        assert row, f"{page}: a settings row not in the table's form: {line[:80]}"
        rows.append(row)
    return rows


def documented_default(text: str) -> str | None:
    text = text.strip()
    if text in UNSET:
        return None
    quoted = re.fullmatch(r"`([^`]+)`", text)
    assert quoted, f"a default neither unset nor in backquotes: {text}"
    return quoted[1]


def code_default(name: str) -> object:
    (field,) = [f for f in dataclasses.fields(Settings) if f.name == name]
    return field.default


def same_value(documented: str | None, actual: object) -> bool:
    if documented is None or actual is None:
        return documented is None and actual is None
    if isinstance(actual, bool):
        return documented == str(actual).lower()
    if isinstance(actual, (int, float)):
        return float(documented) == float(actual)
    return documented == actual


@pytest.mark.parametrize("page", PAGES)
def test_every_setting_is_in_the_table_once(page: str) -> None:
    envs = [row["env"] for row in settings_table(page)]
    assert sorted(envs) == sorted(f.env for f in FIELDS.values()), page


@pytest.mark.parametrize("page", PAGES)
def test_each_row_names_the_field_and_its_default(page: str) -> None:
    wrong = []
    for row in settings_table(page):
        field = next((f for f in FIELDS.values() if f.env == row["env"]), None)
        if field is None:
            wrong.append(f"{row['env']}: no such setting in config/fields.py")
            continue
        if row["key"] != field.name:
            wrong.append(f"{row['env']}: profile key `{row['key']}`, the code's is {field.name}")
        documented = documented_default(row["default"])
        actual = code_default(field.name)
        if not same_value(documented, actual):
            wrong.append(f"{row['env']}: default {row['default'].strip()}, the code's {actual!r}")
        if documented is None and not field.optional:
            wrong.append(f"{row['env']}: documented as unset, but the field is not optional")
    assert not wrong, f"{page}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("page", PAGES)
def test_the_documented_defaults_are_what_loading_nothing_gives(
    page: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from switchboard.config import load_settings

    for field in FIELDS.values():
        monkeypatch.delenv(field.env, raising=False)
    for name in ("SWITCHBOARD_PROFILES_FILE", "SWITCHBOARD_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SWITCHBOARD_DOTENV", "0")
    monkeypatch.chdir(tmp_path)
    loaded = load_settings()
    for row in settings_table(page):
        field = next(f for f in FIELDS.values() if f.env == row["env"])
        value = getattr(loaded, field.name)
        assert same_value(documented_default(row["default"]), value), (page, row["env"], value)
