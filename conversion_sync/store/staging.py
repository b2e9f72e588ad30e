"""The mirror of Salesforce (staging): what each Lead, Contact and Account last said, whether it
still has to be applied to Conversion, and its retry state (H2). Set-based reads and writes."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    Select,
    String,
    and_,
    any_,
    bindparam,
    case,
    func,
    literal_column,
    null,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from conversion_sync.store.bulk import insert_rows, update_rows
from conversion_sync.store.schema import lone_records
from conversion_sync.store.schema import salesforce_records as sr
from conversion_sync.sync.records import PulledRecord
from conversion_sync.sync.values import first_pulled_problem

IN_CHUNK = 900  # values per IN (...) list, well under SQLite's and PostgreSQL's bind limits
ARRAY_CHUNK = 10_000   # values per array of `among` on PostgreSQL (one bind parameter each)


def chunked(values: Sequence, size: int = IN_CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def id_chunks(conn: Connection, values: Sequence) -> Iterator[Sequence]:
    """`values` in pieces for `among`: larger on PostgreSQL, where a piece is one array."""
    return chunked(values, ARRAY_CHUNK if conn.dialect.name == "postgresql" else IN_CHUNK)


def among(conn: Connection, column: Any, values: Sequence) -> Any:
    """`column IN values`. On PostgreSQL `column = ANY(array)`: one bind parameter however many
    values, so the statement is compiled once and cached, where an IN list is rendered and each
    of its values processed on every execution (issue 10: milliseconds per query on the hot path)."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


def stage_records(conn: Connection, records: Iterable[PulledRecord], *, run_id: str | None,
                  now: dt.datetime, keep_fields: dict[str, set[str]] | None = None,
                  existing: dict[str, Row] | None = None) -> Counter[str]:
    """Upsert pulled records into the mirror. A record is pending (to be applied) unless what it
    says now is exactly what was last applied, so re-pulling an applied record changes nothing
    (R2). An older copy never overwrites a newer one. `keep_fields` names, per object, fields the
    pull could not select (hidden from the integration user, R5): the mirror keeps their last
    seen values, which stay the base of the three-way compare once they are visible again.
    Every record fits (H2): a too-long or invalid email has no email_key, and values the
    database refuses were made storable by `from_api`, the record keeping its problem so it
    stays pending with that error. `existing` is `stored_rows` of these records when the caller
    read it already (the extract, which also needs to know which records are new)."""
    counts: Counter[str] = Counter()
    batch = {record.salesforce_id: record for record in records}
    if not batch:
        return counts
    if existing is None:
        existing = stored_rows(conn, list(batch))
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for sf_id, record in batch.items():
        row = existing.get(sf_id)
        kept = (keep_fields or {}).get(record.sobject)
        if row is not None and kept and row.fields:
            held = {name: row.fields[name] for name in kept if name in row.fields}
            record.fields = {**held, **record.fields}
            # The kept values are part of what is applied: their problems count too (H2).
            record.problem = record.problem or first_pulled_problem(held)
        values = _row_values(record)
        if row is None:
            inserts.append({**values, "salesforce_id": sf_id, "pending": True, "attempts": 0,
                            "pulled_at": now, "run_id": run_id})
            counts["new"] += 1
            continue
        if record.system_modstamp < row.system_modstamp:
            counts["stale"] += 1
            continue
        if (row.system_modstamp == record.system_modstamp and row.fields == record.fields
                and row.created_date == record.created_date):
            # The same copy pulled again (the lookback): nothing new, and a record waiting for its
            # next attempt keeps its retry state and backoff (H2).
            counts["unchanged"] += 1
            continue
        already_applied = (row.applied_modstamp == record.system_modstamp and row.applied_fields == record.fields)
        counts["unchanged" if already_applied else "changed"] += 1
        updates.append({"salesforce_id": sf_id, **values, "pending": not already_applied, "pulled_at": now,
                        "run_id": run_id})
    if inserts:
        insert_rows(conn, sr, inserts)   # COPY on PostgreSQL
    if updates:
        # A changed record gets a fresh retry budget (H2): the fix may be in the new values.
        # One COPY and one UPDATE ... FROM on PostgreSQL (issue 10: the executemany of a W2
        # cycle's 10k changed rows was most of its staging time), an executemany elsewhere.
        update_rows(conn, sr, "salesforce_id", updates,
                    constants={"attempts": 0, "last_error": None, "next_attempt_at": None})
    return counts


def _row_values(record: PulledRecord) -> dict:
    return {
        "sobject": record.sobject,
        "system_modstamp": record.system_modstamp,
        "last_modified_date": record.last_modified_date,
        "is_deleted": record.is_deleted,
        "master_record_id": record.master_record_id,
        "email_key": record.email_key,
        "account_id": record.account_id,
        "is_converted": record.is_converted,
        "converted_contact_id": record.converted_contact_id,
        "converted_account_id": record.converted_account_id,
        "created_date": record.created_date,
        "fields": record.fields,
        "value_problem": record.problem,
        "values_checked": True,     # from_api checked every value (sync/records.py)
    }


def _to_record(row) -> PulledRecord:
    # The JSON columns arrive as dicts decoded for this row alone: taken as they are, not copied.
    light = bool(getattr(row, "light", False))
    return PulledRecord(
        sobject=row.sobject, salesforce_id=row.salesforce_id, system_modstamp=row.system_modstamp,
        last_modified_date=row.last_modified_date, is_deleted=row.is_deleted,
        master_record_id=row.master_record_id, account_id=row.account_id, is_converted=row.is_converted,
        converted_contact_id=row.converted_contact_id, converted_account_id=row.converted_account_id,
        created_date=row.created_date, fields={} if light else (row.fields or {}),
        mirror=row.applied_fields, problem=row.value_problem,
        values_checked=bool(row.values_checked), fields_read=not light)


# What a record of the mirror becomes when read back to apply (PulledRecord), and nothing else:
# the retry and bookkeeping columns stay in the database (issue 10).
_RECORD_COLUMNS = (sr.c.sobject, sr.c.salesforce_id, sr.c.system_modstamp, sr.c.last_modified_date,
                   sr.c.is_deleted, sr.c.master_record_id, sr.c.account_id, sr.c.is_converted,
                   sr.c.converted_contact_id, sr.c.converted_account_id, sr.c.created_date, sr.c.fields,
                   sr.c.applied_fields, sr.c.value_problem, sr.c.values_checked)


def pending_page(sobjects: Sequence[str], *, now: dt.datetime, after: tuple[dt.datetime, str] | None,
                 limit: int, dialect: str, light: bool = False) -> Select:
    """The query of one page of `pending_batches`: the due records after `after` in apply order,
    read from the index of pending records in that order (`ix_salesforce_records_due`). With
    `light`, a never applied record of `lone_records` is read without its values."""
    # SQLite, without statistics, would rather take the object's index and sort all of its
    # pending records for every page; a unary plus keeps it off that index (PostgreSQL's planner
    # weighs both itself).
    sobject = literal_column("+salesforce_records.sobject", String) if dialect == "sqlite" else sr.c.sobject
    columns: Sequence[Any] = _RECORD_COLUMNS
    source: Any = sr
    if light:
        is_light = and_(lone_records.c.salesforce_id.is_not(None), sr.c.applied_fields.is_(None))
        columns = [column for column in _RECORD_COLUMNS if column is not sr.c.fields]
        columns += [case((is_light, null()), else_=sr.c.fields).label("fields"), is_light.label("light")]
        source = sr.outerjoin(lone_records, lone_records.c.salesforce_id == sr.c.salesforce_id)
    query = (select(*columns).select_from(source)
             .where(sr.c.pending.is_(True), sobject.in_(sobjects),
                    or_(sr.c.next_attempt_at.is_(None), sr.c.next_attempt_at <= now))
             .order_by(sr.c.system_modstamp, sr.c.salesforce_id).limit(limit))
    if after is not None:
        query = query.where(tuple_(sr.c.system_modstamp, sr.c.salesforce_id) > tuple_(*after))
    return query


def pending_batches(engine: Engine, sobjects: Sequence[str], *, batch_size: int,
                    now: dt.datetime, light: bool = False) -> Iterator[list[PulledRecord]]:
    """Pending records of `sobjects` due for an attempt, in (SystemModstamp, Id) order, a batch
    at a time (keyset paging, so a record that fails is not fetched again in the same run). Each
    page walks the index of pending records in that order (`ix_salesforce_records_due`). With
    `light`, the records of `lone_records` come without their values (`fields_read` false)."""
    after: tuple[dt.datetime, str] | None = None
    while True:
        query = pending_page(sobjects, now=now, after=after, limit=batch_size, dialect=engine.dialect.name,
                             light=light)
        with engine.connect() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return
        batch = [_to_record(row) for row in rows]
        after = batch[-1].order_key
        yield batch


def mark_applied(conn: Connection, applied_ids: Iterable[str]) -> None:
    """The records applied: not pending, and what they said is now what was applied. The applied
    stamp and values are copied from the mirror row itself, which is what the batch read (one
    sync writes at a time, R1), so no values travel back to the database (issue 10): one UPDATE
    per chunk of ids."""
    ids = sorted(set(applied_ids))
    for chunk in id_chunks(conn, ids):
        conn.execute(update(sr).where(among(conn, sr.c.salesforce_id, chunk))
                     .values(applied_modstamp=sr.c.system_modstamp, applied_fields=sr.c.fields, pending=False,
                             attempts=0, last_error=None, next_attempt_at=None))


def mark_failed(conn: Connection, failures: dict[str, str], *, now: dt.datetime,
                base_seconds: int = 60, max_seconds: int = 6 * 3600) -> None:
    """H2: keep the record pending with its error; the next attempt backs off exponentially."""
    if not failures:
        return
    attempts: dict[str, int | None] = {}
    for ids in chunked(list(failures)):
        attempts.update(conn.execute(select(sr.c.salesforce_id, sr.c.attempts)
                                     .where(sr.c.salesforce_id.in_(ids))).all())
    rows = []
    for sf_id, error in failures.items():
        tries = (attempts.get(sf_id) or 0) + 1
        delay = min(max_seconds, base_seconds * 2 ** (tries - 1))
        rows.append({"b_id": sf_id, "attempts": tries, "last_error": error[:2000],
                     "next_attempt_at": now + dt.timedelta(seconds=delay)})
    conn.execute(update(sr).where(sr.c.salesforce_id == bindparam("b_id"))
                 .values(attempts=bindparam("attempts"), last_error=bindparam("last_error"),
                         next_attempt_at=bindparam("next_attempt_at")), rows)


def conversions_into(conn: Connection, contact_ids: Sequence[str]) -> dict[str, str]:
    """Converted Contact id -> the Lead that converted into it, for the Contacts given (R7)."""
    found: dict[str, str] = {}
    for ids in id_chunks(conn, list(contact_ids)):
        for lead_id, contact_id in conn.execute(
                select(sr.c.salesforce_id, sr.c.converted_contact_id)
                .where(sr.c.sobject == "Lead", sr.c.is_converted.is_(True), among(conn, sr.c.converted_contact_id, ids))
                .order_by(sr.c.system_modstamp)):
            found[contact_id] = lead_id
    return found


def staged_records(conn: Connection, ids: Iterable[str]) -> dict[str, PulledRecord]:
    """Salesforce id -> the record as last pulled, for the ids the mirror holds (R7/R8)."""
    found: dict[str, PulledRecord] = {}
    for chunk in id_chunks(conn, sorted(i for i in set(ids) if i)):
        found.update((row.salesforce_id, _to_record(row))
                     for row in conn.execute(select(sr).where(among(conn, sr.c.salesforce_id, chunk))))
    return found


def stored_rows(conn: Connection, ids: Iterable[str]) -> dict[str, Row]:
    """Salesforce id -> what `stage_records` compares a new copy with, for the ids the mirror holds."""
    found: dict[str, Row] = {}
    for chunk in id_chunks(conn, sorted(set(ids))):
        for stored in conn.execute(select(sr.c.salesforce_id, sr.c.system_modstamp, sr.c.applied_modstamp,
                                          sr.c.applied_fields, sr.c.fields, sr.c.created_date)
                                   .where(among(conn, sr.c.salesforce_id, chunk))):
            found[stored.salesforce_id] = stored
    return found


def known_ids(conn: Connection, ids: Iterable[str]) -> set[str]:
    """Which of these Salesforce ids the mirror holds."""
    wanted = sorted(set(ids))
    found: set[str] = set()
    for chunk in id_chunks(conn, wanted):
        found.update(conn.execute(select(sr.c.salesforce_id).where(among(conn, sr.c.salesforce_id, chunk))).scalars())
    return found



ANALYZE_MIN_NEW = 10_000   # new mirror rows from which a load may have outgrown the planner's statistics


def refresh_statistics(conn: Connection, *, new_rows: int) -> bool:
    """After a pull that added `new_rows` to the mirror: on PostgreSQL, ANALYZE it when they are
    many and more than a tenth of what the planner believes the table holds (its statistics are
    only refreshed by autovacuum, up to a minute later). With a first sync's statistics taken on
    a nearly empty table, each page of the apply sorted every pending record (issue 10: 300 ms
    a page at W1's scale 0.1) instead of walking the index in apply order. True when it ran."""
    if conn.dialect.name != "postgresql" or new_rows < ANALYZE_MIN_NEW:
        return False
    believed = conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = 'salesforce_records'::regclass")).scalar()
    if believed is not None and believed > 0 and new_rows <= believed / 10:
        return False
    conn.exec_driver_sql("ANALYZE salesforce_records")
    return True


def pending_count(conn: Connection) -> dict[str, int]:
    return dict(conn.execute(select(sr.c.sobject, func.count()).where(sr.c.pending.is_(True))
                             .group_by(sr.c.sobject)).all())



def lead_email_keys(conn: Connection, email_keys: Iterable[str]) -> set[str]:
    """Which of these email keys a Lead in the mirror holds."""
    found: set[str] = set()
    for chunk in id_chunks(conn, sorted(set(email_keys))):
        found.update(conn.execute(select(sr.c.email_key).where(sr.c.sobject == "Lead", among(conn, sr.c.email_key, chunk))
                                  .distinct()).scalars())
    return found


def requeue_contacts_of(conn: Connection, account_ids: Iterable[str]) -> int:
    """Make the applied Contacts of these Accounts pending again, so a company created from an
    Account pulled after its Contacts gets them (R6). Re-applying a record takes no value it took
    before (the mirror compare of R5); only the company link can change."""
    ids = sorted(set(account_ids))
    count = 0
    for chunk in chunked(ids):
        count += conn.execute(update(sr).where(sr.c.sobject == "Contact", sr.c.account_id.in_(chunk),
                                               sr.c.is_deleted.is_(False), sr.c.pending.is_(False))
                              .values(pending=True, attempts=0, last_error=None, next_attempt_at=None)).rowcount
    return count


def requeue_records(conn: Connection, salesforce_ids: Iterable[str]) -> int:
    """Make these mirror records pending again, due now with a fresh retry budget (a resync from
    the UI): the next apply re-applies them as they are in the mirror."""
    ids = sorted(set(salesforce_ids))
    count = 0
    for chunk in chunked(ids):
        count += conn.execute(update(sr).where(sr.c.salesforce_id.in_(chunk))
                              .values(pending=True, attempts=0, last_error=None, next_attempt_at=None)).rowcount
    return count
