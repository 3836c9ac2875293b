"""The one error settings raise."""

from __future__ import annotations


class ConfigError(ValueError):
    """A setting is missing or wrong.

    The message is one line: which setting, and why. It never carries a secret's value.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))
