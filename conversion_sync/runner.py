"""The in-process runner: runs the sync job in this process (`conversion-sync sync`, the API, tests),
the very job the sensor runs, recorded in the Dagster instance of DAGSTER_HOME, else of
<checkout>/.dagster_home. It sits beside the CLI, above the definitions and jobs it runs."""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from conversion_sync.assets.conversion import COMPANY_COUNTS, CONTACT_COUNTS
from conversion_sync.assets.salesforce import EXTRACT_COUNTS
from conversion_sync.definitions import defs
from conversion_sync.errors import ConfigError
from conversion_sync.jobs.sensors import incremental_run_tags, is_sync_run
from conversion_sync.resources.database import ConversionDatabase
from conversion_sync.service.failures import domain_error_names, exit_code_of
from conversion_sync.service.reclaim import reclaim_dead_runs
from conversion_sync.settings.paths import default_dagster_home, ensure_dagster_home
from conversion_sync.settings.salesforce import salesforce_settings_from_env
from conversion_sync.settings.sync import load_sync_settings

log = logging.getLogger(__name__)


@dataclass
class CycleResult:
    run_id: str
    success: bool
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)   # asset -> metadata values
    # asset -> partition key -> that partition's metadata values (a range run has several)
    partitions: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)             # asset check -> passed
    error: str | None = None            # the sentence of the first step failure
    failed_step: str | None = None
    exit_code: int = 0                  # what the CLI exits with for this failure (errors.py)


_TRACEBACKS = {"show": True}


def show_tracebacks(show: bool) -> None:
    """Whether runs executed here print Dagster's error stacks on the console (the CLI turns
    them off unless --verbose: an expected failure is one sentence). The run's event log in the
    Dagster instance keeps the full error either way."""
    _TRACEBACKS["show"] = show


def _console_without_stacks() -> dg.LoggerDefinition:
    """Dagster's console logger (same config, same format) minus the error stack of failure
    events, and minus the failure events themselves: the caller prints the failure's sentence."""

    @dg.logger(config_schema={"log_level": dg.Field(str, is_required=False, default_value="INFO"),
                              "name": dg.Field(str, is_required=False, default_value="dagster")},
               description="The console logger, without error stacks (conversion-sync without --verbose).")
    def console(init_context) -> logging.Logger:
        config = init_context.logger_config
        logger = logging.Logger(config["name"], level=config["log_level"].upper())
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s",
                                               "%Y-%m-%d %H:%M:%S %z"))
        handler.addFilter(_drop_error_stacks)
        logger.addHandler(handler)
        return logger

    return console


def _drop_error_stacks(record: logging.LogRecord) -> bool:
    meta = getattr(record, "dagster_meta", None) or {}
    event = meta.get("dagster_event")
    if event is None:   # and not the "Dependencies for step X failed ... Not executing." echo of each later step
        return not str(meta.get("orig_message", "")).startswith("Dependencies for step")
    if event.event_type in (dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE):
        return False
    if getattr(event.event_specific_data, "error", None) is not None and isinstance(record.msg, str):
        record.msg = record.msg.split("\n\n", 1)[0]
    return True


INSTANCE_LOCK_FILE = ".conversion_sync.instance.lock"
INSTANCE_LOCK_WAIT_SECONDS = 300


def dagster_instance() -> dg.DagsterInstance:
    """The instance of DAGSTER_HOME, else of the default home scripts/demo uses
    (config.default_dagster_home): runs show in the UI and the sensor counts them.

    Opening an instance creates or upgrades its storage (SQLite files, alembic version tables) on
    first use, which is not safe against another process doing the same: two or three commands
    started at once on a fresh DAGSTER_HOME left two alembic version rows behind. So processes
    take turns, with an flock on a file in DAGSTER_HOME; a second one waits, then finds the
    storage ready."""
    home = os.environ.get("DAGSTER_HOME", "").strip()
    if home and not Path(home).is_dir():
        return dg.DagsterInstance.get()          # Dagster's own sentence names the missing folder
    if not home:
        home = str(ensure_dagster_home(default_dagster_home()))
    with open(Path(home) / INSTANCE_LOCK_FILE, "a+") as handle:
        deadline = time.monotonic() + INSTANCE_LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ConfigError(
                        f"Another process has been opening the Dagster instance in {home} for "
                        f"{INSTANCE_LOCK_WAIT_SECONDS} s; check what holds {Path(home) / INSTANCE_LOCK_FILE}.") from None
                time.sleep(0.1)
        try:
            instance = dg.DagsterInstance.from_config(home)
            # Every storage is created (or upgraded) by now; touching them makes sure of it.
            instance.run_storage, instance.event_log_storage, instance.schedule_storage  # noqa: B018
            return instance
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def run_job(job_name: str, *, tags: dict[str, str] | None = None, run_config: dict | None = None,
            instance: dg.DagsterInstance | None = None,
            on_wait: Callable[[str], None] | None = None) -> CycleResult:
    """Run a job in this process, holding the sync for the whole run (R1): a second one waits
    for it (saying so once through `on_wait`) and gives up with one sentence after a bounded wait.
    Runs whose process died are marked failed first, so they do not linger in the UI."""
    # Fail fast with one sentence on a bad setting, before Dagster wraps it in a step failure.
    salesforce_settings_from_env()
    load_sync_settings()
    database = ConversionDatabase()
    engine = database.engine()
    job = defs().resolve_job_def(job_name)
    if not _TRACEBACKS["show"]:
        job = job.with_logger_defs({"console": _console_without_stacks()})
    instance = instance or dagster_instance()
    reclaim_dead_runs(instance, engine, stale_seconds=database.stale_seconds(), is_sync_run=is_sync_run)
    # Progress (what each step pulled, applied, pushed) at INFO; Dagster's per-event DEBUG lines off.
    config = {**(run_config or {}), "loggers": {"console": {"config": {"log_level": "INFO"}}}}
    run_id = str(uuid.uuid4())
    with database.run_hold(run_id, holder=f"conversion-sync ({job_name})", on_wait=on_wait or log.warning):
        try:
            result = job.execute_in_process(instance=instance, tags=tags or {}, run_config=config,
                                            raise_on_error=False, run_id=run_id)
        finally:
            _fail_if_unfinished(instance, run_id)
    cycle = CycleResult(run_id=result.run_id, success=result.success)
    per_partition = _per_partition_counts()
    for event in result.all_events:
        if event.is_step_materialization:
            materialization = event.step_materialization_data.materialization
            name = materialization.asset_key.to_user_string()
            values = {key: raw for key, raw in ((key, getattr(value, "value", value))
                                                for key, value in materialization.metadata.items())
                      if isinstance(raw, (str, int, float, bool, type(None)))}   # JSON for `sync --json`
            if materialization.partition:
                days = cycle.partitions.setdefault(name, {})
                days[materialization.partition] = values
                # The step's counts over the run: each day carries its own, the rest is run-wide.
                values = {**values, **{key: sum(int(day.get(key, 0)) for day in days.values())
                                       for key in per_partition if key in values}}
            cycle.steps[name] = values
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.asset_check_evaluation_data
            cycle.checks[evaluation.check_name] = evaluation.passed
        elif event.is_step_failure and cycle.error is None:
            error = event.step_failure_data.error
            cycle.error, cycle.exit_code = failure_of(error)
            cycle.failed_step = event.step_key
    if not cycle.success and cycle.error is None:
        cycle.error, cycle.exit_code = "The run failed before any step ran; see the run in the Dagster UI.", 1
    return cycle


def failure_of(error) -> tuple[str, int]:
    """(sentence, exit code) of a Dagster step failure: the domain error in its chain (the
    `dg.Failure` the steps raise is chained to it), else the innermost error in one line."""
    domain = domain_error_names()
    current = error
    while current is not None:
        if current.cls_name in domain:
            return " ".join(current.message.split(": ", 1)[-1].split()), exit_code_of(current.cls_name)
        current = current.cause
    if error is None:
        return "The run failed.", 1
    innermost = error
    while innermost.cause is not None:
        innermost = innermost.cause
    first = (innermost.message.strip().splitlines() or ["no message"])[0]
    return (f"The run failed on an unexpected error ({first}); run again with --verbose for the traceback "
            "and report it.", 1)


def _fail_if_unfinished(instance: dg.DagsterInstance, run_id: str) -> None:
    """A run that leaves execute_in_process without an end (an error inside Dagster itself) is
    marked failed before its hold is let go, so it never stays STARTED."""
    try:
        run = instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished:
            instance.report_run_failed(run, "The run stopped without reporting how it ended.")
    except Exception:
        log.warning("could not check how run %s ended", run_id, exc_info=True)


def _per_partition_counts() -> set[str]:
    return set(EXTRACT_COUNTS) | set(COMPANY_COUNTS) | set(CONTACT_COUNTS)


def user_message(error) -> str:
    """The sentence of a domain error inside a Dagster step failure, without the class name."""
    return failure_of(error)[0]


def run_sync_cycle(instance: dg.DagsterInstance | None = None, now: dt.datetime | None = None,
                   on_wait: Callable[[str], None] | None = None) -> CycleResult:
    """One incremental cycle: pull then push, exactly what the 5-minute sensor launches."""
    now = now or dt.datetime.now(dt.UTC)
    return run_job("sync_job", tags=incremental_run_tags(ConversionDatabase(), now), instance=instance,
                   on_wait=on_wait)
