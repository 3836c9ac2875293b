"""Voicemail notices: what their tests share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: A trigger that makes the database refuse every new notice row, by dialect.
REFUSE = {
    "sqlite": [
        "CREATE TRIGGER refuse_notices BEFORE INSERT ON voicemail_notices "
        "BEGIN SELECT RAISE(ABORT, 'no notices now'); END",
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_notices() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'no notices now' USING ERRCODE = 'check_violation'; END $$",
        "CREATE TRIGGER refuse_notices BEFORE INSERT ON voicemail_notices "
        "FOR EACH ROW EXECUTE FUNCTION refuse_notices()",
    ],
}
ACCEPT = {
    "sqlite": ["DROP TRIGGER refuse_notices"],
    "postgresql": ["DROP TRIGGER refuse_notices ON voicemail_notices"],
}


@contextmanager
def notices_refused(store: Any) -> Iterator[None]:
    """The database of ``store`` refuses every new notice row until the block ends."""
    store.ensure_schema()
    _run(store, REFUSE)
    try:
        yield
    finally:
        _run(store, ACCEPT)


def _run(store: Any, statements: dict[str, list[str]]) -> None:
    with store.engine.begin() as conn:
        for statement in statements[store.dialect]:
            conn.exec_driver_sql(statement)
