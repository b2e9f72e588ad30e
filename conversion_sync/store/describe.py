"""The org's field metadata as last described (the describe cache), and the `field_hidden`
warnings that name the mapped fields the integration user cannot see (R5)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from conversion_sync.store.schema import salesforce_fields, sync_warnings

FIELD_HIDDEN = "field_hidden"
MAX_AGE = dt.timedelta(hours=24)   # a description older than this is asked for again


def cached_fields(conn: Connection, sobject: str) -> tuple[dict[str, dict[str, Any]], dt.datetime] | None:
    """(field name -> {"updateable", "createable"}, when described) for one object, or None."""
    row = conn.execute(select(salesforce_fields.c.fields, salesforce_fields.c.fetched_at)
                       .where(salesforce_fields.c.sobject == sobject)).first()
    return (dict(row.fields), row.fetched_at) if row is not None else None


def fresh_fields(conn: Connection, sobject: str, *, now: dt.datetime,
                 max_age: dt.timedelta = MAX_AGE) -> dict[str, dict[str, Any]] | None:
    """The cached fields of `sobject` when described less than `max_age` before `now`, else None."""
    cached = cached_fields(conn, sobject)
    if cached is None or now - cached[1] >= max_age:
        return None
    return cached[0]


def save_fields(conn: Connection, sobject: str, fields: dict[str, dict[str, Any]], *, now: dt.datetime) -> None:
    conn.execute(delete(salesforce_fields).where(salesforce_fields.c.sobject == sobject))
    conn.execute(insert(salesforce_fields).values(sobject=sobject, fields=fields, fetched_at=now))


def read_only_fields(conn: Connection) -> dict[str, set[str]]:
    """Object -> its read-only fields, as last described (empty before the first describe)."""
    rows = conn.execute(select(salesforce_fields.c.sobject, salesforce_fields.c.fields)).all()
    return {sobject: {name for name, f in fields.items() if not f.get("updateable", True)} for sobject, fields in rows}


def _open_hidden(conn: Connection) -> dict[str, int]:
    return dict(conn.execute(select(sync_warnings.c.field, sync_warnings.c.id).where(
        sync_warnings.c.kind == FIELD_HIDDEN, sync_warnings.c.resolved_at.is_(None))).all())


def record_hidden_fields(conn: Connection, sobject: str, hidden: Iterable[str], *, messages: dict[str, str],
                         run_id: str | None, now: dt.datetime) -> list[str]:
    """One open `field_hidden` warning per hidden field of `sobject` (not one per cycle); the
    warnings of its fields that are visible again are resolved. Returns the newly hidden fields."""
    wanted = {f"{sobject}.{name}" for name in hidden}
    open_now = {key: wid for key, wid in _open_hidden(conn).items() if key and key.startswith(f"{sobject}.")}
    new = sorted(wanted - set(open_now))
    if new:
        conn.execute(insert(sync_warnings), [
            {"kind": FIELD_HIDDEN, "contact_id": None, "related_contact_ids": [], "field": key,
             "message": messages[key.split(".", 1)[1]], "run_id": run_id, "created_at": now} for key in new])
    visible_again = [wid for key, wid in open_now.items() if key not in wanted]
    if visible_again:
        conn.execute(update(sync_warnings).where(sync_warnings.c.id.in_(visible_again)).values(resolved_at=now))
    return [key.split(".", 1)[1] for key in new]


def hidden_fields(conn: Connection) -> list[str]:
    """The mapped fields the sync leaves out because the integration user cannot see them
    ("Contact.MailingCity"), from the open warnings."""
    return sorted(key for key in _open_hidden(conn) if key)
