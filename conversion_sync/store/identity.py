"""Loading the working set for entering contacts (P2) and writing what identity resolution did."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import ColumnElement, Connection, bindparam, insert, or_, select, update

from conversion_sync.store.contacts import load_contacts, write_contact_changes
from conversion_sync.store.schema import contact_identifiers, contacts
from conversion_sync.store.staging import chunked
from conversion_sync.sync.identity import Entry, IdentityResolver
from conversion_sync.sync.model import ContactState
from conversion_sync.sync.values import email_key


def load_for_entries(conn: Connection, entries: Sequence[Entry], *,
                     custom_fields: Sequence[str]) -> tuple[list[ContactState], dict[tuple[str, str], int]]:
    """Every contact an entry could match (by Salesforce id, identifier or email), and the
    identifiers those contacts hold."""
    wanted = {(kind, value) for e in entries for kind, value in (("user_id", e.user_id), ("cookie", e.cookie)) if value}
    identifiers: dict[tuple[str, str], int] = {}
    for kind in ("user_id", "cookie"):
        values = sorted(v for k, v in wanted if k == kind)
        for chunk in chunked(values):
            for row in conn.execute(select(contact_identifiers).where(
                    contact_identifiers.c.kind == kind, contact_identifiers.c.value.in_(chunk))):
                identifiers[(row.kind, row.value)] = row.contact_id
    states = load_contacts(conn, salesforce_ids=[e.salesforce_id for e in entries if e.salesforce_id],
                           email_keys=[key for e in entries if (key := email_key(e.email))],
                           ids=set(identifiers.values()), custom_fields=custom_fields)
    keys = [s.key for s in states]
    for chunk in chunked(keys):
        for row in conn.execute(select(contact_identifiers).where(contact_identifiers.c.contact_id.in_(chunk))):
            identifiers[(row.kind, row.value)] = row.contact_id
    return states, identifiers


def write_identities(conn: Connection, resolver: IdentityResolver, *, custom_fields: Sequence[str],
                     run_id: str | None, now: dt.datetime) -> dict[int, int]:
    """Write contacts, identifiers, push requests, events and warnings; placeholder key -> id."""
    key_to_id = write_contact_changes(conn, resolver.result, run_id=run_id, now=now, custom_fields=custom_fields)
    rows = [{"contact_id": key_to_id.get(key, key), "kind": kind, "value": value, "created_at": now}
            for key, kind, value in resolver.new_identifiers]
    if rows:
        conn.execute(insert(contact_identifiers), rows)
    touched = list(resolver.result.contacts.values())
    edits = [{"b_id": key_to_id[c.key], "edited": now, "sync": c.salesforce_sync} for c in touched]
    if edits:
        conn.execute(update(contacts).where(contacts.c.id == bindparam("b_id"))
                     .values(edited_in_conversion_at=bindparam("edited"), salesforce_sync=bindparam("sync")), edits)
    for state, requested in (("queued", [c for c in touched if c.push_request == "queued"]),
                             ("skipped", [c for c in touched if c.push_request == "skipped"])):
        ids = [key_to_id[c.key] for c in requested]
        for chunk in chunked(ids):
            conn.execute(update(contacts).where(contacts.c.id.in_(chunk))
                         .values(push_state=state, push_attempts=0, push_error=None, push_next_attempt_at=None))
    return key_to_id


def request_push(conn: Connection, *, contact_ids: Sequence[int] = (), all_skipped: bool = False) -> list[int]:
    """P3: queue contacts for the next push (by id, or every contact whose entry skipped it)."""
    condition: list[ColumnElement[bool]] = []
    if contact_ids:
        condition.append(contacts.c.id.in_(list(contact_ids)))
    if all_skipped:
        condition.append(contacts.c.push_state == "skipped")
    if not condition:
        return []
    ids = conn.execute(select(contacts.c.id).where(or_(*condition)).order_by(contacts.c.id)).scalars().all()
    for chunk in chunked(ids):
        conn.execute(update(contacts).where(contacts.c.id.in_(chunk))
                     .values(push_state="queued", push_attempts=0, push_error=None, push_next_attempt_at=None))
    return list(ids)

