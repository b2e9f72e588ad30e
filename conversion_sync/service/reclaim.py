"""R1: a sync run whose process died never blocks the schedule.

A run executed in process (`conversion-sync sync`) has no run worker for Dagster's run
monitoring to watch, and the default run launcher cannot check a daemon-launched run's worker
either: a killed run would stay STARTED for ever, and the sensor would skip every tick. So every
process that runs a sync keeps a row in `sync_run_holders` (pid, host, heartbeat, store/run_hold.py);
the sensor and the CLI look at the active sync runs' rows and mark a run failed, with one
sentence, when its process is gone:

- its pid no longer exists on this host (or is another process now): dead at once;
- its heartbeat is older than `stale_seconds` (another host, or a process that stopped): dead;
- it released the sync but never reported an end: dead;
- it has been STARTED for `stale_seconds` without ever waiting for the sync: dead (its worker
  died before its first step).

Exclusion never depends on this: the lock itself is freed by the OS or PostgreSQL when its
holder dies. This only tells Dagster what happened, so the queue and the sensor move on."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from dataclasses import dataclass

import dagster as dg
from sqlalchemy import Engine

from conversion_sync.store import holders as holder_store
from conversion_sync.store.holders import Holder

log = logging.getLogger(__name__)

RECLAIMED_TAG = "conversion_sync/reclaimed"
_ACTIVE = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
           dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.SUSPENDED]


@dataclass(frozen=True)
class Reclaimed:
    run_id: str
    reason: str


def _pid_alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if started is not None:
        now_started = holder_store.process_started(pid)
        if now_started is not None and now_started != started:
            return False          # the pid was reused by another process
    return True


def why_dead(holder: Holder | None, run: dg.DagsterRun, run_started: float | None, *, now: dt.datetime,
             stale_seconds: float, host: str | None = None) -> str | None:
    """The sentence saying why `run`'s process is gone, or None while it may still be alive."""
    host = host or socket.gethostname()
    if holder is None:
        if run.status != dg.DagsterRunStatus.STARTED or run_started is None:
            return None
        age = now.timestamp() - run_started
        if age > stale_seconds:
            return (f"Marked failed by conversion-sync: the run started {int(age)} s ago but its process never "
                    "reached its first step and is presumed gone.")
        return None
    where = f"pid {holder.pid} on {holder.host}"
    if holder.state in ("released", "dead"):
        return (f"Marked failed by conversion-sync: its process ({where}) let go of the sync without "
                "reporting how the run ended.")
    if holder.host == host and not _pid_alive(holder.pid, holder.process_started):
        return f"Marked failed by conversion-sync: the process running it ({where}) is gone."
    silent = (now - holder.heartbeat_at).total_seconds()
    if silent > stale_seconds:
        return (f"Marked failed by conversion-sync: the process running it ({where}) has not given a sign "
                f"of life for {int(silent)} s.")
    return None


def reclaim_dead_runs(instance: dg.DagsterInstance, engine: Engine, *, stale_seconds: float,
                      is_sync_run=lambda run: True, now: dt.datetime | None = None) -> list[Reclaimed]:
    """Mark failed every active sync run whose process is gone; returns what was reclaimed."""
    now = now or dt.datetime.now(dt.UTC)
    records = [r for r in instance.get_run_records(dg.RunsFilter(statuses=_ACTIVE), limit=200)
               if is_sync_run(r.dagster_run)]
    if not records:
        return []
    with holder_store.holder_engine(engine).connect() as conn:
        rows = holder_store.holders_of(conn, [r.dagster_run.run_id for r in records])
    reclaimed = []
    for record in records:
        run = record.dagster_run
        started = record.start_time or (record.create_timestamp.timestamp() if record.create_timestamp else None)
        reason = why_dead(rows.get(run.run_id), run, started, now=now, stale_seconds=stale_seconds)
        if reason is None:
            continue
        current = instance.get_run_by_id(run.run_id)     # it may have ended while we looked
        if current is None or current.status not in _ACTIVE:
            continue
        instance.report_run_failed(current, reason)
        instance.add_run_tags(run.run_id, {RECLAIMED_TAG: "true"})
        with holder_store.holder_engine(engine).begin() as conn:
            holder_store.record_dead(conn, run.run_id)
        log.warning("sync run %s: %s", run.run_id[:8], reason)
        reclaimed.append(Reclaimed(run.run_id, reason))
    return reclaimed
