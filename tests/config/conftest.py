"""Fixtures for the settings tests."""

from __future__ import annotations

from pathlib import Path

import pytest

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
API_KEY_SID = "SK" + "fedcba9876543210" * 2
AUTH_TOKEN = "tok-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
API_SECRET = "sec-00112233445566778899aabbccddeeff"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder (no .env, no switchboard.toml of the developer's)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
