"""Cross-process named locks on the Conversion database (R1: one sync writes at a time).

PostgreSQL: a session-level advisory lock on a dedicated connection (freed when the holder's
connection dies). SQLite: an exclusive `flock` on a file beside the database (freed when the
holder's process dies). Waiting is bounded; then `SyncLockHeld` says who holds it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator

from sqlalchemy import Engine, delete, insert, select, text

from conversion_sync.errors import SyncLockHeld
from conversion_sync.store.schema import sync_lock
from conversion_sync.store.sqlite_file import sqlite_path

log = logging.getLogger(__name__)

_process_locks: dict[str, threading.Lock] = {}
_process_locks_guard = threading.Lock()


def describe_holder(label: str) -> str:
    return f"{label} (pid {os.getpid()} on {socket.gethostname()})"


def _advisory_key(name: str) -> int:
    digest = hashlib.sha256(f"conversion_sync:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def hold_lock(engine: Engine, name: str = "sync", *, holder: str = "sync",
              wait_seconds: float = 30.0, poll_seconds: float = 0.2,
              record_holder: bool = True) -> Iterator[None]:
    """Hold the named lock for the duration of the block, waiting at most `wait_seconds`.

    `record_holder` writes who holds it to the sync_lock table (off while migrating, when the
    table may not exist yet)."""
    label = describe_holder(holder)
    with acquirer(engine, name) as try_acquire:
        deadline = time.monotonic() + wait_seconds
        while not try_acquire():
            if time.monotonic() >= deadline:
                raise SyncLockHeld(
                    f"Another sync is running ({_current_holder(engine, name)}) and held the '{name}' lock "
                    f"for the {wait_seconds:g} s this one waited; try again when it has finished.")
            time.sleep(poll_seconds)
        if record_holder:
            _record_holder(engine, name, label)
        log.debug("acquired lock %s as %s", name, label)
        try:
            yield
        finally:
            if record_holder:
                _clear_holder(engine, name)


def acquirer(engine: Engine, name: str) -> contextlib.AbstractContextManager:
    """A context yielding `try_acquire() -> bool` for the named lock; the lock (if taken) is
    released when the context closes, or by the OS / PostgreSQL when this process dies."""
    if engine.dialect.name == "postgresql":
        return _postgres_lock(engine, name)
    return _file_lock(engine, name)


@contextlib.contextmanager
def _postgres_lock(engine: Engine, name: str):
    key = _advisory_key(name)
    connection = engine.connect()
    held = False

    def try_acquire() -> bool:
        nonlocal held
        held = bool(connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        connection.commit()
        return held

    try:
        yield try_acquire
    finally:
        try:
            if held:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                connection.commit()
        finally:
            connection.close()


@contextlib.contextmanager
def _file_lock(engine: Engine, name: str):
    path = sqlite_path(engine)
    if path is None:  # an in-memory database lives in this process only
        with _process_locks_guard:
            lock = _process_locks.setdefault(f"{id(engine)}:{name}", threading.Lock())
        acquired = False

        def try_memory() -> bool:
            nonlocal acquired
            acquired = lock.acquire(blocking=False)
            return acquired

        try:
            yield try_memory
        finally:
            if acquired:
                lock.release()
        return
    lock_path = path.with_name(f"{path.name}.{name}.lock")
    handle = open(lock_path, "a+")  # noqa: SIM115 (closed in the finally below, after the flock is released)
    # flock is per open file description, so threads of one process exclude each other too.
    locked = False

    def try_file() -> bool:
        nonlocal locked
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        locked = True
        return True

    try:
        yield try_file
    finally:
        if locked:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()


def _record_holder(engine: Engine, name: str, label: str) -> None:
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        conn.execute(delete(sync_lock).where(sync_lock.c.name == name))
        conn.execute(insert(sync_lock).values(name=name, holder=label, acquired_at=now))


def _clear_holder(engine: Engine, name: str) -> None:
    try:
        with engine.begin() as conn:
            conn.execute(delete(sync_lock).where(sync_lock.c.name == name))
    except Exception:  # the lock itself is released regardless; this row is only for messages
        log.warning("could not clear the holder row of lock %s", name, exc_info=True)


def _current_holder(engine: Engine, name: str) -> str:
    try:
        with engine.connect() as conn:
            row = conn.execute(select(sync_lock.c.holder, sync_lock.c.acquired_at)
                               .where(sync_lock.c.name == name)).first()
    except Exception:
        row = None
    if row is None:
        return "holder unknown"
    since = row.acquired_at.strftime("%Y-%m-%d %H:%M:%S UTC") if row.acquired_at else "?"
    return f"{row.holder}, since {since}"
