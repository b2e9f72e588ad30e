"""The daily partitions of the sync assets: UTC days of SystemModstamp, today's included.

Nothing here runs at import: the first partition is read (and, the first time, kept in
$DAGSTER_HOME) when the definitions are loaded, by `sync_partitions()`."""

from __future__ import annotations

import datetime as dt
import functools
import os
import tempfile

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
    this_month = dt.datetime.now(dt.UTC).date().replace(day=1)
    default = (this_month - dt.timedelta(days=1)).replace(day=1).isoformat()
    home = os.environ.get("DAGSTER_HOME", "").strip()
    if not home or not os.path.isdir(home):
        return default
    path = os.path.join(home, START_FILE)
    try:
        _create_once(path, default + "\n")
    except FileExistsError:
        pass
    except OSError:       # a read-only DAGSTER_HOME: this process uses the default, keeps nothing
        return default
    try:
        with open(path) as handle:
            return _valid(handle.read().strip() or default, path)
    except OSError:
        return default


def _create_once(path: str, text: str) -> None:
    """Create `path` holding `text`, whole or not at all: written to a temporary file first and
    linked into place, so two processes loading at once agree on the first one's date and none
    reads a half-written file. FileExistsError when it is there already."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=f".{START_FILE}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)
    finally:
        os.unlink(tmp)


def _valid(value: str, source: str) -> str:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{source} must be a date like 2024-01-01 (got {value!r}).") from None
    return value


def sync_partitions() -> dg.DailyPartitionsDefinition:
    """The daily partitions, from the first partition as configured now (see partitions_start_date)."""
    return daily_partitions(partitions_start_date())


@functools.cache
def daily_partitions(start_date: str) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=start_date, end_offset=1, timezone="UTC", fmt="%Y-%m-%d")


def partition_bounds(keys: list[str]) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """(key, start, end) of each daily partition key, as aware UTC datetimes."""
    bounds = []
    for key in keys:
        start = dt.datetime.fromisoformat(key).replace(tzinfo=dt.UTC)
        bounds.append((key, start, start + dt.timedelta(days=1)))
    return bounds


def first_partition_start() -> dt.datetime:
    """Start of the first partition (a run reads its own assets' partitions instead)."""
    return sync_partitions().start.astimezone(dt.UTC)


def first_partition_key() -> str:
    return partition_key_for(first_partition_start())


def partition_key_for(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d")

