"""Apply: the mirror's pending records -> companies and contacts, batch by batch.

Each batch is one transaction: load the working set (a few set-based queries), run the pure
rules, write the changes, events, warnings and the records' applied state together. A batch that
the database refuses is split in halves until the offending record is isolated, which is then
kept with its error and retried later with backoff (H2); the rest of the batch goes through.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from conversion_sync.service.lone import LoneWrite, LoneWrites
from conversion_sync.settings.sync import SyncSettings
from conversion_sync.store import contacts as contact_store
from conversion_sync.store import first_load, staging
from conversion_sync.store.describe import read_only_fields
from conversion_sync.sync.companies import CompanyApplier
from conversion_sync.sync.fields import pull_plan, taken_when_new
from conversion_sync.sync.pull import CompanyRef, ContactApplier, only_creates
from conversion_sync.sync.records import PulledRecord

log = logging.getLogger(__name__)


class ApplyCounts(Counter):
    """The counts of an apply step, and the same per partition (`by_partition`) when the step
    was given one: each record counts on the partition of its SystemModstamp."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.by_partition: dict[str, Counter] = {}


PartitionOf = Callable[[dt.datetime], str]


class _Logged:
    """The default progress: a log line, which writes nothing between two batches."""

    def __call__(self, message: str) -> None:
        log.info(message)

    def will_write(self) -> bool:
        return False


_LOGGED = _Logged()


def apply_accounts(engine: Engine, settings: SyncSettings, *, run_id: str | None, now: dt.datetime,
                   progress: Callable[[str], None] = _LOGGED, partition_of: PartitionOf | None = None) -> ApplyCounts:
    """R6/R8 for Accounts: pending Accounts -> companies."""
    return _apply_all(engine, ["Account"], settings, run_id=run_id, now=now, progress=progress,
                      apply_batch=_apply_account_batch, partition_of=partition_of)


def apply_people(engine: Engine, settings: SyncSettings, *, run_id: str | None, now: dt.datetime,
                 progress: Callable[[str], None] = _LOGGED, partition_of: PartitionOf | None = None,
                 set_based_creates: bool = True) -> ApplyCounts:
    """R3-R8 for Leads and Contacts: pending records -> contacts. The records of a batch that
    only create a contact are written set-based (`set_based_creates`; off only to compare), in a
    thread of their own while the next batch is walked (service/lone.py)."""
    sobjects = [name for name, enabled in (("Lead", settings.pull_leads), ("Contact", settings.pull_contacts))
                if enabled]
    apply_batch = _apply_people_batch if set_based_creates else _walk_people
    with engine.begin() as conn:
        # Once per step, the records alone in the mirror (the only ones a batch may create
        # set-based); what a killed step left is emptied first.
        if set_based_creates:
            first_load.classify(conn, list(_creatable(conn, settings, sobjects)))
        else:
            first_load.forget(conn)
    try:
        return _apply_all(engine, sobjects, settings, run_id=run_id, now=now, progress=progress,
                          apply_batch=apply_batch, partition_of=partition_of, light=set_based_creates)
    finally:
        with engine.begin() as conn:
            first_load.forget(conn)


def _by_partition(batch: list[PulledRecord], partition_of: PartitionOf | None):
    """The batch cut where the partition changes (it is in SystemModstamp order, so the pieces
    keep that order and applying them one after the other is applying the batch, R4e)."""
    if partition_of is None:
        yield None, batch
        return
    piece: list[PulledRecord] = []
    key: str | None = None
    for record in batch:
        day = partition_of(record.system_modstamp)
        if piece and day != key:
            yield key, piece
            piece = []
        key = day
        piece.append(record)
    if piece:
        yield key, piece


def _apply_all(engine, sobjects, settings, *, run_id, now, progress, apply_batch, partition_of=None,
               light: bool = False) -> ApplyCounts:
    counts = ApplyCounts()
    if not sobjects:
        return counts

    def add(key: str | None, done: Counter) -> None:
        counts.update(done)
        if key is not None:
            counts.by_partition.setdefault(key, Counter()).update(done)

    def walk(records: list[PulledRecord]) -> Counter:
        return _apply_isolating(engine, records, settings, run_id, now, _walk_people, [])

    lone = LoneWrites(engine, run_id=run_id, now=now, walk=walk)
    try:
        # Each batch is read after the one before it is committed, and after what the progress
        # callback did between them (a push of waiting contacts writes the mirror, H3): no read
        # ahead. Only the lone records' writes (which no later read depends on) run on meanwhile,
        # and not while the callback may write.
        for batch in staging.pending_batches(engine, sobjects, batch_size=settings.apply_batch_size, now=now,
                                             light=light):
            for key, piece in _by_partition(batch, partition_of):
                later: list[LoneWrite] = []
                add(key, _apply_isolating(engine, piece, settings, run_id, now, apply_batch, later))
                for item in later:
                    lone.put(item._replace(partition=key))
            counts["batches"] += 1
            if getattr(progress, "will_write", lambda: True)():
                for key, done in lone.drain():
                    add(key, done)
            progress(f"{'/'.join(sobjects)}: {counts['applied'] + lone.applied} records applied")
        for key, done in lone.drain():
            add(key, done)
    except BaseException:
        lone.stop()
        raise
    return counts


def _apply_isolating(engine, batch, settings, run_id, now, apply_batch, later: list[LoneWrite]) -> Counter:
    """Apply `batch` in one transaction, split in halves while the database refuses it (H2).
    What the committed transactions leave to write apart (their lone records) goes to `later`."""
    try:
        left: list[LoneWrite] = []
        with engine.begin() as conn:
            done = apply_batch(conn, batch, settings, run_id, now, left)
        later.extend(left)
        return done
    except (IntegrityError, DBAPIError) as exc:
        if len(batch) == 1:
            error = f"the Conversion database refused it: {str(getattr(exc, 'orig', exc)).splitlines()[0]}"
            log.warning("record %s failed: %s", batch[0].salesforce_id, error)
            with engine.begin() as conn:
                staging.mark_failed(conn, {batch[0].salesforce_id: error}, now=now,
                                    base_seconds=settings.push_retry_base_seconds)
            return Counter(failed=1)
        middle = len(batch) // 2
        counts = _apply_isolating(engine, batch[:middle], settings, run_id, now, apply_batch, later)
        counts.update(_apply_isolating(engine, batch[middle:], settings, run_id, now, apply_batch, later))
        return counts


def _finish(conn, result, settings: SyncSettings, now: dt.datetime) -> Counter:
    """Mark the walk's records applied or failed, and count them."""
    applied = result.applied
    staging.mark_applied(conn, applied)
    staging.mark_failed(conn, result.failed, now=now, base_seconds=settings.push_retry_base_seconds)
    counts = Counter(result.counts)
    counts["applied"] += len(applied)
    return counts


def _apply_account_batch(conn, batch, settings: SyncSettings, run_id, now, later: list[LoneWrite]) -> Counter:
    companies = contact_store.load_companies(conn, [r.salesforce_id for r in batch])
    result = CompanyApplier(settings.company_fields, now, read_only_fields(conn).get("Account")).apply(
        batch, companies)
    contact_store.write_company_changes(conn, result, run_id=run_id, now=now)
    # R6: Contacts applied before their Account was seen get its new company now.
    staging.requeue_contacts_of(conn, [c.salesforce_account_id for c in result.companies.values()
                                       if c.is_new and c.salesforce_account_id])
    return _finish(conn, result, settings, now)


def _apply_people_batch(conn, batch, settings: SyncSettings, run_id, now, later: list[LoneWrite]) -> Counter:
    """R4c set-based: the records of the batch that only create a contact are written from the
    mirror in a few statements (store/first_load.py, handed to `later`); the walk takes the
    rest, in order (R4e)."""
    return _walk_people(conn, batch, settings, run_id, now, later, set_based=True)


def _creatable(conn, settings: SyncSettings, sobjects) -> dict[str, tuple[tuple[str, str], ...]]:
    """Per object, the fields a new contact takes (R5), where `first_load.create` can write them."""
    read_only = read_only_fields(conn)
    found = {}
    for sobject in sobjects:
        taken = taken_when_new(pull_plan(settings.contact_fields, sobject, read_only.get(sobject, set())))
        if first_load.eligible(taken):
            found[sobject] = taken
    return found


def _walk_people(conn, batch, settings: SyncSettings, run_id, now, later: list[LoneWrite], *,
                 set_based: bool = False) -> Counter:
    """The ordered walk (ContactApplier) over `batch`; with `set_based`, the records that only
    create a contact are left to `later` instead, numbered with the walk's in record order."""
    creatable = _creatable(conn, settings, {r.sobject for r in batch}) if set_based else {}
    created: list[PulledRecord] = []
    if creatable:
        # Only a record alone in the mirror (read without its values) may only create a contact.
        maybe = [r for r in batch if r.sobject in creatable and not r.fields_read]
        facts = first_load.conversion_facts(conn, [r.salesforce_id for r in maybe])
        created = [r for r in maybe if r.salesforce_id in facts
                   and only_creates(r, alone=True, **facts[r.salesforce_id]._asdict())]
        if created:
            chosen = {r.salesforce_id for r in created}
            batch = [r for r in batch if r.salesforce_id not in chosen]
    unread = [r.salesforce_id for r in batch if not r.fields_read]
    if unread:
        # A lone record that does more than create a contact is walked with all it says.
        full = staging.staged_records(conn, unread)
        batch = [full[r.salesforce_id] if not r.fields_read else r for r in batch]
    contact_ids = [r.salesforce_id for r in batch if r.sobject == "Contact"]
    conversions = staging.conversions_into(conn, contact_ids)
    linked_ids = {r.salesforce_id for r in batch}
    linked_ids |= {r.master_record_id for r in batch if r.master_record_id}
    linked_ids |= {r.converted_contact_id for r in batch if r.converted_contact_id}
    linked_ids |= set(conversions.values())
    # R7/R8: the surviving records the batch re-links contacts to, as the mirror holds them.
    targets = staging.staged_records(conn, ({r.master_record_id for r in batch if r.master_record_id}
                                            | {r.converted_contact_id for r in batch if r.converted_contact_id})
                                     - {r.salesforce_id for r in batch})
    accounts = {r.account_id for r in [*batch, *targets.values()] if r.account_id and not r.is_deleted}
    accounts |= {r.converted_account_id for r in batch if r.converted_account_id}
    accounts |= {r.account_id for r in created if r.sobject == "Contact" and r.account_id}
    companies = {account: CompanyRef(company_id, name) for account, (company_id, name) in
                 contact_store.companies_for_accounts(conn, accounts).items()}
    contacts = contact_store.load_contacts(conn, salesforce_ids=linked_ids,
                                           email_keys={key for r in batch if (key := r.email_key)},
                                           custom_fields=settings.custom_fields)
    # R7: the CreatedDate of each Contact a Lead of the batch converted into, from the records
    # already in hand (the batch and the re-link targets) rather than a second read of the mirror.
    in_hand = {**targets, **{r.salesforce_id: r for r in batch}}
    created_dates = {sf_id: in_hand[sf_id].created_date
                     for sf_id in {r.converted_contact_id for r in batch if r.is_converted and r.converted_contact_id}
                     if sf_id in in_hand and in_hand[sf_id].created_date is not None}
    result = ContactApplier(settings.contact_fields, now, read_only_fields(conn)).apply(
        batch, contacts, conversions=conversions, companies=companies, contact_created=created_dates,
        link_targets=targets)
    numbering = _number(conn, result, created, companies) if created else None
    contact_store.write_contact_changes(conn, result, run_id=run_id, now=now, custom_fields=settings.custom_fields,
                                        new_ids=numbering.new_ids if numbering else None,
                                        event_ids=numbering.event_ids if numbering else None)
    counts = _finish(conn, result, settings, now)
    if numbering:
        later.append(LoneWrite(created, creatable, numbering.rows, numbering.moved))
    return counts


class _Numbering:
    """Ids for a batch walked in part and created set-based in part: its new contacts and its
    events numbered in the order of their records, as applying the records one by one would
    number them (R4e)."""

    def __init__(self) -> None:
        self.new_ids: dict[int, int] = {}           # the walk's new contacts: placeholder -> id
        self.event_ids: list[int] = []              # the walk's events, in their order
        self.rows: dict[str, list[dict]] = {}       # per object, first_load.create's rows
        self.moved = 0


def _number(conn, result, created: list[PulledRecord], companies: dict[str, CompanyRef]) -> _Numbering:
    numbering = _Numbering()
    new = [c for c in result.contacts.values() if c.is_new and not c.removed]
    made_by = {e.contact_key: e.order for e in result.events if e.kind == "contact_created"}
    contact_slots: list[tuple[Any, Any]] = [(made_by[c.key], c) for c in new]
    contact_slots += [(r.order_key, r) for r in created]
    contact_slots.sort(key=lambda slot: slot[0])   # one new contact per record at most: no ties
    # A record's own events keep the order the walk made them in; a created record's creation
    # comes before its company move.
    event_slots: list[tuple[Any, Any]] = [((e.order, i), i) for i, e in enumerate(result.events)]
    companies_of: dict[str, CompanyRef | None] = {}
    for record in created:
        company = companies.get(record.account_id) if record.sobject == "Contact" and record.account_id else None
        companies_of[record.salesforce_id] = company
        event_slots.append(((record.order_key, 0), (record, "created_event_id")))
        if company is not None:
            event_slots.append(((record.order_key, 1), (record, "moved_event_id")))
    event_slots.sort(key=lambda slot: slot[0])
    rows: dict[str, dict] = {}
    for (_, item), new_id in zip(contact_slots, first_load.reserve_contact_ids(conn, len(contact_slots)), strict=True):
        if isinstance(item, PulledRecord):
            company = companies_of[item.salesforce_id]
            rows[item.salesforce_id] = {"salesforce_id": item.salesforce_id, "contact_id": new_id,
                                        "created_event_id": None, "moved_event_id": None,
                                        "company_id": company.key if company else None,
                                        "company_name": company.name if company else None}
            numbering.rows.setdefault(item.sobject, []).append(rows[item.salesforce_id])
        else:
            numbering.new_ids[item.key] = new_id
    numbering.event_ids = [0] * len(result.events)
    for (_, item), new_id in zip(event_slots, first_load.reserve_event_ids(conn, len(event_slots)), strict=True):
        if isinstance(item, int):
            numbering.event_ids[item] = new_id
        else:
            record, column = item
            rows[record.salesforce_id][column] = new_id
    numbering.moved = sum(1 for row in rows.values() if row["moved_event_id"] is not None)
    return numbering
