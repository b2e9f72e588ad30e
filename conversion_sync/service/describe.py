"""The org's field metadata (describe), cached in the Conversion database for a day so that a
5-minute cycle does not spend an API call on it: which fields the integration user can see
(field-level security, R5: a field absent from describe is left out of queries and pushes),
which are read-only (always Salesforce's value, never pushed) and which can be set on create.
The cache is described again when it is a day old, or at once when a query names a field the
org no longer shows (`refresh=True`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine

from conversion_sync.resources.salesforce import SalesforceClient
from conversion_sync.store import describe as describe_store

MAX_AGE = describe_store.MAX_AGE


def org_fields(engine: Engine, client: SalesforceClient, sobject: str, *, now: dt.datetime,
               refresh: bool = False) -> dict[str, dict[str, Any]]:
    """Field name -> {"updateable", "createable"} for the fields the integration user can see:
    from the cache, or one describe call."""
    if not refresh:
        with engine.connect() as conn:
            cached = describe_store.fresh_fields(conn, sobject, now=now, max_age=MAX_AGE)
        if cached is not None:
            return cached
    fields = {name: {"updateable": bool(f.get("updateable", True)), "createable": bool(f.get("createable", True))}
              for name, f in client.field_names(sobject, fresh=refresh).items()}
    with engine.begin() as conn:
        describe_store.save_fields(conn, sobject, fields, now=now)
    return fields


def field_entry(fields: dict[str, dict[str, Any]], name: str) -> dict[str, Any] | None:
    """A field's describe entry (names compare case-insensitively, as in Salesforce), or None
    when the org does not show it to the integration user."""
    entry = fields.get(name)
    if entry is not None:
        return entry
    lower = name.lower()
    return next((f for n, f in fields.items() if n.lower() == lower), None)


def visible(fields: dict[str, dict[str, Any]], name: str) -> bool:
    return field_entry(fields, name) is not None


def can_create(fields: dict[str, dict[str, Any]], name: str) -> bool:
    """May a create set this field? Not when it is hidden (absent) or not createable."""
    entry = field_entry(fields, name)
    return bool(entry and entry.get("createable", False))


def can_update(fields: dict[str, dict[str, Any]], name: str) -> bool:
    """May an update write this field? Not when it is hidden (absent) or not updateable."""
    entry = field_entry(fields, name)
    return bool(entry and entry.get("updateable", False))


def not_visible(fields: dict[str, dict[str, Any]], names: Iterable[str]) -> list[str]:
    """Which of `names` the integration user cannot see, in their order."""
    return [name for name in names if not visible(fields, name)]
