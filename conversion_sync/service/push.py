"""Push: Conversion -> Salesforce (P4, P5), under the same lock as the pull.

1. Contacts queued for Salesforce and not linked yet are looked up by email in batches (Contacts
   first, then open Leads) and linked to a record no other contact links; the rest are created
   as `new_record_object`, by an upsert on the org's external-id field when it has one (so a
   retry after a lost response can never create a second record), else by a create whose lost
   response makes the next attempt look the record up by email before creating anything.
2. Linked contacts edited in Conversion after their record's LastModifiedDate send the fields
   their preference allows, 200 to an sObject Collections call (Bulk API 2.0 above a threshold);
   a record Salesforce rejects keeps its error on the contact and is retried with backoff (H2)
   while the rest of the batch goes through.
After each write batch the written records are read back (one query per 200 ids): the mirror
takes Salesforce's own stamps and values, and the fields written take Salesforce's
LastModifiedDate of the write as their updated_at (R5: Salesforce's clock is the only clock for
Salesforce data), so neither the next pull nor the next push echoes the write, and a later
Salesforce edit always wins whatever our clock says. A contact the run had nothing to send for
leaves the queue (H2), and a run with nothing to do makes no API call (the org's limits are read
just before the first call).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from simple_salesforce import format_soql
from sqlalchemy import Connection, Engine

from conversion_sync.config import SyncSettings
from conversion_sync.errors import ApiBudgetExhausted, SalesforceConnectionError
from conversion_sync.resources.salesforce import COLLECTION_LIMIT, SalesforceClient
from conversion_sync.service.describe import can_create, can_update, org_fields
from conversion_sync.service.extract import select_fields
from conversion_sync.service.push_calls import LimitsFirst
from conversion_sync.service.push_calls import read_back as _read_back
from conversion_sync.store import push as push_store
from conversion_sync.store import staging
from conversion_sync.store.push import UpdateCandidate
from conversion_sync.sync.fields import normalize_value, push_to_salesforce
from conversion_sync.sync.ids import to_18
from conversion_sync.sync.model import ContactState, SyncEvent
from conversion_sync.sync.push import (
    accounts_by_domain,
    arrived_fields,
    email_chunks,
    errors_text,
    new_record,
    object_of_link,
    pick_unclaimed,
    rejection_code,
    sent_fields,
    stamp_of_our_write,
    stamp_of_unconfirmed_write,
)
from conversion_sync.sync.records import PulledRecord, from_api, to_text

log = logging.getLogger(__name__)

REJECTED_BY = "rejected/"      # counts["rejected/UNABLE_TO_LOCK_ROW"]: rejections per Salesforce error code


@dataclass
class PushResult:
    counts: Counter = field(default_factory=Counter)
    stopped: str | None = None          # why the push stopped early (the API budget, H3)

    @property
    def rejected_by_code(self) -> Counter:
        """Rejected contacts per Salesforce error code (or our own reason, in words)."""
        return Counter({key[len(REJECTED_BY):]: n for key, n in self.counts.items() if key.startswith(REJECTED_BY)})


@dataclass
class PushRun:
    """What every step of one push shares: the database, the client (limits read before its first
    call), the settings, the contacts it is restricted to, its clock, its run and its counts."""

    engine: Engine
    client: Any                          # a SalesforceClient behind LimitsFirst
    settings: SyncSettings
    now: dt.datetime
    run_id: str | None
    contact_ids: Sequence[int] | None
    counts: Counter
    progress: Callable[[str], None]

    def fields(self, sobject: str) -> dict[str, dict[str, Any]]:
        """The fields of `sobject` the integration user can see (hidden ones left out, R5)."""
        return org_fields(self.engine, self.client, sobject, now=self.now)

    def select(self, sobject: str) -> str:
        return ", ".join(select_fields(sobject, self.settings, self.fields(sobject)))

    def reject(self, conn: Connection, failures: dict[int, str], *, max_attempts: int | None = None) -> None:
        """Keep Salesforce's error (or ours) on each contact, retried with backoff (H2)."""
        push_store.record_rejected(conn, failures, run_id=self.run_id, now=self.now,
                                   base_seconds=self.settings.push_retry_base_seconds,
                                   max_attempts=self.settings.push_max_attempts if max_attempts is None
                                   else max_attempts)

    def count_rejected(self, codes: list[str]) -> None:
        """One rejection per entry of `codes`: the total (H1) and the count per code."""
        self.counts["rejected"] += len(codes)
        for code in codes:
            self.counts[REJECTED_BY + code] += 1


def push(engine: Engine, client: SalesforceClient, settings: SyncSettings, *, now: dt.datetime,
         run_id: str | None, contact_ids: Sequence[int] | None = None,
         progress: Callable[[str], None] = log.info) -> PushResult:
    """Push what is due; `contact_ids` restricts it to those contacts (a launched push)."""
    result = PushResult()
    if not settings.write_to_salesforce:
        result.stopped = "write_to_salesforce is false"
        return result
    run = PushRun(engine, LimitsFirst(client), settings, now, run_id, contact_ids, result.counts, progress)
    try:
        _mirror_unseen_links(run)
        _link_or_create(run)
        _send_field_edits(run)
    except ApiBudgetExhausted as exc:
        result.stopped = str(exc)
        log.warning("push stopped: %s", exc)
        with engine.begin() as conn:     # no run every few seconds that can only read the limits again
            push_store.defer_waiting(conn, now=now, until=now + dt.timedelta(seconds=settings.push_budget_pause_seconds), contact_ids=contact_ids)
    result.counts["api_calls"] = client.usage.total
    return result


def push_waiting(engine: Engine, client: SalesforceClient, settings: SyncSettings, *, now: dt.datetime,
                 run_id: str | None, limit: int = COLLECTION_LIMIT,
                 progress: Callable[[str], None] = log.info) -> PushResult | None:
    """Push the contacts waiting for Salesforce now (queued, or failed with the backoff over), at
    most `limit` of them, oldest first: what a long pull lets go out between two of its batches
    (H3: an immediate push within seconds, pull running or not), in the pull's own run and hold,
    one writer at a time (R1). None when nothing waits (no API call)."""
    if not settings.write_to_salesforce:
        return None
    with engine.connect() as conn:
        ids = push_store.work_due_ids(conn, now, limit)
    if not ids:
        return None
    return push(engine, client, settings, now=now, run_id=run_id, contact_ids=ids, progress=progress)


# -- step 0: linked records the mirror has never seen ------------------------------------------------

def _mirror_unseen_links(run: PushRun) -> None:
    with run.engine.connect() as conn:
        unseen = push_store.linked_without_mirror(conn, now=run.now, contact_ids=run.contact_ids)
    by_object: dict[str, list[str]] = defaultdict(list)
    for _, salesforce_id in unseen:
        by_object[object_of_link(salesforce_id)].append(salesforce_id)
    records = []
    for sobject, ids in by_object.items():
        for chunk in staging.chunked(ids, 200):
            soql = format_soql(f"SELECT {run.select(sobject)} FROM {sobject} WHERE Id IN {{ids}}", ids=list(chunk))
            records += [from_api(sobject, raw) for raw in run.client.query(soql, include_deleted=True)]
    found = {record.salesforce_id for record in records}
    missing = {contact: f"Salesforce has no record {salesforce_id} (deleted, or not visible to the integration user)"
               for contact, salesforce_id in unseen if salesforce_id not in found}
    if records or missing:
        with run.engine.begin() as conn:
            staging.stage_records(conn, records, run_id=run.run_id, now=run.now)
            run.reject(conn, missing)
        run.counts["mirrored"] += len(records)
        run.counts["rejected"] += len(missing)


# -- step 1: P4 ----------------------------------------------------------------------------------------

def _link_or_create(run: PushRun) -> None:
    with run.engine.connect() as conn:
        queued = push_store.queued_unlinked(conn, now=run.now, contact_ids=run.contact_ids,
                                            custom_fields=run.settings.custom_fields)
    for start in range(0, len(queued), COLLECTION_LIMIT):
        batch = queued[start:start + COLLECTION_LIMIT]
        without_email = [c for c in batch if not c.email_key]
        if without_email:
            with run.engine.begin() as conn:
                run.reject(conn, {c.key: "a contact needs an email to be sent to Salesforce" for c in without_email},
                           max_attempts=1)
            run.count_rejected(["no email"] * len(without_email))
        batch = [c for c in batch if c.email_key]
        remaining = _link_existing(run, batch)
        if remaining:
            _create(run, remaining)
        run.progress(f"push: {run.counts['linked_in_salesforce']} linked, {run.counts['created_in_salesforce']} created")


def _link_existing(run: PushRun, batch: list[ContactState]) -> list[ContactState]:
    """Look the batch's emails up (Contacts, then open Leads) and link to unclaimed records."""
    emails = sorted({c.values["email"].strip() for c in batch})
    found: dict[str | None, list[PulledRecord]] = defaultdict(list)     # email key -> records, newest first
    for sobject, condition in (("Contact", ""), ("Lead", "IsConverted = false AND ")):
        for chunk in email_chunks(emails):
            soql = format_soql(f"SELECT {run.select(sobject)} FROM {sobject} "
                               f"WHERE {condition}Email IN {{emails}} ORDER BY LastModifiedDate DESC", emails=list(chunk))
            for raw in run.client.query(soql):
                record = from_api(sobject, raw)
                found[record.email_key].append(record)
    with run.engine.connect() as conn:
        claimed = push_store.linked_salesforce_ids(
            conn, [record.salesforce_id for records in found.values() for record in records])
    links: list[tuple[int, str, str, str]] = []
    staged: list[PulledRecord] = []
    remaining: list[ContactState] = []
    for contact in batch:
        unclaimed = pick_unclaimed(found.get(contact.email_key, []), claimed)
        if unclaimed is None:
            remaining.append(contact)
            continue
        claimed.add(unclaimed.salesforce_id)
        links.append((contact.key, unclaimed.salesforce_id, unclaimed.sobject, "found"))
        staged.append(unclaimed)
    if links:
        with run.engine.begin() as conn:
            staging.stage_records(conn, staged, run_id=run.run_id, now=run.now)
            push_store.record_linked(conn, links, run_id=run.run_id, now=run.now)
        run.counts["linked_in_salesforce"] += len(links)
    return remaining


def _create(run: PushRun, batch: list[ContactState]) -> None:
    settings = run.settings
    sobject = settings.new_record_object
    fields = run.fields(sobject)
    external = settings.external_id_field if settings.external_id_field in fields else None
    accounts = {}
    if sobject == "Contact" and settings.link_new_contacts_by_domain:
        with run.engine.connect() as conn:
            accounts = accounts_by_domain(push_store.account_websites(conn))
    createable = {sf_field for m in settings.contact_fields
                  if (sf_field := m.salesforce.get(sobject)) and can_create(fields, sf_field)}
    records = [new_record(contact, sobject, settings.contact_fields, createable=createable,
                          external_id_field=external, accounts=accounts) for contact in batch]
    try:
        if external:
            results = run.client.collection_upsert(sobject, external, records)
        else:
            results = run.client.collection_create(records)
    except SalesforceConnectionError as exc:
        # The creates may have happened: the next attempt looks these emails up first (step 1a).
        with run.engine.begin() as conn:
            run.reject(conn, {c.key: f"no answer to the create ({exc}); the next attempt looks "
                                     "Salesforce up by email before creating" for c in batch})
        run.count_rejected([exc.reason or "no answer"] * len(batch))
        return
    links: list[tuple[int, str, str, str]] = []
    mirror: list[dict[str, Any]] = []
    failures: dict[int, str] = {}
    written: dict[str, tuple[ContactState, list[str]]] = {}
    for contact, record, outcome in zip(batch, records, results, strict=False):
        if outcome.get("success"):
            sent = {k: to_text(v) for k, v in record.items() if k not in ("attributes", external, "AccountId")}
            salesforce_id = to_18(outcome["id"])
            links.append((contact.key, salesforce_id, sobject, "created"))
            mirror.append({"salesforce_id": salesforce_id, "sobject": sobject, "fields": sent,
                           "email_key": contact.email_key,
                           "account_id": to_18(record["AccountId"]) if record.get("AccountId") else None})
            written[salesforce_id] = (contact, sent_fields(settings.contact_fields, sobject, record))
        else:
            failures[contact.key] = errors_text(outcome)
    read_back = _read_back(run.client, settings, sobject, list(written))
    for row in mirror:
        row["read_back"] = read_back.get(row["salesforce_id"])
    with run.engine.begin() as conn:
        if links:
            push_store.record_mirror(conn, mirror, run_id=run.run_id, now=run.now)
            push_store.record_linked(conn, links, run_id=run.run_id, now=run.now)
            push_store.restamp_our_writes(conn, _restamps(written, read_back), pushed_since=run.now)
        run.reject(conn, failures)
    run.counts["created_in_salesforce"] += len(links)
    run.count_rejected([rejection_code(error) for error in failures.values()])


def _restamps(written: dict[str, tuple[ContactState, list[str]]], read_back: dict[str, PulledRecord],
              last_known: dict[str, dt.datetime] | None = None):
    """(contact id, {field: updated_at as read}, stamp) per record written: Salesforce's stamp of
    our write where it was read back; else a stamp just before the record's LastModifiedDate as
    last known (`last_known`; nothing for a record we created), never later than the field's own
    (R5: a field never stays on our clock once written, sync.push.stamp_of_unconfirmed_write)."""
    stamps = []
    for sf_id, (contact, names) in written.items():
        read = {name: contact.field_updated_at.get(name) for name in names}
        if sf_id in read_back:
            stamps.append((contact.key, read, stamp_of_our_write(read_back[sf_id].last_modified_date)))
            continue
        at = stamp_of_unconfirmed_write((last_known or {}).get(sf_id))
        read = {name: when for name, when in read.items() if when is not None and when > at}
        if read:
            stamps.append((contact.key, read, at))
    return stamps


# -- step 2: P5 ----------------------------------------------------------------------------------------

CANDIDATE_PAGE = 5_000   # linked contacts looked at at once for field edits to send (P5)


def _send_field_edits(run: PushRun) -> None:
    settings = run.settings
    with run.engine.connect() as conn:
        waiting = push_store.linked_waiting(conn, now=run.now, contact_ids=run.contact_ids)
    writes: dict[str, list[tuple[Any, dict[str, Any], dict[str, list]]]] = defaultdict(list)
    read_only_by_object: dict[str, set[str]] = {}
    seen: set[int] = set()
    after: int | None = None
    while True:      # a page of candidates at a time; only the edits to send are kept (issue 10)
        with run.engine.connect() as conn:
            page = push_store.update_candidates(conn, now=run.now, contact_ids=run.contact_ids,
                                                custom_fields=settings.custom_fields, after=after,
                                                limit=CANDIDATE_PAGE)
        if not page:
            break
        after = page[-1].contact.key
        seen.update(c.contact.key for c in page)
        unchanged: list[UpdateCandidate] = []
        arrived = []
        for candidate in page:
            values, changes, same = _field_edit(run, candidate, read_only_by_object)
            if values:
                writes[candidate.sobject].append((candidate, values, changes))
            else:
                unchanged.append(candidate)
            if same:
                arrived.append((candidate.contact.key, same, stamp_of_our_write(candidate.last_modified_date)))
        if unchanged or arrived:   # unchanged: nothing their preferences let through, a queued push of theirs is done
            with run.engine.begin() as conn:
                push_store.restamp_our_writes(conn, arrived, pushed_since=run.now, move_edited=False)
                push_store.record_pushed(conn, [c.contact.key for c in unchanged], [], run_id=run.run_id, now=run.now)
                push_store.reconcile_edits(conn, _reconciled(unchanged))
        if len(page) < CANDIDATE_PAGE:
            break
    # Queued but with no Conversion edit newer than the record (a push requested for a linked
    # contact, an edit Salesforce has since overtaken): nothing to send, the push is done (H2).
    settled = sorted(set(waiting) - seen)
    if settled:
        with run.engine.begin() as conn:
            push_store.settle_waiting(conn, settled, now=run.now)
    total = sum(len(items) for items in writes.values())
    for sobject, items in writes.items():
        if total > settings.bulk_ingest_threshold:
            _write_bulk(run, sobject, items)
        else:
            for start in range(0, len(items), COLLECTION_LIMIT):
                _write_collection(run, sobject, items[start:start + COLLECTION_LIMIT])
                run.progress(f"push: {run.counts['updated_in_salesforce']} records updated")


def _field_edit(run: PushRun, candidate: UpdateCandidate,
                read_only_by_object: dict[str, set[str]]) -> tuple[dict[str, Any], dict[str, list], Any]:
    """P5 for one linked contact: the Salesforce values to write, the changes for its history,
    and the fields Salesforce already holds as they are but stamped on our clock (a write of
    ours never recorded, killed before its commit), which go onto Salesforce's clock (R5)."""
    settings = run.settings
    if candidate.sobject not in read_only_by_object:
        described = run.fields(candidate.sobject)
        # Not updateable, or hidden from the integration user (absent from describe, R5).
        read_only_by_object[candidate.sobject] = {
            sf_field for mapping in settings.contact_fields
            if (sf_field := mapping.salesforce.get(candidate.sobject)) and not can_update(described, sf_field)}
    read_only = read_only_by_object[candidate.sobject]
    values: dict[str, Any] = {}
    changes: dict[str, list] = {}
    for mapping in settings.contact_fields:
        sf_field = mapping.salesforce.get(candidate.sobject)
        if not sf_field:
            continue
        value = candidate.contact.values.get(mapping.field)
        if push_to_salesforce(mapping.preference, conversion_value=value,
                              field_updated_at=candidate.contact.field_updated_at.get(mapping.field),
                              salesforce_value=candidate.mirror.get(sf_field),
                              record_modified=candidate.last_modified_date,
                              read_only=sf_field in read_only,
                              **({"applied_value": candidate.applied.get(sf_field)}
                                 if candidate.applied is not None and sf_field in candidate.applied else {})):
            values[sf_field] = normalize_value(value)
            changes[mapping.field] = [candidate.mirror.get(sf_field), normalize_value(value)]
    same = arrived_fields(settings.contact_fields, candidate.sobject, candidate.contact.values,
                          candidate.contact.field_updated_at, candidate.mirror, candidate.last_modified_date,
                          pending=candidate.pending)
    return values, changes, same


def _write_collection(run: PushRun, sobject: str, items) -> None:
    records = [{"attributes": {"type": sobject}, "id": c.salesforce_id, **values} for c, values, _ in items]
    results = run.client.collection_update(records)
    outcomes = {}
    for (candidate, _, _), outcome in zip(items, results, strict=False):
        outcomes[candidate.contact.key] = None if outcome.get("success") else errors_text(outcome)
    _record_updates(run, sobject, items, outcomes)


def _write_bulk(run: PushRun, sobject: str, items) -> None:
    # Each row names only the fields that record sends: a column another record needs is left
    # empty in this row, which Salesforce leaves as it is (never a stale copy over a newer edit).
    rows = [{"Id": c.salesforce_id, **values} for c, values, _ in items]
    outcome = run.client.bulk_ingest(sobject, "update", rows)
    failed = {r.get("sf__Id") or r.get("Id"): r.get("sf__Error", "rejected") for r in outcome["failed"]}
    outcomes = {c.contact.key: failed.get(c.salesforce_id) or failed.get(c.salesforce_id[:15]) for c, _, _ in items}
    _record_updates(run, sobject, items, outcomes)


def _record_updates(run: PushRun, sobject: str, items, outcomes: dict[int, str | None]) -> None:
    pushed, mirror, events, failures, written = [], [], [], {}, {}
    for candidate, values, changes in items:
        error = outcomes.get(candidate.contact.key)
        if error:
            failures[candidate.contact.key] = error
            continue
        pushed.append(candidate.contact.key)
        mirror.append({"salesforce_id": candidate.salesforce_id, "sobject": sobject, "fields": values})
        written[candidate.salesforce_id] = (candidate.contact, sent_fields(run.settings.contact_fields, sobject, values))
        events.append(SyncEvent("pushed_to_salesforce", "P5", contact_key=candidate.contact.key,
                                salesforce_id=candidate.salesforce_id, changes=changes,
                                detail=f"updated {sobject} {candidate.salesforce_id}"))
    read_back = _read_back(run.client, run.settings, sobject, list(written))
    for row in mirror:
        row["read_back"] = read_back.get(row["salesforce_id"])
    last_known = {candidate.salesforce_id: candidate.last_modified_date for candidate, _, _ in items}
    with run.engine.begin() as conn:
        push_store.record_mirror(conn, mirror, run_id=run.run_id, now=run.now)
        push_store.restamp_our_writes(conn, _restamps(written, read_back, last_known), pushed_since=run.now)
        push_store.record_pushed(conn, pushed, events, run_id=run.run_id, now=run.now)
        push_store.reconcile_edits(conn, _reconciled([c for c, _, _ in items if c.contact.key in pushed]))
        run.reject(conn, failures)
    run.counts["updated_in_salesforce"] += len(pushed)
    run.counts["fields_pushed"] += sum(len(v) for c, v, _ in items if c.contact.key in pushed)
    run.count_rejected([rejection_code(error) for error in failures.values()])


def _reconciled(candidates) -> list[tuple[int, Any]]:
    """P5: the candidates with nothing left to send (a record with a Salesforce change not applied
    yet stays a candidate: the apply decides first, then the push looks again)."""
    return [(c.contact.key, c.edited_at) for c in candidates if not c.pending]
