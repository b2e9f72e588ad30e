"""Pull windows and watermarks (R2), as pure functions of the run's partitions and the clock.

Two kinds of run pull from Salesforce:

* **incremental** (the 5-minute sensor, `conversion-sync sync`): the window is
  `(live watermark - lookback, now - settle]`; with no watermark yet (an empty store) it starts
  at the beginning of time, so the first sync pulls the whole org through the same path;
* **backfill** (a partition or a range launched from the UI or the CLI): the window is exactly
  those UTC days (the first partition reaching back to the beginning of time), capped at
  `now - settle`, whatever the watermark says.

The live watermark moves forward only to the end of a window that started at or before it, so a
backfill never moves it backwards and never skips a gap.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class PullWindow:
    lower: dt.datetime | None           # inclusive; None = from the beginning of time
    upper: dt.datetime                  # inclusive
    incremental: bool
    advances_live_watermark: bool

    @property
    def wide(self) -> bool:
        """More than a day of changes (or all of them): worth counting first, maybe Bulk API."""
        return self.lower is None or self.upper - self.lower > dt.timedelta(days=1)

    def describe(self) -> str:
        lower = self.lower.isoformat() if self.lower else "the beginning"
        return f"{'incremental' if self.incremental else 'backfill'} window [{lower}, {self.upper.isoformat()}]"


def plan_window(*, range_start: dt.datetime, range_end: dt.datetime, first_partition_start: dt.datetime,
                live_watermark: dt.datetime | None, incremental: bool, now: dt.datetime,
                lookback_seconds: int, settle_seconds: int) -> PullWindow:
    """The window one run pulls, for the partition range [range_start, range_end)."""
    horizon = now - dt.timedelta(seconds=settle_seconds)
    horizon = horizon.replace(microsecond=horizon.microsecond // 1000 * 1000)  # SOQL literals carry ms
    if incremental:
        lower = None if live_watermark is None else live_watermark - dt.timedelta(seconds=lookback_seconds)
        upper = horizon
    else:
        lower = None if range_start <= first_partition_start else range_start
        upper = min(range_end, horizon)
    if live_watermark is None:
        advances = lower is None
    else:
        advances = (lower is None or lower <= live_watermark) and upper > live_watermark
    return PullWindow(lower=lower, upper=upper, incremental=incremental, advances_live_watermark=advances)


def partition_watermarks(partitions: list[tuple[str, dt.datetime, dt.datetime]],
                         window: PullWindow) -> dict[str, dt.datetime]:
    """Partition key -> how far that day is pulled after this window: the window's end, capped
    at the day's end, for every day the window reaches."""
    marks = {}
    for key, start, end in partitions:
        if window.upper < start:
            continue
        if window.lower is not None and window.lower >= end:
            continue
        marks[key] = min(end, window.upper)
    return marks


def partition_finder(partitions: list[tuple[str, dt.datetime, dt.datetime]]):
    """A function from a SystemModstamp to the run's partition holding it: its UTC day, clamped
    to the run's first and last partitions (the first partition holds everything older; a record
    retried from an earlier day counts on the run's first day, one from a later day on its last)."""
    first, last = partitions[0], partitions[-1]
    keys = {key for key, _, _ in partitions}

    def find(moment: dt.datetime) -> str:
        if moment < first[2]:
            return first[0]
        if moment >= last[1]:
            return last[0]
        key = moment.astimezone(dt.UTC).strftime("%Y-%m-%d")
        return key if key in keys else first[0]
    return find
