"""The code location's shape, as Dagster shows it, against a checked-in snapshot (issue 9):
asset keys, deps, partitions, kinds, owners, groups, pools, freshness and automation, checks,
jobs and sensors. A change to any of them is a change a user sees in the UI: review the diff,
then refresh the snapshot with

    CONVERSION_UPDATE_SNAPSHOTS=1 scripts/test tests/unit/test_definitions_snapshot.py

and commit tests/unit/snapshots/definitions.json with the change."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from conversion_sync.definitions import build_definitions

SNAPSHOT = Path(__file__).with_name("snapshots") / "definitions.json"
START = "2026-01-01"          # a fixed first partition: the snapshot does not move with the calendar


def _partitions(pd) -> dict | None:
    if pd is None:
        return None
    return {"type": type(pd).__name__, "start": pd.start.isoformat(), "cron": pd.cron_schedule,
            "timezone": pd.timezone, "fmt": pd.fmt, "end_offset": pd.end_offset}


def _seconds(delta) -> float | None:
    return None if delta is None else delta.total_seconds() if hasattr(delta, "total_seconds") else \
        delta.to_timedelta().total_seconds()


def _freshness(policy) -> dict | None:
    if policy is None:
        return None
    return {"type": type(policy).__name__, "warn_seconds": _seconds(policy.warn_window),
            "fail_seconds": _seconds(policy.fail_window)}


def snapshot_of(defs: dg.Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    assets = {}
    for spec in sorted(defs.resolve_all_asset_specs(), key=lambda s: s.key.to_user_string()):
        assets_def = graph.get(spec.key).assets_def
        schema = spec.metadata.get("dagster/column_schema")
        assets[spec.key.to_user_string()] = {
            "deps": sorted(dep.asset_key.to_user_string() for dep in spec.deps),
            "group": spec.group_name,
            "kinds": sorted(spec.kinds),
            "owners": sorted(spec.owners),
            "tags": dict(sorted(spec.tags.items())),
            "partitions": _partitions(spec.partitions_def),
            "backfill_policy": None if assets_def.backfill_policy is None else
            assets_def.backfill_policy.policy_type.value,
            "pool": assets_def.op.pool,
            "freshness": _freshness(spec.freshness_policy),
            "automation_condition": None if spec.automation_condition is None else
            spec.automation_condition.get_label() or type(spec.automation_condition).__name__,
            "table_name": spec.metadata["dagster/table_name"].value if "dagster/table_name" in spec.metadata else None,
            "columns": [c.name for c in schema.schema.columns] if schema is not None else None,
            "description": spec.description,
        }
    checks = {}
    for key in sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        check = graph.get_check_spec(key)
        checks[f"{key.asset_key.to_user_string()}:{key.name}"] = {
            "blocking": check.blocking, "description": check.description}
    jobs = {}
    for job in sorted(defs.resolve_all_job_defs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue
        jobs[job.name] = {
            "assets": sorted(k.to_user_string() for k in job.asset_layer.selected_asset_keys),
            "tags": dict(sorted(job.tags.items())),
            "executor": job.executor_def.name,
            "description": job.description,
        }
    sensors = {sensor.name: {"jobs": sorted(j.name for j in sensor.jobs), "interval_seconds":
                             sensor.minimum_interval_seconds, "default_status": sensor.default_status.value}
               for sensor in sorted(defs.sensors or [], key=lambda s: s.name)}
    return {"assets": assets, "checks": checks, "jobs": jobs, "sensors": sensors,
            "executor": defs.executor.name}


def test_the_code_location_matches_its_snapshot():
    current = json.dumps(snapshot_of(build_definitions(START)), indent=2, sort_keys=True) + "\n"
    if os.environ.get("CONVERSION_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(current)
    assert SNAPSHOT.exists(), f"no snapshot yet: run with CONVERSION_UPDATE_SNAPSHOTS=1 to write {SNAPSHOT}"
    stored = SNAPSHOT.read_text()
    assert json.loads(current) == json.loads(stored), (
        "The code location changed (assets, checks, jobs or sensors as the UI shows them). If that is "
        "intended, refresh the snapshot: CONVERSION_UPDATE_SNAPSHOTS=1 scripts/test "
        "tests/unit/test_definitions_snapshot.py, and commit it.")


def test_the_dagster_tooling_loads_defs_lazily(tmp_path):
    """Importing the code location reads no settings and writes nothing; `dagster dev` and `dg`
    load `defs` (a @dg.definitions function), which fixes the first partition in DAGSTER_HOME."""
    home = tmp_path / "empty_dagster_home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "CONVERSION_SYNC_PARTITIONS_START"}
    env["DAGSTER_HOME"] = str(home)
    code = ("import conversion_sync.definitions as d, os, sys\n"
            "assert os.listdir(sys.argv[1]) == [], os.listdir(sys.argv[1])\n"
            "from dagster.components.definitions import LazyDefinitions\n"
            "assert isinstance(d.defs, LazyDefinitions)\n"
            "print(d.defs().resolve_asset_graph().get(__import__('dagster').AssetKey('contacts')).assets_def.partitions_def.start.date())\n")
    out = subprocess.run([sys.executable, "-c", code, str(home)], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert (home / "conversion_sync_partitions_start").read_text().strip() == out
    # A second process (the daemon, a run worker) sees the same first partition.
    again = subprocess.run([sys.executable, "-c", code.replace(
        "assert os.listdir(sys.argv[1]) == [], os.listdir(sys.argv[1])\n", ""), str(home)],
        env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert again == out
    assert [p.name for p in home.iterdir()] == ["conversion_sync_partitions_start"]   # no temp file left
