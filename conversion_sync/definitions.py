"""The conversion-sync code location: `dagster dev -w workspace.yaml` loads `defs`."""

from __future__ import annotations

import dagster as dg

from conversion_sync.assets.checks import contact_checks, health_checks
from conversion_sync.assets.conversion import companies, contacts
from conversion_sync.assets.push import salesforce_push
from conversion_sync.assets.salesforce import salesforce_accounts, salesforce_contacts, salesforce_leads
from conversion_sync.jobs import push_job, sync_job
from conversion_sync.jobs.sensors import push_sensor, sync_sensor
from conversion_sync.resources.database import ConversionDatabase
from conversion_sync.resources.salesforce import SalesforceResource

defs = dg.Definitions(
    assets=[salesforce_accounts, salesforce_contacts, salesforce_leads, companies, contacts, salesforce_push],
    asset_checks=[*contact_checks, *health_checks],
    jobs=[sync_job, push_job],
    sensors=[sync_sensor, push_sensor],
    # Every run of this code location in one process, UI backfills included: the steps run one
    # after another anyway (one sync pool), and a process per step costs seconds each.
    executor=dg.in_process_executor,
    resources={
        "salesforce": SalesforceResource(),
        "database": ConversionDatabase(),
    },
)
