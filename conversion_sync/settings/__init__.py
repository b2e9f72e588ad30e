"""Settings, one subject per module: `sync` (how the sync behaves: the YAML file and two seconds
variables), `salesforce` (how to reach the org), `paths` (the data folder, the Dagster home and
the database URL). `conversion_sync.config` re-exports them for existing callers."""
