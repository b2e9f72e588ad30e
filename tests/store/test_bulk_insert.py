"""Issue 10: the mirror's new records and the audit events go in with COPY on PostgreSQL. What
lands must be exactly what an INSERT would have stored: awkward text (tabs, newlines,
backslashes, quotes, non-ASCII, the text "\\N"), JSON values, NULLs, booleans, UTC timestamps and
the columns' defaults. Runs on both databases (SQLite takes the INSERT path)."""

import datetime as dt

from sqlalchemy import insert, select

from conversion_sync.store import bulk
from conversion_sync.store.schema import salesforce_records as sr
from conversion_sync.store.schema import sync_events

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)
NASTY = ["tab\there", "line\nbreak\r\nend", "back\\slash \\N", 'quote " and \'', "Zoë 日本 ✓", "\\N", "", " "]


def _rows(prefix: str) -> list[dict]:
    rows = []
    for i in range(bulk.COPY_MIN_ROWS + 10):
        text = NASTY[i % len(NASTY)]
        rows.append({"salesforce_id": f"{prefix}{i:015d}", "sobject": "Contact", "system_modstamp": T0,
                     "last_modified_date": T0 - dt.timedelta(days=i), "email_key": text or None,
                     "account_id": None, "is_converted": i % 3 == 0, "created_date": None if i % 2 else T0,
                     "fields": {"Title": text, "Nested": {"list": [1, None, text]}, "Empty": None},
                     "value_problem": text if i % 4 == 0 else None, "pending": i % 2 == 0,
                     "pulled_at": T0, "run_id": "run-1"})
    return rows


def _read(conn, prefix: str) -> list[dict]:
    rows = conn.execute(select(sr).where(sr.c.salesforce_id.like(f"{prefix}%")).order_by(sr.c.salesforce_id)).all()
    return [{k: v for k, v in row._mapping.items() if k != "salesforce_id"} for row in rows]


def test_bulk_insert_stores_what_an_insert_stores(engine):
    with engine.begin() as conn:
        conn.execute(insert(sr), _rows("A"))
        bulk.insert_rows(conn, sr, _rows("B"))
    with engine.connect() as conn:
        inserted, copied = _read(conn, "A"), _read(conn, "B")
    assert len(copied) == bulk.COPY_MIN_ROWS + 10
    assert copied == inserted
    # The defaults an INSERT gives a left-out column (is_deleted False, attempts 0) are there too.
    assert {row["is_deleted"] for row in copied} == {False} and {row["attempts"] for row in copied} == {0}
    assert copied[1]["fields"]["Title"] == NASTY[1] and copied[5]["email_key"] == "\\N"


def test_bulk_insert_of_events_takes_the_database_ids(engine):
    rows = [{"contact_id": i, "company_id": None, "kind": "contact_updated", "rule": "R5", "salesforce_id": None,
             "changes": {"title": ["a\tb", "c\nd"]}, "detail": NASTY[i % len(NASTY)], "run_id": "r",
             "created_at": T0} for i in range(bulk.COPY_MIN_ROWS * 2)]
    with engine.begin() as conn:
        bulk.insert_rows(conn, sync_events, rows)
        bulk.insert_rows(conn, sync_events, rows[:3])            # a few: the INSERT path
    with engine.connect() as conn:
        stored = conn.execute(select(sync_events).order_by(sync_events.c.id)).all()
    assert len({row.id for row in stored}) == len(rows) + 3
    assert [row.detail for row in stored[:len(rows)]] == [row["detail"] for row in rows]
    assert stored[0].changes == {"title": ["a\tb", "c\nd"]} and stored[0].created_at == T0


def test_bulk_update_sets_each_rows_values_and_the_constants(engine):
    rows = _rows("C")
    with engine.begin() as conn:
        conn.execute(insert(sr), [{**row, "attempts": 3, "last_error": "boom"} for row in rows])
        changes = [{"salesforce_id": row["salesforce_id"], "applied_fields": {"Title": NASTY[i % len(NASTY)], "n": i},
                    "applied_modstamp": T0 + dt.timedelta(seconds=i)} for i, row in enumerate(rows[:-1])]
        bulk.update_rows(conn, sr, "salesforce_id", changes,
                         constants={"pending": False, "attempts": 0, "last_error": None})
    with engine.connect() as conn:
        stored = {row.salesforce_id: row for row in conn.execute(select(sr).where(sr.c.salesforce_id.like("C%")))}
    for _i, change in enumerate(changes):
        row = stored[change["salesforce_id"]]
        assert (row.applied_fields, row.applied_modstamp) == (change["applied_fields"], change["applied_modstamp"])
        assert (row.pending, row.attempts, row.last_error) == (False, 0, None)
    untouched = stored[rows[-1]["salesforce_id"]]      # a row not in the update keeps its values
    assert (untouched.attempts, untouched.last_error, untouched.applied_fields) == (3, "boom", None)


def test_bulk_insert_returning_ids_gives_each_row_its_own_id_in_order(engine):
    from conversion_sync.store.schema import contacts

    rows = [{"email": f"p{i}@example.com", "email_key": f"p{i}@example.com", "title": NASTY[i % len(NASTY)],
             "origin": "salesforce", "created_at": T0, "updated_at": T0} for i in range(bulk.COPY_MIN_ROWS + 5)]
    with engine.begin() as conn:
        first = bulk.insert_returning_ids(conn, contacts, rows[:2])         # the INSERT path
        ids = bulk.insert_returning_ids(conn, contacts, rows[2:])
    with engine.connect() as conn:
        stored = {row.id: row for row in conn.execute(select(contacts))}
    assert len(set(first + ids)) == len(rows) == len(stored)
    for new_id, row in zip(first + ids, rows, strict=False):
        assert (stored[new_id].email, stored[new_id].title) == (row["email"], row["title"])
        assert stored[new_id].salesforce_sync == "immediate" and stored[new_id].push_attempts == 0   # defaults
