"""Where a SQLite engine keeps its file (the sync lock and the run holders sit beside it)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine


def sqlite_path(engine: Engine) -> Path | None:
    """The file of a SQLite database, or None (in-memory or another backend)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser().resolve()
