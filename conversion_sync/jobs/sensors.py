"""The 5-minute sync sensor (R1): a sync run starts every 5 minutes, and only once no sync run is
queued or running; a run that overruns is followed by the next one as soon as it ends."""


import datetime as dt

import dagster as dg

from conversion_sync.jobs import PULL_ASSETS, push_job, sync_job
from conversion_sync.partitions import MODE_TAG, RANGE_END_TAG, RANGE_START_TAG, first_partition_key, partition_key_for
from conversion_sync.resources.database import ConversionDatabase
from conversion_sync.store import push as push_store
from conversion_sync.store import watermarks

SYNC_INTERVAL_SECONDS = 300
ACTIVE_STATUSES = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
                   dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.SUSPENDED]
SYNC_JOB_NAMES = {"sync_job", "push_job"}
_SYNC_ASSET_KEYS = {dg.AssetKey(name) for name in PULL_ASSETS} | {dg.AssetKey("salesforce_push")}


def active_sync_run(instance: dg.DagsterInstance) -> dg.DagsterRun | None:
    """A queued or running run that writes to Conversion: a sync or push job, or any run (a
    backfill, a manual materialization) that includes a sync asset."""
    for record in instance.get_run_records(dg.RunsFilter(statuses=ACTIVE_STATUSES), limit=100):
        run = record.dagster_run
        if run.job_name in SYNC_JOB_NAMES or (run.asset_selection and run.asset_selection & _SYNC_ASSET_KEYS):
            return run
    return None


def incremental_run_tags(database: ConversionDatabase, now: dt.datetime) -> dict[str, str]:
    """Tags of an incremental sync run: its partition range runs from the day of the oldest live
    watermark to today, so a cycle that crosses midnight also closes yesterday's partition.

    The very first sync pulls the whole org into today's partition alone: materializing every
    day since the first partition would cost Dagster one event per day and asset (over a minute
    on SQLite) for partitions that hold no separate data."""
    with database.engine().connect() as conn:
        marks = [watermarks.live_watermark(conn, sobject) for sobject in ("Account", "Contact", "Lead")]
    today = partition_key_for(now)
    known = [m for m in marks if m is not None]
    start = max(first_partition_key(), partition_key_for(min(known))) if known else today
    return {MODE_TAG: "incremental", RANGE_START_TAG: min(start, today), RANGE_END_TAG: today}


@dg.sensor(job=sync_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Starts sync_job every 5 minutes, never while a sync run is queued or running.")
def sync_sensor(context: dg.SensorEvaluationContext, database: ConversionDatabase):
    active = active_sync_run(context.instance)
    if active is not None:
        return dg.SkipReason(f"sync run {active.run_id[:8]} ({active.job_name}) is {active.status.value.lower()}; "
                             "the next cycle starts when it has finished")
    now = dt.datetime.now(dt.timezone.utc)
    last = context.instance.get_run_records(dg.RunsFilter(job_name=sync_job.name), limit=1)
    if last:
        started = last[0].start_time or last[0].create_timestamp.timestamp()
        wait = SYNC_INTERVAL_SECONDS - (now.timestamp() - started)
        if wait > 0:
            return dg.SkipReason(f"last sync started {int(now.timestamp() - started)} s ago; next in {int(wait)} s")
    return dg.RunRequest(tags=incremental_run_tags(database, now))


@dg.sensor(job=push_job, minimum_interval_seconds=2, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Pushes contacts queued for Salesforce within seconds (H3), when no sync run is active "
                       "and some push can be done now (H2: never one waiting out its backoff or given up on).")
def push_sensor(context: dg.SensorEvaluationContext, database: ConversionDatabase):
    if not database.settings().write_to_salesforce:
        return dg.SkipReason("writing to Salesforce is switched off (write_to_salesforce: false)")
    with database.engine().connect() as conn:
        due = push_store.work_due_count(conn, dt.datetime.now(dt.timezone.utc))
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
    return ended + delay - dt.datetime.now(dt.timezone.utc).timestamp()
