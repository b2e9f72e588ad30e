"""The conversion-sync code location: `dagster dev` loads `defs` (pyproject's [tool.dg.project],
or `-w workspace.yaml`), built when Dagster loads the code, not at import."""

from __future__ import annotations

import functools

import dagster as dg

from conversion_sync.assets.checks import contact_checks, health_checks
from conversion_sync.assets.conversion import conversion_assets
from conversion_sync.assets.push import salesforce_push
from conversion_sync.assets.salesforce import extract_assets
from conversion_sync.jobs import push_job, sync_job
from conversion_sync.jobs.actions import resync_job, sync_now_job
from conversion_sync.jobs.sensors import push_sensor, sync_sensor
from conversion_sync.partitions import daily_partitions, partitions_start_date
from conversion_sync.resources.database import ConversionDatabase
from conversion_sync.resources.salesforce import SalesforceResource


@dg.definitions
def defs() -> dg.Definitions:
    """The assets, checks, jobs, sensors and resources, with the daily partitions from the first
    partition as configured when the code is loaded (docs/ui.md)."""
    return build_definitions(partitions_start_date())


@functools.cache
def build_definitions(partitions_start: str) -> dg.Definitions:
    partitions = daily_partitions(partitions_start)
    return dg.Definitions(
        assets=[*extract_assets(partitions), *conversion_assets(partitions), salesforce_push],
        asset_checks=[*contact_checks, *health_checks],
        jobs=[sync_job, push_job, sync_now_job, resync_job],
        sensors=[sync_sensor, push_sensor],
        # Every run of this code location in one process, UI backfills included: the steps run one
        # after another anyway (one sync pool), and a process per step costs seconds each.
        executor=dg.in_process_executor,
        resources={
            "salesforce": SalesforceResource(),
            "database": ConversionDatabase(),
        },
    )
