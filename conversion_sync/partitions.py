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


START_FILE = "conversion_sync_partitions_start"


def partitions_start_date() -> str:
    """The first daily partition (it also holds everything older): CONVERSION_SYNC_PARTITIONS_START
    if set; else the date kept in $DAGSTER_HOME, written once by the first process that loads
    the code (the first day of the month before), so every process of the deployment and
    every later load sees the same partitions (a run whose range starts before its process's
    first partition fails); without DAGSTER_HOME (tests, one-off CLI runs on an ephemeral
    instance) the first day of last month.

    The start is recent on purpose: the first sync materializes every partition it covered, one
    Dagster event per day and asset, and days since 2024 cost minutes (docs/ui.md)."""
    value = os.environ.get("CONVERSION_SYNC_PARTITIONS_START", "").strip()
    if value:
        return _valid(value, "CONVERSION_SYNC_PARTITIONS_START")
    this_month = dt.datetime.now(dt.timezone.utc).date().replace(day=1)
    default = (this_month - dt.timedelta(days=1)).replace(day=1).isoformat()
    home = os.environ.get("DAGSTER_HOME", "").strip()
    if not home or not os.path.isdir(home):
        return default
    path = os.path.join(home, START_FILE)
    try:
        with open(path, "x") as handle:      # exclusive: two processes loading at once agree
            handle.write(default + "\n")
        return default
    except FileExistsError:
        pass
    except OSError:
        return default
    with open(path) as handle:
        return _valid(handle.read().strip() or default, path)


def _valid(value: str, source: str) -> str:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{source} must be a date like 2024-01-01 (got {value!r}).") from None
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

