"""The conversion-sync code location: `dagster dev -w workspace.yaml` loads `defs`."""

from __future__ import annotations

import dagster as dg

from conversion_sync.assets.checks import contact_checks
from conversion_sync.assets.conversion import companies, contacts
from conversion_sync.assets.push import salesforce_push
from conversion_sync.assets.salesforce import salesforce_accounts, salesforce_contacts, salesforce_leads
from conversion_sync.jobs import push_job, sync_job
from conversion_sync.jobs.sensors import push_sensor, sync_sensor
from conversion_sync.resources.database import ConversionDatabase
from conversion_sync.resources.salesforce import SalesforceResource

defs = dg.Definitions(
    assets=[salesforce_accounts, salesforce_contacts, salesforce_leads, companies, contacts, salesforce_push],
    asset_checks=contact_checks,
    jobs=[sync_job, push_job],
    sensors=[sync_sensor, push_sensor],
    resources={
        "salesforce": SalesforceResource(),
        "database": ConversionDatabase(),
    },
)
