"""H2 with hidden fields (R5): the values the mirror keeps for a field the integration user can
no longer see are part of what is applied, so their problems are the record's too. A row staged
before schema 8 checked only unstorable values; its kept over-long Title must keep the record
pending once it is pulled again without that field, on SQLite and PostgreSQL."""

import datetime as dt

from sqlalchemy import insert, select

from conversion_sync.store import staging
from conversion_sync.store.schema import salesforce_records
from conversion_sync.sync.records import from_api
from conversion_sync.sync.values import MAX_TEXT_LENGTH

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEAD = "00Q8d0000000001EAA"


def test_h2_a_kept_value_that_cannot_be_applied_keeps_the_record_pending(engine):
    too_long = "T" * (MAX_TEXT_LENGTH + 1)
    with engine.begin() as conn:     # as an older version staged it: only unstorable values checked
        conn.execute(insert(salesforce_records).values(
            salesforce_id=LEAD, sobject="Lead", system_modstamp=T0, last_modified_date=T0,
            email_key="ann@example.com", fields={"Email": "ann@example.com", "Title": too_long},
            values_checked=False, pending=True, attempts=0, pulled_at=T0))
    stamp = "2026-03-01T12:05:00.000+0000"
    pulled = from_api("Lead", {"Id": LEAD, "Email": "ann@example.com", "LastName": "Lee",
                               "SystemModstamp": stamp, "LastModifiedDate": stamp})
    assert pulled.values_checked and pulled.problem is None
    with engine.begin() as conn:
        staging.stage_records(conn, [pulled], run_id="r", now=T0, keep_fields={"Lead": {"Title"}})
    with engine.connect() as conn:
        row = conn.execute(select(salesforce_records).where(salesforce_records.c.salesforce_id == LEAD)).one()
    kept, problem = row.fields["Title"], row.value_problem
    assert len(kept) == len(too_long) and row.values_checked is True
    assert problem is not None and problem.startswith("Title ")
    with engine.connect() as conn:
        (record,) = staging.staged_records(conn, [LEAD]).values()
    assert record.unappliable() == problem
