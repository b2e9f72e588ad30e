"""Conversion-side edits of contacts (a user, a form, the API): each sets the field's own
updated_at, so the field rules (R5) know the edit is newer than what Salesforce said."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from conversion_sync.errors import ContactNotFound, InvalidInput
from conversion_sync.store.events import write_events
from conversion_sync.store.schema import contact_attributes, contacts
from conversion_sync.sync.fields import CONTACT_FIELDS
from conversion_sync.sync.model import SyncEvent
from conversion_sync.sync.values import BadValue, checked_field, email_key, shown


def editable_fields(custom_fields: tuple[str, ...]) -> tuple[str, ...]:
    return CONTACT_FIELDS + tuple(custom_fields)


def set_contact_field(conn: Connection, custom_fields: tuple[str, ...], contact_id: int, field: str, value: Any, *,
                      now: dt.datetime, run_id: str | None = None, source: str = "cli") -> bool:
    """Set one field of one contact; returns False when the value was already that."""
    if field not in editable_fields(custom_fields):
        raise InvalidInput(f"{shown(field)} is not a contact field (fields: {', '.join(editable_fields(custom_fields))}).")
    try:
        new_value = checked_field(field, value)      # the one value rule (sync/values.py)
    except BadValue as exc:
        raise InvalidInput(f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None
    row = conn.execute(select(contacts).where(contacts.c.id == contact_id)).first()
    if row is None:
        raise ContactNotFound(f"There is no contact with id {contact_id}.")
    if field in CONTACT_FIELDS:
        old_value = getattr(row, field)
        if old_value == new_value:
            return False
        values = {field: new_value, f"{field}_updated_at": now}
        if field == "email":
            values["email_key"] = email_key(new_value)
    else:
        old_value = conn.execute(select(contact_attributes.c.value).where(
            contact_attributes.c.contact_id == contact_id, contact_attributes.c.name == field)).scalar()
        if old_value == new_value:
            return False
        conn.execute(delete(contact_attributes).where(contact_attributes.c.contact_id == contact_id,
                                                      contact_attributes.c.name == field))
        conn.execute(insert(contact_attributes).values(contact_id=contact_id, name=field, value=new_value,
                                                       updated_at=now))
        values = {}
    if row.salesforce_id and row.salesforce_sync == "immediate":
        values["push_state"] = "queued"   # the push sensor sends it within seconds
    conn.execute(update(contacts).where(contacts.c.id == contact_id)
                 .values(updated_at=now, edited_in_conversion_at=now, **values))
    write_events(conn, [SyncEvent("contact_edited", "P5", contact_key=contact_id, changes={field: [old_value, new_value]},
                                  detail=f"edited in Conversion ({source})")], {}, {}, run_id=run_id, now=now)
    return True
