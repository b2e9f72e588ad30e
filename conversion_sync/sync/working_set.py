"""The working set a batch is resolved over: contacts by id, by Salesforce id and by email key,
kept current as links and emails change. One index for the pull (`ContactApplier`, R4) and for
entering contacts (`IdentityResolver`, P2), so both find a contact by the same rules (R4d: one
Salesforce record, one contact; R4b/P2: emails compared by their key, sync/values.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from conversion_sync.sync.model import ContactState


class EmailIndex:
    """Contact keys by email key, kept current as emails change (R4b, P2)."""

    def __init__(self) -> None:
        self._keys: dict[str, set[int]] = {}

    def add(self, contact: ContactState) -> None:
        key = contact.email_key
        if key:
            self._keys.setdefault(key, set()).add(contact.key)

    def discard(self, contact: ContactState, email_key: str | None = None) -> None:
        key = email_key if email_key is not None else contact.email_key
        if key:
            self._keys.get(key, set()).discard(contact.key)

    def moved(self, contact: ContactState, old_email_key: str | None) -> None:
        """Call after the contact's email changed from one whose key was `old_email_key`."""
        key = contact.email_key
        if old_email_key != key:
            self.discard(contact, old_email_key)
            if key:
                self._keys.setdefault(key, set()).add(contact.key)

    def keys(self, email_key: str | None) -> set[int]:
        return set(self._keys.get(email_key, ())) if email_key else set()


class WorkingSet:
    """The contacts of one batch, indexed three ways.

    `by_key` (contact id, or a new contact's negative placeholder), `by_salesforce_id` (the
    contact linked to each 18-character id) and `by_email` (keys of the contacts holding each
    email key) are read freely; links and values change through `link` and `set_value`, which
    keep the three in step."""

    def __init__(self, contacts: Iterable[ContactState] = ()) -> None:
        self.by_key: dict[int, ContactState] = {}
        self.by_salesforce_id: dict[str, ContactState] = {}
        self.by_email = EmailIndex()
        for contact in contacts:
            self.add(contact)

    def add(self, contact: ContactState) -> None:
        self.by_key[contact.key] = contact
        if contact.salesforce_id:
            self.by_salesforce_id[contact.salesforce_id] = contact
        self.by_email.add(contact)

    def linked_to(self, salesforce_id: str | None) -> ContactState | None:
        """The contact linked to this Salesforce id (R4a), or None."""
        return self.by_salesforce_id.get(salesforce_id) if salesforce_id else None

    def with_email(self, email_key: str | None) -> list[ContactState]:
        """The contacts holding this email key, by id (existing first, then new ones in order)."""
        return [self.by_key[key] for key in sorted(self.by_email.keys(email_key), key=lambda k: (k < 0, abs(k)))]

    def link(self, contact: ContactState, salesforce_id: str | None, sobject: str | None) -> None:
        """Link `contact` to `salesforce_id` (None: unlink); its old id no longer finds it."""
        if contact.salesforce_id and self.by_salesforce_id.get(contact.salesforce_id) is contact:
            del self.by_salesforce_id[contact.salesforce_id]
        contact.salesforce_id = salesforce_id
        contact.salesforce_object = sobject
        contact.changed.update({"salesforce_id", "salesforce_object"})
        if salesforce_id:
            self.by_salesforce_id[salesforce_id] = contact

    def set_value(self, contact: ContactState, name: str, value: Any, at: dt.datetime | None) -> None:
        """Set one field; a changed email moves the contact in the email index (only the email
        field decides the key, so no other field looks it up)."""
        if name != "email":
            contact.set_value(name, value, at)
            return
        old_key = contact.email_key
        contact.set_value(name, value, at)
        self.by_email.moved(contact, old_key)

    def email_moved(self, contact: ContactState, old_email_key: str | None) -> None:
        """Call after the contact's values were changed elsewhere (a fold, a merge)."""
        self.by_email.moved(contact, old_email_key)

    def drop(self, contact: ContactState) -> None:
        """A contact folded away (R7): no email finds it any more (its key still does)."""
        self.by_email.discard(contact)
