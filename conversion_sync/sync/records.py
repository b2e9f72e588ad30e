"""Salesforce records as the sync sees them: parsing the API's values (REST JSON or Bulk 2.0 CSV)
into one normal form, so both paths give identical staged rows."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from conversion_sync.sync.ids import to_18, to_18_or_none
from conversion_sync.sync.values import (
    any_unstorable,
    email_key,
    first_pulled_problem,
    pulled_value_problem,
    storable,
    unstorable_problem,
)

# System fields every extract selects, besides the mapped ones.
SYSTEM_FIELDS = {
    "Account": ("Id", "IsDeleted", "MasterRecordId", "LastModifiedDate", "SystemModstamp"),
    # A Contact's CreatedDate tells a Contact made by a Lead's conversion from one that existed
    # before it (R7: only the former's contact may be folded).
    "Contact": ("Id", "IsDeleted", "MasterRecordId", "AccountId", "Email", "CreatedDate", "LastModifiedDate",
                "SystemModstamp"),
    "Lead": ("Id", "IsDeleted", "MasterRecordId", "Email", "IsConverted", "ConvertedContactId",
             "ConvertedAccountId", "LastModifiedDate", "SystemModstamp"),
}
_NOT_VALUES = {"Id", "IsDeleted", "MasterRecordId", "CreatedDate", "LastModifiedDate", "SystemModstamp", "IsConverted",
               "ConvertedContactId", "ConvertedAccountId", "AccountId"}
_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")
_TAIL = re.compile(r"(\.\d{1,6})?(Z|[+-]\d{2}:?\d{2})$")


def parse_datetime(value: Any) -> dt.datetime | None:
    """Salesforce datetimes ('2024-05-01T12:30:15.000+0000', '...Z', '...+00:00') as aware UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
    text = str(value).strip()
    # What the APIs send ('2024-05-01T12:30:15.000+0000' or '...Z'), parsed by the standard
    # library (issue 10: three per record); the checks keep to the shapes the pattern below
    # accepts, which reads anything else.
    if len(text) >= 20 and text[10] == "T" and text[13] == ":" and text[16] == ":" and _TAIL.match(text, 19):
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed if parsed.tzinfo is dt.UTC else parsed.astimezone(dt.UTC)
    match = _DATETIME.match(text)
    if not match:
        raise ValueError(f"not a Salesforce datetime: {value!r}")
    date, clock, fraction, zone = match.groups()
    zone = zone or "Z"
    if zone == "Z":
        zone = "+00:00"
    elif ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    fraction = (fraction or ".0")[:7]
    return dt.datetime.fromisoformat(f"{date}T{clock}{fraction}{zone}").astimezone(dt.UTC)



def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true" if value is not None else False


def to_text(value: Any) -> str | None:
    """A field value in the one text form Conversion stores: trimmed, blanks as None, booleans as
    true/false, whole numbers without a fraction."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


@dataclass
class PulledRecord:
    """One Lead, Contact or Account as last pulled, with the mirror of its last application."""

    sobject: str
    salesforce_id: str
    system_modstamp: dt.datetime
    last_modified_date: dt.datetime
    is_deleted: bool = False
    master_record_id: str | None = None
    account_id: str | None = None
    is_converted: bool = False
    converted_contact_id: str | None = None
    converted_account_id: str | None = None
    created_date: dt.datetime | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    mirror: dict[str, Any] | None = None  # values when last applied; None if never applied
    # A value as pulled that the database cannot hold (replaced by U+FFFD in `fields`): the
    # record is kept pending with this error until Salesforce sends a good value (H2).
    problem: str | None = None
    # True when `problem` holds every reason the values cannot be applied (parsed by this
    # version, or read from a mirror row it staged: `values_checked`).
    values_checked: bool = False
    # False when read without its values (`fields` empty, `mirror` None): a record alone in
    # the mirror, read only to be created set-based (store/first_load.py), which is read again
    # in full before anything else is done with it.
    fields_read: bool = True

    @property
    def email_key(self) -> str | None:
        return email_key(self.fields.get("Email"))

    @property
    def order_key(self) -> tuple[dt.datetime, str]:
        """R4e: records of a batch apply in (SystemModstamp, Id) order."""
        return (self.system_modstamp, self.salesforce_id)

    def unappliable(self) -> str | None:
        """Why this record cannot be applied as pulled (H2: it stays pending with this error),
        or None. A delete or a Lead's conversion is applied whatever the values say (R7, R8)."""
        if self.is_deleted or self.is_converted:
            return None
        if self.values_checked:         # `problem` already holds every reason (from_api)
            return self.problem
        return self.problem or first_pulled_problem(self.fields)


def from_api(sobject: str, raw: Mapping[str, Any]) -> PulledRecord:
    """Normalise a record from the REST or Bulk API (attributes stripped) into a PulledRecord."""
    fields = {name: (value.strip() or None) if type(value) is str else to_text(value)
              for name, value in raw.items() if name not in _NOT_VALUES and name != "attributes"}
    problem = None
    if any_unstorable([value for value in fields.values() if value is not None]):
        for name, value in fields.items():
            if value is not None and unstorable_problem(value):
                problem = problem or pulled_value_problem(name, value)
                fields[name] = storable(value)
    # Every reason the values cannot be applied, not only the unstorable ones: the mirror keeps
    # it (`value_problem`), so the set-based create of new records (store/first_load.py) can
    # tell an appliable record from its row alone.
    problem = problem or first_pulled_problem(fields)
    return PulledRecord(
        sobject=sobject,
        salesforce_id=to_18(raw["Id"]),
        # Every record the API returns has a SystemModstamp, so these are never None.
        system_modstamp=cast(dt.datetime, parse_datetime(raw["SystemModstamp"])),
        last_modified_date=cast(dt.datetime, parse_datetime(raw.get("LastModifiedDate") or raw["SystemModstamp"])),
        is_deleted=parse_bool(raw.get("IsDeleted")),
        master_record_id=to_18_or_none(raw.get("MasterRecordId")),
        account_id=to_18_or_none(raw.get("AccountId")),
        is_converted=parse_bool(raw.get("IsConverted")),
        converted_contact_id=to_18_or_none(raw.get("ConvertedContactId")),
        converted_account_id=to_18_or_none(raw.get("ConvertedAccountId")),
        created_date=parse_datetime(raw.get("CreatedDate")),
        fields=fields,
        problem=problem,
        values_checked=True,
    )
