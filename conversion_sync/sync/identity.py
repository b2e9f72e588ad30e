"""Identity resolution for contacts entering Conversion (P2): forms, CSV rows, the API and CLI.

Strong identifiers first — Salesforce id, then user_id, then browser cookie — then email: the
most recently updated contact holding the email and no *conflicting* strong identifier of the
same kind. A new contact only when no contact matches or every email match conflicts. Like the
pull, a batch of entries is resolved in order over an in-memory working set, so a CSV file's
rows see the contacts its earlier rows created.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from conversion_sync.sync.ids import InvalidSalesforceId, object_for_id, to_18
from conversion_sync.sync.model import (
    ApplyResult,
    ContactState,
    SyncEvent,
    SyncWarning,
    contact_ref,
    stored_order,
)
from conversion_sync.sync.values import BadValue, checked_email, checked_field, email_key, shown
from conversion_sync.sync.working_set import WorkingSet

# Identifier kinds: single-valued ones conflict when a contact already holds another value.
SINGLE_VALUED = ("user_id",)
MULTI_VALUED = ("cookie",)


class EntryError(ValueError):
    """An entry that cannot enter Conversion (no identifier, a bad email or id)."""


@dataclass
class Entry:
    """One contact entering Conversion: from a form (identify), a CSV row, the API or the CLI."""

    email: str | None = None
    traits: dict[str, Any] = field(default_factory=dict)      # contact fields: first_name, title, ...
    user_id: str | None = None
    cookie: str | None = None
    salesforce_id: str | None = None
    sync: str | None = None                                   # immediate | skip | None = default
    source: str = "api"

    def validated(self) -> Entry:
        try:                                                  # the one value rule (sync/values.py)
            email = checked_email(self.email)
            user_id, cookie = checked_field("user_id", self.user_id), checked_field("cookie", self.cookie)
            salesforce_id = checked_field("salesforce_id", self.salesforce_id)
            if not isinstance(self.traits, dict):
                raise BadValue("traits must be a mapping of contact field to value")
            traits = {}
            for name, value in self.traits.items():
                if not isinstance(name, str):
                    raise BadValue(f"{shown(str(name))} is not a contact field name")
                text = checked_field(name, value)
                if text is not None:
                    traits[name] = text
        except BadValue as exc:
            raise EntryError(str(exc)) from None
        if salesforce_id is not None:
            try:
                salesforce_id = to_18(salesforce_id)          # R4d: 15-character ids become 18
            except InvalidSalesforceId as exc:
                raise EntryError(str(exc).rstrip(".")) from None
            if object_for_id(salesforce_id) not in ("Lead", "Contact"):
                raise EntryError(f"{salesforce_id} is not a Lead or Contact id")
        if not (email or user_id or cookie or salesforce_id):
            raise EntryError("an entry needs an email, a user id, a cookie or a Salesforce id")
        if self.sync not in (None, "immediate", "skip"):
            raise EntryError(f"sync must be immediate or skip (got {shown(str(self.sync))})")
        return Entry(email=email, traits=traits, user_id=user_id, cookie=cookie, salesforce_id=salesforce_id,
                     sync=self.sync, source=self.source)


@dataclass
class IdentifiedContact:
    """What one entry resolved to."""

    contact_key: int
    created: bool
    matched_by: str            # salesforce_id, user_id, cookie, email, new
    new_identifiers: list[tuple[str, str]] = field(default_factory=list)


class IdentityResolver:
    """Resolves a batch of entries over the contacts the store loaded for them."""

    def __init__(self, contacts: Iterable[ContactState], identifiers: dict[tuple[str, str], int], *,
                 now: dt.datetime, default_sync: str, contact_fields: Iterable[str]):
        self.now = now
        self.default_sync = default_sync
        self.fields = set(contact_fields)
        self.result = ApplyResult()
        self.working = WorkingSet(contacts)      # the one index (sync/working_set.py)
        self.by_key = self.working.by_key
        self.by_salesforce_id = self.working.by_salesforce_id
        self.by_email = self.working.by_email
        self.identifiers = dict(identifiers)                  # (kind, value) -> contact key
        self.held: dict[int, dict[str, set[str]]] = {}        # contact key -> kind -> values
        for (kind, value), key in identifiers.items():
            self.held.setdefault(key, {}).setdefault(kind, set()).add(value)
        self._next_key = -1
        self.new_identifiers: list[tuple[int, str, str]] = []
        self.outcomes: list[IdentifiedContact] = []

    # -- resolution ---------------------------------------------------------------------------
    def resolve(self, entry: Entry) -> IdentifiedContact:
        entry = entry.validated()
        unknown = sorted(set(entry.traits) - self.fields)
        if unknown:
            raise EntryError(f"unknown contact field {shown(unknown[0])}")
        contact, matched_by = self._match(entry)
        created = contact is None
        if contact is None:
            contact = self._create(entry)
            matched_by = "new"
        outcome = IdentifiedContact(contact.key, created, matched_by)
        self._absorb(contact, entry, outcome)
        self.outcomes.append(outcome)
        return outcome

    def _match(self, entry: Entry) -> tuple[ContactState | None, str]:
        if entry.salesforce_id and entry.salesforce_id in self.by_salesforce_id:
            return self.by_salesforce_id[entry.salesforce_id], "salesforce_id"
        for kind, value in (("user_id", entry.user_id), ("cookie", entry.cookie)):
            if value and (kind, value) in self.identifiers:
                return self.by_key[self.identifiers[(kind, value)]], kind
        if entry.email:
            candidates = [self.by_key[k] for k in self.by_email.keys(email_key(entry.email))
                          if not self._conflicts(self.by_key[k], entry)]
            if candidates:
                return max(candidates, key=ContactState.recency), "email"
        return None, "new"

    def _conflicts(self, contact: ContactState, entry: Entry) -> bool:
        """A true identifier conflict: the contact holds another value of a single-valued kind."""
        if entry.salesforce_id and contact.salesforce_id and contact.salesforce_id != entry.salesforce_id:
            return True
        held = self.held.get(contact.key, {})
        return bool(entry.user_id and held.get("user_id") and entry.user_id not in held["user_id"])

    def _create(self, entry: Entry) -> ContactState:
        contact = ContactState(key=self._next_key, origin=entry.source, is_new=True, created_at=self.now,
                               updated_at=self.now, salesforce_sync=entry.sync or self.default_sync,
                               edited_in_conversion=True)
        self._next_key -= 1
        same_email = sorted(self.by_email.keys(email_key(entry.email)), key=stored_order) if entry.email else []
        self.working.add(contact)
        self.result.contacts[contact.key] = contact
        self.result.events.append(SyncEvent("contact_created", "P2", contact_key=contact.key,
                                            detail=f"entered through {entry.source}"))
        if same_email:
            self.result.warnings.append(SyncWarning(
                "duplicate_email", contact.key, same_email,
                f"{contact_ref(contact.key)} entered with the email of {', '.join(map(contact_ref, same_email))}, "
                "whose identifiers conflict; created a separate contact"))
        return contact

    def _absorb(self, contact: ContactState, entry: Entry, outcome: IdentifiedContact) -> None:
        """The entry's traits become Conversion edits; its identifiers attach to the contact."""
        changes: dict[str, list] = {}
        values = dict(entry.traits)
        if entry.email:
            values["email"] = entry.email
        for name, value in values.items():
            old = contact.values.get(name)
            if old != value:
                self.working.set_value(contact, name, value, self.now)
                changes[name] = [old, value]
        if entry.salesforce_id and not contact.salesforce_id and entry.salesforce_id not in self.by_salesforce_id:
            self.working.link(contact, entry.salesforce_id, object_for_id(entry.salesforce_id))
            changes["salesforce_id"] = [None, entry.salesforce_id]
        for kind, value in (("user_id", entry.user_id), ("cookie", entry.cookie)):
            if value and (kind, value) not in self.identifiers:
                held = self.held.setdefault(contact.key, {}).setdefault(kind, set())
                if kind in SINGLE_VALUED and held:
                    continue               # the contact keeps its own; the entry created a new one if it conflicted
                held.add(value)
                self.identifiers[(kind, value)] = contact.key
                self.new_identifiers.append((contact.key, kind, value))
                outcome.new_identifiers.append((kind, value))
        # P1: each entry says whether to sync it to Salesforce now or to skip the initial sync.
        if (entry.sync or self.default_sync) == "immediate":
            contact.push_request = "queued"
        elif contact.is_new:
            contact.push_request = "skipped"
        if changes or outcome.new_identifiers or contact.is_new or contact.push_request:
            contact.edited_in_conversion = True
            contact.updated_at = self.now
            self.result.contacts[contact.key] = contact
        if changes:
            self.result.events.append(SyncEvent(
                "contact_identified", "P2", contact_key=contact.key, changes=changes,
                detail=f"{entry.source} entry matched by {outcome.matched_by}"))
