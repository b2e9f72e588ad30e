"""R1: a sync run holds the sync from its first step to its last, not step by step.

The first step of a run (or `conversion-sync sync`, around the whole run) takes the named lock
(store/lock.py) on behalf of the run id; later steps of the same run in this process re-enter it.
The process keeps the lock until the run has ended (`still_running()` says no), the outer holder
releases it, or the process exits — the OS (flock) or PostgreSQL (session advisory lock) frees it
when the process dies, so a killed run never keeps the sync from the next one.

While waiting and while holding, a thread refreshes the run's row in `sync_run_holders` (pid,
host, heartbeat): that is how another process tells a dead holder from a live one."""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import Engine

from conversion_sync.errors import SyncLockHeld
from conversion_sync.store import holders
from conversion_sync.store.lock import acquirer

log = logging.getLogger(__name__)

DEFAULT_STALE_SECONDS = 120.0


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(eq=False)
class RunHold:
    engine: Engine
    name: str
    run_id: str
    still_running: Callable[[], bool] | None       # None: held until the outer holder releases it
    heartbeat_seconds: float
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    outer: int = 0
    acquired: bool = False
    released: bool = False
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def key(self) -> tuple[int, str]:
        return (id(self.engine), self.name)

    def run_has_ended(self) -> bool:
        if self.outer or self.still_running is None:
            return False
        try:
            return not self.still_running()
        except Exception:   # cannot tell (instance gone): keep holding until the process ends
            log.debug("could not read the state of run %s", self.run_id, exc_info=True)
            return False


_holds: dict[tuple[int, str], RunHold] = {}
_guard = threading.RLock()


def take(engine: Engine, run_id: str, *, name: str = "sync", holder: str, wait_seconds: float,
         stale_seconds: float = DEFAULT_STALE_SECONDS, still_running: Callable[[], bool] | None = None,
         on_wait: Callable[[str], None] | None = None, outer: bool = False,
         poll_seconds: float = 0.25) -> RunHold:
    """Hold the sync for `run_id`, waiting at most `wait_seconds` for another run to finish.

    Re-entrant per run in this process. `outer` holds are released by `release`; the others
    when `still_running()` turns false (checked by the heartbeat), when another run of this
    process needs the lock after this run ended, or at process exit."""
    key = (id(engine), name)
    with _guard:
        existing = _holds.get(key)
        if existing is not None and existing.run_id == run_id and not existing.released:
            if outer:
                existing.outer += 1
            elif existing.still_running is None and still_running is not None and not existing.outer:
                existing.still_running = still_running
            return existing
    hold = RunHold(engine=engine, name=name, run_id=run_id, still_running=None if outer else still_running,
                   heartbeat_seconds=max(0.2, stale_seconds / 6), outer=1 if outer else 0)
    with holders.holder_engine(engine).begin() as conn:
        holders.record_waiting(conn, run_id, name, holder, _utcnow())
    thread = threading.Thread(target=_heartbeat, args=(hold,), name=f"sync-hold-{run_id[:8]}", daemon=True)
    thread.start()
    try:
        try_acquire = hold.stack.enter_context(acquirer(engine, name))
        deadline = time.monotonic() + wait_seconds
        announced = False
        while True:
            with _guard:
                other = _holds.get(key)
                if other is not None and other.run_has_ended():
                    _release(other)           # its run is over; it only kept the lock for lack of a signal
                    other = None
                if other is None and try_acquire():
                    hold.acquired = True
                    _holds[key] = hold
                    break
            if time.monotonic() >= deadline:
                raise SyncLockHeld(
                    f"Another sync is running ({_who(engine, name)}) and still held the sync after the "
                    f"{wait_seconds:g} s this one waited; try again when it has finished.")
            if not announced and on_wait is not None:
                on_wait(f"Waiting for the sync {_who(engine, name)} to finish (at most {wait_seconds:g} s).")
                announced = True
            time.sleep(poll_seconds)
        with holders.holder_engine(engine).begin() as conn:
            holders.record_acquired(conn, run_id, _utcnow())
    except BaseException:
        # Its row stays 'waiting' with no more heartbeats: the step (or command) that gave up
        # reports its own failure.
        hold.stop.set()
        hold.stack.close()
        raise
    log.debug("run %s holds the %s lock", run_id, name)
    return hold


def release(hold: RunHold) -> None:
    """An outer holder is done with the run (the run has ended): free the lock unless nested."""
    with _guard:
        if hold.outer > 1:
            hold.outer -= 1
            return
        hold.outer = 0
    _release(hold)


@contextlib.contextmanager
def run_hold(engine: Engine, run_id: str, **kwargs) -> Iterator[RunHold]:
    """Hold the sync for `run_id` for the duration of the block (`conversion-sync sync`)."""
    hold = take(engine, run_id, outer=True, **kwargs)
    try:
        yield hold
    finally:
        release(hold)


def held_run(engine: Engine, name: str = "sync") -> str | None:
    """The run id this process holds the lock for, if any."""
    with _guard:
        hold = _holds.get((id(engine), name))
        return hold.run_id if hold is not None and not hold.released else None


def release_all() -> None:
    """Free every lock this process holds (process exit, tests disposing their engines)."""
    with _guard:
        holds = list(_holds.values())
    for hold in holds:
        _release(hold)
    holders.dispose_holder_engines()


def _release(hold: RunHold) -> None:
    with _guard:
        if hold.released:
            return
        hold.released = True
        if _holds.get(hold.key) is hold:
            del _holds[hold.key]
    hold.stop.set()
    _mark_released(hold)
    hold.stack.close()
    log.debug("run %s released the %s lock", hold.run_id, hold.name)


def _mark_released(hold: RunHold) -> None:
    try:
        with holders.holder_engine(hold.engine).begin() as conn:
            holders.record_released(conn, hold.run_id, _utcnow())
    except Exception:   # the lock is freed regardless; the row only serves messages and reclaiming
        log.warning("could not record that run %s released the sync", hold.run_id, exc_info=True)


def _heartbeat(hold: RunHold) -> None:
    while not hold.stop.wait(hold.heartbeat_seconds):
        if hold.acquired and hold.run_has_ended():
            _release(hold)
            return
        try:
            with holders.holder_engine(hold.engine).begin() as conn:
                holders.record_heartbeat(conn, hold.run_id, _utcnow())
        except Exception:   # a busy or lost database: try again on the next beat
            log.debug("heartbeat of run %s failed", hold.run_id, exc_info=True)


def _who(engine: Engine, name: str) -> str:
    try:
        with holders.holder_engine(engine).connect() as conn:
            current = holders.current_holder(conn, name)
    except Exception:
        current = None
    return current.describe() if current is not None else "holder unknown"


atexit.register(release_all)
