"""Times reach SQLite as the same text SQLAlchemy's own DATETIME would make."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from switchboard.callbacks.store.schema import UTCDateTime


@given(
    st.datetimes(timezones=st.none() | st.just(UTC) | st.timezones())
    | st.datetimes().map(lambda value: value.replace(tzinfo=timezone(timedelta(hours=-7))))
)
def test_utc_datetimes_are_stored_as_sqlalchemy_would(value: datetime) -> None:
    dialect = sqlite.dialect()
    impl = UTCDateTime().dialect_impl(dialect)
    ours = impl.bind_processor(dialect)
    theirs = sa.TypeDecorator.bind_processor(impl, dialect)
    try:
        expected = theirs(value)
    except OverflowError:
        with pytest.raises(OverflowError):
            ours(value)
        return
    assert ours(value) == expected
