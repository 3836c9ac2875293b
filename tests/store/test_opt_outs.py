"""Opt-outs: per sender, global (STOPALL), and opting back in."""

from __future__ import annotations

from switchboard.callbacks.store import Store

USER, A, B = "+15005550006", "+15005550001", "+15005550002"


def test_nobody_is_opted_out_at_first(store: Store) -> None:
    assert not store.is_opted_out(USER)
    assert not store.is_opted_out(USER, A)


def test_opt_out_of_one_sender(store: Store) -> None:
    store.opt_out(USER, A)
    store.opt_out(USER, A)
    assert store.is_opted_out(USER, A)
    assert not store.is_opted_out(USER, B)
    assert store.is_opted_out(USER), "an unknown sender counts any opt-out"
    assert not store.is_opted_out(B, A)


def test_global_opt_out_covers_every_sender(store: Store) -> None:
    store.opt_out(USER)
    assert store.is_opted_out(USER, A)
    assert store.is_opted_out(USER, B)
    assert store.is_opted_out(USER)


def test_opt_in_to_a_sender_lifts_its_and_the_global_opt_out(store: Store) -> None:
    store.opt_out(USER, A)
    store.opt_out(USER, B)
    store.opt_out(USER)
    store.opt_in(USER, A)
    assert not store.is_opted_out(USER, A)
    assert store.is_opted_out(USER, B)


def test_opt_in_everywhere(store: Store) -> None:
    store.opt_out(USER, A)
    store.opt_out(USER)
    store.opt_in(USER)
    assert not store.is_opted_out(USER)
    assert not store.is_opted_out(USER, A)
    store.opt_in(USER)
