"""What the push reads and writes: contacts waiting for Salesforce, field edits to send, and the
outcome of each (linked, created, updated, or rejected with Salesforce's error and a backoff)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, update

from conversion_sync.store.bulk import update_each
from conversion_sync.store.contacts import load_contacts
from conversion_sync.store.events import write_events, write_warnings
from conversion_sync.store.schema import companies, contact_attributes, contacts, salesforce_records, sync_warnings
from conversion_sync.store.staging import _row_values, chunked
from conversion_sync.sync.fields import CONTACT_FIELDS
from conversion_sync.sync.model import ContactState, SyncEvent, SyncWarning
from conversion_sync.sync.push import GAVE_UP, PUSHED, UNKNOWN_STAMP, WAITING, mirror_after_write
from conversion_sync.sync.records import PulledRecord

sr = salesforce_records

# A mirror row written without Salesforce's answer (the read-back failed) gets UNKNOWN_STAMP
# (sync.push): older than anything Salesforce holds, so the next pull of the record replaces it.
# A contact's `edited_in_conversion_at` once the push found nothing left to send for it (P5):
# still set (the contact was edited in Conversion), older than any edit, so not a candidate.
RECONCILED = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _due(now: dt.datetime):
    """Not given up on, and not waiting out a backoff."""
    return and_(or_(contacts.c.push_state.is_(None), contacts.c.push_state != GAVE_UP),
                or_(contacts.c.push_next_attempt_at.is_(None), contacts.c.push_next_attempt_at <= now))


def _work_due(now: dt.datetime):
    """H2, the SQL of sync.push.push_due: waiting in the queue, its backoff over."""
    return and_(contacts.c.push_state.in_(WAITING),
                or_(contacts.c.push_next_attempt_at.is_(None), contacts.c.push_next_attempt_at <= now))


def _restrict(query, contact_ids: Sequence[int] | None):
    return query.where(contacts.c.id.in_(list(contact_ids))) if contact_ids is not None else query


def queued_unlinked(conn: Connection, *, now: dt.datetime, contact_ids: Sequence[int] | None,
                    custom_fields: Sequence[str]) -> list[ContactState]:
    """Contacts queued for Salesforce that are not linked yet (P4), due for an attempt."""
    ids = conn.execute(_restrict(select(contacts.c.id).where(
        contacts.c.push_state.in_(["queued", "failed"]), contacts.c.salesforce_id.is_(None), _due(now)), contact_ids)
        .order_by(contacts.c.id)).scalars().all()
    return load_contacts(conn, ids=ids, custom_fields=custom_fields)


def linked_without_mirror(conn: Connection, *, now: dt.datetime,
                          contact_ids: Sequence[int] | None) -> list[tuple[int, str]]:
    """Linked contacts whose Salesforce record the mirror has never seen (linked by an entry)."""
    query = (select(contacts.c.id, contacts.c.salesforce_id)
             .outerjoin(sr, sr.c.salesforce_id == contacts.c.salesforce_id)
             .where(contacts.c.salesforce_id.is_not(None), sr.c.salesforce_id.is_(None), _due(now),
                    or_(contacts.c.push_state == "queued", contacts.c.edited_in_conversion_at.is_not(None))))
    return [tuple(r) for r in conn.execute(_restrict(query, contact_ids))]


@dataclass
class UpdateCandidate:
    contact: ContactState
    sobject: str
    salesforce_id: str
    mirror: dict[str, Any]
    last_modified_date: dt.datetime
    applied: dict[str, Any] | None = None      # what Salesforce said when last applied (R5 base)
    pending: bool = False                       # a Salesforce change not applied yet
    edited_at: dt.datetime | None = None        # the contact's marker as read (see reconcile_edits)


def update_candidates(conn: Connection, *, now: dt.datetime, contact_ids: Sequence[int] | None,
                      custom_fields: Sequence[str], after: int | None = None,
                      limit: int | None = None) -> list[UpdateCandidate]:
    """Linked contacts with a Conversion edit the push has not reconciled yet (P5), due, whose
    record still exists and can be written (not a converted Lead). Which fields go out is
    decided per field (sync.fields.push_to_salesforce); the marker is moved by reconcile_edits.
    By contact id, from after `after`, at most `limit` (a page: memory stays flat however many
    contacts a first sync linked, issue 10)."""
    query = (select(contacts.c.id, contacts.c.edited_in_conversion_at, sr.c.sobject, sr.c.salesforce_id,
                    sr.c.fields, sr.c.applied_fields, sr.c.pending, sr.c.last_modified_date)
             .join(sr, sr.c.salesforce_id == contacts.c.salesforce_id)
             .where(contacts.c.edited_in_conversion_at > RECONCILED, sr.c.is_deleted.is_(False),
                    sr.c.is_converted.is_(False), _due(now)))
    if after is not None:
        query = query.where(contacts.c.id > after)
    rows = conn.execute(_restrict(query, contact_ids).order_by(contacts.c.id).limit(limit)).all()
    states = {s.key: s for s in load_contacts(conn, ids=[r.id for r in rows], custom_fields=custom_fields)}
    return [UpdateCandidate(states[r.id], r.sobject, r.salesforce_id, dict(r.fields or {}), r.last_modified_date,
                            applied=dict(r.applied_fields) if r.applied_fields is not None else None,
                            pending=bool(r.pending), edited_at=r.edited_in_conversion_at)
            for r in rows]


def reconcile_edits(conn: Connection, marks: Sequence[tuple[int, dt.datetime | None]]) -> None:
    """P5: (contact id, its `edited_in_conversion_at` as read) for contacts the push has nothing
    left to send for: no longer candidates. Only when the marker is still at most what was read,
    so an edit made meanwhile is sent by the next push."""
    rows = [{"b_id": contact_id, "b_read": read} for contact_id, read in marks if read is not None]
    edited = contacts.c.edited_in_conversion_at
    update_each(conn, rows, {"b_id": contacts.c.id.type, "b_read": edited.type},
                lambda v: update(contacts).where(contacts.c.id == v.c.b_id, edited <= v.c.b_read)
                .values(edited_in_conversion_at=RECONCILED))


def record_linked(conn: Connection, links: Sequence[tuple[int, str, str, str]], *, run_id: str | None,
                  now: dt.datetime) -> None:
    """(contact id, Salesforce id, object, how) for contacts now linked (found or created)."""
    if not links:
        return
    conn.execute(update(contacts).where(contacts.c.id == bindparam("b_id"))
                 .values(salesforce_id=bindparam("sf_id"), salesforce_object=bindparam("sobject"),
                         push_state="pushed", push_error=None, push_attempts=0, push_next_attempt_at=None,
                         updated_at=now),
                 [{"b_id": c, "sf_id": s, "sobject": o} for c, s, o, _ in links])
    write_events(conn, [SyncEvent("contact_linked" if how == "found" else "created_in_salesforce", "P4",
                                  contact_key=c, salesforce_id=s, changes={"salesforce_id": [None, s]},
                                  detail=(f"linked to the existing {o} with the same email" if how == "found"
                                          else f"created a {o} in Salesforce"))
                         for c, s, o, how in links], {}, {}, run_id=run_id, now=now)
    _resolve_push_warnings(conn, [c for c, *_ in links], now)


def record_mirror(conn: Connection, rows: Sequence[dict[str, Any]], *, run_id: str | None, now: dt.datetime) -> None:
    """What Salesforce says after our writes. Each row: `salesforce_id`, `sobject`, `fields` (the
    values written), `read_back` (the record as Salesforce answered right after the write, or
    None), and for a create `email_key` and `account_id`.

    With the read-back the mirror takes Salesforce's own stamps and values (R5); the record is
    applied when they are exactly what Conversion holds, else pending (sync.push.mirror_after_write).
    Without it the mirror takes the values written and keeps the stamps it had (a new row gets
    stamps older than anything in Salesforce), so the next pull brings Salesforce's."""
    by_id = {row["salesforce_id"]: row for row in rows}
    existing = {}
    for chunk in chunked(list(by_id)):
        existing.update({r.salesforce_id: r for r in conn.execute(
            select(sr.c.salesforce_id, sr.c.fields, sr.c.applied_fields, sr.c.applied_modstamp, sr.c.pending,
                   sr.c.account_id).where(sr.c.salesforce_id.in_(chunk)))})
    inserts, updates, answered = [], [], []
    for sf_id, row in by_id.items():
        old = existing.get(sf_id)
        back: PulledRecord | None = row.get("read_back")
        if back is not None:
            after = mirror_after_write(
                written=row["fields"], read_back=back, previous_fields=old.fields if old else None,
                previous_applied=old.applied_fields if old else None, previous_pending=bool(old and old.pending),
                expected_account_id=old.account_id if old else row.get("account_id"))
            values = {**_row_values(back), "fields": after.fields, "applied_fields": after.applied_fields,
                      "applied_modstamp": back.system_modstamp if after.applied else (old.applied_modstamp if old else None),
                      "pending": not after.applied, "attempts": 0, "last_error": None, "next_attempt_at": None,
                      "pulled_at": now, "run_id": run_id}
            if old is None:
                inserts.append({**values, "salesforce_id": sf_id})
            else:
                answered.append({**values, "b_id": sf_id})
        elif old is None:
            inserts.append({"salesforce_id": sf_id, "sobject": row["sobject"], "system_modstamp": UNKNOWN_STAMP,
                            "last_modified_date": UNKNOWN_STAMP, "is_deleted": False, "master_record_id": None,
                            "email_key": row.get("email_key"), "account_id": row.get("account_id"),
                            "is_converted": False, "converted_contact_id": None, "converted_account_id": None,
                            "fields": row["fields"], "applied_fields": row["fields"], "applied_modstamp": UNKNOWN_STAMP,
                            "pending": False, "attempts": 0, "last_error": None, "next_attempt_at": None,
                            "pulled_at": now, "run_id": run_id})
        else:
            updates.append({"b_id": sf_id, "fields": {**(old.fields or {}), **row["fields"]},
                            "applied_fields": {**(old.applied_fields or {}), **row["fields"]}})
    if inserts:
        conn.execute(insert(sr), inserts)
    if answered:
        conn.execute(update(sr).where(sr.c.salesforce_id == bindparam("b_id"))
                     .values(**{key: bindparam(key) for key in answered[0] if key != "b_id"}), answered)
    if updates:
        conn.execute(update(sr).where(sr.c.salesforce_id == bindparam("b_id"))
                     .values(fields=bindparam("fields"), applied_fields=bindparam("applied_fields")), updates)


def restamp_our_writes(conn: Connection, stamps: Sequence[tuple[int, dict[str, dt.datetime | None], dt.datetime]],
                       *, pushed_since: dt.datetime, move_edited: bool = True) -> None:
    """R5: each (contact id, {field: its updated_at when we read it}, stamp) moves the fields we
    wrote onto Salesforce's clock (`stamp`, from sync.push.stamp_of_our_write), so a later
    Salesforce edit never looks older than our write. A field edited again since we read it keeps
    its newer stamp. The contact's last Conversion edit, when this push saw it (at or before
    `pushed_since`), moves too (unless `move_edited` is false), so the contact is no longer
    waiting for a push."""
    by_field: dict[str, list[dict]] = {}
    for contact_id, fields, at in stamps:
        for name, read_at in fields.items():
            if read_at is not None:
                by_field.setdefault(name, []).append({"b_id": contact_id, "b_read": read_at, "b_at": at})
    attributes = contact_attributes.c
    stamp_type = contacts.c.edited_in_conversion_at.type
    types = {"b_id": contacts.c.id.type, "b_read": stamp_type, "b_at": stamp_type}

    def standard_field(column: Any) -> Callable[[Any], Any]:
        return lambda v: update(contacts).where(contacts.c.id == v.c.b_id, column == v.c.b_read) \
            .values({column.name: v.c.b_at})

    def custom_field(name: str) -> Callable[[Any], Any]:
        return lambda v: update(contact_attributes).where(
            attributes.contact_id == v.c.b_id, attributes.name == name,
            attributes.updated_at == v.c.b_read).values(updated_at=v.c.b_at)

    for name, rows in by_field.items():
        build = standard_field(contacts.c[f"{name}_updated_at"]) if name in CONTACT_FIELDS else custom_field(name)
        update_each(conn, rows, types, build)
    edited = contacts.c.edited_in_conversion_at
    rows = [{"b_id": contact_id, "b_at": at} for contact_id, _, at in stamps]
    if move_edited:
        update_each(conn, rows, {"b_id": contacts.c.id.type, "b_at": stamp_type},
                    lambda v: update(contacts).where(contacts.c.id == v.c.b_id, edited <= pushed_since,
                                                     edited > v.c.b_at).values(edited_in_conversion_at=v.c.b_at))


def record_pushed(conn: Connection, contact_ids: Sequence[int], events: Sequence[SyncEvent], *,
                  run_id: str | None, now: dt.datetime) -> None:
    """The contacts' edits are in Salesforce: a queued or failed push is done, its error cleared."""
    for chunk in chunked(list(contact_ids)):
        conn.execute(update(contacts).where(contacts.c.id.in_(chunk), contacts.c.push_state.in_(["queued", "failed"]))
                     .values(push_state="pushed"))
        conn.execute(update(contacts).where(contacts.c.id.in_(chunk), contacts.c.push_error.is_not(None))
                     .values(push_error=None, push_attempts=0, push_next_attempt_at=None))
    write_events(conn, events, {}, {}, run_id=run_id, now=now)
    _resolve_push_warnings(conn, contact_ids, now)


def record_rejected(conn: Connection, failures: dict[int, str], *, run_id: str | None, now: dt.datetime,
                    base_seconds: int, max_attempts: int) -> None:
    """H2/P5: Salesforce's error stays on the contact, which is retried with backoff until it
    succeeds or `max_attempts` is reached (then it waits for a person: `contacts push ID`)."""
    if not failures:
        return
    attempts = dict(conn.execute(select(contacts.c.id, contacts.c.push_attempts)
                                 .where(contacts.c.id.in_(list(failures)))).all())
    rows = []
    for contact_id, error in failures.items():
        tries = (attempts.get(contact_id) or 0) + 1
        gave_up = tries >= max_attempts
        delay = min(base_seconds * 2 ** (tries - 1), 24 * 3600)
        rows.append({"b_id": contact_id, "error": error[:2000], "tries": tries,
                     "state": GAVE_UP if gave_up else "failed",
                     "next": None if gave_up else now + dt.timedelta(seconds=delay)})
    conn.execute(update(contacts).where(contacts.c.id == bindparam("b_id"))
                 .values(push_state=bindparam("state"), push_error=bindparam("error"),
                         push_attempts=bindparam("tries"), push_next_attempt_at=bindparam("next")), rows)
    write_warnings(conn, [SyncWarning("push_error", contact_id, [], f"Salesforce rejected contact {contact_id}: {error}")
                          for contact_id, error in failures.items()], {}, run_id=run_id, now=now)


def _resolve_push_warnings(conn: Connection, contact_ids: Sequence[int], now: dt.datetime) -> None:
    for chunk in chunked(list(contact_ids)):
        conn.execute(update(sync_warnings).where(and_(sync_warnings.c.kind == "push_error",
                                                      sync_warnings.c.resolved_at.is_(None),
                                                      sync_warnings.c.contact_id.in_(chunk)))
                     .values(resolved_at=now))


def linked_salesforce_ids(conn: Connection, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in chunked(sorted(set(ids))):
        found.update(conn.execute(select(contacts.c.salesforce_id).where(contacts.c.salesforce_id.in_(chunk))).scalars())
    return found


def account_websites(conn: Connection) -> list[tuple[str, str]]:
    """(website, Account id) of every company linked to an Account that has a website, lowest
    company id first (a new Contact joins the Account of its email's domain, sync.push)."""
    return [(row.website, row.salesforce_account_id) for row in conn.execute(
        select(companies.c.website, companies.c.salesforce_account_id)
        .where(companies.c.website.is_not(None), companies.c.salesforce_account_id.is_not(None))
        .order_by(companies.c.id))]


def work_due_count(conn: Connection, now: dt.datetime) -> int:
    """Contacts with push work that can be done now: queued, or failed with the backoff over
    (the push sensor's question; 0 on a settled store)."""
    return conn.execute(select(func.count()).select_from(contacts).where(_work_due(now))).scalar_one()


def work_due_ids(conn: Connection, now: dt.datetime, limit: int) -> list[int]:
    """The oldest `limit` contacts with push work that can be done now (work_due_count's set):
    what a pull lets go out between two of its batches."""
    return list(conn.execute(select(contacts.c.id).where(_work_due(now)).order_by(contacts.c.id)
                             .limit(limit)).scalars())


def linked_waiting(conn: Connection, *, now: dt.datetime, contact_ids: Sequence[int] | None) -> list[int]:
    """Linked contacts waiting in the queue whose record the mirror holds, last edited in
    Conversion at or before `now`: after this run's field edits went out, those that sent
    nothing have nothing left to send."""
    query = (select(contacts.c.id).join(sr, sr.c.salesforce_id == contacts.c.salesforce_id)
             .where(_work_due(now), or_(contacts.c.edited_in_conversion_at.is_(None),
                                        contacts.c.edited_in_conversion_at <= now)))
    return list(conn.execute(_restrict(query, contact_ids)).scalars())


def settle_waiting(conn: Connection, contact_ids: Sequence[int], *, now: dt.datetime) -> None:
    """H2: these linked contacts have nothing to send: their push is done (unless a Conversion
    edit arrived after `now`, which the next push sends)."""
    for chunk in chunked(list(contact_ids)):
        conn.execute(update(contacts).where(contacts.c.id.in_(chunk), contacts.c.push_state.in_(WAITING),
                                            or_(contacts.c.edited_in_conversion_at.is_(None),
                                                contacts.c.edited_in_conversion_at <= now))
                     .values(push_state=PUSHED, push_error=None, push_attempts=0, push_next_attempt_at=None))
    _resolve_push_warnings(conn, contact_ids, now)


def defer_waiting(conn: Connection, *, now: dt.datetime, until: dt.datetime,
                  contact_ids: Sequence[int] | None) -> int:
    """H3: the API budget stopped the push: the work due waits until `until` (no attempt is
    counted), so the push sensor does not launch a run that can only read the limits again."""
    query = update(contacts).where(_work_due(now))
    if contact_ids is not None:
        query = query.where(contacts.c.id.in_(list(contact_ids)))
    return conn.execute(query.values(push_next_attempt_at=until)).rowcount
