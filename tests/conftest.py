"""Shared fixtures: a fresh Conversion database per test on SQLite and on PostgreSQL, and the
sandbox org (a real HTTPS server) shared by the session and reset for every test."""

from __future__ import annotations

import datetime as _dt
import os
import uuid

# A short partition history for the suite (before conversion_sync.partitions is imported): the
# first sync materializes every partition since the start, one Dagster event per day and asset.
os.environ.setdefault("CONVERSION_SYNC_PARTITIONS_START",
                      str(_dt.datetime.now(_dt.UTC).date() - _dt.timedelta(days=5)))

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from conversion_sync.settings import paths as settings_paths
from conversion_sync.store import database as store_database

POSTGRES_URL = os.environ.get("CONVERSION_TEST_POSTGRES_URL", "").strip()
REQUIRE_POSTGRES = os.environ.get("CONVERSION_TEST_REQUIRE_POSTGRES") == "1"
DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _postgres_admin():
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("CONVERSION_TEST_POSTGRES_URL is not set but this run requires PostgreSQL (scripts/test sets it).")
        pytest.skip("PostgreSQL not configured: run the suite with scripts/test")
    return create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture
def postgres_url():
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    admin = _postgres_admin()
    name = f"cs_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        store_database.dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=DATABASES)
def database_url(request, tmp_path):
    """The URL of an empty Conversion database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'conversion.db'}"
        store_database.dispose_engines()
    else:
        yield request.getfixturevalue("postgres_url")


@pytest.fixture
def engine(database_url):
    return store_database.open_engine(database_url)


@pytest.fixture
def sqlite_url(tmp_path):
    yield f"sqlite:///{tmp_path / 'conversion.db'}"
    store_database.dispose_engines()


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path):
    """No test reads the developer's settings or data folder."""
    for name in list(os.environ):
        if name.startswith(("SALESFORCE_", "CONVERSION_SYNC_", "CONVERSION_DATABASE_URL", "DAGSTER_HOME")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CONVERSION_SYNC_DATA_DIR", str(tmp_path / "data"))
    # The default Dagster instance (DAGSTER_HOME unset) is under the test's data folder, not the checkout's.
    monkeypatch.setattr(settings_paths, "project_root", lambda: None)


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (scripts/test), tests marked slow are handed out first, one per worker, so
    no long test is left to run alone at the end. The order is the same in every worker."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)
