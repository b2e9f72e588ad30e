"""Contacts and companies in and out of the working set of the sync rules, set-based:
a few queries load a batch's working set, and a few bulk statements write its changes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from conversion_sync.store.bulk import insert_returning_ids, insert_rows, update_rows
from conversion_sync.store.events import write_events, write_warnings
from conversion_sync.store.schema import companies, contact_attributes, contact_identifiers, contacts, sync_warnings
from conversion_sync.store.staging import among, chunked, id_chunks
from conversion_sync.sync.fields import COMPANY_FIELDS, CONTACT_FIELDS
from conversion_sync.sync.model import ApplyResult, CompanyState, ContactState
from conversion_sync.sync.push import GAVE_UP, PUSHED, WAITING


def contact_from_row(row, custom: dict | None = None) -> ContactState:
    state = ContactState(
        key=row.id,
        values={name: getattr(row, name) for name in CONTACT_FIELDS},
        field_updated_at={name: getattr(row, f"{name}_updated_at") for name in CONTACT_FIELDS},
        salesforce_id=row.salesforce_id, salesforce_object=row.salesforce_object,
        company_id=row.company_id, company_id_updated_at=row.company_id_updated_at,
        origin=row.origin, salesforce_sync=row.salesforce_sync,
        created_at=row.created_at, updated_at=row.updated_at,
        edited_in_conversion=row.edited_in_conversion_at is not None,
    )
    for name, (value, at) in (custom or {}).items():
        state.values[name] = value
        state.field_updated_at[name] = at
    return state


def load_contacts(conn: Connection, *, salesforce_ids: Iterable[str] = (), email_keys: Iterable[str] = (),
                  ids: Iterable[int] = (), custom_fields: Sequence[str] = ()) -> list[ContactState]:
    """Contacts linked to any of `salesforce_ids`, holding any of `email_keys`, or with `ids`."""
    found: dict[int, object] = {}
    for column, values in ((contacts.c.salesforce_id, sorted(set(salesforce_ids))),
                           (contacts.c.email_key, sorted(set(email_keys))),
                           (contacts.c.id, sorted(set(ids)))):
        for chunk in id_chunks(conn, values):
            for row in conn.execute(select(contacts).where(among(conn, column, chunk))):
                found[row.id] = row
    keys = sorted(found)
    with_identifiers: set[int] = set()
    custom: dict[int, dict] = {}
    for chunk in id_chunks(conn, keys):
        with_identifiers.update(conn.execute(select(contact_identifiers.c.contact_id)
                                             .where(among(conn, contact_identifiers.c.contact_id, chunk))).scalars())
        if custom_fields:
            for row in conn.execute(select(contact_attributes).where(
                    among(conn, contact_attributes.c.contact_id, chunk), contact_attributes.c.name.in_(custom_fields))):
                custom.setdefault(row.contact_id, {})[row.name] = (row.value, row.updated_at)
    states = []
    for key in keys:
        state = contact_from_row(found[key], custom.get(key))
        state.has_identifiers = key in with_identifiers
        states.append(state)
    return states


_CONTACT_COLUMNS = [*CONTACT_FIELDS, *(f"{name}_updated_at" for name in CONTACT_FIELDS),
                    "email_key", "company_id", "company_id_updated_at", "salesforce_id", "salesforce_object",
                    "updated_at"]


def _contact_row(state: ContactState) -> dict:
    row = {name: state.values.get(name) for name in CONTACT_FIELDS}
    row.update({f"{name}_updated_at": state.field_updated_at.get(name) for name in CONTACT_FIELDS})
    row.update(email_key=state.email_key, company_id=state.company_id,
               company_id_updated_at=state.company_id_updated_at, salesforce_id=state.salesforce_id,
               salesforce_object=state.salesforce_object, updated_at=state.updated_at)
    return row


def write_contact_changes(conn: Connection, result: ApplyResult, *, run_id: str | None, now: dt.datetime,
                          custom_fields: Sequence[str] = (), new_ids: dict[int, int] | None = None,
                          event_ids: Sequence[int] | None = None) -> dict[int, int]:
    """Write a batch's contact changes, events and warnings; returns placeholder key -> new id.
    `new_ids` (placeholder key -> id) and `event_ids` (one per event) give the new rows ids
    taken beforehand (`bulk.reserve_ids`), when part of the batch is written set-based."""
    key_to_id: dict[int, int] = {}
    new = [c for c in result.contacts.values() if c.is_new and not c.removed]
    if new:
        rows = [{**_contact_row(c), "origin": c.origin, "salesforce_sync": c.salesforce_sync,
                 "created_at": c.created_at or now, "push_attempts": 0} for c in new]
        if new_ids is None:
            ids = insert_returning_ids(conn, contacts, rows)     # COPY on PostgreSQL (issue 10)
        else:
            ids = [new_ids[c.key] for c in new]
            insert_rows(conn, contacts, [{**row, "id": new_id} for row, new_id in zip(rows, ids, strict=True)])
        key_to_id.update({c.key: new_id for c, new_id in zip(new, ids, strict=False)})
    existing = [c for c in result.contacts.values() if not c.is_new]
    for c in existing:
        key_to_id[c.key] = c.key
    removed = [c.key for c in existing if c.removed]
    changed = [c for c in existing if not c.removed]
    # Free the Salesforce ids that move first, so no intermediate state links one id twice.
    # A contact linked for the first time has no id to free: its row is not rewritten (issue 10).
    moving = [c.key for c in existing if "salesforce_id" in c.changed]
    for chunk in chunked(moving):
        conn.execute(update(contacts).where(contacts.c.id.in_(chunk), contacts.c.salesforce_id.is_not(None))
                     .values(salesforce_id=None))
    if removed:
        _remove_folded(conn, removed, result, key_to_id)
    if changed:
        # One UPDATE ... FROM a COPYed temporary table on PostgreSQL (set-based, issue 10).
        update_rows(conn, contacts, "id", [{"id": c.key, **_contact_row(c)} for c in changed])
        # A contact unlinked because its record is gone (R8) has nothing left to push: a failed
        # update must not turn into a create that would bring the deleted record back.
        unlinked = [c.key for c in changed if "salesforce_id" in c.changed and c.salesforce_id is None]
        for chunk in chunked(unlinked):
            conn.execute(update(contacts).where(contacts.c.id.in_(chunk))
                         .values(push_state=None, push_error=None, push_attempts=0, push_next_attempt_at=None))
        # A contact waiting to reach Salesforce that the pull links has reached it (H2): it leaves
        # the queue (an edit newer than the record still goes out with the next push, P5).
        linked = [c.key for c in changed if "salesforce_id" in c.changed and c.salesforce_id is not None]
        for chunk in chunked(linked):
            conn.execute(update(contacts).where(contacts.c.id.in_(chunk), contacts.c.push_state.in_((*WAITING, GAVE_UP)))
                         .values(push_state=PUSHED, push_error=None, push_attempts=0, push_next_attempt_at=None))
            conn.execute(update(sync_warnings).where(sync_warnings.c.kind == "push_error",
                                                     sync_warnings.c.resolved_at.is_(None),
                                                     sync_warnings.c.contact_id.in_(chunk))
                         .values(resolved_at=now))
    if custom_fields:
        _write_custom(conn, [c for c in result.contacts.values() if not c.removed], key_to_id, custom_fields)
    write_events(conn, result.events, key_to_id, {}, run_id=run_id, now=now, ids=event_ids)
    write_warnings(conn, result.warnings, key_to_id, run_id=run_id, now=now)
    return key_to_id


def _remove_folded(conn: Connection, removed: list[int], result: ApplyResult,
                   key_to_id: dict[int, int]) -> None:
    """A folded contact's warnings move to the contact it folded into; then the row goes."""
    for key in removed:
        into = result.contacts[key].folded_into
        if into is not None and into in key_to_id:
            conn.execute(update(sync_warnings).where(sync_warnings.c.contact_id == key)
                         .values(contact_id=key_to_id[into]))
    conn.execute(delete(contacts).where(contacts.c.id.in_(removed)))


def _write_custom(conn: Connection, states: Sequence[ContactState], key_to_id: dict[int, int],
                  custom_fields: Sequence[str]) -> None:
    """Rewrite the custom field values of the contacts whose custom fields changed."""
    touched = [s for s in states if s.changed.intersection(custom_fields)]
    ids = [key_to_id[s.key] for s in touched]
    for chunk in chunked(ids):
        conn.execute(delete(contact_attributes).where(contact_attributes.c.contact_id.in_(chunk),
                                                      contact_attributes.c.name.in_(custom_fields)))
    rows = [{"contact_id": key_to_id[s.key], "name": name, "value": s.values.get(name),
             "updated_at": s.field_updated_at.get(name)}
            for s in touched for name in custom_fields
            if s.values.get(name) is not None or s.field_updated_at.get(name) is not None]
    if rows:
        conn.execute(insert(contact_attributes), rows)


# -- companies -------------------------------------------------------------------------------------

def company_from_row(row) -> CompanyState:
    return CompanyState(
        key=row.id,
        values={name: getattr(row, name) for name in COMPANY_FIELDS},
        field_updated_at={name: getattr(row, f"{name}_updated_at") for name in COMPANY_FIELDS},
        salesforce_account_id=row.salesforce_account_id, created_at=row.created_at, updated_at=row.updated_at)


def load_companies(conn: Connection, account_ids: Iterable[str]) -> list[CompanyState]:
    states: list[CompanyState] = []
    for chunk in chunked(sorted(set(account_ids))):
        states.extend(company_from_row(row) for row in
                      conn.execute(select(companies).where(companies.c.salesforce_account_id.in_(chunk))))
    return states


def _company_row(state: CompanyState) -> dict:
    row = {name: state.values.get(name) for name in COMPANY_FIELDS}
    row.update({f"{name}_updated_at": state.field_updated_at.get(name) for name in COMPANY_FIELDS})
    row.update(salesforce_account_id=state.salesforce_account_id, updated_at=state.updated_at)
    return row


def write_company_changes(conn: Connection, result: ApplyResult, *, run_id: str | None,
                          now: dt.datetime) -> dict[int, int]:
    key_to_id: dict[int, int] = {}
    new = [c for c in result.companies.values() if c.is_new]
    if new:
        rows = [{**_company_row(c), "created_at": c.created_at or now, "updated_at": c.updated_at or now}
                for c in new]
        ids = insert_returning_ids(conn, companies, rows)     # COPY on PostgreSQL (issue 10)
        key_to_id.update({c.key: new_id for c, new_id in zip(new, ids, strict=False)})
    changed = [c for c in result.companies.values() if not c.is_new]
    key_to_id.update({c.key: c.key for c in changed})
    unlinking = [{"b_id": c.key} for c in changed if "salesforce_account_id" in c.changed]
    if unlinking:
        conn.execute(update(companies).where(companies.c.id == bindparam("b_id"))
                     .values(salesforce_account_id=None), unlinking)
    if changed:
        columns = list(_company_row(changed[0]))
        conn.execute(update(companies).where(companies.c.id == bindparam("b_id"))
                     .values(**{name: bindparam(name) for name in columns}),
                     [{**_company_row(c), "b_id": c.key} for c in changed])
    write_events(conn, result.events, {}, key_to_id, run_id=run_id, now=now)
    return key_to_id


def companies_for_accounts(conn: Connection, account_ids: Iterable[str]) -> dict[str, tuple[int, str | None]]:
    """Account id -> (company id, name) for the ids that have a company. An Account not pulled
    yet has none: its contacts stay without a company until the Account arrives, which then
    re-applies them (R6; `staging.requeue_contacts_of`), so no nameless company is ever made."""
    wanted = sorted({a for a in account_ids if a})
    found: dict[str, tuple[int, str | None]] = {}
    for chunk in id_chunks(conn, wanted):
        for row in conn.execute(select(companies.c.id, companies.c.name, companies.c.salesforce_account_id)
                                .where(among(conn, companies.c.salesforce_account_id, chunk))):
            found[row.salesforce_account_id] = (row.id, row.name)
    return found
