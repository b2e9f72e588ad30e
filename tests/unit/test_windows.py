"""R2: pull windows and watermarks."""

import datetime as dt

from conversion_sync.sync.windows import partition_watermarks, plan_window

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
FIRST = dt.datetime(2024, 1, 1, tzinfo=UTC)
TODAY = dt.datetime(2026, 11, 29, tzinfo=UTC)
DAY = dt.timedelta(days=1)


def plan(**kwargs):
    base = {"range_start": TODAY, "range_end": TODAY + DAY, "first_partition_start": FIRST, "live_watermark": None,
                "incremental": True, "now": NOW, "lookback_seconds": 300, "settle_seconds": 5}
    base.update(kwargs)
    return plan_window(**base)


def test_the_first_incremental_sync_pulls_the_whole_org():
    window = plan()
    assert window.lower is None and window.upper == NOW - dt.timedelta(seconds=5)
    assert window.advances_live_watermark


def test_an_incremental_window_starts_a_lookback_before_the_watermark():
    mark = NOW - dt.timedelta(minutes=5)
    window = plan(live_watermark=mark)
    assert window.lower == mark - dt.timedelta(seconds=300)
    assert window.upper == NOW - dt.timedelta(seconds=5)
    assert window.advances_live_watermark


def test_a_backfill_pulls_exactly_its_days_and_never_moves_the_watermark_back():
    start = TODAY - 3 * DAY
    window = plan(range_start=start, range_end=TODAY, incremental=False, live_watermark=NOW - dt.timedelta(minutes=5))
    assert (window.lower, window.upper) == (start, TODAY)
    assert not window.advances_live_watermark


def test_a_backfill_through_today_from_before_the_watermark_advances_it():
    window = plan(range_start=TODAY - DAY, incremental=False, live_watermark=NOW - dt.timedelta(minutes=5))
    assert window.lower == TODAY - DAY and window.advances_live_watermark


def test_a_first_backfill_that_leaves_a_gap_sets_no_live_watermark():
    window = plan(range_start=TODAY - DAY, incremental=False, live_watermark=None)
    assert not window.advances_live_watermark


def test_a_backfill_of_the_first_partition_reaches_back_to_the_beginning():
    window = plan(range_start=FIRST, range_end=FIRST + DAY, incremental=False)
    assert window.lower is None


def test_partition_watermarks_cover_the_days_the_window_reaches():
    window = plan(live_watermark=TODAY - dt.timedelta(minutes=2))    # crosses midnight
    days = [(k.strftime("%Y-%m-%d"), k, k + DAY) for k in (TODAY - DAY, TODAY)]
    marks = partition_watermarks(days, window)
    assert marks == {"2026-11-28": TODAY, "2026-11-29": window.upper}
