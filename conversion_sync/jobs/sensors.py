"""The 5-minute sync sensor (R1): a sync run starts every 5 minutes, and only once no sync run is
queued or running; a run that overruns is followed by the next one as soon as it ends."""


import datetime as dt

import dagster as dg

from conversion_sync.assets.keys import SYNC_KEYS
from conversion_sync.jobs import push_job, sync_job
from conversion_sync.jobs.actions import REQUEST_JOB_NAMES
from conversion_sync.partitions import MODE_TAG, RANGE_END_TAG, RANGE_START_TAG, first_partition_key, partition_key_for
from conversion_sync.resources.database import ConversionDatabase
from conversion_sync.service.reclaim import RECLAIMED_TAG, Reclaimed, reclaim_dead_runs
from conversion_sync.store import push as push_store
from conversion_sync.store import watermarks

SYNC_INTERVAL_SECONDS = 300
# The sensor looks every few seconds (a cheap evaluation: two run-storage reads), so a cycle
# starts within seconds of being due; the due time itself is kept on the run (DUE_TAG) and the
# next one is that plus 5 minutes, so a late start never pushes the later cycles back (R1).
SENSOR_INTERVAL_SECONDS = 5
DUE_TAG = "conversion_sync/due"
DUE_TOLERANCE_SECONDS = 60
ACTIVE_STATUSES = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
                   dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.SUSPENDED]
SYNC_JOB_NAMES = {"sync_job", "push_job", "resync_job"}
REQUESTED_TAG = "conversion_sync/requested_by"     # the sync_now_job / resync_job run that asked
_SYNC_ASSET_KEYS = set(SYNC_KEYS)


def is_sync_run(run: dg.DagsterRun) -> bool:
    """A run that writes to Conversion: a sync or push job, or any run (a backfill, a manual
    materialization) that includes a sync asset."""
    return run.job_name in SYNC_JOB_NAMES or bool(run.asset_selection and run.asset_selection & _SYNC_ASSET_KEYS)


def active_sync_run(instance: dg.DagsterInstance) -> dg.DagsterRun | None:
    """A queued or running run that writes to Conversion (see is_sync_run)."""
    for record in instance.get_run_records(dg.RunsFilter(statuses=ACTIVE_STATUSES), limit=100):
        if is_sync_run(record.dagster_run):
            return record.dagster_run
    return None


def reclaim_dead_sync_runs(instance: dg.DagsterInstance, database: ConversionDatabase) -> list[Reclaimed]:
    """R1: mark failed the sync runs whose process is gone (killed CLI syncs, lost run workers)."""
    return reclaim_dead_runs(instance, database.engine(), stale_seconds=database.stale_seconds(),
                             is_sync_run=is_sync_run)


def _last_live_sync(instance: dg.DagsterInstance) -> dg.RunRecord | None:
    """The last sync run that did not die; a run reclaimed as dead did nothing to wait for, so
    the next cycle starts at once."""
    for record in instance.get_run_records(dg.RunsFilter(job_name=sync_job.name), limit=20):
        if record.dagster_run.tags.get(RECLAIMED_TAG) != "true":
            return record
    return None


def requested_since(instance: dg.DagsterInstance, last: dg.RunRecord | None) -> dg.RunRecord | None:
    """The newest successful sync_now_job / resync_job run that ended after the last sync run was
    created: a person asked for a cycle now, and none has started since."""
    since = last.create_timestamp.timestamp() if last is not None else 0.0
    newest = None
    for job_name in REQUEST_JOB_NAMES:
        for record in instance.get_run_records(dg.RunsFilter(job_name=job_name, statuses=[dg.DagsterRunStatus.SUCCESS]),
                                               limit=1):
            ended = record.end_time or record.create_timestamp.timestamp()
            if ended > since and (newest is None or ended > (newest.end_time or 0)):
                newest = record
    return newest


def incremental_run_tags(database: ConversionDatabase, now: dt.datetime) -> dict[str, str]:
    """Tags of an incremental sync run: its partition range runs from the day of the oldest live
    watermark to today, so a cycle that crosses midnight also closes yesterday's partition.

    The very first sync pulls the whole org: its range is every partition from the first, so
    each day shows as materialized with that day's own counts (nothing it covered looks
    missing; the cost is one Dagster event per day and asset, see docs/ui.md)."""
    with database.engine().connect() as conn:
        marks = [watermarks.live_watermark(conn, sobject) for sobject in ("Account", "Contact", "Lead")]
    today = partition_key_for(now)
    known = [m for m in marks if m is not None]
    start = max(first_partition_key(), partition_key_for(min(known))) if known else first_partition_key()
    return {MODE_TAG: "incremental", RANGE_START_TAG: min(start, today), RANGE_END_TAG: today}


def next_due(previous_due: float | None, previous_started: float, now: float) -> float:
    """When the next cycle is due: 5 minutes after the previous cycle was due (so a start a few
    seconds late does not push the later cycles back), or after it started if it carries no due
    time. After an overrun or a stop (due more than a minute ago) the cycle is due now and the
    cadence restarts from it: one cycle, not a burst of catch-up runs."""
    due = (previous_due if previous_due is not None else previous_started) + SYNC_INTERVAL_SECONDS
    return due if due >= now - DUE_TOLERANCE_SECONDS else now


@dg.sensor(job=sync_job, minimum_interval_seconds=SENSOR_INTERVAL_SECONDS, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Starts sync_job every 5 minutes, and within seconds of a sync_now_job or resync_job; never "
                       "while a sync run is queued or running.")
def sync_sensor(context: dg.SensorEvaluationContext, database: ConversionDatabase):
    for reclaimed in reclaim_dead_sync_runs(context.instance, database):
        context.log.warning("sync run %s: %s", reclaimed.run_id[:8], reclaimed.reason)
    active = active_sync_run(context.instance)
    if active is not None:
        return dg.SkipReason(f"sync run {active.run_id[:8]} ({active.job_name}) is {active.status.value.lower()}; "
                             "the next cycle starts when it has finished")
    now = dt.datetime.now(dt.UTC)
    last = _last_live_sync(context.instance)
    due = now.timestamp()
    asked = requested_since(context.instance, last)
    if asked is not None:
        return dg.RunRequest(tags={**incremental_run_tags(database, now), DUE_TAG: f"{due:.3f}",
                                   REQUESTED_TAG: asked.dagster_run.run_id})
    if last is not None:
        started = last.start_time or last.create_timestamp.timestamp()
        try:
            previous_due = float(last.dagster_run.tags[DUE_TAG])
        except (KeyError, ValueError):
            previous_due = None
        due = next_due(previous_due, started, now.timestamp())
        wait = due - now.timestamp()
        if wait > 0:
            return dg.SkipReason(f"last sync started {int(now.timestamp() - started)} s ago; next in {int(wait) + 1} s")
    return dg.RunRequest(tags={**incremental_run_tags(database, now), DUE_TAG: f"{due:.3f}"})


@dg.sensor(job=push_job, minimum_interval_seconds=2, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Pushes contacts queued for Salesforce within seconds, when no sync run is active "
                       "and some push can be done now (never one waiting out its retry delay or given up on).")
def push_sensor(context: dg.SensorEvaluationContext, database: ConversionDatabase):
    if not database.settings().write_to_salesforce:
        return dg.SkipReason("writing to Salesforce is switched off (write_to_salesforce: false)")
    with database.engine().connect() as conn:
        due = push_store.work_due_count(conn, dt.datetime.now(dt.UTC))
    if not due:
        return dg.SkipReason("nothing queued for Salesforce that can be sent now")
    active = active_sync_run(context.instance)
    if active is not None:
        return dg.SkipReason(f"sync run {active.run_id[:8]} is {active.status.value.lower()}; it pushes at its end")
    wait = _after_failed_pushes(context.instance)
    if wait > 0:
        return dg.SkipReason(f"the last push run failed; the next try is in {int(wait) + 1} s")
    return dg.RunRequest(tags={"conversion_sync/queued": str(due)})


PUSH_RETRY_SECONDS = 30          # after a failed push run; doubles per failure in a row, to 10 minutes
PUSH_RETRY_MAX_SECONDS = 600


def _after_failed_pushes(instance: dg.DagsterInstance) -> float:
    """Seconds still to wait after push runs that failed in a row (Salesforce down, say), so a
    persistent failure does not start a run, and spend calls, every few seconds."""
    records = instance.get_run_records(dg.RunsFilter(job_name=push_job.name), limit=6)
    failures = 0
    for record in records:
        if record.dagster_run.status != dg.DagsterRunStatus.FAILURE:
            break
        failures += 1
    if not failures:
        return 0.0
    ended = records[0].end_time or records[0].create_timestamp.timestamp()
    delay = min(PUSH_RETRY_MAX_SECONDS, PUSH_RETRY_SECONDS * 2 ** (failures - 1))
    return ended + delay - dt.datetime.now(dt.UTC).timestamp()
