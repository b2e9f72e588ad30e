"""Engines for the Conversion database: SQLite file by default, PostgreSQL in production.

`open_engine(url)` gives one engine per URL and process, with the schema created or upgraded on
first use (see `migrations`). Only plain values come in: the URL, and the one folder a SQLite
file may be created in (the data folder, which the caller knows)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from conversion_sync.errors import ConfigError, DatabaseUnavailable
from conversion_sync.store.migrations import upgrade
from conversion_sync.store.run_hold import release_all
from conversion_sync.store.sqlite_file import sqlite_path

__all__ = ["dispose_engines", "open_engine", "safe_url", "sqlite_path"]

log = logging.getLogger(__name__)

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def open_engine(url: str, *, migrate: bool = True, data_folder: Path | None = None) -> Engine:
    """The process-wide engine for `url`, its schema at the current version. A SQLite file's
    folder must exist, except `data_folder` (the default place of the database), made on demand."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _create_engine(url, data_folder)
            if migrate:
                upgrade(engine)
            _engines[url] = engine
        return engine


def dispose_engines() -> None:
    """Close every pooled connection (tests, and before forking), letting go of any sync hold."""
    release_all()
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _create_engine(url: str, data_folder: Path | None) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            "CONVERSION_DATABASE_URL is not a valid SQLAlchemy URL (use sqlite:////path/to/file.db or "
            "postgresql+psycopg2://user:password@host:5432/dbname).") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            _sqlite_folder(Path(database).expanduser(), data_folder)
        engine = create_engine(parsed, connect_args={"timeout": 60})
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; emit it ourselves so that a
        # transaction is one unit (and a writer takes the lock at its first write).
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
    elif backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg2")
        # values_plus_batch: bulk UPDATEs go out in pages (psycopg2's execute_batch) instead of
        # one round trip per row; INSERTs already use multi-row VALUES.
        engine = create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=5,
                               executemany_mode="values_plus_batch", executemany_batch_page_size=500)
    else:
        raise ConfigError(
            f"CONVERSION_DATABASE_URL uses {backend!r}; conversion-sync supports sqlite and postgresql.")
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "connection failed"
        raise DatabaseUnavailable(
            f"Could not open the Conversion database {safe_url(url)} ({reason}); check CONVERSION_DATABASE_URL "
            "and that the database server is running.") from None
    return engine


def _sqlite_folder(path: Path, data_folder: Path | None) -> None:
    """Make sure the folder of a SQLite file exists. Only the data folder (the default place of
    the database) is created; a URL naming a folder that does not exist is most likely a typo,
    and silently starting a new, empty database there would pull the whole org into it."""
    folder = path.parent
    if folder.is_dir():
        return
    if data_folder is not None and folder.resolve() == data_folder.resolve():
        folder.mkdir(parents=True, exist_ok=True)
        return
    raise ConfigError(
        f"CONVERSION_DATABASE_URL names the SQLite file {path}, but the folder {folder} does not exist; "
        "create the folder or correct the URL.")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # autocommit at the driver; BEGIN comes from the event
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=60000")
    # Issue 10: a 64 MiB page cache and in-memory temporary b-trees (the big first-load sorts).
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()
