"""The in-memory working set the pure sync rules operate on, and what they produce: changed
contacts and companies, audit events (R9), warnings and per-record outcomes."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from conversion_sync.sync.values import email_key


def contact_ref(key: int) -> str:
    """How messages name a contact: the store replaces it with the final id (new contacts have
    a negative placeholder key until they are inserted)."""
    return f"<contact:{key}>"


@dataclass
class ContactState:
    """A Conversion contact: its synced field values, each field's updated_at, and its links."""

    key: int                                   # the id, or a negative placeholder for a new contact
    values: dict[str, Any] = field(default_factory=dict)
    field_updated_at: dict[str, dt.datetime | None] = field(default_factory=dict)
    salesforce_id: str | None = None
    salesforce_object: str | None = None
    company_id: int | None = None
    company_id_updated_at: dt.datetime | None = None
    origin: str = "salesforce"
    salesforce_sync: str = "immediate"
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    has_identifiers: bool = False
    edited_in_conversion: bool = False
    is_new: bool = False
    removed: bool = False                      # folded into another contact (R7)
    folded_into: int | None = None
    push_request: str | None = None            # queued | skipped: set by an entry (P1)
    changed: set[str] = field(default_factory=set)

    @property
    def email_key(self) -> str | None:
        return email_key(self.values.get("email"))     # the one rule (sync/values.py)

    def set_value(self, name: str, value: Any, at: dt.datetime | None) -> None:
        self.values[name] = value
        self.field_updated_at[name] = at
        self.changed.add(name)

    def recency(self) -> tuple[dt.datetime, int]:
        """Sort key for R4b: most recently updated first, ties to the lowest id."""
        return (self.updated_at or dt.datetime.min.replace(tzinfo=dt.UTC), -self.key)


def stored_order(key: int) -> tuple[bool, int]:
    """Sort key giving contacts in the order of their final ids: existing ones (positive keys)
    first, then this batch's new ones in the order they were created (-1, -2, ...)."""
    return (key < 0, abs(key))


@dataclass
class CompanyState:
    key: int
    values: dict[str, Any] = field(default_factory=dict)
    field_updated_at: dict[str, dt.datetime | None] = field(default_factory=dict)
    salesforce_account_id: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    is_new: bool = False
    changed: set[str] = field(default_factory=set)

    def set_value(self, name: str, value: Any, at: dt.datetime | None) -> None:
        self.values[name] = value
        self.field_updated_at[name] = at
        self.changed.add(name)


@dataclass
class SyncEvent:
    """One audit entry (R9): what changed, from which to which value, why, and where from."""

    kind: str
    rule: str
    contact_key: int | None = None
    company_key: int | None = None
    salesforce_id: str | None = None
    changes: dict[str, list[Any]] | None = None
    detail: str | None = None
    # (SystemModstamp, Id) of the record that caused it: the store numbers a batch's events in
    # the order of their records (R4e) when some of the batch is written set-based.
    order: tuple[dt.datetime, str] | None = field(default=None, compare=False, repr=False)


@dataclass
class SyncWarning:
    kind: str                                   # duplicate_email, duplicate, ...
    contact_key: int | None
    related_keys: list[int]
    message: str
    salesforce_id: str | None = None


@dataclass
class ApplyResult:
    """What applying one batch of pulled records produced."""

    contacts: dict[int, ContactState] = field(default_factory=dict)   # touched contacts by key
    companies: dict[int, CompanyState] = field(default_factory=dict)
    events: list[SyncEvent] = field(default_factory=list)
    warnings: list[SyncWarning] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)                # salesforce ids applied
    failed: dict[str, str] = field(default_factory=dict)            # salesforce id -> error
    counts: Counter[str] = field(default_factory=Counter)
