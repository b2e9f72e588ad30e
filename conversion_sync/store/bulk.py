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
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Boolean, Connection, DateTime, Table, insert
from sqlalchemy.sql.schema import ScalarElementColumnDefault
from sqlalchemy.types import JSON, TypeDecorator

COPY_MIN_ROWS = 50   # below this an INSERT is as fast and keeps the statement log readable
COPY_SLICE = 2_000   # rows turned into COPY text at a time


def _escape(text: str) -> str:
    """COPY text format: backslash, tab, newline and carriage return escaped."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _column_writer(column, dialect):
    """value -> its COPY text (None -> \\N), through the column type's bind processing. One
    closure per kind of column, so a value costs one call and no type tests (issue 10)."""
    kind = column.type
    process = kind.process_bind_param if isinstance(kind, TypeDecorator) else None
    impl = kind.impl if isinstance(kind, TypeDecorator) else kind
    dialect_impl = impl.dialect_impl(dialect) if hasattr(impl, "dialect_impl") else impl
    is_json = isinstance(dialect_impl, JSON) or isinstance(impl, JSON)
    is_bool = isinstance(impl, Boolean)
    dumps = json.JSONEncoder(ensure_ascii=False).encode    # what json.dumps(value, ensure_ascii=False) gives

    if process is not None and isinstance(impl, DateTime):
        # A batch's rows repeat a few stamps many times over (each field's updated_at is its
        # record's LastModifiedDate): each distinct stamp is turned into text once.
        texts: dict[Any, str] = {}

        def write(value: Any) -> str:
            if value is None:
                return "\\N"
            text = texts.get(value)
            if text is None:
                if len(texts) >= 10_000:
                    texts.clear()
                text = texts[value] = _plain(process(value, dialect))
            return text
    elif process is not None:
        def write(value: Any) -> str:
            return _plain(process(value, dialect))
    elif is_json:
        def write(value: Any) -> str:
            return "\\N" if value is None else _escape(dumps(value))
    elif is_bool:
        def write(value: Any) -> str:
            return "\\N" if value is None else ("t" if value else "f")
    else:
        def write(value: Any) -> str:
            if value is None:
                return "\\N"
            if type(value) is str:
                return _escape(value)
            return _plain(value)

    def _plain(value: Any) -> str:
        if value is None:
            return "\\N"
        if is_json:
            return _escape(dumps(value))
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
                if c.name not in given and isinstance(c.default, ScalarElementColumnDefault)}
    _copy(conn, table, table.name, rows, given, defaults)


def insert_returning_ids(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> list[int]:
    """INSERT rows and return their new ids in the rows' order. On PostgreSQL, for many rows: the
    ids are taken from the column's sequence first (one query), then the rows COPYed with them."""
    if not rows:
        return []
    if conn.dialect.name != "postgresql" or len(rows) < COPY_MIN_ROWS:
        return list(conn.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                                 list(rows)).scalars().all())
    from sqlalchemy import text

    ids = list(conn.execute(text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
                            {"table": table.name, "n": len(rows)}).scalars())
    with_ids = [{**row, "id": new_id} for row, new_id in zip(rows, ids, strict=False)]
    given = list(with_ids[0])
    defaults = {c.name: c.default.arg for c in table.columns
                if c.name not in given and isinstance(c.default, ScalarElementColumnDefault)}
    _copy(conn, table, table.name, with_ids, given, defaults)
    return ids


def reserve_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """`count` new ids of `table`, in order, for rows inserted with them in this transaction:
    from the column's sequence on PostgreSQL, after the largest id on SQLite (which is what an
    INSERT would give them there)."""
    if count <= 0:
        return []
    from sqlalchemy import func, select, text

    if conn.dialect.name == "postgresql":
        # The sequence looked up once, not once per id (4 ms instead of 16 ms for 5,000 ids).
        return list(conn.execute(text("WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(:table, 'id')::regclass AS seq) "
                                      "SELECT nextval(s.seq) FROM s, generate_series(1, :n)"),
                                 {"table": table.name, "n": count}).scalars())
    start = (conn.execute(select(func.max(table.c.id))).scalar() or 0) + 1
    return list(range(start, start + count))


def _copy(conn: Connection, table: Table, target: str, rows: Sequence[dict[str, Any]], given: list[str],
          defaults: dict[str, Any]) -> None:
    names = given + list(defaults)
    writers = [_column_writer(table.c[name], conn.dialect) for name in names]
    fixed = [writer(defaults[name]) for name, writer in zip(names[len(given):], writers[len(given):], strict=False)]
    # Column by column (each writer mapped over the rows), then joined row by row, a slice of
    # rows at a time so the text of a large COPY is built without a copy of every value at once.
    tail = "\t".join(fixed)
    pairs = list(zip(given, writers, strict=False))
    buffer = io.StringIO()
    for start in range(0, len(rows), COPY_SLICE):
        part = rows[start:start + COPY_SLICE]
        columns = [list(map(writer, [row[name] for row in part])) for name, writer in pairs]
        lines = ["\t".join(values) for values in zip(*columns, strict=True)] if columns else [""] * len(part)
        if tail:
            lines = [f"{line}\t{tail}" if columns else tail for line in lines]
        buffer.write("\n".join(lines))
        buffer.write("\n")
    buffer.seek(0)
    dbapi = conn.connection.dbapi_connection
    if dbapi is None:   # only once the connection was invalidated
        raise RuntimeError("the database connection was closed before COPY")
    cursor = dbapi.cursor()
    try:
        cursor.copy_expert(f"COPY {target} ({', '.join(names)}) FROM STDIN", buffer)
    finally:
        cursor.close()


def update_rows(conn: Connection, table: Table, key: str, rows: Sequence[dict[str, Any]],
                constants: dict[str, Any] | None = None) -> None:
    """UPDATE table SET <the rows' other columns> (and `constants`) WHERE key = the row's key, for many rows:
    on PostgreSQL one COPY into a temporary table and one UPDATE ... FROM (set-based) instead of
    a statement per row; elsewhere an executemany."""
    if not rows:
        return
    constants = constants or {}
    columns = [name for name in rows[0] if name != key]
    if conn.dialect.name != "postgresql" or len(rows) < COPY_MIN_ROWS:
        from sqlalchemy import bindparam, update

        conn.execute(update(table).where(table.c[key] == bindparam("b_key"))
                     .values(**{name: bindparam(name) for name in columns}, **constants),
                     [{**{name: row[name] for name in columns}, "b_key": row[key]} for row in rows])
        return
    from sqlalchemy import text

    temp = f"bulk_update_{table.name}"
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS pg_temp.{temp}")
    conn.exec_driver_sql(f"CREATE TEMP TABLE {temp} AS SELECT {key}, {', '.join(columns)} FROM {table.name} WITH NO DATA")
    _copy(conn, table, temp, rows, [key, *columns], {})
    assignments = [f"{name} = s.{name}" for name in columns] + [f"{name} = :c_{name}" for name in constants]
    conn.execute(text(f"UPDATE {table.name} AS t SET {', '.join(assignments)} FROM {temp} AS s "
                      f"WHERE t.{key} = s.{key}").bindparams(**{f"c_{name}": value for name, value in constants.items()}))
    conn.exec_driver_sql(f"DROP TABLE {temp}")


UNNEST_CHUNK = 10_000   # rows per call of `update_each` on PostgreSQL


def update_each(conn: Connection, rows: Sequence[dict[str, Any]], types: dict[str, Any],
                build: Callable[[Any], Any]) -> None:
    """An UPDATE for each row, set-based where the database allows it. `build(v)` makes the
    statement from `v.c.<name>`, the row's values (`types`: name -> SQL type; the rows' keys
    distinct). On PostgreSQL `v` is `unnest` of one array per name, joined in: one UPDATE ...
    FROM per UNNEST_CHUNK rows, compiled once (issue 10: an executemany there is a statement per
    row, and a VALUES list is compiled anew for each call). Elsewhere the bind parameters of one
    executemany (SQLite has no column names for a VALUES list)."""
    if not rows:
        return
    names = list(types)
    from sqlalchemy import bindparam

    if conn.dialect.name == "postgresql":
        from sqlalchemy import func
        from sqlalchemy.dialects.postgresql import ARRAY

        arrays = func.unnest(*[bindparam(name, type_=ARRAY(types[name])) for name in names])
        statement = build(arrays.table_valued(*names).render_derived(name="v"))
        for start in range(0, len(rows), UNNEST_CHUNK):
            part = rows[start:start + UNNEST_CHUNK]
            conn.execute(statement, {name: [row[name] for row in part] for name in names})
        return
    binds = SimpleNamespace(c=SimpleNamespace(**{name: bindparam(name, type_=types[name]) for name in names}))
    conn.execute(build(binds), [{name: row[name] for name in names} for row in rows])
