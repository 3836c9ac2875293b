from __future__ import annotations

import pickle

import pytest

from switchboard.config import Secret
from switchboard.config.secret import MASK


def test_str_repr_and_format_mask_the_value() -> None:
    secret = Secret("hunter2")
    assert str(secret) == MASK
    assert repr(secret) == MASK
    assert f"{secret}" == MASK
    assert f"{secret!r}" == MASK
    assert "hunter2" not in repr([secret, {"k": secret}])
    assert "%s" % secret == MASK  # noqa: UP031 - old-style formatting too


def test_reveal_gives_the_value() -> None:
    assert Secret("hunter2").reveal() == "hunter2"
    assert Secret(Secret("x")).reveal() == "x"


def test_equality_with_secrets_and_strings() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") == "a"
    assert Secret("a") != Secret("b")
    assert Secret("a") != "ab"
    assert Secret("é") == "é"
    assert Secret("a") != 1
    assert hash(Secret("a")) == hash(Secret("a"))


def test_truthiness() -> None:
    assert Secret("a")
    assert not Secret("")


def test_only_strings() -> None:
    with pytest.raises(TypeError, match="str"):
        Secret(b"bytes")  # type: ignore[arg-type]


def test_pickles() -> None:
    assert pickle.loads(pickle.dumps(Secret("a"))).reveal() == "a"  # noqa: S301


def test_comparing_an_undecodable_value_is_unequal_not_an_error() -> None:
    # os.environ keeps bytes it cannot decode as lone surrogates.
    assert Secret("pass\udcffword") != "password"
    assert Secret("pass\udcffword") == Secret("pass\udcffword")

