"""The conversion-sync code location: `dagster dev -w workspace.yaml` loads `defs`."""

from __future__ import annotations

import dagster as dg

from conversion_sync.assets.checks import contact_checks
from conversion_sync.assets.conversion import companies, contacts
from conversion_sync.assets.salesforce import salesforce_accounts, salesforce_contacts, salesforce_leads
from conversion_sync.jobs import sync_job
from conversion_sync.jobs.sensors import sync_sensor
from conversion_sync.resources.database import ConversionDatabase
from conversion_sync.resources.salesforce import SalesforceResource

defs = dg.Definitions(
    assets=[salesforce_accounts, salesforce_contacts, salesforce_leads, companies, contacts],
    asset_checks=contact_checks,
    jobs=[sync_job],
    sensors=[sync_sensor],
    resources={
        "salesforce": SalesforceResource(),
        "database": ConversionDatabase(),
    },
)
