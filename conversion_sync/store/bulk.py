"""Bulk inserts (issue 10): PostgreSQL's COPY for the many-row inserts of the hot path (the
mirror's new records, events, warnings), an ordinary executemany elsewhere (SQLite).

COPY skips SQLAlchemy's per-row parameter processing, which was the largest single cost of a
first sync; the values go through each column type's own bind processing first, so what lands is
what an INSERT would have stored.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any, Sequence

from sqlalchemy import Boolean, Connection, Table, insert
from sqlalchemy.types import JSON, TypeDecorator

COPY_MIN_ROWS = 50   # below this an INSERT is as fast and keeps the statement log readable


def _escape(text: str) -> str:
    """COPY text format: backslash, tab, newline and carriage return escaped."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _column_writer(column, dialect):
    """value -> its COPY text (None -> \\N), through the column type's bind processing."""
    kind = column.type
    process = kind.process_bind_param if isinstance(kind, TypeDecorator) else None
    impl = kind.impl if isinstance(kind, TypeDecorator) else kind
    dialect_impl = impl.dialect_impl(dialect) if hasattr(impl, "dialect_impl") else impl
    is_json = isinstance(dialect_impl, JSON) or isinstance(impl, JSON)
    is_bool = isinstance(impl, Boolean)

    def write(value: Any) -> str:
        if process is not None:
            value = process(value, dialect)
        if value is None:
            return "\\N"
        if is_json:
            return _escape(json.dumps(value, ensure_ascii=False))
        if is_bool:
            return "t" if value else "f"
        if isinstance(value, dt.datetime):
            return value.isoformat()
        return _escape(str(value))

    return write


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT rows (dicts with the same keys); COPY on PostgreSQL when there are many. Columns a
    row leaves out get their scalar Python-side default, as an INSERT would give them."""
    if not rows:
        return
    if conn.dialect.name != "postgresql" or len(rows) < COPY_MIN_ROWS:
        conn.execute(insert(table), list(rows))
        return
    given = list(rows[0])
    defaults = {c.name: c.default.arg for c in table.columns
                if c.name not in given and c.default is not None and c.default.is_scalar}
    names = given + list(defaults)
    writers = [_column_writer(table.c[name], conn.dialect) for name in names]
    fixed = [writer(defaults[name]) for name, writer in zip(names[len(given):], writers[len(given):])]
    buffer = io.StringIO()
    head = list(zip(given, writers[:len(given)]))
    for row in rows:
        buffer.write("\t".join([*(writer(row[name]) for name, writer in head), *fixed]))
        buffer.write("\n")
    buffer.seek(0)
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.copy_expert(f"COPY {table.name} ({', '.join(names)}) FROM STDIN", buffer)
    finally:
        cursor.close()
