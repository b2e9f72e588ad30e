"""What the sync assets share: the run's mode and partitions, the clock, and metadata (H1)."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import dagster as dg
from sqlalchemy import Table

from conversion_sync.partitions import MODE_TAG, SYNC_POOL, partition_bounds
from conversion_sync.service.failures import domain_error, sentence
from conversion_sync.store import runs as run_records
from conversion_sync.sync.windows import PullWindow, plan_window

OWNERS = ["team:data-engineering"]
# Freshness (Dagster's own policy, evaluated by the daemon between runs): a sync every 5
# minutes is healthy; no successful sync for 15 minutes is a warning, for an hour a failure.
SYNC_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=1),
                                                warn_window=dt.timedelta(minutes=15))


def partitioned_sync_asset(partitions_def: dg.PartitionsDefinition, **kwargs: Any) -> Any:
    """@asset for the partitioned sync steps: daily partitions, one run per backfilled range, the
    sync pool (one sync run at a time), the data team as owner."""
    return dg.asset(partitions_def=partitions_def, backfill_policy=dg.BackfillPolicy.single_run(),
                    pool=SYNC_POOL, owners=OWNERS, freshness_policy=SYNC_FRESHNESS, **kwargs)


def hold_sync(context: dg.AssetExecutionContext | dg.OpExecutionContext, database: Any) -> None:
    """R1: take the sync for this whole run at its first step (later steps re-enter it); it is
    let go when the run has ended. A step that has to wait says for which run, in the run's log."""
    run_id, instance = context.run.run_id, context.instance

    def still_running() -> bool:
        run = instance.get_run_by_id(run_id)
        return run is not None and not run.is_finished

    database.hold_sync_for_run(run_id, holder=f"run {run_id[:8]} ({context.run.job_name})",
                               still_running=still_running, on_wait=context.log.info)


PROGRESS_SECONDS = 5.0    # at most one progress line per step this often (each line is a Dagster event)


class BetweenBatches:
    """What an extract or apply step is given as `progress`, called after each batch it
    committed: the progress line for the engineer on call (the first one, then at most one every
    PROGRESS_SECONDS, and the last one when the step ends, so a large pull shows how far it is
    without a flood of events), and then `between` (the push of contacts waiting for
    Salesforce, assets.push.WaitingPush), which runs in the gap between two batches."""

    def __init__(self, log: Callable[[str], None], between: Callable[[], None] | None = None, *,
                 seconds: float = PROGRESS_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.log, self.between, self.seconds, self.clock = log, between, seconds, clock
        self.logged_at: float | None = None
        self.unlogged: str | None = None
        self.skip_between = False

    def __call__(self, message: str) -> None:
        now = self.clock()
        if self.logged_at is None or now - self.logged_at >= self.seconds:
            self.log(message)
            self.logged_at, self.unlogged = now, None
        else:
            self.unlogged = message
        skip, self.skip_between = self.skip_between, False
        if self.between is not None and not skip:
            self.between()

    def will_write(self) -> bool:
        """Whether the next call may write (run `between`, which pushes), decided now and kept for
        that call: a step that writes part of a batch in a thread of its own (service/apply.py)
        finishes it first only when this is true, and a `between` that became due meanwhile waits
        for the batch after."""
        due = getattr(self.between, "due", None)
        self.skip_between = self.between is None or (due is not None and not due())
        return not self.skip_between

    def close(self) -> None:
        """The step's last progress line, if it was held back."""
        if self.unlogged is not None:
            self.log(self.unlogged)
            self.unlogged = None


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def run_partitions(context: dg.AssetExecutionContext) -> list[tuple[str, dt.datetime, dt.datetime]]:
    return partition_bounds(list(context.partition_keys))


def is_incremental(context: dg.AssetExecutionContext) -> bool:
    return context.run.tags.get(MODE_TAG) == "incremental"


def window_for(context: dg.AssetExecutionContext, *, live_watermark: dt.datetime | None,
               lookback_seconds: int, settle_seconds: int, now: dt.datetime) -> PullWindow:
    partitions = run_partitions(context)
    first = context.assets_def.partitions_def.start.astimezone(dt.UTC)  # this run's own partitions
    return plan_window(range_start=partitions[0][1], range_end=partitions[-1][2],
                       first_partition_start=first, live_watermark=live_watermark,
                       incremental=is_incremental(context), now=now,
                       lookback_seconds=lookback_seconds, settle_seconds=settle_seconds)


def count_metadata(counts: Mapping[str, int], keys: list[str]) -> dict[str, Any]:
    """Every H1 count as a number (the UI plots numeric metadata over time), zeros included."""
    return {key: dg.MetadataValue.int(int(counts.get(key, 0))) for key in keys}


def add_partition_counts(context: dg.AssetExecutionContext, by_partition: Mapping[str, Mapping[str, int]],
                         keys: list[str]) -> None:
    """Each partition of the run gets its own counts (a range backfill or the first sync covers
    several days: every day shows what that day held, not the range's total)."""
    for key in context.partition_keys:
        context.add_asset_metadata(count_metadata(by_partition.get(key, {}), keys), partition_key=key)


def table_metadata(table: Table, *, table_name: str, row_count: int | None = None,
                   columns: list[str] | None = None) -> dict[str, Any]:
    """dagster/table_name, dagster/column_schema (the Conversion table's columns) and, when
    given, dagster/row_count = the rows in that table now (not the rows a run pulled)."""
    chosen = [c for c in table.columns if columns is None or c.name in columns]
    schema = dg.TableSchema(columns=[
        dg.TableColumn(name=c.name, type=_type_name(c),
                       constraints=dg.TableColumnConstraints(nullable=bool(c.nullable), unique=bool(c.unique)))
        for c in chosen])
    metadata: dict[str, Any] = {"dagster/table_name": dg.MetadataValue.text(table_name),
                                "dagster/column_schema": dg.MetadataValue.table_schema(schema)}
    if row_count is not None:
        metadata["dagster/row_count"] = dg.MetadataValue.int(int(row_count))
    return metadata


def _type_name(column) -> str:
    try:
        return str(column.type.compile()).lower()
    except Exception:  # a TypeDecorator without a default dialect name
        return type(column.type).__name__.lower()


def api_metadata(usage) -> dict[str, Any]:
    """The org's API usage as numbers (H3), plotted over time: used, daily limit, share used."""
    used, limit = int(usage.used or 0), int(usage.limit or 0)
    return {"api_used": dg.MetadataValue.int(used), "api_limit": dg.MetadataValue.int(limit),
            "api_share": dg.MetadataValue.float(round(used / limit, 4) if limit else 0.0)}


def number_metadata(prefix: str, counts: Mapping[str, int], always: tuple[str, ...] = ()) -> dict[str, Any]:
    """`prefix_<name>` = count for each name (those in `always` even when zero), and `prefix` = the total."""
    names = sorted(set(always) | set(counts))
    metadata = {f"{prefix}_{name.lower()}": dg.MetadataValue.int(int(counts.get(name, 0))) for name in names}
    metadata[prefix] = dg.MetadataValue.int(int(sum(counts.values())))
    return metadata


def timestamp(value: dt.datetime | None) -> Any:
    return dg.MetadataValue.timestamp(value) if value is not None else dg.MetadataValue.text("none yet")


def record_step(engine, run_id: str, step: str, partition: str | None, started: dt.datetime, *,
                status: str, stats: Mapping[str, Any] | None = None, error: str | None = None) -> None:
    """Keep a row per run and step for `conversion-sync status` (the UI has the same in its metadata)."""
    with engine.begin() as conn:
        run_records.record_step(conn, run_id, step, partition, started=started, finished=utcnow(),
                                status=status, stats=stats, error=error)


GC_YOUNG_THRESHOLD = 50_000   # allocations between two collections of the youngest generation (Python: 700)
_collections_lock = threading.Lock()
_collections_held = [0, None]   # steps inside fewer_collections, the thresholds before the first


@contextlib.contextmanager
def fewer_collections():
    """While a step works through many records, Python's cyclic garbage collector leaves alone
    what was alive before the step (Dagster, the definitions, the engines: frozen) and collects
    the young generation every GC_YOUNG_THRESHOLD allocations instead of 700. The records a step
    makes are freed by reference counting as they go; the collector only rescanned everything
    (issue 10: 5.6 s of W1's 24 s of CPU at scale 0.1 was collections). Restored when the last
    step inside it ends."""
    with _collections_lock:
        if _collections_held[0] == 0:
            _collections_held[1] = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(GC_YOUNG_THRESHOLD, *_collections_held[1][1:])
        _collections_held[0] += 1
    try:
        yield
    finally:
        with _collections_lock:
            _collections_held[0] -= 1
            if _collections_held[0] == 0:
                gc.set_threshold(*_collections_held[1])
                gc.unfreeze()


@contextlib.contextmanager
def recorded_step(engine, run_id: str, step: str, partition: str | None):
    """Yield the step's start time; a step that raises is recorded as failed with its sentence,
    so `conversion-sync status` shows failures as well as successes. An expected failure (a domain
    error, or one `failures.domain_error` translates) ends the step as a `dg.Failure` whose
    description is that sentence, so the run's error in the UI is the sentence, not Dagster's
    "Error occurred while executing op" wrapper; the original stays chained for the traceback."""
    started = utcnow()
    try:
        with fewer_collections():
            yield started
    except Exception as exc:
        error = domain_error(exc)
        message = sentence(error) if error is not None else \
            (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        # The database itself may be what failed; the run shows the error anyway.
        with contextlib.suppress(Exception):
            record_step(engine, run_id, step, partition, started, status="failure", error=message[:500])
        if error is None:
            raise
        raise dg.Failure(description=message, metadata={"error": type(error).__name__}) from error
