"""Thin Dagster assets and asset checks: read inputs, call service/, write through store/, report metadata."""
