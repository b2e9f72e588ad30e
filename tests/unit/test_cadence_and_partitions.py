"""R1 cadence without drift, and which partition a record counts on (issue 11, findings 2 and 9)."""

import datetime as dt

import dagster as dg

from conversion_sync.definitions import defs
from conversion_sync.jobs.sensors import SENSOR_INTERVAL_SECONDS, SYNC_INTERVAL_SECONDS, next_due
from conversion_sync.partitions import partition_bounds
from conversion_sync.sync.windows import partition_finder

UTC = dt.UTC


def test_r1_cycles_stay_on_their_five_minute_grid_when_each_starts_a_little_late():
    due, started = None, 1_000.0
    for _ in range(12):                          # an hour of cycles, each launched 17 s after due
        due = next_due(due, started, now=started)
        started = due + 17
    assert due == 1_000.0 + 12 * SYNC_INTERVAL_SECONDS     # no drift: 12 x 5 min exactly
    assert SENSOR_INTERVAL_SECONDS <= 5                      # the sensor looks within seconds of due


def test_r1_after_an_overrun_one_cycle_runs_now_and_the_grid_restarts_from_it():
    assert next_due(1_000.0, 1_000.0, now=1_000.0 + 1_200) == 2_200.0
    assert next_due(None, 1_000.0, now=1_100.0) == 1_300.0


def test_each_record_counts_on_its_days_partition_clamped_to_the_run():
    parts = partition_bounds(["2026-11-28", "2026-11-29", "2026-11-30"])
    find = partition_finder(parts)
    assert find(dt.datetime(2026, 11, 29, 23, 59, tzinfo=UTC)) == "2026-11-29"
    assert find(dt.datetime(2020, 1, 1, tzinfo=UTC)) == "2026-11-28"         # older: the first day
    assert find(dt.datetime(2026, 12, 2, tzinfo=UTC)) == "2026-11-30"        # later: the last day


def test_every_asset_names_its_table_and_columns_and_runs_in_process():
    graph = defs().resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        metadata = graph.get(key).metadata
        assert isinstance(metadata["dagster/column_schema"], dg.TableSchemaMetadataValue), key
        assert metadata["dagster/column_schema"].schema.columns, key
        assert metadata["dagster/table_name"].value, key
    assert defs().executor.name == "in_process"
