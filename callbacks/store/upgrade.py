"""Bring the tables of a database made by an older version up to the schema.

``MetaData.create_all`` makes the tables that are missing, each with its columns and indexes
as the schema has them now; a table that exists already is left as it is. What the schema
added to a table since, these add: the columns (``ALTER TABLE ... ADD COLUMN``, which both
databases do in place, without copying the rows, for a column that may be NULL) and then the
indexes, which may be over those columns. Each reads what the database has in one reflection
of all the tables (on PostgreSQL one catalog query, not one per table). Both run inside the
transaction that creates the tables, under its lock (PostgreSQL's advisory lock, SQLite's
writer lock), so that processes starting at once do it once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import sqlalchemy as sa

log = logging.getLogger("switchboard.callbacks.store")

__all__ = ["add_missing_columns", "create_missing_indexes"]


def add_missing_columns(conn: sa.Connection, tables: Iterable[sa.Table]) -> None:
    """Add to each of ``tables`` the columns of the schema that the database's table lacks.

    Only a column that may be NULL and has no default can be added to a table holding rows:
    the schema's added columns are all such (the rows made before read as NULL)."""
    tables = list(tables)
    found = sa.inspect(conn).get_multi_columns(filter_names=[table.name for table in tables])
    for table in tables:
        have = {column["name"] for column in found.get((None, table.name), ())}
        for column in table.columns:
            if column.name in have:
                continue
            if not column.nullable or column.server_default is not None:
                raise RuntimeError(
                    f"{table.name}.{column.name} cannot be added to an existing table: "
                    "a column added to the schema must allow NULL"
                )
            kind = column.type.compile(dialect=conn.dialect)
            preparer = conn.dialect.identifier_preparer
            log.warning("%s: adding the column %s", table.name, column.name)
            conn.exec_driver_sql(
                f"ALTER TABLE {preparer.format_table(table)} "
                f"ADD COLUMN {preparer.format_column(column)} {kind}"
            )


def create_missing_indexes(conn: sa.Connection, tables: Iterable[sa.Table]) -> None:
    """Create the indexes of ``tables`` that the database lacks: ``create_all`` makes a
    table's indexes with the table only, not those added to a table that exists already."""
    tables = list(tables)
    found = sa.inspect(conn).get_multi_indexes(filter_names=[table.name for table in tables])
    for table in tables:
        have = {index["name"] for index in found.get((None, table.name), ())}
        for index in table.indexes:
            if index.name not in have:
                index.create(conn)
