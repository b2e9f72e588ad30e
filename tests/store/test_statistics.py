"""Issue 10: after a pull that grows the mirror a lot, PostgreSQL's planner knows it, so the apply
walks its records in apply order from the index instead of sorting every pending record for each
page (statistics refreshed by `staging.refresh_statistics`, not a minute later by autovacuum)."""

import datetime as dt

import pytest
from sqlalchemy import text

from conversion_sync.store import database as store_database
from conversion_sync.store import staging
from conversion_sync.sync.records import PulledRecord

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def _records(sobject: str, prefix: str, count: int) -> list[PulledRecord]:
    return [PulledRecord(sobject=sobject, salesforce_id=f"{prefix}{i:015d}", system_modstamp=T0 + dt.timedelta(seconds=i),
                         last_modified_date=T0, fields={"Email": f"p{i}@{prefix}.example", "LastName": f"Person {i}"},
                         values_checked=True)
            for i in range(count)]


def _page_plan(conn) -> str:
    query = staging.pending_page(["Lead", "Contact"], now=T0 + dt.timedelta(days=1), limit=5000,
                                 dialect="postgresql", after=(T0 + dt.timedelta(seconds=100), "00Q000000000000100"),
                                 light=True)
    sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
    return "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {sql}"))


@pytest.mark.postgres
def test_after_a_first_load_of_people_the_apply_reads_them_in_order_from_the_index(postgres_url):
    engine = store_database.open_engine(postgres_url)
    with engine.begin() as conn:
        # The Accounts come first; autovacuum may well analyze the mirror then, when it holds
        # only Accounts, and those statistics say there is no Lead or Contact to apply.
        staging.stage_records(conn, _records("Account", "001", 5_000), run_id=None, now=T0)
        conn.exec_driver_sql("ANALYZE salesforce_records")
    with engine.begin() as conn:
        people = _records("Lead", "00Q", 15_000)
        staged = staging.stage_records(conn, people, run_id=None, now=T0)
        assert staging.refresh_statistics(conn, new_rows=staged["new"]) is True
    with engine.connect() as conn:
        believed = conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'salesforce_records'")).scalar()
        plan = _page_plan(conn)             # the planner left to itself, as in a sync
    assert believed == pytest.approx(20_000, rel=0.05)
    assert "ix_salesforce_records_due" in plan and "Sort" not in plan, plan


@pytest.mark.postgres
def test_statistics_are_left_to_autovacuum_when_a_pull_adds_little(postgres_url):
    """A cycle's few new records do not pay for an ANALYZE of a large mirror."""
    engine = store_database.open_engine(postgres_url)
    with engine.begin() as conn:
        staging.stage_records(conn, _records("Lead", "00Q", 12_000), run_id=None, now=T0)
        assert staging.refresh_statistics(conn, new_rows=12_000) is True
        assert staging.refresh_statistics(conn, new_rows=1_000) is False        # under 10,000
        staging.stage_records(conn, _records("Contact", "003", 11_000), run_id=None, now=T0)
        assert staging.refresh_statistics(conn, new_rows=11_000) is True        # nearly doubles it


def test_sqlite_has_no_statistics_to_refresh(engine):
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            pytest.skip("the SQLite case")
        assert staging.refresh_statistics(conn, new_rows=50_000) is False
