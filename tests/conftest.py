"""Shared fixtures: a fresh Conversion database per test on SQLite and on PostgreSQL, and the
sandbox org (a real HTTPS server) shared by the session and reset for every test."""

from __future__ import annotations

import atexit
import contextlib
import datetime as _dt
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

# A short partition history for the suite (before conversion_sync.partitions is imported): the
# first sync materializes every partition since the start, one Dagster event per day and asset.
os.environ.setdefault("CONVERSION_SYNC_PARTITIONS_START",
                      str(_dt.datetime.now(_dt.UTC).date() - _dt.timedelta(days=5)))

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from conversion_sync.settings import paths as settings_paths
from conversion_sync.store import database as store_database
from conversion_sync.store.migrations import upgrade

POSTGRES_URL = os.environ.get("CONVERSION_TEST_POSTGRES_URL", "").strip()
REQUIRE_POSTGRES = os.environ.get("CONVERSION_TEST_REQUIRE_POSTGRES") == "1"
DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

# The checkout's own Dagster instance and data folder (settings/paths.py: the defaults when
# DAGSTER_HOME and CONVERSION_SYNC_DATA_DIR are unset) belong to scripts/demo, never to the suite.
CHECKOUT = Path(__file__).resolve().parents[1]
CHECKOUT_STATE = (CHECKOUT / ".dagster_home", CHECKOUT / "data")
# Before any fixture runs (collection, the sandbox org's own tests, session fixtures) a process
# started from here already has a Dagster home and a data folder of its own; every test then gets
# its own under its tmp_path (_isolated_environment).
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="conversion-sync-tests-"))
atexit.register(shutil.rmtree, _SESSION_DIR, True)
os.environ["DAGSTER_HOME"] = str(_SESSION_DIR / "dagster_home")
os.environ["CONVERSION_SYNC_DATA_DIR"] = str(_SESSION_DIR / "data")
(_SESSION_DIR / "dagster_home").mkdir()
PARTITIONS_START = os.environ["CONVERSION_SYNC_PARTITIONS_START"]


def _inside_checkout_state(value: str) -> bool:
    path = Path(value).expanduser().resolve()
    return any(path == state or state in path.parents for state in CHECKOUT_STATE)


def _subprocess_guard(event: str, args: tuple) -> None:
    """Every process the suite starts has its own DAGSTER_HOME and data folder: without them a
    `conversion-sync` or `dagster` process would use the checkout's (the demo's) instance and
    data. Raised in the test that starts such a process, naming what is missing."""
    if event != "subprocess.Popen":
        return
    env = args[3] if args[3] is not None else os.environ
    for name in ("DAGSTER_HOME", "CONVERSION_SYNC_DATA_DIR"):
        value = env.get(name) or env.get(name.encode(), "") if isinstance(env, dict) else env.get(name, "")
        value = (value.decode() if isinstance(value, bytes) else value).strip()
        if not value:
            raise RuntimeError(f"the suite started {args[1]!r} without {name}: it would write into the "
                               f"checkout's {'.dagster_home' if name == 'DAGSTER_HOME' else 'data/'} "
                               "(pass the test's environment, os.environ, or a tmp folder)")
        if _inside_checkout_state(value):
            raise RuntimeError(f"the suite started {args[1]!r} with {name}={value}, inside the checkout's own state")


sys.addaudithook(_subprocess_guard)


def _postgres_admin():
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("CONVERSION_TEST_POSTGRES_URL is not set but this run requires PostgreSQL (scripts/test sets it).")
        pytest.skip("PostgreSQL not configured: run the suite with scripts/test")
    return create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")


@contextlib.contextmanager
def _new_postgres_database(template: str | None = None):
    """A new PostgreSQL database (a copy of `template` if given), dropped afterwards."""
    admin = _postgres_admin()
    name = f"cs_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        store_database.dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _with_schema(url: str) -> None:
    """The product's own upgrade on its own engine (not the process-wide ones the tests use)."""
    engine = create_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def _postgres_template():
    """One database per worker with the current schema and no rows, which each test's database
    is copied from (CREATE DATABASE ... TEMPLATE, ~80 ms, instead of ~400 ms of DDL a test)."""
    with _new_postgres_database() as url:
        _with_schema(url)
        yield make_url(url).database


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("schema_template") / "conversion.db"
    _with_schema(f"sqlite:///{path}")
    return path


@pytest.fixture
def postgres_url():
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    with _new_postgres_database() as url:
        yield url


@pytest.fixture(params=DATABASES)
def database_url(request, tmp_path):
    """The URL of a Conversion database with the current schema and no rows, once on SQLite and
    once on PostgreSQL; a copy of the session's template (what the first open_engine would make:
    tests/store/test_schema.py checks that on an empty one, `empty_database_url`)."""
    if request.param == "sqlite":
        path = tmp_path / "conversion.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        yield f"sqlite:///{path}"
        store_database.dispose_engines()
    else:
        with _new_postgres_database(template=request.getfixturevalue("_postgres_template")) as url:
            yield url


@pytest.fixture(params=DATABASES)
def empty_database_url(request, tmp_path):
    """The URL of an empty database (no tables), once on SQLite and once on PostgreSQL."""
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
    """No test reads the developer's settings or data folder, and no process a test starts writes
    into the checkout's: DAGSTER_HOME and CONVERSION_SYNC_DATA_DIR are the test's own, in this
    process and in every process it starts (a test of the defaults removes them itself)."""
    for name in list(os.environ):
        if name.startswith(("SALESFORCE_", "CONVERSION_SYNC_", "CONVERSION_DATABASE_URL", "DAGSTER_HOME")):
            monkeypatch.delenv(name, raising=False)
    # The suite's short partition history (above), which the loop just removed with the rest: a
    # first sync materializes every day since the start (a month by default: a third more CPU).
    monkeypatch.setenv("CONVERSION_SYNC_PARTITIONS_START", PARTITIONS_START)
    data = tmp_path / "data"
    monkeypatch.setenv("CONVERSION_SYNC_DATA_DIR", str(data))
    # A Dagster home with the deployment's dagster.yaml, as scripts/demo prepares one (not the
    # default's place under the data folder, which tests of the default see created).
    monkeypatch.setenv("DAGSTER_HOME", str(settings_paths.ensure_dagster_home(tmp_path / "test_dagster_home")))
    # In this process the default Dagster instance (DAGSTER_HOME unset) is under the test's data folder too.
    monkeypatch.setattr(settings_paths, "project_root", lambda: None)


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (scripts/test), tests marked slow are handed out first, one per worker, so
    no long test is left to run alone at the end. The order is the same in every worker."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def _checkout_state() -> dict[str, tuple[int, int]]:
    """Every file and folder under the checkout's .dagster_home and data/: (size, mtime)."""
    listing = {}
    for root in CHECKOUT_STATE:
        for path in [root, *root.rglob("*")] if root.exists() else []:
            try:
                info = path.lstat()
            except FileNotFoundError:
                continue
            listing[str(path)] = (info.st_size, info.st_mtime_ns)
    return listing


def pytest_sessionstart(session):
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        session.config.stash[_CHECKOUT_BEFORE] = _checkout_state()


def pytest_sessionfinish(session, exitstatus):
    """The run fails if it created the checkout's .dagster_home or data/ (scripts/demo's), or
    anything in them; when they were there already, a change is reported, not failed: a demo
    running in this checkout writes there too (its daemon, every few seconds)."""
    before = session.config.stash.get(_CHECKOUT_BEFORE, None)
    if before is None:
        return
    after = _checkout_state()
    changed = sorted(path for path in after.keys() | before.keys() if after.get(path) != before.get(path))
    if not changed:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    created = [str(root) for root in CHECKOUT_STATE if str(root) in after and str(root) not in before]
    lines = "\n  ".join(changed[:20]) + ("\n  ..." if len(changed) > 20 else "")
    if created:
        message = (f"the test suite created {', '.join(created)} in the checkout (the demo's own state); "
                   f"a test or a process it started used the defaults:\n  {lines}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    else:
        message = (f"the checkout's .dagster_home or data/ changed during the run ({len(changed)} entries; "
                   f"a running scripts/demo does that, the suite's own processes cannot):\n  {lines}")
    if reporter is not None:
        reporter.write_line(message, red=bool(created), yellow=not created)
    else:
        print(message, file=sys.stderr)


_CHECKOUT_BEFORE = pytest.StashKey[dict]()
