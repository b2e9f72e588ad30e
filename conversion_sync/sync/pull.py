"""Applying pulled Leads and Contacts to Conversion contacts: R3, R4, R5, R6, R7, R8.

The applier works on an in-memory working set that the store loads for a whole batch with a few
set-based queries (every contact linked to an id the batch mentions or holding one of its emails),
walks the batch once in (SystemModstamp, Id) order keeping its indexes current, and returns the
changes for the store to write in bulk. Walking the batch in order is what makes the result equal
to applying the records one by one (R4e); no database query happens per record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from conversion_sync.sync.fields import FieldMapping, PullPlan, pull_plan, take_planned
from conversion_sync.sync.merge import fold_fields, foldable
from conversion_sync.sync.model import (
    ApplyResult,
    ContactState,
    SyncEvent,
    SyncWarning,
    contact_ref,
    stored_order,
)
from conversion_sync.sync.records import PulledRecord
from conversion_sync.sync.working_set import WorkingSet

# How the audit trail says where a contact came from and which company it joined (R9); the
# set-based create of new records (store/first_load.py) writes the same words.
CREATED_FROM = "created from"
ACCOUNT = "Account"


def only_creates(record: PulledRecord, *, alone: bool, email_held: bool, linked: bool) -> bool:
    """Whether applying this Lead or Contact is R4c and nothing else, whatever the order it is
    applied in among the others (R4e): a record never applied, every value checked and good
    (H2), not deleted, merged or converted, `alone` in the mirror (it has an email key that no
    other record shares, and no other record names it: a merge's survivor, a conversion's
    Contact, R7, R8), with an email no contact holds (`email_held`: R4b finds nothing) and
    linked to no contact (`linked`, R4a). Such records are created set-based
    (store/first_load.py)."""
    return (alone and record.mirror is None and record.values_checked
            and record.problem is None and not record.is_deleted and not record.is_converted
            and record.master_record_id is None and not (email_held or linked))


@dataclass(frozen=True)
class CompanyRef:
    key: int
    name: str | None


class ContactApplier:
    """Applies one batch; create a new applier per batch."""

    def __init__(self, mappings: Iterable[FieldMapping], now: dt.datetime,
                 read_only: dict[str, set[str]] | None = None):
        self.mappings = tuple(mappings)
        self.now = now
        self.read_only = read_only or {}
        self._next_new_key = -1
        self._plans: dict[str, PullPlan] = {}

    def _plan(self, sobject: str) -> PullPlan:
        plan = self._plans.get(sobject)
        if plan is None:
            plan = self._plans[sobject] = pull_plan(self.mappings, sobject, self.read_only.get(sobject, set()))
        return plan

    # -- public -------------------------------------------------------------------------------
    def apply(self, records: list[PulledRecord], contacts: Iterable[ContactState], *,
              conversions: dict[str, str], companies: dict[str, CompanyRef],
              contact_created: dict[str, dt.datetime] | None = None,
              link_targets: dict[str, PulledRecord] | None = None) -> ApplyResult:
        """Apply `records` (Leads and Contacts) in (SystemModstamp, Id) order.

        `conversions` maps a converted Contact id to its Lead id (every converted Lead the store
        knows of whose Contact is in the batch); `companies` maps each Account id the batch
        mentions (and each target's) to its company; `contact_created` maps the Contacts the
        batch's converted Leads name to their CreatedDate, where the mirror knows it (R7: may a
        contact be folded); `link_targets` holds the mirror's record of each master and converted
        Contact the batch names that is not in the batch itself (a re-linked contact takes its
        values, R7/R8)."""
        self.result = ApplyResult()
        self.link_targets = {**(link_targets or {}), **{r.salesforce_id: r for r in records}}
        self._creation_events: dict[int, SyncEvent] = {}
        self.companies = companies
        self.working = WorkingSet(contacts)      # the one index (sync/working_set.py)
        self.by_key = self.working.by_key
        self.by_salesforce_id = self.working.by_salesforce_id
        self.by_email = self.working.by_email
        self.conversions = conversions
        self.contact_created = contact_created or {}
        for record in sorted(records, key=lambda r: r.order_key):
            problem = self._invalid(record)
            if problem:
                self.result.failed[record.salesforce_id] = problem
                self.result.counts["failed"] += 1
                continue
            first_event = len(self.result.events)
            self._apply_one(record)
            for event in self.result.events[first_event:]:
                event.order = record.order_key
            self.result.applied.append(record.salesforce_id)
        return self.result

    # -- indexes ------------------------------------------------------------------------------
    def _touch(self, contact: ContactState) -> None:
        contact.updated_at = self.now
        self.result.contacts[contact.key] = contact

    def _set_link(self, contact: ContactState, salesforce_id: str | None, sobject: str | None) -> None:
        self.working.link(contact, salesforce_id, sobject)
        self._touch(contact)

    # -- one record ---------------------------------------------------------------------------
    @staticmethod
    def _invalid(record: PulledRecord) -> str | None:
        return record.unappliable()     # the one value rule (sync/values.py), H2

    def _apply_one(self, record: PulledRecord) -> None:
        counts = self.result.counts
        if record.is_deleted:
            if record.master_record_id:
                self._merged_away(record)
            else:
                self._deleted(record)
            return
        if record.sobject == "Lead" and record.is_converted:
            counts["skipped_converted"] += 1
            self._lead_converted(record)
            return
        contact = self.by_salesforce_id.get(record.salesforce_id)
        if contact is not None:
            counts["linked_by_id"] += 1      # R4a: always, with or without an email
        elif record.sobject == "Contact" and record.salesforce_id in self.conversions:
            contact = self._contact_of_converting_lead(record)
        if contact is None:
            if record.email_key is None:
                counts["skipped_no_email"] += 1  # R3: it neither creates nor matches a contact
                return
            contact = self._match_by_email(record)
        self._apply_fields(contact, record)
        if record.sobject == "Contact":
            self._apply_company(contact, record)

    def _contact_of_converting_lead(self, record: PulledRecord) -> ContactState | None:
        """R7, Contact first: the contact of the Lead that converted into this Contact re-links."""
        lead_id = self.conversions[record.salesforce_id]
        contact = self.by_salesforce_id.get(lead_id)
        if contact is None:
            return None
        self._relink(contact, record.salesforce_id, "Contact", rule="R7",
                     detail=f"Lead {lead_id} converted into Contact {record.salesforce_id}")
        self.result.counts["relinked"] += 1
        return contact

    def _match_by_email(self, record: PulledRecord) -> ContactState:
        """R4b, else R4c."""
        same_email = [self.by_key[key] for key in self.by_email.keys(record.email_key)
                      if not self.by_key[key].removed]
        candidates = [c for c in same_email if c.salesforce_id is None]
        if candidates:
            contact = max(candidates, key=ContactState.recency)
            self._set_link(contact, record.salesforce_id, record.sobject)
            self.result.events.append(SyncEvent(
                "contact_linked", "R4b", contact_key=contact.key, salesforce_id=record.salesforce_id,
                changes={"salesforce_id": [None, record.salesforce_id]},
                detail=f"matched {record.sobject} {record.salesforce_id} by email"))
            self.result.counts["linked_by_email"] += 1
            return contact
        contact = ContactState(key=self._next_new_key, origin="salesforce", is_new=True, created_at=self.now)
        self._next_new_key -= 1
        self.working.add(contact)
        self._set_link(contact, record.salesforce_id, record.sobject)
        created = SyncEvent("contact_created", "R4c", contact_key=contact.key, salesforce_id=record.salesforce_id,
                            detail=f"{CREATED_FROM} {record.sobject} {record.salesforce_id}")
        self.result.events.append(created)
        self._creation_events[contact.key] = created
        self.result.counts["created"] += 1
        if same_email:
            others = sorted((c.key for c in same_email), key=stored_order)
            self.result.warnings.append(SyncWarning(
                "duplicate_email", contact.key, others,
                f"{record.sobject} {record.salesforce_id} has the email of "
                f"{', '.join(map(contact_ref, others))}, each linked to another Salesforce record; "
                f"created {contact_ref(contact.key)} for it", salesforce_id=record.salesforce_id))
            self.result.counts["warnings"] += 1
        return contact

    def _apply_fields(self, contact: ContactState, record: PulledRecord, *, fresh_link: bool = False,
                      rule: str = "R5") -> None:
        """R5 for every mapped field of this object. The mirror (what the record said when last
        applied) is the base of the three-way compare only for the contact that record was
        applied to: a contact that just re-linked to it (`fresh_link`) never saw those values."""
        changes = take_planned(self._plan(record.sobject), record.fields, None if fresh_link else record.mirror,
                               record.last_modified_date, contact.values, contact.field_updated_at)
        for name, (_, new_value) in changes.items():
            self.working.set_value(contact, name, new_value, record.last_modified_date)
        if changes:
            self._touch(contact)
            created = self._creation_events.pop(contact.key, None)
            if created is not None:      # a new contact's first values belong to its creation event
                created.changes = changes
                return
            self.result.events.append(SyncEvent(
                "contact_updated", rule, contact_key=contact.key, salesforce_id=record.salesforce_id,
                changes=changes, detail=f"values from {record.sobject} {record.salesforce_id}"
                + (", the record it is linked to now" if fresh_link else "")))
            if not contact.is_new:
                self.result.counts["updated"] += 1

    def _apply_company(self, contact: ContactState, record: PulledRecord) -> None:
        """R6: a Contact's AccountId decides its contact's company."""
        target = self.companies.get(record.account_id) if record.account_id else None
        target_key = target.key if target else None
        if contact.company_id == target_key:
            return
        self._move(contact, target, record, rule="R6")

    def _move(self, contact: ContactState, target: CompanyRef | None, record: PulledRecord, *, rule: str) -> None:
        old = contact.company_id
        contact.company_id = target.key if target else None
        contact.company_id_updated_at = record.last_modified_date
        contact.changed.add("company_id")
        changes: dict[str, list[Any]] = {"company_id": [old, contact.company_id]}
        if target is not None and target.name and contact.values.get("company_name") != target.name:
            changes["company_name"] = [contact.values.get("company_name"), target.name]
            contact.set_value("company_name", target.name, record.last_modified_date)
        self._touch(contact)
        kind = "company_unlinked" if target is None else "company_moved"
        self.result.events.append(SyncEvent(
            kind, rule, contact_key=contact.key, company_key=contact.company_id,
            salesforce_id=record.salesforce_id, changes=changes,
            detail=(f"{ACCOUNT} {record.account_id or record.converted_account_id}" if target
                    else "AccountId cleared")))
        self.result.counts["moved_company"] += 1

    # -- conversion, merge, delete ------------------------------------------------------------
    def _lead_converted(self, record: PulledRecord) -> None:
        """R7, Lead side: the Lead's contact re-links to the converted Contact and moves to the
        converted Account's company."""
        contact = self.by_salesforce_id.get(record.salesforce_id)
        target_id = record.converted_contact_id
        if contact is None or not target_id:
            return
        holder = self.by_salesforce_id.get(target_id)
        if holder is not None and holder is not contact:
            if foldable(holder, contact_created=self.contact_created.get(target_id),
                        lead_converted=record.last_modified_date):
                self._fold(holder, into=contact, record=record)
            else:
                self._warn_duplicate(contact, holder, record,
                                     f"Lead {record.salesforce_id} converted into Contact {target_id}, which is "
                                     f"already linked to {contact_ref(holder.key)}; {contact_ref(contact.key)} stays linked to the "
                                     "Lead: merge the two contacts")
                return
        self._relink(contact, target_id, "Contact", rule="R7",
                     detail=f"Lead {record.salesforce_id} converted into Contact {target_id}")
        self.result.counts["relinked"] += 1
        account = record.converted_account_id
        target = self.companies.get(account) if account else None
        if target is not None and contact.company_id != target.key:
            self._move(contact, target, record, rule="R7")

    def _merged_away(self, record: PulledRecord) -> None:
        """R8: a record deleted by a merge re-links its contact to the surviving record."""
        contact = self.by_salesforce_id.get(record.salesforce_id)
        master = record.master_record_id
        if contact is None or master is None:    # only called with a master (_apply_one)
            return
        holder = self.by_salesforce_id.get(master)
        if holder is not None and holder is not contact:
            self._warn_duplicate(contact, holder, record,
                                 f"{record.sobject} {record.salesforce_id} was merged into {master}, which is "
                                 f"already linked to {contact_ref(holder.key)}; unlinked {contact_ref(contact.key)}: merge the two contacts")
            self._unlink(contact, record, reason="merged into a record linked to another contact")
            return
        self._relink(contact, master, record.sobject, rule="R8",
                     detail=f"{record.sobject} {record.salesforce_id} merged into {master}")
        self.result.counts["relinked"] += 1

    def _deleted(self, record: PulledRecord) -> None:
        contact = self.by_salesforce_id.get(record.salesforce_id)
        if contact is not None:
            self._unlink(contact, record, reason=f"{record.sobject} deleted in Salesforce")

    def _unlink(self, contact: ContactState, record: PulledRecord, *, reason: str) -> None:
        old = contact.salesforce_id
        self._set_link(contact, None, None)
        self.result.events.append(SyncEvent(
            "contact_unlinked", "R8", contact_key=contact.key, salesforce_id=record.salesforce_id,
            changes={"salesforce_id": [old, None]}, detail=reason))
        self.result.counts["unlinked"] += 1

    def _relink(self, contact: ContactState, salesforce_id: str, sobject: str, *, rule: str, detail: str) -> None:
        old = contact.salesforce_id
        self._set_link(contact, salesforce_id, sobject)
        self.result.events.append(SyncEvent(
            "contact_relinked", rule, contact_key=contact.key, salesforce_id=salesforce_id,
            changes={"salesforce_id": [old, salesforce_id]}, detail=detail))
        self._take_target_values(contact, salesforce_id, rule=rule)

    def _take_target_values(self, contact: ContactState, salesforce_id: str, *, rule: str) -> None:
        """R7/R8: a contact re-linked to a surviving record takes that record's values as the
        mirror holds them (the gate still keeps a newer Conversion edit) and, for a Contact, its
        Account's company; whichever order the records of the merge or conversion arrive in,
        and whether or not the target has an email or was applied before."""
        target = self.link_targets.get(salesforce_id)
        if target is None or target.is_deleted or target.is_converted or self._invalid(target):
            return          # not mirrored yet: it is applied to its contact when it is pulled
        self._apply_fields(contact, target, fresh_link=True, rule=rule)
        if target.sobject == "Contact" and (target.account_id is None or target.account_id in self.companies):
            self._apply_company(contact, target)

    def _warn_duplicate(self, contact: ContactState, holder: ContactState, record: PulledRecord, message: str) -> None:
        self.result.warnings.append(SyncWarning("duplicate", contact.key, [holder.key], message,
                                                salesforce_id=record.salesforce_id))
        self.result.counts["warnings"] += 1

    def _fold(self, duplicate: ContactState, *, into: ContactState, record: PulledRecord) -> None:
        """R7 across two cycles, Contact first: the contact created for a Contact that the Lead's
        conversion created, before that conversion was seen, folds into the Lead's contact (newer
        values win)."""
        old_key = into.email_key
        changes = fold_fields(into, duplicate)
        self.working.email_moved(into, old_key)
        if duplicate.company_id is not None and into.company_id is None:
            changes["company_id"] = [into.company_id, duplicate.company_id]
            into.company_id = duplicate.company_id
            into.company_id_updated_at = duplicate.company_id_updated_at
            into.changed.add("company_id")
        self._set_link(duplicate, None, None)
        duplicate.removed = True
        duplicate.folded_into = into.key
        self.working.drop(duplicate)
        self.result.contacts[duplicate.key] = duplicate
        self._touch(into)
        self.result.events.append(SyncEvent(
            "contact_folded", "R7", contact_key=into.key, salesforce_id=record.converted_contact_id,
            changes=changes or None,
            detail=f"{contact_ref(duplicate.key)}, created for Contact {record.converted_contact_id} before Lead "
                   f"{record.salesforce_id}'s conversion was seen, folded into this contact"))
        self.result.counts["folded"] += 1
