"""The sync's asset keys: what jobs, sensors, deps and checks name the assets by."""

import dagster as dg

SALESFORCE_ACCOUNTS = dg.AssetKey("salesforce_accounts")
SALESFORCE_CONTACTS = dg.AssetKey("salesforce_contacts")
SALESFORCE_LEADS = dg.AssetKey("salesforce_leads")
COMPANIES = dg.AssetKey("companies")
CONTACTS = dg.AssetKey("contacts")
SALESFORCE_PUSH = dg.AssetKey("salesforce_push")

EXTRACT_KEYS = (SALESFORCE_ACCOUNTS, SALESFORCE_CONTACTS, SALESFORCE_LEADS)
# The daily-partitioned assets, in the order a cycle runs them; the push is not partitioned.
PULL_KEYS = (*EXTRACT_KEYS, COMPANIES, CONTACTS)
SYNC_KEYS = (*PULL_KEYS, SALESFORCE_PUSH)
