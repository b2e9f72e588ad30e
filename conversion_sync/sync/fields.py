"""Field rules (R5): the gate, the sync preferences and the three-way compare with the mirror.

Pure functions over values and timestamps; the store and the engines call them per field.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

# Conversion contact fields that can be mapped to Salesforce (custom fields are declared in config).
CONTACT_FIELDS = ("email", "first_name", "last_name", "title", "phone", "company_name",
                  "lead_source", "city", "country")
# Conversion company fields that can be mapped to Account fields.
COMPANY_FIELDS = ("name", "website", "industry")


class Preference(str, enum.Enum):
    """Which side wins for a field (R5 table)."""

    PREFER_SALESFORCE_UNLESS_EMPTY = "prefer_salesforce_unless_empty"
    ALWAYS_PREFER_SALESFORCE = "always_prefer_salesforce"
    ALWAYS_PREFER_CONVERSION = "always_prefer_conversion"
    TWO_WAY = "two_way"
    DO_NOT_SYNC = "do_not_sync"


PREFERENCES = tuple(p.value for p in Preference)


@dataclass(frozen=True)
class FieldMapping:
    """One Conversion field, the Salesforce field per object that feeds it, and its preference."""

    field: str
    salesforce: dict[str, str]
    preference: Preference

    def __hash__(self) -> int:  # dict fields are not hashable; the name identifies a mapping
        return hash(self.field)


def is_empty(value: Any) -> bool:
    """Salesforce's notion of an empty field: null or a blank string."""
    return value is None or (isinstance(value, str) and value.strip() == "")


def normalize_value(value: Any) -> Any:
    """The form values are compared and stored in: blank strings are null, strings are trimmed."""
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    return value


def gate_open(record_modified: dt.datetime, field_updated_at: dt.datetime | None) -> bool:
    """R5 gate: a pulled field is considered only when the record's LastModifiedDate is newer
    than the field's own updated_at (a field never set yet always passes)."""
    return field_updated_at is None or record_modified > field_updated_at


_UNSEEN = object()


def take_from_salesforce(
    preference: Preference,
    *,
    salesforce_value: Any,
    mirror_value: Any = _UNSEEN,
    current_value: Any,
    record_modified: dt.datetime,
    field_updated_at: dt.datetime | None,
) -> bool:
    """R5 on pull: should `salesforce_value` replace the Conversion value?

    `mirror_value` is what Salesforce said for this field when the record was last applied
    (omit it when the record was never applied). A value Salesforce did not change since then is
    never taken, so a record touched for another reason never reverts a newer Conversion edit.
    """
    return _take(preference, normalize_value(salesforce_value), mirror_value, current_value, record_modified,
                 field_updated_at)


def _take(preference: Preference, sf_value: Any, mirror_value: Any, current_value: Any,
          record_modified: dt.datetime, field_updated_at: dt.datetime | None) -> bool:
    """`take_from_salesforce` with `sf_value` already normalized, positional: the one form of
    the rule, which `values_to_take` calls per field of every pulled record (issue 10)."""
    if preference is Preference.DO_NOT_SYNC or preference is Preference.ALWAYS_PREFER_CONVERSION:
        return False
    if not gate_open(record_modified, field_updated_at):
        return False
    if mirror_value is not _UNSEEN and normalize_value(mirror_value) == sf_value:
        return False
    if preference is Preference.PREFER_SALESFORCE_UNLESS_EMPTY and sf_value is None:
        return False
    return sf_value != normalize_value(current_value)


def push_to_salesforce(
    preference: Preference,
    *,
    conversion_value: Any,
    field_updated_at: dt.datetime | None,
    salesforce_value: Any,
    record_modified: dt.datetime | None,
    applied_value: Any = _UNSEEN,
    read_only: bool = False,
) -> bool:
    """R5/P5 on push, per field: should the Conversion value be written to the linked record?

    The mirror image of the pull's three-way compare. `salesforce_value` is what Salesforce last
    said, `applied_value` what it said when the record was last applied to Conversion (omit it
    when unknown). A field is considered only when its value differs from Salesforce's, and
    (but for always_prefer_conversion) Conversion changed it since the last apply while
    Salesforce did not (a Salesforce change not applied yet is the pull's to decide first). No
    clock is compared, so another field's edit in Salesforce, or an org clock ahead of ours,
    never holds a Conversion edit back. Without `applied_value`, the field must have been edited
    after the record's LastModifiedDate (the old record-wide gate).
    """
    if read_only or preference in (Preference.DO_NOT_SYNC, Preference.ALWAYS_PREFER_SALESFORCE):
        return False
    if field_updated_at is None:
        return False
    value = normalize_value(conversion_value)
    if value == normalize_value(salesforce_value):
        return False
    if applied_value is _UNSEEN:
        if record_modified is not None and field_updated_at <= record_modified:
            return False
    elif preference is not Preference.ALWAYS_PREFER_CONVERSION:
        applied = normalize_value(applied_value)
        if applied != normalize_value(salesforce_value) or value == applied:
            return False
    if preference is Preference.PREFER_SALESFORCE_UNLESS_EMPTY:
        return is_empty(salesforce_value) and value is not None
    return True


def pull_preference(mapping: FieldMapping, salesforce_field: str, read_only: frozenset[str] | set[str]) -> Preference:
    """R5: a read-only Salesforce field (system, formula) is always_prefer_salesforce, whatever
    the mapping says, unless the mapping switched the field off (do_not_sync)."""
    if salesforce_field in read_only and mapping.preference is not Preference.DO_NOT_SYNC:
        return Preference.ALWAYS_PREFER_SALESFORCE
    return mapping.preference


def values_to_take(mappings, sobject: str, record_fields: dict[str, Any], mirror: dict[str, Any] | None,
                   record_modified: dt.datetime, current: dict[str, Any],
                   updated_at: dict[str, dt.datetime | None],
                   read_only: frozenset[str] | set[str] = frozenset()) -> dict[str, list[Any]]:
    """R5 for every mapped field of one pulled record: {Conversion field: [old, new]} to take."""
    return take_planned(pull_plan(mappings, sobject, read_only), record_fields, mirror, record_modified, current,
                        updated_at)


PullPlan = tuple[tuple[str, str, Preference], ...]


def pull_plan(mappings, sobject: str, read_only: frozenset[str] | set[str] = frozenset()) -> PullPlan:
    """(Conversion field, Salesforce field, pull preference) of each mapping `sobject` feeds:
    what `values_to_take` looks at, worked out once per batch instead of once per record."""
    return tuple((mapping.field, sf_field, pull_preference(mapping, sf_field, read_only))
                 for mapping in mappings if (sf_field := mapping.salesforce.get(sobject)))


def take_planned(plan: PullPlan, record_fields: dict[str, Any], mirror: dict[str, Any] | None,
                 record_modified: dt.datetime, current: dict[str, Any],
                 updated_at: dict[str, dt.datetime | None]) -> dict[str, list[Any]]:
    """`values_to_take` over a `pull_plan`."""
    taken: dict[str, list[Any]] = {}
    for name, sf_field, preference in plan:
        if sf_field not in record_fields:
            continue
        new_value = normalize_value(record_fields[sf_field])
        old_value = current.get(name)
        seen = mirror.get(sf_field, _UNSEEN) if mirror is not None else _UNSEEN
        if _take(preference, new_value, seen, old_value, record_modified, updated_at.get(name)):
            taken[name] = [old_value, new_value]
    return taken


def taken_when_new(plan: PullPlan) -> tuple[tuple[str, str], ...]:
    """R5 for a contact just created from a record (R4c: no value, no stamp, no mirror to
    compare with): the (Conversion field, Salesforce field) pairs of `plan` that take the
    record's value whenever it is not empty. Asked of the rule itself (`_take`), so the
    set-based create of new records (store/first_load.py) cannot drift from it."""
    probe = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    return tuple((name, sf_field) for name, sf_field, preference in plan
                 if _take(preference, "value", _UNSEEN, None, probe, None))
