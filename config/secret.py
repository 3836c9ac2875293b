"""A string that does not show itself."""

from __future__ import annotations

import hmac

MASK = "********"


class Secret:
    """Wrap a secret value (an auth token, an API key secret) so it is never printed by accident.

    ``str()``, ``repr()`` and f-strings give :data:`MASK`; :meth:`reveal` gives the value.
    Comparison (with another :class:`Secret` or a plain ``str``) runs in constant time.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"Secret wraps a str, not {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        """The secret itself: use it, never print it."""
        return self._value

    def __str__(self) -> str:
        return MASK

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return format(MASK, spec)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            other = other._value
        if not isinstance(other, str):
            return NotImplemented
        return hmac.compare_digest(_bytes(self._value), _bytes(other))

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        return (Secret, (self._value,))


def _bytes(text: str) -> bytes:
    # "surrogatepass": a value read from an environment that could not decode it keeps lone
    # surrogates, which must compare (unequal), not raise.
    return text.encode("utf-8", "surrogatepass")
