"""Applying pulled Accounts to companies (R6 and R8 for Accounts), field rules as in R5."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from conversion_sync.sync.fields import FieldMapping, values_to_take
from conversion_sync.sync.model import ApplyResult, CompanyState, SyncEvent
from conversion_sync.sync.records import PulledRecord


class CompanyApplier:
    """Each Salesforce Account is one company, linked by Account id."""

    def __init__(self, mappings: Iterable[FieldMapping], now: dt.datetime, read_only: set[str] | None = None):
        self.mappings = tuple(mappings)
        self.now = now
        self.read_only = read_only or set()

    def apply(self, records: list[PulledRecord], companies: Iterable[CompanyState]) -> ApplyResult:
        result = ApplyResult()
        by_account = {c.salesforce_account_id: c for c in companies if c.salesforce_account_id}
        next_key = -1
        for record in sorted(records, key=lambda r: r.order_key):
            problem = record.unappliable()       # the one value rule (sync/values.py), H2
            if problem:
                result.failed[record.salesforce_id] = problem
                result.counts["failed"] += 1
                continue
            company = by_account.get(record.salesforce_id)
            if record.is_deleted:
                if company is not None:
                    company.salesforce_account_id = None
                    company.changed.add("salesforce_account_id")
                    company.updated_at = self.now
                    del by_account[record.salesforce_id]
                    result.companies[company.key] = company
                    merged = f" (merged into {record.master_record_id})" if record.master_record_id else ""
                    result.events.append(SyncEvent(
                        "company_unlinked", "R8", company_key=company.key, salesforce_id=record.salesforce_id,
                        changes={"salesforce_account_id": [record.salesforce_id, None]},
                        detail=f"Account deleted in Salesforce{merged}"))
                    result.counts["unlinked"] += 1
                result.applied.append(record.salesforce_id)
                continue
            if company is None:
                company = CompanyState(key=next_key, salesforce_account_id=record.salesforce_id, is_new=True,
                                       created_at=self.now, updated_at=self.now)
                company.changed.add("salesforce_account_id")
                next_key -= 1
                by_account[record.salesforce_id] = company
                result.companies[company.key] = company
                result.events.append(SyncEvent("company_created", "R6", company_key=company.key,
                                               salesforce_id=record.salesforce_id,
                                               detail=f"created from Account {record.salesforce_id}"))
                result.counts["created"] += 1
            changes = self._apply_fields(company, record)
            if changes:
                company.updated_at = self.now
                result.companies[company.key] = company
                result.events.append(SyncEvent("company_updated", "R5", company_key=company.key,
                                               salesforce_id=record.salesforce_id, changes=changes,
                                               detail=f"values from Account {record.salesforce_id}"))
                if not company.is_new:
                    result.counts["updated"] += 1
            result.applied.append(record.salesforce_id)
        return result

    def _apply_fields(self, company: CompanyState, record: PulledRecord) -> dict[str, list]:
        changes = values_to_take(self.mappings, "Account", record.fields, record.mirror, record.last_modified_date,
                                 company.values, company.field_updated_at, self.read_only)
        for name, (_, new_value) in changes.items():
            company.set_value(name, new_value, record.last_modified_date)
        return changes
