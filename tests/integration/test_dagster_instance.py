"""The Dagster instance profiles: the embedded default (SQLite under DAGSTER_HOME) and the
production profile on PostgreSQL through dagster-postgres."""

import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from conversion_sync.runner import run_sync_cycle

ROOT = Path(__file__).resolve().parents[2]


def test_the_postgres_profile_shares_every_setting_with_the_default():
    default = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    production = yaml.safe_load((ROOT / "deploy" / "dagster.postgres.yaml").read_text())
    storage = production.pop("storage")
    assert production == default
    assert storage["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    assert "storage" not in default


def test_the_default_instance_limits_sync_runs_to_one_at_a_time(tmp_path, monkeypatch):
    shutil.copy(ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
        assert {"key": "conversion_sync/sync", "limit": 1} in limits
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1


@pytest.mark.postgres
def test_a_sync_runs_records_land_in_postgres_with_the_production_profile(harness, org, postgres_url, tmp_path,
                                                                           monkeypatch):
    org.create("Lead", {"LastName": "A", "Company": "X", "Email": "a@example.com"})
    shutil.copy(ROOT / "deploy" / "dagster.postgres.yaml", tmp_path / "dagster.yaml")
    url = make_url(postgres_url)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    for name, value in {"DAGSTER_PG_HOST": url.host, "DAGSTER_PG_PORT": str(url.port),
                        "DAGSTER_PG_USERNAME": url.username, "DAGSTER_PG_PASSWORD": url.password or "",
                        "DAGSTER_PG_DB": url.database}.items():
        monkeypatch.setenv(name, value)
    result = run_sync_cycle()          # the instance of DAGSTER_HOME, as `conversion-sync sync` uses
    assert result.success, result.error
    engine = create_engine(postgres_url)
    with engine.connect() as conn:
        status = conn.execute(text("SELECT status FROM runs WHERE run_id = :r"), {"r": result.run_id}).scalar()
        materializations = conn.execute(text(
            "SELECT count(*) FROM event_logs WHERE run_id = :r AND dagster_event_type = 'ASSET_MATERIALIZATION'"),
            {"r": result.run_id}).scalar()
    engine.dispose()
    from conversion_sync.partitions import sync_partitions
    # The first sync materializes each of the five partitioned assets on every day it covered
    # (issue 11: nothing looks missing), and the push once.
    assert status == "SUCCESS" and materializations == 5 * len(sync_partitions().get_partition_keys()) + 1
    assert len(harness.contacts()) == 1
