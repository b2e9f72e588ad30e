"""The sync job (what the sensor, the UI and `conversion-sync sync` run) and the push job."""

from __future__ import annotations

import dagster as dg

from conversion_sync.assets.keys import SALESFORCE_PUSH, SYNC_KEYS
from conversion_sync.partitions import SYNC_RUN_TAG

# Runs tagged as sync runs queue one at a time (dagster.yaml); a hung run is stopped after an hour
# by run monitoring so it cannot block the sync forever.
SYNC_TAGS = {SYNC_RUN_TAG: "true", "dagster/max_runtime": "3600"}

sync_job = dg.define_asset_job(
    "sync_job",
    selection=dg.AssetSelection.assets(*SYNC_KEYS),
    description="One sync cycle: pull Accounts, Contacts and Leads, apply them to companies and contacts, "
                "then push Conversion's changes to Salesforce.",
    tags=SYNC_TAGS,
    # One process for the whole run: the steps are sequential anyway, and this saves a Python
    # start-up per step (~3 s each).
    executor_def=dg.in_process_executor,
)

push_job = dg.define_asset_job(
    "push_job",
    selection=dg.AssetSelection.assets(SALESFORCE_PUSH),
    # Shown (and editable) in the launchpad, so a person sees how to push given contacts.
    config={"ops": {"salesforce_push": {"config": {"contact_ids": [], "all_skipped": False, "retry_failed": False}}}},
    description="Push to Salesforce now: what is queued (the push sensor), or the contact ids / all skipped "
                "contacts given in the launchpad.",
    tags=SYNC_TAGS,
    executor_def=dg.in_process_executor,
)
