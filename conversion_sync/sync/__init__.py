"""Pure sync rules: no Dagster, no HTTP, no SQL (matching, field merges, companies, conversion, merges, ids)."""
