"""The audit trail (R9) and the warnings list, written in bulk with the changes they explain."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from conversion_sync.store.bulk import insert_rows
from conversion_sync.store.schema import sync_events, sync_warnings
from conversion_sync.store.staging import chunked
from conversion_sync.sync.model import SyncEvent, SyncWarning

_REF = re.compile(r"<contact:(-?\d+)>")


def resolve_refs(text: str | None, contact_ids: dict[int, int]) -> str | None:
    """Replace the engine's contact references with final contact ids."""
    if text is None or "<contact:" not in text:
        return text
    return _REF.sub(lambda m: f"contact {_resolve(int(m.group(1)), contact_ids) or m.group(1)}", text)


def _resolve(key: int | None, mapping: dict[int, int]) -> int | None:
    if key is None:
        return None
    if key in mapping:
        return mapping[key]
    return key if key > 0 else None


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _jsonable(value: Any) -> Any:
    """`value` with datetimes as ISO text and tuples as lists; plain values are not visited one
    call each (an event's changes are mostly [old, new] pairs of text, issue 10)."""
    if type(value) in _PLAIN:
        return value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [v if type(v) in _PLAIN else _jsonable(v) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            kind = type(v)
            if kind in _PLAIN:
                out[k] = v
            elif kind is list and len(v) == 2 and type(v[0]) in _PLAIN and type(v[1]) in _PLAIN:
                out[k] = v      # an [old, new] pair of plain values, the common change
            else:
                out[k] = _jsonable(v)
        return out
    return value


def write_events(conn: Connection, events: Sequence[SyncEvent], contact_ids: dict[int, int],
                 company_ids: dict[int, int], *, run_id: str | None, now: dt.datetime,
                 ids: Sequence[int] | None = None) -> int:
    """Insert events (with `ids`, one per event, when given: ids taken beforehand)."""
    rows = []
    for event in events:
        changes = event.changes or None
        if changes and "company_id" in changes:
            changes = {**changes, "company_id": [_resolve(v, company_ids) for v in changes["company_id"]]}
        rows.append({
            "contact_id": _resolve(event.contact_key, contact_ids),
            "company_id": _resolve(event.company_key, company_ids),
            "kind": event.kind, "rule": event.rule, "salesforce_id": event.salesforce_id,
            "changes": _jsonable(changes), "detail": resolve_refs(event.detail, contact_ids), "run_id": run_id, "created_at": now,
        })
    if ids is not None:
        for row, event_id in zip(rows, ids, strict=True):
            row["id"] = event_id
    if rows:
        insert_rows(conn, sync_events, rows)   # COPY on PostgreSQL
    return len(rows)


def write_warnings(conn: Connection, warnings: Sequence[SyncWarning], contact_ids: dict[int, int],
                   *, run_id: str | None, now: dt.datetime) -> int:
    """Insert warnings, skipping any already open with the same kind, contact and record."""
    resolved = [(w, _resolve(w.contact_key, contact_ids)) for w in warnings]
    involved = sorted({cid for _, cid in resolved if cid is not None})
    open_keys: set[tuple[Any, ...]] = set()     # (kind, contact_id, salesforce_id) of open warnings
    for chunk in chunked(involved):
        open_keys.update(conn.execute(
            select(sync_warnings.c.kind, sync_warnings.c.contact_id, sync_warnings.c.salesforce_id)
            .where(sync_warnings.c.resolved_at.is_(None), sync_warnings.c.contact_id.in_(chunk))).all())
    rows = []
    for warning, contact_id in resolved:
        key = (warning.kind, contact_id, warning.salesforce_id)
        if key in open_keys:
            continue
        open_keys.add(key)
        related = sorted(r for r in (_resolve(k, contact_ids) for k in warning.related_keys) if r is not None)
        message = resolve_refs(warning.message, contact_ids)
        rows.append({"kind": warning.kind, "contact_id": contact_id, "related_contact_ids": related,
                     "salesforce_id": warning.salesforce_id, "message": message, "run_id": run_id,
                     "created_at": now})
    if rows:
        insert_rows(conn, sync_warnings, rows)
    return len(rows)
