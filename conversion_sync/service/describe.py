"""The org's field metadata (describe), cached in the Conversion database for a day so that a
5-minute cycle does not spend an API call on it: which mapped fields are read-only (R5: always
Salesforce's value, never pushed) and which can be set on create."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select

from conversion_sync.resources.salesforce import SalesforceClient
from conversion_sync.store.schema import salesforce_fields

MAX_AGE = dt.timedelta(hours=24)


def org_fields(engine: Engine, client: SalesforceClient, sobject: str, *, now: dt.datetime) -> dict[str, dict[str, Any]]:
    """Field name -> {"updateable", "createable"}: from the cache, or one describe call."""
    with engine.connect() as conn:
        row = conn.execute(select(salesforce_fields).where(salesforce_fields.c.sobject == sobject)).first()
    if row is not None and now - row.fetched_at < MAX_AGE:
        return dict(row.fields)
    fields = {name: {"updateable": bool(f.get("updateable", True)), "createable": bool(f.get("createable", True))}
              for name, f in client.field_names(sobject).items()}
    with engine.begin() as conn:
        conn.execute(delete(salesforce_fields).where(salesforce_fields.c.sobject == sobject))
        conn.execute(insert(salesforce_fields).values(sobject=sobject, fields=fields, fetched_at=now))
    return fields


def read_only_fields(conn: Connection) -> dict[str, set[str]]:
    """Object -> its read-only fields, as last described (empty before the first describe)."""
    rows = conn.execute(select(salesforce_fields.c.sobject, salesforce_fields.c.fields)).all()
    return {sobject: {name for name, f in fields.items() if not f.get("updateable", True)} for sobject, fields in rows}
