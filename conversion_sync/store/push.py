"""What the push reads and writes: contacts waiting for Salesforce, field edits to send, and the
outcome of each (linked, created, updated, or rejected with Salesforce's error and a backoff)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Sequence

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, update

from conversion_sync.store.contacts import load_contacts
from conversion_sync.store.events import write_events, write_warnings
from conversion_sync.store.schema import contacts, salesforce_records, sync_warnings
from conversion_sync.store.staging import chunked
from conversion_sync.sync.model import ContactState, SyncEvent, SyncWarning

sr = salesforce_records


GAVE_UP = "needs_attention"   # rejected push_max_attempts times: waits for a person (`contacts push ID`)


def _due(now: dt.datetime):
    """Not given up on, and not waiting out a backoff."""
    return and_(or_(contacts.c.push_state.is_(None), contacts.c.push_state != GAVE_UP),
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


def linked_without_mirror(conn: Connection, *, contact_ids: Sequence[int] | None) -> list[tuple[int, str]]:
    """Linked contacts whose Salesforce record the mirror has never seen (linked by an entry)."""
    query = (select(contacts.c.id, contacts.c.salesforce_id)
             .outerjoin(sr, sr.c.salesforce_id == contacts.c.salesforce_id)
             .where(contacts.c.salesforce_id.is_not(None), sr.c.salesforce_id.is_(None),
                    or_(contacts.c.push_state == "queued", contacts.c.edited_in_conversion_at.is_not(None))))
    return [tuple(r) for r in conn.execute(_restrict(query, contact_ids))]


@dataclass
class UpdateCandidate:
    contact: ContactState
    sobject: str
    salesforce_id: str
    mirror: dict[str, Any]
    last_modified_date: dt.datetime


def update_candidates(conn: Connection, *, now: dt.datetime, contact_ids: Sequence[int] | None,
                      custom_fields: Sequence[str]) -> list[UpdateCandidate]:
    """Linked contacts edited in Conversion after their record's LastModifiedDate (P5), due,
    whose record still exists and can be written (not a converted Lead)."""
    query = (select(contacts.c.id, sr.c.sobject, sr.c.salesforce_id, sr.c.fields, sr.c.last_modified_date)
             .join(sr, sr.c.salesforce_id == contacts.c.salesforce_id)
             .where(contacts.c.edited_in_conversion_at > sr.c.last_modified_date, sr.c.is_deleted.is_(False),
                    sr.c.is_converted.is_(False), _due(now)))
    rows = conn.execute(_restrict(query, contact_ids).order_by(contacts.c.id)).all()
    states = {s.key: s for s in load_contacts(conn, ids=[r.id for r in rows], custom_fields=custom_fields)}
    return [UpdateCandidate(states[r.id], r.sobject, r.salesforce_id, dict(r.fields or {}), r.last_modified_date)
            for r in rows]


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
    """What Salesforce now says after our writes: the mirror's fields (and applied fields) take the
    values written, so the next pull sees no change and the next push sends nothing (no echo)."""
    by_id = {row["salesforce_id"]: row for row in rows}
    existing = {}
    for chunk in chunked(list(by_id)):
        existing.update({r.salesforce_id: r for r in conn.execute(
            select(sr.c.salesforce_id, sr.c.fields, sr.c.applied_fields).where(sr.c.salesforce_id.in_(chunk)))})
    inserts = [{"salesforce_id": sf_id, "sobject": row["sobject"], "system_modstamp": now, "last_modified_date": now,
                "is_deleted": False, "email_key": row.get("email_key"), "is_converted": False,
                "fields": row["fields"], "applied_fields": row["fields"], "applied_modstamp": now, "pending": False,
                "attempts": 0, "pulled_at": now, "run_id": run_id}
               for sf_id, row in by_id.items() if sf_id not in existing]
    updates = [{"b_id": sf_id, "fields": {**(old.fields or {}), **by_id[sf_id]["fields"]},
                "applied_fields": {**(old.applied_fields or {}), **by_id[sf_id]["fields"]}}
               for sf_id, old in existing.items()]
    if inserts:
        conn.execute(insert(sr), inserts)
    if updates:
        conn.execute(update(sr).where(sr.c.salesforce_id == bindparam("b_id"))
                     .values(fields=bindparam("fields"), applied_fields=bindparam("applied_fields")), updates)


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


def queued_count(conn: Connection, now: dt.datetime) -> int:
    """Contacts an immediate push should pick up now (the push sensor's question)."""
    return conn.execute(select(func.count()).select_from(contacts)
                        .where(contacts.c.push_state == "queued", _due(now))).scalar()
