"""The daily partitions of the sync assets: UTC days of SystemModstamp, today's included."""

from __future__ import annotations

import datetime as dt
import os

import dagster as dg

from conversion_sync.errors import ConfigError

SYNC_POOL = "conversion_sync"
SYNC_RUN_TAG = "conversion_sync/sync"          # every run that writes to Conversion carries it
MODE_TAG = "conversion_sync/mode"              # "incremental" for the sensor and `conversion-sync sync`
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def partitions_start_date() -> str:
    """CONVERSION_SYNC_PARTITIONS_START (a date); the first partition also holds everything older."""
    value = os.environ.get("CONVERSION_SYNC_PARTITIONS_START", "").strip() or "2024-01-01"
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"CONVERSION_SYNC_PARTITIONS_START must be a date like 2024-01-01 (got {value!r}).") from None
    return value


sync_partitions = dg.DailyPartitionsDefinition(
    start_date=partitions_start_date(), end_offset=1, timezone="UTC", fmt="%Y-%m-%d")


def partition_bounds(keys: list[str]) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """(key, start, end) of each daily partition key, as aware UTC datetimes."""
    bounds = []
    for key in keys:
        start = dt.datetime.fromisoformat(key).replace(tzinfo=dt.timezone.utc)
        bounds.append((key, start, start + dt.timedelta(days=1)))
    return bounds


def first_partition_start() -> dt.datetime:
    """Start of the first partition as built at load time (the env may have changed since)."""
    return sync_partitions.start.astimezone(dt.timezone.utc)


def first_partition_key() -> str:
    return partition_key_for(first_partition_start())


def partition_key_for(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d")
