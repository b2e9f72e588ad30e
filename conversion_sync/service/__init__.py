"""One use case per module (extract, apply, entry, push, describe, resync), with no Dagster in it."""
