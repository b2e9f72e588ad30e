"""What it costs Dagster to record a first sync as every daily partition it covered.

Five daily-partitioned assets (the sync's shape: three extracts, companies, contacts), one run
over the whole range since the partitions' start (single-run backfill policy), each partition
with its own metadata (`context.add_asset_metadata(..., partition_key=...)`): one
materialization event per day and asset. Measures the run, and reading the partition status
the UI shows, on the instance's storage.

    python bench/partition_events.py sqlite             # a temporary SQLite DAGSTER_HOME
    python bench/partition_events.py postgresql://...   # dagster-postgres on that database
    DAGSTER_EVENT_BATCH_SIZE=1000 python bench/partition_events.py ...   # batched event writes
"""


import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg
import yaml

START = os.environ.get("BENCH_PARTITIONS_START", "2024-01-01")
partitions = dg.DailyPartitionsDefinition(start_date=START, end_offset=1, timezone="UTC")


def _asset(name: str, deps: list) -> dg.AssetsDefinition:
    @dg.asset(name=name, deps=deps, partitions_def=partitions, backfill_policy=dg.BackfillPolicy.single_run())
    def _body(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        for n, key in enumerate(context.partition_keys):
            context.add_asset_metadata({"pulled": n % 7, "applied": n % 5}, partition_key=key)
        return dg.MaterializeResult(metadata={"dagster/row_count": 1000})
    return _body


a = _asset("accounts", [])
c = _asset("contacts_x", [a])
leads = _asset("leads", [a])
comp = _asset("companies_x", [a, c, leads])
people = _asset("people", [comp, c, leads])
ASSETS = [a, c, leads, comp, people]


def _instance(target: str, home: Path) -> dg.DagsterInstance:
    config: dict = {"telemetry": {"enabled": False}}
    if target != "sqlite":
        url = urlparse(target)
        config["storage"] = {"postgres": {"postgres_db": {
            "username": url.username, "password": url.password or "", "hostname": url.hostname,
            "port": url.port or 5432, "db_name": url.path.lstrip("/"), "scheme": "postgresql+psycopg2"}}}
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    return dg.DagsterInstance.from_config(str(home))


def main(target: str) -> None:
    keys = partitions.get_partition_keys()
    with tempfile.TemporaryDirectory() as home:
        instance = _instance(target, Path(home))
        if target != "sqlite":
            instance.wipe()
        began = time.monotonic()
        result = dg.materialize(ASSETS, instance=instance, tags={
            "dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]})
        assert result.success
        run_seconds = time.monotonic() - began
        began = time.monotonic()
        done = instance.get_materialized_partitions(dg.AssetKey("people"))
        status_seconds = time.monotonic() - began
        assert len(done) == len(keys)
        print(f"{target.split('://')[0]}: {len(keys)} partitions x {len(ASSETS)} assets = "
              f"{len(keys) * len(ASSETS)} events in {run_seconds:.1f} s "
              f"(batch size {os.environ.get('DAGSTER_EVENT_BATCH_SIZE', '0')}); "
              f"materialized partitions read in {status_seconds:.2f} s; {dt.date.today()}")
        if target != "sqlite":
            instance.wipe()
        instance.dispose()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sqlite")
