"""Merging two contacts' field values (P6, and the R7 fold): each field takes the newer value."""

from __future__ import annotations

import datetime as dt
from typing import Any

from conversion_sync.sync.model import ContactState

_OLDEST = dt.datetime.min.replace(tzinfo=dt.timezone.utc)


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
