"""Record lifecycle operations beyond plain DML: seeding history, lead conversion, merges,
undelete, system-only touches and late commits. Callers hold the org lock."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from . import dml
from .errors import SandboxError
from .ids import InvalidSalesforceId, to_18
from .store import Table, normalize_id
from .values import datetime_to_ms, ms_to_datetime, parse_date_text, parse_datetime_text

if TYPE_CHECKING:
    from .org import SandboxOrg

logger = logging.getLogger(__name__)

LEAD_TO_CONTACT = {"FirstName": "FirstName", "LastName": "LastName", "Email": "Email", "Title": "Title",
                   "Phone": "Phone", "MobilePhone": "MobilePhone", "LeadSource": "LeadSource",
                   "City": "MailingCity", "Country": "MailingCountry"}
LEAD_TO_ACCOUNT = {"Company": "Name", "Website": "Website", "Industry": "Industry", "Phone": "Phone",
                   "City": "BillingCity", "Country": "BillingCountry", "NumberOfEmployees": "NumberOfEmployees"}
CONVERTED_STATUS = "Closed - Converted"
STAMP_FIELDS = ("CreatedDate", "LastModifiedDate", "SystemModstamp")


def _seed_converter(fdef: Any) -> Any:
    """A value converter for one seeded field, or None when values are stored as given."""
    if fdef.type == "datetime":
        return lambda v: datetime_to_ms(v) if isinstance(v, datetime) else parse_datetime_text(str(v))
    if fdef.type == "date":
        return lambda v: (v.date().isoformat() if isinstance(v, datetime)
                          else v.isoformat() if isinstance(v, date) else parse_date_text(str(v)))
    if fdef.type in ("id", "reference"):
        return normalize_id
    return None


def seed(org: SandboxOrg, table: Table, records: list[dict[str, Any]]) -> list[str]:
    """Insert many records at once, system fields allowed, indexes sorted once."""
    schema = table.schema
    stamp = org.clock.stamp()
    template = dml.new_row(org, schema, "", stamp, org.sales_user_id)
    resolved: dict[str, tuple[int, Any, Any]] = {}
    cpos, lpos, spos = (schema.pos(n) for n in STAMP_FIELDS)
    name_fields = (schema.pos("FirstName"), schema.pos("LastName"), schema.pos("Name")) \
        if schema.name in dml.NAME_OBJECTS else None
    required = [f.pos for f in schema.required_on_create]
    prefix, next_id = schema.key_prefix, org.idgen.next
    rows = []
    for n, record in enumerate(records):
        row = template.copy()
        stamped = False
        for key, value in record.items():
            spec = resolved.get(key)
            if spec is None:
                fdef = schema.get(key)
                if fdef is None or fdef.name == "Id":
                    raise SandboxError("INVALID_FIELD", f"record {n}: cannot seed field '{key}' on {schema.name}")
                spec = resolved[key] = (fdef.pos, _seed_converter(fdef), fdef.default if fdef.type == "boolean" else None)
            pos, convert, empty = spec
            if value is None or value == "":
                row[pos] = empty
                continue
            if convert is not None:
                try:
                    value = convert(value)
                except (ValueError, InvalidSalesforceId) as exc:
                    raise SandboxError("INVALID_FIELD", f"record {n}: bad value for {key}: {exc}") from None
                stamped = stamped or pos in (cpos, lpos, spos)
            row[pos] = value
        if stamped:  # a stamp still identical to the template's object was not given
            if row[cpos] is not stamp and row[lpos] is stamp:
                row[lpos] = row[cpos]
            if row[spos] is stamp:
                row[spos] = max(row[lpos], row[cpos])
        if name_fields:
            first, last = row[name_fields[0]], row[name_fields[1]]
            row[name_fields[2]] = f"{first} {last}" if first and last else (last or first)
        for pos in required:
            if row[pos] is None:
                name = schema.fields[pos].name
                raise SandboxError("REQUIRED_FIELD_MISSING", f"record {n}: Required fields are missing: [{name}]",
                                   [name])
        row[0] = next_id(prefix)
        rows.append(row)
    ids = table.bulk_insert(rows)
    logger.info("seeded %d %s records", len(ids), schema.name)
    return ids


def _live(org: SandboxOrg, sobject: str, record_id: str) -> tuple[str, list]:
    return dml.existing_row(org, sobject, record_id)


def _fill_empty(org: SandboxOrg, table: Table, rid: str, row: list, lead: list, lead_table: Table,
                mapping: dict[str, str], stamp: int, user_id: str, txn: dml.Txn,
                extra: dict[str, Any] | None = None) -> None:
    """Copy Lead values into the target's empty fields (Salesforce's convertLead rule)."""
    changes = {}
    for lead_field, target_field in mapping.items():
        value = lead[lead_table.schema.pos(lead_field)]
        if value is not None and row[table.schema.pos(target_field)] is None:
            changes[target_field] = value
    for name, value in (extra or {}).items():
        if row[table.schema.pos(name)] is None:
            changes[name] = value
    if changes:
        dml.set_system_fields(table, rid, changes, stamp, True, user_id, txn)


def convert_lead(org: SandboxOrg, lead_id: str, contact_id: str | None, account_id: str | None,
                 user_id: str) -> dict[str, str]:
    """convertLead: into a new or existing Account/Contact; the Lead becomes read-only."""
    leads, contacts, accounts = org.tables["Lead"], org.tables["Contact"], org.tables["Account"]
    lid, lead = _live(org, "Lead", lead_id)
    if lead[leads.schema.pos("IsConverted")]:
        raise SandboxError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")
    stamp = org.clock.stamp()
    txn = dml.Txn()
    try:
        contact_row = None
        if contact_id:
            cid, contact_row = _live(org, "Contact", contact_id)
            if not account_id and contact_row[contacts.schema.pos("AccountId")]:
                account_id = contact_row[contacts.schema.pos("AccountId")]
        if account_id:
            aid, account_row = _live(org, "Account", account_id)
            _fill_empty(org, accounts, aid, account_row, lead, leads, LEAD_TO_ACCOUNT, stamp, user_id, txn)
        else:
            body = {target: lead[leads.schema.pos(src)] for src, target in LEAD_TO_ACCOUNT.items()}
            aid = dml.insert_record(org, "Account", body, stamp, user_id, txn)
        if contact_row is not None:
            _fill_empty(org, contacts, cid, contact_row, lead, leads, LEAD_TO_CONTACT, stamp, user_id, txn,
                        extra={"AccountId": aid})
        else:
            body = {target: lead[leads.schema.pos(src)] for src, target in LEAD_TO_CONTACT.items()}
            body["AccountId"] = aid
            cid = dml.insert_record(org, "Contact", body, stamp, user_id, txn)
        today = ms_to_datetime(stamp).date().isoformat()
        dml.set_system_fields(leads, lid, {"IsConverted": True, "ConvertedDate": today, "ConvertedAccountId": aid,
                                           "ConvertedContactId": cid, "Status": CONVERTED_STATUS},
                              stamp, True, user_id, txn)
    except SandboxError:
        txn.rollback()
        raise
    logger.info("converted lead %s -> contact %s, account %s", lid, cid, aid)
    return {"account_id": aid, "contact_id": cid}


def merge(org: SandboxOrg, table: Table, master_id: str, loser_ids: list[str], user_id: str) -> None:
    """Merge 1-2 losers into the master; an Account merge reparents the losers' Contacts."""
    sobject = table.schema.name
    if not 1 <= len(loser_ids) <= 2:
        raise SandboxError("INVALID_OPERATION", "A merge takes a master record and one or two records to merge.")
    mid, _ = _live(org, sobject, master_id)
    losers = []
    for loser in loser_ids:
        lid, _ = _live(org, sobject, loser)
        if lid == mid or lid in losers:
            raise SandboxError("INVALID_OPERATION", "The master record and the records to merge must be distinct.")
        losers.append(lid)
    stamp = org.clock.stamp()
    dml.set_system_fields(table, mid, {}, stamp, True, user_id)
    for lid in losers:
        dml.set_system_fields(table, lid, {"IsDeleted": True, "MasterRecordId": mid}, stamp, True, user_id)
    if sobject == "Account":
        contacts = org.tables["Contact"]
        apos = contacts.schema.pos("AccountId")
        for lid in losers:
            for cid in contacts.lookup(apos, lid):
                if not contacts.rows[cid][1]:
                    dml.set_system_fields(contacts, cid, {"AccountId": mid}, stamp, True, user_id)
    logger.info("merged %s %s into %s", sobject, losers, mid)


def undelete(org: SandboxOrg, table: Table, record_id: str) -> None:
    """Restore a soft-deleted record (bumps both timestamps)."""
    rid = to_18(record_id)
    row = table.get(rid)
    if row is None:
        raise SandboxError("NOT_FOUND", "The requested resource does not exist", status=404)
    if not row[1]:
        raise SandboxError("UNDELETE_FAILED", "Entity is not in the recycle bin")
    dml.set_system_fields(table, rid, {"IsDeleted": False}, org.clock.stamp(), True, org.sales_user_id)


def touch_system(org: SandboxOrg, table: Table, record_id: str) -> None:
    """Bump SystemModstamp only (a system process touched the record)."""
    rid = to_18(record_id)
    if rid not in table.rows:
        raise SandboxError("NOT_FOUND", "The requested resource does not exist", status=404)
    dml.set_system_fields(table, rid, {}, org.clock.stamp(), False, None)


def late_commit(org: SandboxOrg, table: Table, record_id: str | None, fields: dict[str, Any],
                seconds_ago: float) -> str:
    """A write stamped in the past: SystemModstamp/LastModifiedDate = now - seconds_ago."""
    when = org.clock.now_ms() - round(seconds_ago * 1000)
    if record_id is None:
        return dml.insert_record(org, table.schema.name, fields, when, org.sales_user_id)
    return dml.update_record(org, table.schema.name, record_id, fields, when, org.sales_user_id, api=False,
                             backdated=True)
