"""Who holds (or waits for) the sync for which run (R1): one row per run in `sync_run_holders`.

The lock itself is an advisory/file lock (store/lock.py); these rows say which process and run it
belongs to, and carry a heartbeat the holding process refreshes, so that a run whose process is
gone can be told apart from one that is still working (service/reclaim.py)."""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, create_engine, delete, event, insert, select, update
from sqlalchemy.exc import OperationalError

from conversion_sync.store.schema import sync_run_holders
from conversion_sync.store.sqlite_file import sqlite_path

UTC = dt.UTC
_sidecars: dict[str, Engine] = {}
_sidecars_guard = threading.Lock()


def holder_engine(engine: Engine) -> Engine:
    """Where the holder rows live: the Conversion database itself on PostgreSQL; on SQLite a small
    database beside its file (like the lock file), so that a heartbeat never competes with the
    sync's own write transactions for SQLite's single writer."""
    path = sqlite_path(engine)
    if path is None:
        return engine
    sidecar = str(path.with_name(f"{path.name}.holders"))
    with _sidecars_guard:
        found = _sidecars.get(sidecar)
        if found is None:
            found = create_engine(f"sqlite:///{sidecar}", connect_args={"timeout": 30})
            event.listen(found, "connect", _sidecar_pragmas)
            try:
                sync_run_holders.create(found, checkfirst=True)
            except OperationalError as exc:     # another process created it between check and create
                if "already exists" not in str(exc):
                    raise
            _sidecars[sidecar] = found
        return found


def dispose_holder_engines() -> None:
    with _sidecars_guard:
        for found in _sidecars.values():
            found.dispose()
        _sidecars.clear()


def _sidecar_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
KEEP_DAYS = 7   # rows of runs long over are pruned


@dataclass(frozen=True)
class Holder:
    run_id: str
    lock_name: str
    holder: str | None
    pid: int
    host: str
    process_started: str | None
    state: str
    waiting_since: dt.datetime
    acquired_at: dt.datetime | None
    heartbeat_at: dt.datetime
    released_at: dt.datetime | None

    def describe(self) -> str:
        """'run 1a2b3c4d (pid 4242 on host-a, since 2026-12-01 21:30:05 UTC)'."""
        since = self.acquired_at or self.waiting_since
        return (f"run {self.run_id[:8]} (pid {self.pid} on {self.host}, "
                f"since {since.strftime('%Y-%m-%d %H:%M:%S')} UTC)")


def process_started(pid: int) -> str | None:
    """The start time of process `pid` (Linux /proc), to tell a reused pid from the holder's."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read().decode("ascii", "replace")
    except OSError:
        return None
    # Field 22 (starttime) counts from the field after the command name, which may hold spaces.
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def this_process() -> tuple[int, str, str | None]:
    pid = os.getpid()
    return pid, socket.gethostname(), process_started(pid)


def record_waiting(conn: Connection, run_id: str, lock_name: str, holder: str, now: dt.datetime) -> None:
    """This process starts waiting for the lock on behalf of `run_id` (replacing an older row)."""
    pid, host, started = this_process()
    conn.execute(delete(sync_run_holders).where(sync_run_holders.c.run_id == run_id))
    conn.execute(insert(sync_run_holders).values(
        run_id=run_id, lock_name=lock_name, holder=holder[:200], pid=pid, host=host[:255],
        process_started=started, state="waiting", waiting_since=now, heartbeat_at=now))
    conn.execute(delete(sync_run_holders).where(
        sync_run_holders.c.heartbeat_at < now - dt.timedelta(days=KEEP_DAYS)))


def record_acquired(conn: Connection, run_id: str, now: dt.datetime) -> None:
    conn.execute(update(sync_run_holders).where(sync_run_holders.c.run_id == run_id)
                 .values(state="holding", acquired_at=now, heartbeat_at=now))


def record_heartbeat(conn: Connection, run_id: str, now: dt.datetime) -> None:
    conn.execute(update(sync_run_holders).where(sync_run_holders.c.run_id == run_id,
                                                sync_run_holders.c.state.in_(["waiting", "holding"]))
                 .values(heartbeat_at=now))


def record_released(conn: Connection, run_id: str, now: dt.datetime) -> None:
    conn.execute(update(sync_run_holders).where(sync_run_holders.c.run_id == run_id,
                                                sync_run_holders.c.state.in_(["waiting", "holding"]))
                 .values(state="released", released_at=now))


def record_dead(conn: Connection, run_id: str) -> None:
    conn.execute(update(sync_run_holders).where(sync_run_holders.c.run_id == run_id).values(state="dead"))


def holders_of(conn: Connection, run_ids: Iterable[str]) -> dict[str, Holder]:
    ids = list(run_ids)
    if not ids:
        return {}
    rows = conn.execute(select(sync_run_holders).where(sync_run_holders.c.run_id.in_(ids))).all()
    return {row.run_id: Holder(**row._mapping) for row in rows}


def current_holder(conn: Connection, lock_name: str) -> Holder | None:
    """The run holding `lock_name` by its row (the most recent one, if a dead one left its row)."""
    row = conn.execute(select(sync_run_holders)
                       .where(sync_run_holders.c.lock_name == lock_name, sync_run_holders.c.state == "holding")
                       .order_by(sync_run_holders.c.acquired_at.desc()).limit(1)).first()
    return Holder(**row._mapping) if row is not None else None
