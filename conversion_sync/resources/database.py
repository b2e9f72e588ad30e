"""The Conversion database as a Dagster resource: the engine, the sync settings, the sync lock."""

from __future__ import annotations

import contextlib
from typing import Iterator

import dagster as dg
from pydantic import Field
from sqlalchemy import Engine

from conversion_sync.config import SyncSettings, database_url, load_sync_settings
from conversion_sync.store.database import open_engine
from conversion_sync.store.lock import hold_lock


class ConversionDatabase(dg.ConfigurableResource):
    """Conversion's contacts and companies (SQLite by default, PostgreSQL in production).

    The URL comes from CONVERSION_DATABASE_URL at run time unless set here; the schema is created
    or upgraded on first use."""

    url: str | None = Field(default=None, description="SQLAlchemy URL; default CONVERSION_DATABASE_URL "
                                                      "or the SQLite file under the data folder.")
    lock_wait_seconds: float = Field(default=120.0, description="How long a sync waits for another to finish.")

    def resolved_url(self) -> str:
        return self.url or database_url()

    def engine(self) -> Engine:
        return open_engine(self.resolved_url())

    def settings(self) -> SyncSettings:
        return load_sync_settings()

    @contextlib.contextmanager
    def sync_lock(self, holder: str) -> Iterator[None]:
        """R1: one sync writes at a time, whatever started it (sensor, UI, backfill, CLI)."""
        with hold_lock(self.engine(), "sync", holder=holder, wait_seconds=self.lock_wait_seconds):
            yield
