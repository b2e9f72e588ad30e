"""Read-side queries for the CLI and the Python API: contacts, warnings, runs, status."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, case, false, func, select

from conversion_sync.store import describe as describe_store
from conversion_sync.store import staging, watermarks
from conversion_sync.store.schema import (
    companies,
    contact_identifiers,
    contacts,
    salesforce_records,
    sync_events,
    sync_runs,
    sync_warnings,
)
from conversion_sync.sync.values import email_key

CONTACT_LIST_COLUMNS = ["id", "email", "first_name", "last_name", "company_name", "company_id", "salesforce_id",
                        "salesforce_object", "salesforce_sync", "push_state", "updated_at"]


# What contacts.push_state holds ("none": never queued); `contacts list --push-state` accepts these.
PUSH_STATES = ("none", "queued", "skipped", "pushed", "failed", "needs_attention")


def _contact_filters(email: str | None, salesforce_id: str | None, push_state: str | None) -> list:
    conditions = []
    if email:
        # The one rule (sync/values.py); a text that cannot be an address matches no contact.
        key = email_key(email)
        conditions.append(contacts.c.email_key == key if key else false())
    if salesforce_id:
        conditions.append(contacts.c.salesforce_id == salesforce_id)
    if push_state == "none":
        conditions.append(contacts.c.push_state.is_(None))
    elif push_state:
        conditions.append(contacts.c.push_state == push_state)
    return conditions


def list_contacts(conn: Connection, *, limit: int = 50, offset: int = 0, email: str | None = None,
                  salesforce_id: str | None = None, push_state: str | None = None) -> list[dict[str, Any]]:
    query = (select(*[contacts.c[name] for name in CONTACT_LIST_COLUMNS]).order_by(contacts.c.id)
             .where(*_contact_filters(email, salesforce_id, push_state)))
    return [dict(row._mapping) for row in conn.execute(query.limit(limit).offset(offset))]


def count_contacts(conn: Connection, *, email: str | None = None, salesforce_id: str | None = None,
                   push_state: str | None = None) -> int:
    """How many contacts `list_contacts` pages through with these filters."""
    return int(conn.execute(select(func.count()).select_from(contacts)
                            .where(*_contact_filters(email, salesforce_id, push_state))).scalar() or 0)


def get_contact(conn: Connection, contact_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(contacts).where(contacts.c.id == contact_id)).first()
    if row is None:
        return None
    contact = dict(row._mapping)
    contact["identifiers"] = [dict(r._mapping) for r in conn.execute(
        select(contact_identifiers.c.kind, contact_identifiers.c.value)
        .where(contact_identifiers.c.contact_id == contact_id))]
    return contact


def contact_history(conn: Connection, contact_id: int) -> list[dict[str, Any]]:
    """R9: why did this contact change? Every event, oldest first."""
    return [dict(r._mapping) for r in conn.execute(
        select(sync_events).where(sync_events.c.contact_id == contact_id).order_by(sync_events.c.id))]


def list_warnings(conn: Connection, *, include_resolved: bool = False, limit: int = 100,
                  kind: str | None = None) -> list[dict[str, Any]]:
    """Open warnings, newest first (with `include_resolved`, the resolved and dismissed too)."""
    query = select(sync_warnings).order_by(sync_warnings.c.id.desc()).limit(limit)
    if not include_resolved:
        query = query.where(sync_warnings.c.resolved_at.is_(None))
    if kind:
        query = query.where(sync_warnings.c.kind == kind)
    return [dict(r._mapping) for r in conn.execute(query)]


PUSH_STEP = "salesforce_push"


def recent_runs(conn: Connection, limit: int = 5, kind: str | None = None) -> list[dict[str, Any]]:
    """The last runs with their steps' stats (H1), newest first. `kind` "sync" keeps runs that
    pulled (sync_job, backfills), "push" the runs that only pushed (push_job, the push sensor)."""
    pulled = func.max(case((sync_runs.c.step != PUSH_STEP, 1), else_=0))
    query = select(sync_runs.c.run_id).group_by(sync_runs.c.run_id)
    if kind == "sync":
        query = query.having(pulled == 1)
    elif kind == "push":
        query = query.having(pulled == 0)
    run_ids = [row.run_id for row in conn.execute(
        query.order_by(func.max(sync_runs.c.started_at).desc()).limit(limit))]
    runs = []
    for run_id in run_ids:
        steps = [dict(r._mapping) for r in conn.execute(
            select(sync_runs).where(sync_runs.c.run_id == run_id).order_by(sync_runs.c.started_at))]
        runs.append({"run_id": run_id, "started_at": min(s["started_at"] for s in steps),
                     "finished_at": max((s["finished_at"] for s in steps if s["finished_at"]), default=None),
                     "status": "failure" if any(s["status"] != "success" for s in steps) else "success",
                     "kind": "sync" if any(s["step"] != PUSH_STEP for s in steps) else "push",
                     "steps": {s["step"]: s["stats"] for s in steps}})
    return runs


def status(conn: Connection) -> dict[str, Any]:
    """What `conversion-sync status` shows: watermarks, last runs, warnings, backlog, failures."""
    failed = conn.execute(select(salesforce_records.c.sobject, salesforce_records.c.salesforce_id,
                                 salesforce_records.c.attempts, salesforce_records.c.last_error,
                                 salesforce_records.c.next_attempt_at)
                          .where(salesforce_records.c.last_error.is_not(None), salesforce_records.c.pending.is_(True))
                          .order_by(salesforce_records.c.salesforce_id).limit(20)).all()
    return {
        "contacts": conn.execute(select(func.count()).select_from(contacts)).scalar(),
        "linked_contacts": conn.execute(select(func.count()).select_from(contacts)
                                        .where(contacts.c.salesforce_id.is_not(None))).scalar(),
        "companies": conn.execute(select(func.count()).select_from(companies)).scalar(),
        "watermarks": watermarks.list_watermarks(conn),
        "pending_records": staging.pending_count(conn),
        "failed_records": [dict(r._mapping) for r in failed],
        "push_queue": dict(conn.execute(select(contacts.c.push_state, func.count())
                                        .where(contacts.c.push_state.is_not(None))
                                        .group_by(contacts.c.push_state)).all()),
        "open_warnings": dict(conn.execute(select(sync_warnings.c.kind, func.count())
                                           .where(sync_warnings.c.resolved_at.is_(None))
                                           .group_by(sync_warnings.c.kind)).all()),
        "last_runs": recent_runs(conn),
        "last_sync_runs": recent_runs(conn, kind="sync"),
        "last_push_runs": recent_runs(conn, kind="push"),
        "hidden_fields": describe_store.hidden_fields(conn),
    }


def push_retry_outlook(conn: Connection) -> tuple[dt.datetime | None, int]:
    """When the next rejected push is retried (H2 backoff), and how many wait for a person."""
    next_at = conn.execute(select(func.min(contacts.c.push_next_attempt_at))
                           .where(contacts.c.push_state == "failed")).scalar()
    if next_at is not None and next_at.tzinfo is None:
        next_at = next_at.replace(tzinfo=dt.UTC)
    waiting = conn.execute(select(func.count()).select_from(contacts)
                           .where(contacts.c.push_state == "needs_attention")).scalar() or 0
    return next_at, int(waiting)


def rejected_push_ids(conn: Connection) -> list[int]:
    """Contacts whose push Salesforce rejected: waiting for their retry, or for a person."""
    return list(conn.execute(select(contacts.c.id).where(contacts.c.push_state.in_(("failed", "needs_attention")))
                             .order_by(contacts.c.id)).scalars())


def jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value



def salesforce_ids_of(conn: Connection, contact_ids: Iterable[int]) -> dict[int, str | None]:
    """Contact id -> the Salesforce id it is linked to (None: not linked); unknown ids are absent."""
    ids = sorted({int(i) for i in contact_ids})
    found: dict[int, str | None] = {}
    for start in range(0, len(ids), 500):
        rows = conn.execute(select(contacts.c.id, contacts.c.salesforce_id)
                            .where(contacts.c.id.in_(ids[start:start + 500])))
        found.update({row.id: row.salesforce_id for row in rows})
    return found
