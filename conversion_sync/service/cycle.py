"""Running the sync job in this process (`conversion-sync sync`, tests): the very job the sensor
runs, recorded in the Dagster instance of DAGSTER_HOME when there is one."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from conversion_sync.config import load_sync_settings, salesforce_settings_from_env
from conversion_sync.errors import ConversionSyncError
from conversion_sync.resources.database import ConversionDatabase


@dataclass
class CycleResult:
    run_id: str
    success: bool
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)   # asset -> metadata values
    # asset -> partition key -> that partition's metadata values (a range run has several)
    partitions: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)             # asset check -> passed
    error: str | None = None


def dagster_instance() -> dg.DagsterInstance:
    """The instance of DAGSTER_HOME (runs show in the UI), else an ephemeral one."""
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def run_job(job_name: str, *, tags: dict[str, str] | None = None, run_config: dict | None = None,
            instance: dg.DagsterInstance | None = None) -> CycleResult:
    from conversion_sync.definitions import defs

    # Fail fast with one sentence on a bad setting, before Dagster wraps it in a step failure.
    salesforce_settings_from_env()
    load_sync_settings()
    ConversionDatabase().engine()
    job = defs.resolve_job_def(job_name)
    # Progress (what each step pulled, applied, pushed) at INFO; Dagster's per-event DEBUG lines off.
    config = {**(run_config or {}), "loggers": {"console": {"config": {"log_level": "INFO"}}}}
    result = job.execute_in_process(instance=instance or dagster_instance(), tags=tags or {},
                                    run_config=config, raise_on_error=False)
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
            evaluation = event.event_specific_data
            cycle.checks[evaluation.check_name] = evaluation.passed
        elif event.is_step_failure and cycle.error is None:
            error = event.step_failure_data.error
            cycle.error = user_message(error)
    return cycle


def _per_partition_counts() -> set[str]:
    from conversion_sync.assets.conversion import COMPANY_COUNTS, CONTACT_COUNTS
    from conversion_sync.assets.salesforce import EXTRACT_COUNTS

    return set(EXTRACT_COUNTS) | set(COMPANY_COUNTS) | set(CONTACT_COUNTS)


def _domain_errors() -> set[str]:
    found, todo = set(), [ConversionSyncError]
    while todo:
        cls = todo.pop()
        found.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return found


def user_message(error) -> str:
    """The sentence of a domain error inside a Dagster step failure, without the class name."""
    domain = _domain_errors()
    current = error
    while current is not None:
        if current.cls_name in domain:
            return current.message.split(": ", 1)[-1].strip()
        current = current.cause
    return (error.message.strip().splitlines() or ["the run failed"])[0] if error else "the run failed"


def run_sync_cycle(instance: dg.DagsterInstance | None = None, now: dt.datetime | None = None) -> CycleResult:
    """One incremental cycle: pull then push, exactly what the 5-minute sensor launches."""
    from conversion_sync.jobs.sensors import incremental_run_tags

    now = now or dt.datetime.now(dt.timezone.utc)
    return run_job("sync_job", tags=incremental_run_tags(ConversionDatabase(), now), instance=instance)
