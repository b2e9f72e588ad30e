"""Writes as Salesforce performs them: value coercion, field rules, row building, undo log.

Every function here runs under the org lock. Values arrive either as JSON from the REST API or as
Python objects from the org API (datetimes, dates); both end up in the storage types of `values`.
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from .errors import SandboxError, entity_is_deleted, invalid_field_on_write, malformed_id
from .ids import OBJECT_BY_PREFIX, InvalidSalesforceId, to_18
from .schema import NUMBER_TYPES, STRING_TYPES, FieldDef, ObjectSchema
from .store import Row, Table
from .values import datetime_to_ms, parse_date_text, parse_datetime_text

if TYPE_CHECKING:
    from .org import SandboxOrg

logger = logging.getLogger(__name__)

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
READ_ONLY_MESSAGE = ("Unable to create/update fields: {}. Please check the security settings of this field "
                     "and verify that it is read/write for your profile or permission set.")
NAME_OBJECTS = ("Lead", "Contact")


class Txn:
    """Undo log of one request, for allOrNone rollback."""

    def __init__(self) -> None:
        self.log: list[tuple[Table, str, Row | None]] = []

    def record(self, table: Table, rid: str, old: Row | None) -> None:
        self.log.append((table, rid, old))

    def rollback(self) -> None:
        """Undo every write of this transaction, newest first."""
        for table, rid, old in reversed(self.log):
            if old is None:
                table.remove(rid)
            else:
                table.replace(rid, old)
        self.log.clear()


def _json_error(fdef: FieldDef, value: Any) -> SandboxError:
    kind = {"boolean": "boolean", "int": "int", "double": "double", "currency": "double",
            "percent": "double", "date": "date", "datetime": "dateTime"}.get(fdef.type, "String")
    return SandboxError("JSON_PARSER_ERROR",
                        f"Cannot deserialize instance of {kind} from VALUE_STRING value {value} "
                        f"or request may be missing a required field", [fdef.name])


def coerce(org: SandboxOrg, fdef: FieldDef, value: Any) -> Any:
    """Convert an incoming value to its stored form, enforcing type, length and id rules."""
    if value is None:
        return fdef.default if fdef.type == "boolean" else None
    ftype = fdef.type
    if ftype in STRING_TYPES:
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (int, float)):
            value = str(value)
        elif not isinstance(value, str):
            raise _json_error(fdef, value)
        if value == "":
            return None
        if len(value) > fdef.length:
            raise SandboxError("STRING_TOO_LONG", f"{fdef.label}: data value too large: {value} "
                               f"(max length={fdef.length})", [fdef.name])
        if ftype == "email" and not EMAIL_RE.match(value.strip()):
            raise SandboxError("INVALID_EMAIL_ADDRESS", f"{fdef.label}: invalid email address: {value}",
                               [fdef.name])
        return value
    if ftype == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _json_error(fdef, value)
    if ftype in NUMBER_TYPES:
        try:
            number = float(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or isinstance(value, (list, dict)):
            raise _json_error(fdef, value)
        if ftype == "int":
            if number != int(number):
                raise _json_error(fdef, value)
            return int(number)
        return number
    if ftype == "datetime":
        if isinstance(value, datetime):
            return datetime_to_ms(value)
        try:
            return parse_datetime_text(str(value))
        except ValueError:
            raise _json_error(fdef, value) from None
    if ftype == "date":
        if isinstance(value, datetime):
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        try:
            return parse_date_text(str(value))
        except ValueError:
            raise _json_error(fdef, value) from None
    if ftype in ("reference", "id"):
        return coerce_reference(org, fdef, value)
    return value


def coerce_reference(org: SandboxOrg, fdef: FieldDef, value: Any) -> str:
    """A lookup value: a well-formed id of the right object that exists and is not deleted."""
    label = fdef.label
    try:
        rid = to_18(value) if isinstance(value, str) else None
    except InvalidSalesforceId:
        rid = None
    if rid is None:
        raise malformed_id(label, str(value), fdef.name)
    if fdef.reference_to == ("User",):
        if rid not in org.user_ids:
            raise SandboxError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [fdef.name])
        return rid
    target = OBJECT_BY_PREFIX.get(rid[:3])
    if fdef.reference_to and target not in fdef.reference_to:
        raise SandboxError("FIELD_INTEGRITY_EXCEPTION", f"{label}: id value of incorrect type: {value}",
                           [fdef.name])
    row = org.tables[target].get(rid) if target in org.tables else None
    if row is None:
        raise SandboxError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [fdef.name])
    if row[1]:
        raise SandboxError("ENTITY_IS_DELETED", "entity is deleted", [fdef.name])
    return rid


def parse_body(org: SandboxOrg, schema: ObjectSchema, body: dict[str, Any], creating: bool,
               record_id: str | None = None, privileged: bool = False) -> dict[int, Any]:
    """Map a write body to {row position: stored value}, rejecting unknown and read-only fields."""
    if not isinstance(body, dict):
        raise SandboxError("JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from a non-object value")
    values: dict[int, Any] = {}
    read_only: list[str] = []
    for key, value in body.items():
        if key == "attributes":
            continue
        fdef = schema.get(key)
        if fdef is None:
            raise invalid_field_on_write(key, schema.name)
        if fdef.name == "Id":
            if creating and not privileged:
                raise SandboxError("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
            if not creating:
                try:
                    same = value is None or to_18(str(value)) == record_id
                except InvalidSalesforceId:
                    same = False
                if not same:
                    raise SandboxError("INVALID_ID_FIELD", "The Id field should not be specified in the "
                                       "sobject data.", ["Id"])
            continue
        if not privileged and not (fdef.createable if creating else fdef.updateable):
            read_only.append(fdef.name)
            continue
        values[fdef.pos] = coerce(org, fdef, value)
    if read_only:
        raise SandboxError("INVALID_FIELD_FOR_INSERT_UPDATE", READ_ONLY_MESSAGE.format(", ".join(read_only)),
                           read_only)
    return values


def full_name(schema: ObjectSchema, row: Row) -> str | None:
    """Lead/Contact `Name`: first and last name joined by a space."""
    first = row[schema.pos("FirstName")]
    last = row[schema.pos("LastName")]
    return " ".join(part for part in (first, last) if part) or None


def new_row(org: SandboxOrg, schema: ObjectSchema, rid: str, stamp: int, user_id: str) -> Row:
    """A row with defaults and system fields filled in."""
    row: Row = [f.default for f in schema.fields]
    row[0] = rid
    for name in ("OwnerId", "CreatedById", "LastModifiedById"):
        row[schema.pos(name)] = user_id
    for name in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
        row[schema.pos(name)] = stamp
    return row


def finish_row(org: SandboxOrg, table: Table, row: Row, rid: str, changed: dict[int, Any] | None) -> None:
    """Derived fields and the checks Salesforce runs on save: required, unique, validation rules."""
    schema = table.schema
    if schema.name in NAME_OBJECTS:
        row[schema.pos("Name")] = full_name(schema, row)
    missing = [f.name for f in schema.required_on_create if row[f.pos] is None]
    if missing:
        raise SandboxError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]",
                           missing)
    for fdef in schema.indexed:
        if not fdef.unique or row[fdef.pos] is None:
            continue
        if changed is not None and fdef.pos not in changed:
            continue
        for other in table.lookup(fdef.pos, row[fdef.pos]):
            other_row = table.rows[other]
            if other != rid and not other_row[1]:
                raise SandboxError("DUPLICATE_VALUE", f"duplicate value found: {fdef.name} duplicates value "
                                   f"on record with id: {other}", [fdef.name])
    for rule in org.validation_rules.get(schema.name, ()):
        value = row[rule.pos]
        if value is not None and rule.regex.search(str(value)):
            raise SandboxError("FIELD_CUSTOM_VALIDATION_EXCEPTION", rule.message, [rule.field])


def check_lock(org: SandboxOrg, rid: str) -> None:
    """UNABLE_TO_LOCK_ROW when `lock_record` armed this record."""
    left = org.locked_rows.get(rid, 0)
    if left > 0:
        if left == 1:
            del org.locked_rows[rid]
        else:
            org.locked_rows[rid] = left - 1
        raise SandboxError("UNABLE_TO_LOCK_ROW",
                           f"unable to obtain exclusive access to this record or 1 records: {rid}")


def _writer_schema(org: SandboxOrg, table: Table, user_id: str) -> ObjectSchema:
    """The fields a writer may name: the integration user does not see hidden ones (field-level
    security), so a write naming one fails as for a field that does not exist."""
    return org.api_schema(table.schema.name) if user_id == org.integration_user_id else table.schema


def insert_record(org: SandboxOrg, sobject: str, body: dict[str, Any], stamp: int, user_id: str,
                  txn: Txn | None = None) -> str:
    """Create one record; returns its id."""
    table = org.tables[sobject]
    values = parse_body(org, _writer_schema(org, table, user_id), body, creating=True)
    rid = org.idgen.next(table.schema.key_prefix)
    row = new_row(org, table.schema, rid, stamp, user_id)
    for pos, value in values.items():
        row[pos] = value
    finish_row(org, table, row, rid, None)
    table.insert(row)
    if txn is not None:
        txn.record(table, rid, None)
    return rid


def existing_row(org: SandboxOrg, sobject: str, record_id: Any, deleted_status: int = 400) -> tuple[str, Row]:
    """The live row behind an id: NOT_FOUND / MALFORMED_ID / ENTITY_IS_DELETED otherwise."""
    table = org.tables[sobject]
    try:
        rid = to_18(record_id) if isinstance(record_id, str) else None
    except InvalidSalesforceId:
        rid = None
    if rid is None:
        raise malformed_id(f"{sobject} ID", str(record_id), None)
    row = table.get(rid)
    if row is None:
        if OBJECT_BY_PREFIX.get(rid[:3]) not in (None, sobject):
            raise malformed_id(f"{sobject} ID", str(record_id), None)
        raise SandboxError("NOT_FOUND", "The requested resource does not exist", status=404)
    if row[1]:
        raise entity_is_deleted(deleted_status)
    return rid, row


def update_record(org: SandboxOrg, sobject: str, record_id: str, body: dict[str, Any], stamp: int,
                  user_id: str, txn: Txn | None = None, api: bool = True, deleted_status: int = 400,
                  backdated: bool = False) -> str:
    """Update one record; returns its 18-character id. A write moves the record's stamps forward
    (several records may share a stamp, one record's stamps never stand still) unless it is
    `backdated` (a late commit)."""
    table = org.tables[sobject]
    rid, row = existing_row(org, sobject, record_id, deleted_status)
    values = parse_body(org, _writer_schema(org, table, user_id), body, creating=False, record_id=rid)
    if sobject == "Lead" and row[table.schema.pos("IsConverted")]:
        raise SandboxError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")
    if api:
        check_lock(org, rid)
    new = row.copy()
    for pos, value in values.items():
        new[pos] = value
    schema = table.schema
    if not backdated:
        stamp = max(stamp, row[table.sms_pos] + 1)
    new[schema.pos("LastModifiedDate")] = stamp
    new[schema.pos("SystemModstamp")] = stamp
    new[schema.pos("LastModifiedById")] = user_id
    finish_row(org, table, new, rid, values)
    table.replace(rid, new)
    if txn is not None:
        txn.record(table, rid, row)
    return rid


def set_system_fields(table: Table, rid: str, changes: dict[str, Any], stamp: int | None,
                      lmd: bool, user_id: str | None, txn: Txn | None = None) -> Row:
    """Store a system-made change (delete, convert, merge, touch): no validation."""
    schema = table.schema
    old = table.rows[rid]
    new = old.copy()
    for name, value in changes.items():
        new[schema.pos(name)] = value
    if schema.name in NAME_OBJECTS and ("FirstName" in changes or "LastName" in changes):
        new[schema.pos("Name")] = full_name(schema, new)
    if stamp is not None:
        stamp = max(stamp, old[table.sms_pos] + 1)
        new[table.sms_pos] = stamp
        if lmd:
            new[schema.pos("LastModifiedDate")] = stamp
            if user_id:
                new[schema.pos("LastModifiedById")] = user_id
    table.replace(rid, new)
    if txn is not None:
        txn.record(table, rid, old)
    return new


def delete_record(org: SandboxOrg, sobject: str, record_id: str, stamp: int, user_id: str,
                  txn: Txn | None = None, api: bool = True, deleted_status: int = 400) -> str:
    """Soft-delete one record (to the recycle bin)."""
    table = org.tables[sobject]
    rid, _row = existing_row(org, sobject, record_id, deleted_status)
    if api:
        check_lock(org, rid)
    set_system_fields(table, rid, {"IsDeleted": True}, stamp, True, user_id, txn)
    return rid
