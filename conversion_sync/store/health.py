"""The sync's health as numbers (H1-H3 in the UI): table row counts, the backlog, open warnings
by kind and push errors by Salesforce error code. Set-based counts, one query each."""

from __future__ import annotations

import re
from collections import Counter

from sqlalchemy import Connection, and_, func, select

from conversion_sync.store.push import GAVE_UP
from conversion_sync.store.schema import companies, contacts, salesforce_records, sync_warnings

sr = salesforce_records
_CODE = re.compile(r"^\s*([A-Z][A-Z0-9_]{2,})\b")
BACKLOG_KEYS = ("records_pending", "records_failed", "contacts_queued", "contacts_failing")


def mirror_rows(conn: Connection, sobject: str) -> int:
    """Rows of one object in the mirror (its records as Salesforce last said, deleted included)."""
    return conn.execute(select(func.count()).select_from(sr).where(sr.c.sobject == sobject)).scalar() or 0


def table_rows(conn: Connection, table_name: str) -> int:
    table = {"contacts": contacts, "companies": companies}[table_name]
    return conn.execute(select(func.count()).select_from(table)).scalar() or 0


def linked_contacts(conn: Connection) -> int:
    """Contacts linked to a Salesforce record (what the push keeps in step)."""
    return conn.execute(select(func.count()).select_from(contacts).where(contacts.c.salesforce_id.is_not(None))).scalar() or 0


def backlog(conn: Connection, sobjects: tuple[str, ...] | None = None) -> dict[str, int]:
    """What waits: mirror records still to apply (pending, and of those the ones that failed and
    wait for a retry), contacts queued for Salesforce and contacts whose push keeps failing."""
    pending = and_(sr.c.pending.is_(True), sr.c.sobject.in_(sobjects)) if sobjects else sr.c.pending.is_(True)
    row = conn.execute(select(func.count(), func.count(sr.c.last_error)).select_from(sr).where(pending)).one()
    states: dict[str, int] = dict(conn.execute(select(contacts.c.push_state, func.count()).where(
        contacts.c.push_state.in_(["queued", "failed", GAVE_UP])).group_by(contacts.c.push_state)).all())
    return {"records_pending": int(row[0]), "records_failed": int(row[1]),
            "contacts_queued": int(states.get("queued", 0)),
            "contacts_failing": int(states.get("failed", 0) + states.get(GAVE_UP, 0))}


def open_warnings_by_kind(conn: Connection) -> Counter:
    return Counter(dict(conn.execute(select(sync_warnings.c.kind, func.count())
                                     .where(sync_warnings.c.resolved_at.is_(None))
                                     .group_by(sync_warnings.c.kind)).all()))


def error_code(text: str | None) -> str:
    """The Salesforce error code an error starts with (FIELD_CUSTOM_VALIDATION_EXCEPTION: ...)."""
    match = _CODE.match(text or "")
    return match.group(1) if match else "OTHER"


def push_errors_by_code(conn: Connection) -> Counter:
    """Contacts whose last push Salesforce rejected, by the error code it gave."""
    rows = conn.execute(select(contacts.c.push_error).where(contacts.c.push_state.in_(["failed", GAVE_UP]),
                                                            contacts.c.push_error.is_not(None))).scalars()
    return Counter(error_code(text) for text in rows)

