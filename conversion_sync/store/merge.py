"""Merging two duplicate contacts (P6): keep one, remove the other, atomically.

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
from conversion_sync.sync.merge import fold_fields
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
    if keep.salesforce_id and remove.salesforce_id and keep.salesforce_id != remove.salesforce_id:
        raise MergeRefused(
            f"Contacts {keep_id} and {remove_id} are linked to different Salesforce records "
            f"({keep.salesforce_id} and {remove.salesforce_id}); merge those records in Salesforce and the sync "
            "will re-link the contact (R8).")
    changes = fold_fields(keep, remove)
    if remove.salesforce_id and not keep.salesforce_id:
        changes["salesforce_id"] = [None, remove.salesforce_id]
        keep.salesforce_id, keep.salesforce_object = remove.salesforce_id, remove.salesforce_object
        keep.changed.update({"salesforce_id", "salesforce_object"})
    if remove.company_id is not None and keep.company_id is None:
        changes["company_id"] = [None, remove.company_id]
        keep.company_id, keep.company_id_updated_at = remove.company_id, remove.company_id_updated_at
        keep.changed.add("company_id")
    keep.updated_at = now
    remove.removed, remove.folded_into = True, keep.key
    # The removed contact's link is freed before the kept one takes it (one id, one contact).
    remove.changed.add("salesforce_id")
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
