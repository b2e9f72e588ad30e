"""Run records: one row per run and step in `sync_runs`, what `conversion-sync status` shows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, insert, update

from conversion_sync.store.schema import sync_runs


def record_step(conn: Connection, run_id: str, step: str, partition: str | None, *, started: dt.datetime,
                finished: dt.datetime, status: str, stats: Mapping[str, Any] | None = None,
                error: str | None = None) -> None:
    """Write how one step of a run ended (the step's row is created at its first record and
    updated after: a step recorded twice keeps one row)."""
    values = {"finished_at": finished, "status": status, "stats": dict(stats or {}), "error": error}
    updated = conn.execute(update(sync_runs).where(sync_runs.c.run_id == run_id, sync_runs.c.step == step)
                           .values(**values)).rowcount
    if not updated:
        conn.execute(insert(sync_runs).values(run_id=run_id, step=step, partition_key=partition,
                                              started_at=started, **values))
