"""Merging two contacts (P6, and the R7 fold): each field takes the newer value; when a merge is
refused and what the kept and the removed contact become (P6); and when the sync may fold two
contacts on its own (R7)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from conversion_sync.sync.model import ContactState

_OLDEST = dt.datetime.min.replace(tzinfo=dt.UTC)

# How long before a converted Lead's LastModifiedDate the Contact that its conversion created may
# carry its CreatedDate. convertLead creates the Contact and then updates the Lead in one
# transaction, so the two stamps are normally the same instant, or a few seconds apart when
# triggers and flows run on the new records; a Contact created earlier than this existed before
# the conversion. Both stamps come from Salesforce's clock, so our clock never enters into it.
# Short on purpose: too short only costs a `duplicate` warning; too long would remove the contact
# of a Contact that a user or an integration created just before converting a Lead into it.
CONVERSION_SPAN = dt.timedelta(seconds=5)


def newer_side(kept_value: Any, kept_at: dt.datetime | None,
               other_value: Any, other_at: dt.datetime | None) -> bool:
    """True when the other contact's value should win: it is set and newer (or the kept one is empty)."""
    if other_value is None:
        return False
    if kept_value is None:
        return True
    return (other_at or _OLDEST) > (kept_at or _OLDEST)


def fold_fields(kept: ContactState, other: ContactState) -> dict[str, list[Any]]:
    """Give `kept` every field value of `other` that is newer; returns {field: [old, new]}."""
    changes: dict[str, list[Any]] = {}
    for name in sorted(set(kept.values) | set(other.values)):
        kept_value, other_value = kept.values.get(name), other.values.get(name)
        if kept_value == other_value:
            continue
        if newer_side(kept_value, kept.field_updated_at.get(name), other_value, other.field_updated_at.get(name)):
            changes[name] = [kept_value, other_value]
            kept.set_value(name, other_value, other.field_updated_at.get(name) or kept.updated_at)
    return changes


def created_by_conversion(contact_created: dt.datetime | None, lead_converted: dt.datetime | None) -> bool:
    """R7: did the Contact come into being with the Lead's conversion? `contact_created` is the
    Contact's CreatedDate, `lead_converted` the converted Lead's LastModifiedDate (a converted
    Lead cannot be edited, so that is the conversion's stamp; ConvertedDate is only a date).
    Unknown stamps answer no: a contact is never removed on a guess."""
    if contact_created is None or lead_converted is None:
        return False
    return contact_created >= lead_converted - CONVERSION_SPAN


def foldable(contact: ContactState, *, contact_created: dt.datetime | None,
             lead_converted: dt.datetime | None) -> bool:
    """R7: the sync may fold `contact` (linked to a converted Lead's Contact) into the Lead's
    contact only when the sync itself created it, it holds nothing but Salesforce's data, and its
    Contact came into being with that very conversion. A contact of a Contact that existed before
    carries what the sync cannot see (email history, list memberships) and is never folded."""
    return (contact.origin == "salesforce" and not contact.has_identifiers and not contact.edited_in_conversion
            and created_by_conversion(contact_created, lead_converted))


def merge_refusal(keep: ContactState, remove: ContactState) -> str | None:
    """P6: why these two contacts cannot be merged (one sentence), or None. Two contacts linked to
    different Salesforce records are merged in Salesforce; the sync then follows (R8)."""
    if keep.salesforce_id and remove.salesforce_id and keep.salesforce_id != remove.salesforce_id:
        return (f"Contacts {keep.key} and {remove.key} are linked to different Salesforce records "
                f"({keep.salesforce_id} and {remove.salesforce_id}); merge those records in Salesforce and the sync "
                "will re-link the contact.")
    return None


def merge_into(keep: ContactState, remove: ContactState, *, now: dt.datetime) -> dict[str, list[Any]]:
    """P6: merge `remove` into `keep` (the contact the user keeps); returns {field: [old, new]}.

    Each field takes the newer value (`fold_fields`); the kept contact takes the removed one's
    Salesforce link and company when it has none of its own; the removed contact is marked
    removed (folded into the kept one) and its link is freed first (one id, one contact)."""
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
    return changes
