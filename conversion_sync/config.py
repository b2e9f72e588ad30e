"""Configuration, for existing callers: a facade over `conversion_sync.settings` (sync settings,
Salesforce credentials, paths; one module each)."""

from __future__ import annotations

from conversion_sync.settings.env_file import DEMO_ENV_FILE, ENV_FILE_VARIABLE, read_env_file
from conversion_sync.settings.paths import (
    PACKAGE_DIR,
    data_dir,
    database_url,
    default_dagster_home,
    ensure_dagster_home,
    project_root,
)
from conversion_sync.settings.salesforce import SalesforceSettings, reveal, salesforce_settings_from_env
from conversion_sync.settings.sync import (
    DEFAULT_COMPANY_FIELDS,
    DEFAULT_CONTACT_FIELDS,
    SyncSettings,
    load_sync_settings,
    settings_from_mapping,
)

__all__ = [
    "DEFAULT_COMPANY_FIELDS",
    "DEFAULT_CONTACT_FIELDS",
    "DEMO_ENV_FILE",
    "ENV_FILE_VARIABLE",
    "PACKAGE_DIR",
    "SalesforceSettings",
    "SyncSettings",
    "data_dir",
    "database_url",
    "default_dagster_home",
    "ensure_dagster_home",
    "load_sync_settings",
    "project_root",
    "read_env_file",
    "reveal",
    "salesforce_settings_from_env",
    "settings_from_mapping",
]
