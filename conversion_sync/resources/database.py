"""The Conversion database as a Dagster resource: the engine, the sync settings, the sync lock."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

import dagster as dg
from pydantic import Field
from sqlalchemy import Engine

from conversion_sync.errors import ConfigError
from conversion_sync.settings.paths import data_dir, database_url
from conversion_sync.settings.sync import SyncSettings, load_sync_settings
from conversion_sync.store import run_hold
from conversion_sync.store.database import open_engine
from conversion_sync.store.lock import hold_lock

LOCK_WAIT_ENV = "CONVERSION_SYNC_LOCK_WAIT_SECONDS"
STALE_ENV = "CONVERSION_SYNC_HOLDER_STALE_SECONDS"


def _seconds_from_env(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise ConfigError(f"{name} must be a number of seconds above 0 (got {raw!r}).")
    return value


class ConversionDatabase(dg.ConfigurableResource):
    """Conversion's contacts and companies (SQLite by default, PostgreSQL in production).

    The URL comes from CONVERSION_DATABASE_URL at run time unless set here; the schema is created
    or upgraded on first use."""

    url: str | None = Field(default=None, description="SQLAlchemy URL; default CONVERSION_DATABASE_URL "
                                                      "or the SQLite file under the data folder.")
    lock_wait_seconds: float | None = Field(
        default=None, description="How long a sync waits for another sync run to finish "
                                  f"(default {LOCK_WAIT_ENV} or 300 s).")
    holder_stale_seconds: float | None = Field(
        default=None, description="A sync run whose process gave no sign of life for this long is marked "
                                  f"failed (default {STALE_ENV} or 120 s); a process gone from this host at once.")

    def resolved_url(self) -> str:
        return self.url or database_url()

    def engine(self) -> Engine:
        return open_engine(self.resolved_url(), data_folder=data_dir())

    def settings(self) -> SyncSettings:
        return load_sync_settings()

    def wait_seconds(self) -> float:
        return self.lock_wait_seconds or _seconds_from_env(LOCK_WAIT_ENV, 300.0)

    def stale_seconds(self) -> float:
        return self.holder_stale_seconds or _seconds_from_env(STALE_ENV, run_hold.DEFAULT_STALE_SECONDS)

    @contextlib.contextmanager
    def sync_lock(self, holder: str) -> Iterator[None]:
        """One block at a time, whatever started it; not bound to a run (see hold_sync_for_run)."""
        with hold_lock(self.engine(), "sync", holder=holder, wait_seconds=self.wait_seconds()):
            yield

    def hold_sync_for_run(self, run_id: str, *, holder: str, still_running: Callable[[], bool],
                          on_wait: Callable[[str], None] | None = None) -> None:
        """R1: the step of a run takes the sync for the whole run (later steps re-enter); this
        process keeps it until the run has ended or the process exits."""
        run_hold.take(self.engine(), run_id, holder=holder, wait_seconds=self.wait_seconds(),
                      stale_seconds=self.stale_seconds(), still_running=still_running, on_wait=on_wait)

    @contextlib.contextmanager
    def run_hold(self, run_id: str, *, holder: str,
                 on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        """R1: hold the sync for run `run_id` for the block (an in-process run, start to end)."""
        with run_hold.run_hold(self.engine(), run_id, holder=holder, wait_seconds=self.wait_seconds(),
                               stale_seconds=self.stale_seconds(), on_wait=on_wait):
            yield
