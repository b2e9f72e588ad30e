"""Merging two duplicate contacts (P6): keep one, remove the other, atomically. What the merge
decides is sync/merge.py's; this module loads the two and writes the outcome.

Identifiers, company, event history and warnings move to the kept contact; each field takes the
newer value. Two contacts linked to different Salesforce records are refused: merge those in
Salesforce, and the sync follows the merge (R8).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, update

from conversion_sync.errors import ContactNotFound, InvalidInput, MergeRefused
from conversion_sync.store.contacts import load_contacts, write_contact_changes
from conversion_sync.store.schema import contact_identifiers, contacts, sync_events, sync_warnings
from conversion_sync.sync.merge import merge_into, merge_refusal
from conversion_sync.sync.model import ApplyResult, SyncEvent


def merge_contacts(conn: Connection, custom_fields: tuple[str, ...], keep_id: int, remove_id: int, *,
                   now: dt.datetime, run_id: str | None = None) -> dict[str, Any]:
    if keep_id == remove_id:
        raise InvalidInput("A contact cannot be merged into itself; give two different contact ids.")
    states = {s.key: s for s in load_contacts(conn, ids=[keep_id, remove_id], custom_fields=custom_fields)}
    for contact_id in (keep_id, remove_id):
        if contact_id not in states:
            raise ContactNotFound(f"There is no contact with id {contact_id}.")
    keep, remove = states[keep_id], states[remove_id]
    refusal = merge_refusal(keep, remove)       # the decisions are sync/merge.py's (P6)
    if refusal:
        raise MergeRefused(refusal)
    changes = merge_into(keep, remove, now=now)
    result = ApplyResult(contacts={keep.key: keep, remove.key: remove})
    conn.execute(update(contact_identifiers).where(contact_identifiers.c.contact_id == remove_id)
                 .values(contact_id=keep_id))
    conn.execute(update(sync_events).where(sync_events.c.contact_id == remove_id).values(contact_id=keep_id))
    conn.execute(update(sync_warnings).where(sync_warnings.c.contact_id.in_([keep_id, remove_id]),
                                             sync_warnings.c.kind.in_(["duplicate", "duplicate_email"]),
                                             sync_warnings.c.resolved_at.is_(None))
                 .values(resolved_at=now))
    result.events.append(SyncEvent("contact_merged", "P6", contact_key=keep_id, changes=changes or None,
                                   detail=f"merged contact {remove_id} into this contact"))
    write_contact_changes(conn, result, run_id=run_id, now=now, custom_fields=custom_fields)
    conn.execute(update(contacts).where(contacts.c.id == keep_id).values(edited_in_conversion_at=now))
    return {"kept": keep_id, "removed": remove_id, "changes": changes}
